// The request budget: ONE per account (or per category of a standalone gate), shared by every
// request. Bottleneck runs the queue (priorities, concurrency, Redis clustering); the budget adds
// what no limiter does by itself: a 429 pauses everything until Retry-After / X-RateLimit-Reset,
// and a broker's X-RateLimit-Remaining below our count lowers our count.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Bottleneck from 'bottleneck';
import IORedis from 'ioredis';
import { BrokerError } from '../core/errors';
import { maskUrl, maskUrlIn } from '../core/urls';
import type { BudgetEvents, BudgetState, RequestBudget } from './types';

export type BudgetShape = 'bucket' | 'window';

export interface BudgetOptions {
  /** Requests per window (default 180: a buffer under Alpaca's 200 a minute). */
  limit?: number;
  /** Window length in ms (default 60 000). */
  windowMs?: number;
  /**
   * 'bucket' (default): a burst of `limit`, then refilled continuously at limit/window (token
   * bucket, like Alpaca). 'window': never more than `limit` in any `windowMs` (each token comes
   * back one window after use), safe against fixed-window APIs such as TradeStation's.
   */
  shape?: BudgetShape;
  /** Calls under way at once (default 10); 0 = no cap. */
  maxConcurrent?: number;
  /** Calls allowed to wait; beyond it the least important waiting call is dropped (default 1000). */
  maxQueued?: number;
  /** How often a call answered 429 is retried after the pause (default 3). A 429 means "not done". */
  max429Retries?: number;
  /** How long a token granted with `credit` stays reserved for the next call (default 2000 ms). */
  creditTtlMs?: number;
  /** Pause after a 429 without Retry-After or X-RateLimit-Reset (default 1000 ms). */
  defaultPauseMs?: number;
  /** Longest single pause honoured, against nonsense headers (default 5 minutes). */
  maxPauseMs?: number;
  /** Shares the budget through Redis: every budget with the same url and key is one budget. */
  redis?: { url: string; key: string };
  /** Shown in messages and status. */
  name?: string;
}

/** What a response said about the limit; the shape RequestBudget.observe takes. */
export type BudgetFeedback = Parameters<RequestBudget['observe']>[0];

export const DEFAULT_BUDGET = { limit: 180, windowMs: 60_000 } as const;
const PRIORITY_DEFAULT = 5;
const RETRY_PRIORITY = 9;

/** Our priorities: 0 (last) .. 9 (first), default 5. Bottleneck's run 0 (first) .. 9 (last). */
export function clampPriority(priority: unknown, fallback = PRIORITY_DEFAULT): number {
  const n = typeof priority === 'number' && Number.isFinite(priority) ? Math.round(priority) : fallback;
  return Math.min(9, Math.max(0, n));
}

/** Validates budget numbers; returns what is wrong or undefined. */
export function budgetProblem(o: BudgetOptions): string | undefined {
  const limit = o.limit ?? DEFAULT_BUDGET.limit;
  const windowMs = o.windowMs ?? DEFAULT_BUDGET.windowMs;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) return `requests per window must be a whole number from 1 to 1000000 (got ${limit})`;
  if (!Number.isFinite(windowMs) || windowMs < 10 || windowMs > 86_400_000) return `the window must be from 0.01 s to 24 h (got ${windowMs} ms)`;
  if (o.shape !== undefined && o.shape !== 'bucket' && o.shape !== 'window') return `shape must be "bucket" or "window"`;
  if (o.redis) {
    try {
      const u = new URL(o.redis.url);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return 'the Redis URL must start with redis:// or rediss://';
    } catch {
      return 'the Redis URL is not a URL (expected e.g. redis://127.0.0.1:6379)';
    }
    if (!o.redis.key) return 'a shared budget needs a key name';
  }
  return undefined;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; statusCode?: unknown } | undefined;
  const s = e?.status ?? e?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

interface Saved {
  reservoir: number;
  at: number;
  returns: number[];
}

