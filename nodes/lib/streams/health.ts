// The health of one shared stream socket, as a small state machine fed by the socket's lifecycle
// callbacks: status text for every node's dot, connection events for the nodes' second output,
// the watchdog for an open but silent socket, the REST polling fallback during a long outage,
// and the gap fill after a reconnect. Timers and clock are injectable for unit tests.
import { EventEmitter } from 'node:events';
import { hhmmss } from '../core/time';
import { connectionEvent, type ConnectionEvent, type StreamState, type StreamStatus } from './events';

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface StreamHealthOptions {
  /** stocks, crypto, options, news or trading. */
  kind: string;
  timers?: Timers;
  /** Silence (ms) after which the watchdog probes; 0 = off. Read each time (nodes change it). */
  watchdogMs(): number;
  /** Outage length (ms) after which REST polling starts; 0 = never. */
  pollAfterMs(): number;
  /** Period of the REST polling while down (default 5 s). */
  pollEveryMs?: number;
  /** Resolves true when REST shows data the socket did not deliver (the feed is stale). */
  probe(): Promise<boolean>;
  /** Drops the socket so the SDK reconnects. */
  forceReconnect(): void;
  /** One REST poll while down. */
  poll(): Promise<void>;
  /** Gap fill after a reconnect; resolves with how many events it recovered. */
  recover(downSince: number): Promise<number>;
}

/**
 * Events: 'status' (StreamStatus) on every state change; 'event' (ConnectionEvent) for the
 * nodes' connection output.
 */
export class StreamHealth extends EventEmitter {
  private current: StreamStatus;
  private readonly timers: Timers;
  private downSince?: number;
  private lastDataAt = 0;
  /** Events since the start, and their number when the watchdog last looked. */
  private events = 0;
  private eventsSeen = 0;
  private watchdogTimer?: unknown;
  private pollTimer?: unknown;
  private probing = false;
  private polling = false;
  private closed = false;
  /** Set while a gap fill runs: live events wait so the recovered ones come first. */
  recovering = false;

  constructor(private readonly options: StreamHealthOptions) {
    super();
    this.timers = options.timers ?? realTimers;
    this.current = { kind: options.kind, state: 'idle', text: 'not connected', since: this.timers.now() };
  }

  get status(): StreamStatus {
    return this.current;
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /** The socket is opening for the first time. */
  connecting(): void {
    if (this.current.state === 'idle' || this.current.state === 'closed') this.set('connecting', 'connecting…');
  }

  /** The socket authenticated (first time or after a reconnect). */
  authenticated(): void {
    if (this.closed) return;
    const downSince = this.downSince;
    this.downSince = undefined;
    this.stopPoll();
    this.lastDataAt = this.timers.now();
    this.set('connected', 'connected');
    this.armWatchdog();
    if (downSince === undefined) {
      this.emitEvent('connected');
      return;
    }
    const now = this.timers.now();
    this.emitEvent('reconnected', { downSince, downMs: now - downSince });
    this.recovering = true;
    this.options.recover(downSince).then(
      (count) => {
        this.recovering = false;
        if (!this.closed) this.emitEvent('recovered', { downSince, downMs: now - downSince, count });
      },
      (err: Error) => {
        this.recovering = false;
        if (!this.closed) this.emitEvent('error', { reason: `gap fill failed: ${err.message}` });
      },
    );
  }

  /** The socket closed; the SDK will reconnect. */
  disconnected(reason?: string): void {
    if (this.closed || this.current.state === 'auth_failed' || this.current.state === 'unavailable') return;
    this.stopWatchdog();
    if (this.downSince !== undefined) return;
    // A failed first attempt (never connected yet) counts as an outage from now, like any other.
    this.downSince = this.timers.now();
    this.set('reconnecting', `reconnecting (since ${hhmmss(this.downSince)})`, reason, this.downSince);
    this.emitEvent('disconnected', { downSince: this.downSince, downMs: 0 });
    this.armPoll();
  }

  /** The SDK is about to make reconnect attempt `attempt` (1-based). */
  reconnecting(attempt: number): void {
    if (this.closed || this.current.state === 'auth_failed') return;
    this.downSince ??= this.timers.now();
    this.current = {
      ...this.current,
      state: 'reconnecting',
      attempt,
      text: `reconnecting (attempt ${attempt}, since ${hhmmss(this.downSince)})`,
      since: this.downSince,
    };
    this.emit('status', this.current);
    this.emitEvent('reconnecting', { downSince: this.downSince, downMs: this.timers.now() - this.downSince });
  }

  /** Keys rejected (terminal until redeployed with other keys). */
  authFailed(reason: string): void {
    if (this.closed) return;
    this.stopWatchdog();
    this.stopPoll();
    this.set('auth_failed', `auth failed: ${reason}`, reason);
    this.emitEvent('auth_failed');
  }

  /** The feed cannot work here (e.g. a kind the endpoint does not serve). Terminal. */
  unavailable(reason: string): void {
    if (this.closed) return;
    this.stopWatchdog();
    this.stopPoll();
    this.set('unavailable', reason, reason);
    this.emitEvent('unavailable');
  }

  /** Data arrived: the cheapest possible bookkeeping (a count, no clock read), it runs for every event. */
  data(): void {
    this.events++;
  }

  /** Re-reads the watchdog setting (a node joined or left). */
  retune(): void {
    if (this.current.state === 'connected' || this.current.state === 'stale') this.armWatchdog();
  }

  /** Back to idle (the last node left; the socket is gone), keeping the listeners. */
  reset(): void {
    this.stopWatchdog();
    this.stopPoll();
    this.downSince = undefined;
    this.recovering = false;
    this.set('idle', 'not connected');
  }

  close(): void {
    this.closed = true;
    this.stopWatchdog();
    this.stopPoll();
    this.current = { kind: this.options.kind, state: 'closed', text: 'closed', since: this.timers.now() };
    this.removeAllListeners();
  }

  // --- watchdog -------------------------------------------------------------

  private armWatchdog(): void {
    this.stopWatchdog();
    const ms = this.options.watchdogMs();
    if (!(ms > 0) || this.closed) return;
    // Checks every half period: silence is caught between 1x and 1.5x the setting, without a
    // timer reset per data event.
    this.watchdogTimer = this.timers.setTimeout(() => this.checkSilence(), Math.max(10, ms / 2));
  }

  private stopWatchdog(): void {
    if (this.watchdogTimer !== undefined) this.timers.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private checkSilence(): void {
    this.watchdogTimer = undefined;
    if (this.closed || this.isDown) return;
    const ms = this.options.watchdogMs();
    if (!(ms > 0)) return;
    // Data since the last look counts as data now: silence is still caught within 1.5x the setting.
    if (this.events !== this.eventsSeen) {
      this.eventsSeen = this.events;
      this.lastDataAt = this.timers.now();
    }
    const silentFor = this.timers.now() - this.lastDataAt;
    if (silentFor < ms || this.probing) return this.armWatchdog();
    this.probing = true;
    this.options.probe().then(
      (stale) => {
        this.probing = false;
        if (this.closed || this.isDown) return;
        if (stale) {
          this.set('stale', `no data for ${Math.round(silentFor / 1000)} s: reconnecting`, 'silent socket');
          this.emitEvent('stale', { reason: `no data for ${Math.round(silentFor / 1000)} s while REST has newer data` });
          this.options.forceReconnect();
        } else {
          // Quiet but not behind (market closed, nothing traded): count the probe as a sign of life.
          this.lastDataAt = this.timers.now();
          this.armWatchdog();
        }
      },
      () => {
        this.probing = false;
        if (!this.closed && !this.isDown) this.armWatchdog();
      },
    );
  }

  // --- polling fallback -------------------------------------------------------

  private armPoll(): void {
    this.stopPoll();
    const after = this.options.pollAfterMs();
    if (!(after > 0) || this.closed || this.downSince === undefined) return;
    const due = Math.max(0, this.downSince + after - this.timers.now());
    this.pollTimer = this.timers.setTimeout(() => this.runPoll(true), due);
  }

  private stopPoll(): void {
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.polling = false;
  }

  private runPoll(first: boolean): void {
    this.pollTimer = undefined;
    if (this.closed || this.downSince === undefined) return;
    if (first) {
      this.polling = true;
      this.emitEvent('polling', { downSince: this.downSince, downMs: this.timers.now() - this.downSince });
    }
    this.options.poll().then(
      () => this.nextPoll(),
      () => this.nextPoll(),
    );
  }

  private nextPoll(): void {
    if (this.closed || this.downSince === undefined || !this.polling) return;
    this.pollTimer = this.timers.setTimeout(() => this.runPoll(false), this.options.pollEveryMs ?? 5000);
  }

  // --- plumbing ---------------------------------------------------------------

  private set(state: StreamState, text: string, reason?: string, since = this.timers.now()): void {
    this.current = { kind: this.options.kind, state, text, since, reason };
    this.emit('status', this.current);
  }

  private emitEvent(name: ConnectionEvent['event'], extra: Partial<ConnectionEvent> = {}): void {
    this.emit('event', connectionEvent(name, this.current, this.timers.now(), extra));
  }
}

/**
 * Per node: raises one 'alert' when an outage lasts longer than `alertAfterMs`, and one
 * 'restored' when that outage ends.
 */
export class OutageAlarm {
  private timer?: unknown;
  private alerted = false;
  private downSince?: number;

  constructor(
    private readonly alertAfterMs: number,
    private readonly fire: (event: 'alert' | 'restored', downSince: number, downMs: number) => void,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Feed it every connection event of the node's stream. */
  note(e: ConnectionEvent): void {
    if (e.event === 'disconnected' || e.event === 'reconnecting' || e.event === 'auth_failed' || e.event === 'unavailable') {
      if (this.downSince !== undefined) return;
      this.downSince = e.downSince ?? e.time;
      if (!(this.alertAfterMs > 0)) return;
      const due = Math.max(0, this.downSince + this.alertAfterMs - this.timers.now());
      this.timer = this.timers.setTimeout(() => {
        this.timer = undefined;
        if (this.downSince === undefined) return;
        this.alerted = true;
        this.fire('alert', this.downSince, this.timers.now() - this.downSince);
      }, due);
    } else if (e.event === 'connected' || e.event === 'reconnected') {
      const since = this.downSince;
      this.stop();
      if (since !== undefined && this.alerted) this.fire('restored', since, this.timers.now() - since);
      this.alerted = false;
    }
  }

  stop(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.downSince = undefined;
  }
}