export class RequestBudgetImpl extends EventEmitter implements RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly shape: BudgetShape;
  readonly name: string;
  private limiter?: Bottleneck;
  private redisClient?: IORedis;
  private redisReady?: Promise<void>;
  private refillTimer?: NodeJS.Timeout;
  private resumeTimer?: NodeJS.Timeout;
  private stateTimer?: NodeJS.Timeout;
  private lastRefill = 0;
  private carry = 0;
  /** Window shape: when each token we took comes back. */
  private readonly returnTimers = new Map<NodeJS.Timeout, number>();
  private credits: number[] = [];
  private inFlight = 0;
  /** Window shape: tokens withheld for a pause, given back when it ends. */
  private held = 0;
  /** Tokens to start with when the limiter is created (lowered by feedback before first use). */
  private startTokens?: number;
  private pausedUntil = 0;
  private saved?: Saved;
  private adjusting: Promise<void> = Promise.resolve();
  private current: BudgetState;
  private stopping = false;

  constructor(private readonly options: BudgetOptions = {}) {
    super();
    const problem = budgetProblem(options);
    if (problem) throw new Error(problem);
    this.limit = options.limit ?? DEFAULT_BUDGET.limit;
    this.windowMs = options.windowMs ?? DEFAULT_BUDGET.windowMs;
    this.shape = options.shape ?? 'bucket';
    this.name = options.name ?? 'request budget';
    this.current = {
      name: this.name,
      limit: this.limit,
      windowMs: this.windowMs,
      shape: this.shape,
      store: options.redis ? 'redis' : 'local',
      storeOk: true,
      tokens: this.limit,
      queued: 0,
      running: 0,
      rateLimited: 0,
      dropped: 0,
      lowered: 0,
    };
  }

  /** Tokens per ms. */
  private get rate(): number {
    return this.limit / this.windowMs;
  }

  get state(): BudgetState {
    return this.current;
  }

  // --- RequestBudget --------------------------------------------------------

  async schedule<T>(call: () => Promise<T>, options: { priority?: number } = {}): Promise<T> {
    let priority = clampPriority(options.priority);
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt === 0 && this.takeCredit()) return await this.track(call);
        return await this.run(call, priority);
      } catch (err) {
        // A 429 means the broker did not do it: wait out the pause and try again, first in line.
        if (statusOf(err) === 429 && attempt < (this.options.max429Retries ?? 3) && !this.stopping) {
          const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
          this.observe({ status: 429, retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined });
          priority = RETRY_PRIORITY;
          continue;
        }
        throw err;
      }
    }
  }

  async grant(options: { priority?: number; credit?: boolean } = {}): Promise<void> {
    await this.run(async () => undefined, clampPriority(options.priority));
    if (options.credit) this.credits.push(Date.now() + (this.options.creditTtlMs ?? 2000));
  }

  observe(feedback: BudgetFeedback): void {
    const now = Date.now();
    if (feedback.status === 429) {
      this.current = { ...this.current, rateLimited: this.current.rateLimited + 1 };
      let until = feedback.retryAfterMs !== undefined ? now + feedback.retryAfterMs : feedback.resetAt;
      if (until === undefined || !(until > now)) until = now + (this.options.defaultPauseMs ?? 1000);
      until = Math.min(until, now + (this.options.maxPauseMs ?? 300_000));
      this.pause(until, 'the broker answered 429 (rate limit)', 429, true);
      return;
    }
    if (feedback.remaining !== undefined && Number.isFinite(feedback.remaining) && now >= this.pausedUntil) {
      const remaining = feedback.remaining;
      // Calls still under way may not be counted by the broker yet: assume they are not.
      const othersInFlight = Math.max(0, this.inFlight - 1);
      if (!this.limiter) {
        // Not started yet: start lower (no timers for a budget nobody uses).
        const target = Math.floor(remaining);
        if (target < (this.startTokens ?? this.limit)) {
          this.emit('lowered', { from: this.startTokens ?? this.limit, to: target, remaining });
          this.startTokens = target;
          this.current = { ...this.current, tokens: target, lowered: this.current.lowered + 1 };
          this.emit('state', this.current);
        }
        return;
      }
      this.adjust(async (limiter) => {
        const local = (await limiter.currentReservoir()) ?? this.limit;
        const target = Math.floor(remaining) - othersInFlight;
        if (target < local) {
          await limiter.incrementReservoir(target - local);
          this.current = { ...this.current, lowered: this.current.lowered + 1 };
          this.emit('lowered', { from: local, to: target, remaining });
        }
      });
    }
  }

  async stop(): Promise<void> {
    const limiter = this.limiter;
    if (!limiter) return;
    this.stopping = true;
    clearInterval(this.refillTimer);
    clearTimeout(this.resumeTimer);
    clearTimeout(this.stateTimer);
    this.refillTimer = this.resumeTimer = this.stateTimer = undefined;
    const returns = [...this.returnTimers.entries()];
    for (const [timer] of returns) clearTimeout(timer);
    this.returnTimers.clear();
    this.credits = [];
    try {
      await this.adjusting;
      if (this.options.redis) {
        // Shared tokens this instance still holds go back now rather than never.
        if (returns.length + this.held) await limiter.incrementReservoir(returns.length + this.held).catch(() => undefined);
        this.held = 0;
      } else {
        this.saved = { reservoir: ((await limiter.currentReservoir()) ?? this.limit) + this.held, at: Date.now(), returns: returns.map(([, at]) => at) };
        this.held = 0;
      }
      await limiter.stop({ dropWaitingJobs: true, dropErrorMessage: `${this.name} stopped` });
    } catch {
      // Stopping twice or a dead Redis: nothing left to release but the connection.
    }
    await Promise.resolve().then(() => limiter.disconnect(false)).catch(() => undefined);
    this.redisClient?.disconnect();
    this.limiter = undefined;
    this.redisClient = undefined;
    this.redisReady = undefined;
    this.stopping = false;
  }

  // --- Internals ------------------------------------------------------------

  private takeCredit(): boolean {
    const now = Date.now();
    while (this.credits.length && this.credits[0] < now) this.credits.shift();
    if (!this.credits.length || now < this.pausedUntil) return false;
    this.credits.shift();
    return true;
  }

  private async track<T>(call: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await call();
    } finally {
      this.inFlight--;
      this.touch();
    }
  }

  private async run<T>(call: () => Promise<T>, priority: number): Promise<T> {
    const limiter = this.ensure();
    this.refillTimer?.ref();
    if (this.redisReady) await this.redisReady;
    this.touch();
    try {
      return await limiter.schedule({ priority: 9 - priority }, () => {
        this.tokenTaken();
        return this.track(call);
      });
    } catch (err) {
      if (err instanceof Bottleneck.BottleneckError) {
        const message = err.message;
        if (/stopped/.test(message)) throw new BrokerError(`${this.name} stopped: the request was not sent`, 'refused');
        throw new BrokerError(`${this.name}: ${message}`, 'rate_limit');
      }
      throw err;
    }
  }

  /** A token was spent: in window shape it comes back one window later. */
  private tokenTaken(): void {
    if (this.shape !== 'window') return;
    // A little past the window: the request reaches the broker a little after the grant.
    this.armReturn(Date.now() + this.windowMs + Math.min(1000, this.windowMs * 0.02));
  }

  private armReturn(at: number): void {
    const timer = setTimeout(() => {
      this.returnTimers.delete(timer);
      void this.limiter?.incrementReservoir(1).catch((err: Error) => this.problem(err));
      this.touch();
    }, Math.max(0, at - Date.now()));
    this.returnTimers.set(timer, at);
  }

  /** Creates the limiter on first use (and again after stop, keeping what the last one knew). */
  private ensure(): Bottleneck {
    if (this.limiter) return this.limiter;
    const now = Date.now();
    const maxConcurrent = this.options.maxConcurrent === 0 ? null : (this.options.maxConcurrent ?? 10);
    let reservoir = this.startTokens ?? this.limit;
    this.startTokens = undefined;
    const saved = this.saved;
    if (saved) {
      const due = saved.returns.filter((at) => at <= now).length;
      reservoir = Math.min(this.limit, Math.floor(saved.reservoir + (this.shape === 'bucket' ? (now - saved.at) * this.rate : due)));
      for (const at of saved.returns) if (at > now) this.armReturn(at);
      this.saved = undefined;
    }
    const common: Bottleneck.ConstructorOptions = {
      maxConcurrent,
      reservoir,
      highWater: this.options.maxQueued ?? 1000,
      strategy: Bottleneck.strategy.OVERFLOW_PRIORITY,
      rejectOnDrop: true,
    };
    let limiter: Bottleneck;
    if (this.options.redis) {
      const shown = maskUrl(this.options.redis.url);
      // Fail fast while Redis is down instead of queueing commands forever.
      const client = new IORedis(this.options.redis.url, { maxRetriesPerRequest: 1, connectTimeout: 3000, enableOfflineQueue: true });
      this.redisClient = client;
      client.on('error', (err: Error) => this.problem(new Error(`Redis ${shown}: ${err.message}`)));
      client.on('ready', () => this.setStoreOk(true));
      client.on('close', () => this.setStoreOk(false));
      const increase = this.increaseSettings();
      limiter = new Bottleneck({
        ...common,
        ...increase,
        id: `tradeflow-budget:${this.options.redis.key}`,
        datastore: 'ioredis',
        clearDatastore: false,
        connection: new Bottleneck.IORedisConnection({ client }),
        heartbeatInterval: Math.min(500, Math.max(50, increase.reservoirIncreaseInterval ?? 500)),
      } as Bottleneck.ConstructorOptions);
      this.redisReady = this.joinShared(limiter, client, shown);
      this.redisReady.catch(() => undefined);
    } else {
      limiter = new Bottleneck(common);
      if (this.shape === 'bucket') this.startRefill();
    }
    limiter.on('error', (err: Error) => this.problem(err));
    limiter.on('dropped', (info: { options?: { priority?: number } }) => {
      const priority = 9 - (info.options?.priority ?? 4);
      this.current = { ...this.current, dropped: this.current.dropped + 1 };
      this.emit('dropped', { reason: `more than ${this.options.maxQueued ?? 1000} calls waiting`, priority });
    });
    limiter.on('message', (text: string) => this.onShared(text));
    this.limiter = limiter;
    if (this.pausedUntil > now) this.armResume();
    return limiter;
  }

  /** Redis bucket refill runs in Bottleneck's Lua (shared, drift-free); integer steps only. */
  private increaseSettings(): Partial<{ reservoirIncreaseAmount: number; reservoirIncreaseInterval: number; reservoirIncreaseMaximum: number }> {
    if (this.shape !== 'bucket') return {};
    const amount = Math.max(1, Math.ceil(50 * this.rate));
    return { reservoirIncreaseAmount: amount, reservoirIncreaseInterval: Math.ceil(amount / this.rate), reservoirIncreaseMaximum: this.limit };
  }

  /** Joins an existing shared budget: today's settings win, its tokens are kept (capped). */
  private async joinShared(limiter: Bottleneck, client: IORedis, shown: string): Promise<void> {
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new BrokerError(`${this.name}: Redis ${shown} unreachable`, 'network')), 5000);
      t.unref();
      void limiter.ready().then(() => clearTimeout(t), () => clearTimeout(t));
    });
    try {
      await Promise.race([limiter.ready(), timeout]);
      await limiter.updateSettings({ maxConcurrent: this.options.maxConcurrent === 0 ? null : (this.options.maxConcurrent ?? 10), ...this.increaseSettings() });
      const tokens = await limiter.currentReservoir();
      if (tokens !== null && tokens > this.limit) await limiter.incrementReservoir(this.limit - tokens);
      this.setStoreOk(true);
    } catch (err) {
      this.redisReady = undefined;
      if (this.limiter === limiter) {
        // Start afresh next time instead of waiting forever on a dead connection.
        this.limiter = undefined;
        this.redisClient = undefined;
        void Promise.resolve().then(() => limiter.disconnect(false)).catch(() => undefined);
        client.disconnect();
      }
      this.setStoreOk(false);
      throw err instanceof BrokerError ? err : new BrokerError(`${this.name}: Redis ${shown}: ${(err as Error).message}`, 'network');
    }
  }

  /** Local bucket refill: exact, with the fraction carried over (Bottleneck's local refill drifts). */
  private startRefill(): void {
    this.lastRefill = Date.now();
    this.carry = 0;
    const tick = Math.min(250, Math.max(20, 1 / this.rate));
    this.refillTimer = setInterval(() => {
      const now = Date.now();
      const add = (now - this.lastRefill) * this.rate + this.carry;
      this.lastRefill = now;
      const whole = Math.floor(add);
      this.carry = add - whole;
      // Keep the process alive only while calls wait for tokens.
      if ((this.limiter?.counts().QUEUED ?? 0) === 0) this.refillTimer?.unref();
      if (whole < 1) return;
      this.adjust(async (limiter) => {
        const tokens = (await limiter.currentReservoir()) ?? this.limit;
        const incr = Math.min(whole, this.limit - tokens);
        if (incr > 0) await limiter.incrementReservoir(incr);
        else this.carry = 0;
      });
    }, tick);
    this.refillTimer.unref();
  }

  /** Serialises read-modify-write changes of the token count. */
  private adjust(change: (limiter: Bottleneck) => Promise<void>): void {
    const limiter = this.limiter;
    if (!limiter) return;
    this.adjusting = this.adjusting
      .then(() => (this.redisReady ?? Promise.resolve()))
      .then(() => change(limiter))
      .catch((err: Error) => this.problem(err))
      .then(() => this.touch());
  }

  /** Pauses the whole budget until `until` (shared through Redis: every instance pauses). */
  private pause(until: number, reason: string, status: number | undefined, broadcast: boolean): void {
    // Several answers of one burst carry the same hint, a few ms apart: one pause, not many.
    if (until <= this.pausedUntil + 250) return;
    const first = this.pausedUntil <= Date.now();
    this.pausedUntil = until;
    this.credits = [];
    const ms = until - Date.now();
    this.ensure();
    if (broadcast) {
      this.adjust(async (limiter) => {
        if (this.shape === 'bucket') {
          // A debt the refill repays exactly when the pause ends: no timer needed, even across instances.
          await limiter.updateSettings({ reservoir: -Math.ceil(ms * this.rate) });
        } else {
          const tokens = (await limiter.currentReservoir()) ?? 0;
          const hold = Math.max(0, tokens) + this.limit;
          await limiter.incrementReservoir(-hold);
          this.held += hold;
        }
        if (this.options.redis) await limiter.publish(JSON.stringify({ type: 'pause', until, reason, status }));
      });
    }
    this.armResume();
    if (first || broadcast) this.emit('paused', { until, reason, status });
    this.touch();
  }

  private armResume(): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      const hold = this.held;
      this.held = 0;
      this.adjust(async (limiter) => {
        if (hold) await limiter.incrementReservoir(hold);
        // Retry-After promises one request at its end, however slow the refill.
        const tokens = await limiter.currentReservoir();
        if (tokens !== null && tokens < 1) await limiter.updateSettings({ reservoir: 1 });
      });
      this.emit('resumed', { at: Date.now() });
      this.touch();
    }, Math.max(0, this.pausedUntil - Date.now()));
  }

  private onShared(text: string): void {
    try {
      const m = JSON.parse(text) as { type?: string; until?: number; reason?: string; status?: number };
      if (m.type === 'pause' && typeof m.until === 'number') this.pause(m.until, `${m.reason ?? 'paused'} (another instance)`, m.status, false);
    } catch {
      // Not ours.
    }
  }

  private setStoreOk(ok: boolean): void {
    if (this.current.storeOk === ok) return;
    this.current = { ...this.current, storeOk: ok };
    this.touch();
  }

  private problem(err: Error): void {
    const message = this.options.redis ? maskUrlIn(err.message, this.options.redis.url) : err.message;
    this.emit('problem', { message });
  }

  /** Refreshes the state soon (coalesced: at most every 100 ms) and tells listeners. */
  private touch(): void {
    if (this.stateTimer) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      void this.refresh();
    }, 100);
    this.stateTimer.unref();
  }

  /** Reads the token count now (async: it may live in Redis). */
  async refresh(): Promise<BudgetState> {
    const limiter = this.limiter;
    let tokens = this.current.tokens;
    let queued = 0;
    if (limiter && (!this.redisReady || this.current.storeOk)) {
      try {
        tokens = Math.floor((await limiter.currentReservoir()) ?? this.limit);
      } catch {
        // Keep the last known count while Redis is away.
      }
      queued = limiter.counts().QUEUED ?? 0;
    }
    const now = Date.now();
    this.current = {
      ...this.current,
      tokens,
      queued,
      running: this.inFlight,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : undefined,
    };
    this.emit('state', this.current);
    return this.current;
  }

  override on<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this {
    return super.on(event, listener);
  }

  override off<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this {
    return super.off(event, listener);
  }
}

/** A stable name for an account's shared budget that does not reveal the key id. */
export function sharedBudgetKey(keyId: string | undefined, mode: string): string {
  return `account:${mode}:${createHash('sha256').update(keyId || 'simulator').digest('hex').slice(0, 16)}`;
}
