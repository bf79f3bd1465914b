// The account's trade updates from the one shared trading stream, for every node that listens
// (the order-updates node, the order node's wait-for-fill). Never silent, never lost: connection
// events and status, a watchdog that asks REST when the socket has been quiet, REST polling
// during a long outage, and gap fill after a reconnect: updates missed while down are recovered
// from REST orders and delivered exactly once, in order, marked `recovered`. A persisted cursor
// (the last update delivered) makes the first connect after a restart fill the gap since then.
// Recovery costs what it must: gap fills that pile up while one runs become one, and every REST
// request it makes is counted in `stats`.
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import type { AccountReads, TradeUpdatesFeed, TradeUpdatesListenerOptions } from '../core/broker';
import { PRIORITY } from '../core/priority';
import type { OrderSnapshot, TradeUpdate } from '../core/snapshots';
import { toOrder } from './map';
import type { StreamLease, StreamSource } from './stream-pool';
import type { Rest } from './transport';
import { followLifecycle } from './stream-lifecycle';
import { StreamHealth, type Timers } from '../streams/health';
import { OrderTracker } from '../streams/order-tracker';
import type { ConnectionEvent, StreamStatus } from '../streams/events';
import type { TradeCursor } from '../orders/journal';

type Raw = Record<string, unknown>;
type TradingStream = ReturnType<Alpaca['trading']['stream']>;

const optionalNumber = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** SDK trade update (camelCase order plus raw keys) -> TradeUpdate. */
export function toTradeUpdate(u: Raw): TradeUpdate {
  const ts = u.timestamp;
  return {
    event: String(u.event ?? ''),
    timestamp: ts instanceof Date ? ts.toISOString() : typeof ts === 'string' ? ts : new Date().toISOString(),
    order: toOrder((u.order ?? {}) as Raw),
    price: optionalNumber(u.price),
    qty: optionalNumber(u.qty),
    positionQty: optionalNumber(u.positionQty ?? u.position_qty),
    executionId: typeof (u.executionId ?? u.execution_id) === 'string' ? String(u.executionId ?? u.execution_id) : undefined,
  };
}

interface Listener extends TradeUpdatesListenerOptions {
  update(u: TradeUpdate): void;
}

/** Pages of 500 orders read per gap fill, at most. */
const MAX_PAGES = 5;
/** Live updates held back while a gap fill runs, at most. */
const MAX_HELD = 10_000;
/** Margin before the outage start for orders we never heard of. */
const MARGIN_MS = 60_000;
/** Final orders are forgotten this long before the earliest time a healthy feed's gap fill reaches back to. */
const FORGET_SLACK_MS = 5 * 60_000;
/** The tracker is pruned at most this often (while updates flow). */
const FORGET_EVERY_MS = 60_000;
/** A cursor older than this is not followed (a feed unused for a week starts afresh). */
const CURSOR_MAX_AGE_MS = 7 * 86_400_000;

/** Where the cursor is kept (the account's order journal). */
export interface CursorStore {
  readonly cursor?: TradeCursor;
  saveCursor(cursor: TradeCursor): void;
}

/** REST requests made to recover updates, by purpose (the account's diagnostics). */
export interface RecoveryCounts {
  /** Gap fills run (after reconnects, and after a restart), and how many asked for one while another ran (merged into it). */
  gapFills: number;
  coalesced: number;
  /** Watchdog probes and outage polls that asked REST. */
  probes: number;
  polls: number;
  /** Every REST request of the above, and the reads at start (clock, open orders). */
  requests: number;
}

export class AlpacaTradeUpdates implements TradeUpdatesFeed {
  private readonly listeners = new Set<Listener>();
  private readonly tracker = new OrderTracker();
  private health: StreamHealth;
  private lease?: StreamLease;
  private detach?: () => void;
  private closed = false;
  private opening = false;
  private held: TradeUpdate[] = [];
  /** Broker-time sample: broker epoch ms at wall epoch ms (to estimate broker time at an outage). */
  private sample?: { broker: number; wall: number };
  /** Broker time when the feed started: orders last changed before it are never "recovered". */
  private startedAt = 0;
  private catchingUp?: Promise<number>;
  /** A gap fill waiting for the one running: later requests lower its cutoff instead of queueing more. */
  private nextFill?: { cutoff: number; run: Promise<number> };
  /** After a restart: broker time from which the first connect fills the gap. */
  private resumeFrom?: number;
  private cursorAt = 0;
  private forgotAt = 0;
  private firstOpen = true;
  private readonly counts: RecoveryCounts = { gapFills: 0, coalesced: 0, probes: 0, polls: 0, requests: 0 };

  constructor(
    private readonly transport: Rest,
    private readonly streams: StreamSource,
    private readonly reads: Pick<AccountReads, 'clock' | 'openOrders'>,
    private readonly timers?: Timers,
    private readonly cursorStore?: CursorStore,
  ) {
    this.health = this.makeHealth();
    this.cursorAt = cursorStore?.cursor?.at ?? 0;
  }

  get status(): StreamStatus {
    return this.health.status;
  }

  /** When the last fill (or partial fill) this feed delivered happened (ISO). */
  lastFillAt?: string;

  /** Listeners and orders tracked, and the REST requests recovery made: for tests and diagnostics. */
  get stats(): { listeners: number; tracked: number; held: number; recovery: RecoveryCounts } {
    return { listeners: this.listeners.size, tracked: this.tracker.size, held: this.held.length, recovery: { ...this.counts } };
  }

  /** Starts the shared stream on the first subscriber; returns the unsubscribe function. */
  subscribe(listener: (update: TradeUpdate) => void, options: TradeUpdatesListenerOptions = {}): () => void {
    const entry: Listener = { ...options, update: listener };
    this.listeners.add(entry);
    entry.onStatus?.(this.health.status);
    this.health.retune();
    if (!this.lease && !this.opening && !this.closed) this.open();
    return () => {
      if (!this.listeners.delete(entry)) return;
      this.health.retune();
      if (this.listeners.size === 0) this.shut();
    };
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.shut();
    this.health.close();
  }

  private makeHealth(): StreamHealth {
    const health = new StreamHealth({
      kind: 'trading',
      timers: this.timers,
      watchdogMs: () => this.smallest('watchdogMs'),
      pollAfterMs: () => this.smallest('pollAfterMs'),
      probe: async () => {
        this.counts.probes++;
        return (await this.catchUp(this.cutoff(this.smallest('watchdogMs')))) > 0;
      },
      forceReconnect: () => this.lease?.forceReconnect(),
      poll: async () => {
        this.counts.polls++;
        await this.catchUp(this.cutoff(0));
      },
      recover: (downSince) => this.recover(downSince),
    });
    health.on('status', (s: StreamStatus) => {
      for (const l of [...this.listeners]) l.onStatus?.(s);
    });
    health.on('event', (e: ConnectionEvent) => {
      for (const l of [...this.listeners]) l.onConnectionEvent?.(e);
    });
    return health;
  }

  /** Wall-clock epoch ms (the timers' clock when given). */
  private wall(): number {
    return this.timers ? this.timers.now() : Date.now();
  }

  private smallest(field: 'watchdogMs' | 'pollAfterMs'): number {
    let min = 0;
    for (const l of this.listeners) {
      const v = l[field] ?? 0;
      if (v > 0 && (min === 0 || v < min)) min = v;
    }
    return min;
  }

  private open(): void {
    this.opening = true;
    this.health.connecting();
    // Known open orders and the broker's clock first, so a later gap fill knows what is new.
    const seeded = this.seed();
    this.streams.acquire('trading').then(
      (lease) => {
        this.opening = false;
        if (this.closed || this.listeners.size === 0) {
          lease.release();
          return;
        }
        this.lease = lease;
        this.wire(lease.stream as TradingStream, seeded);
      },
      (err: Error) => {
        this.opening = false;
        if (!this.closed) this.health.unavailable(err.message);
      },
    );
  }

  private async seed(): Promise<void> {
    const wall = this.wall();
    try {
      this.counts.requests += 2;
      const [clock, open] = await Promise.all([
        this.reads.clock().catch(() => undefined),
        this.reads.openOrders().catch(() => [] as OrderSnapshot[]),
      ]);
      const broker = clock ? Date.parse(clock.timestamp) : NaN;
      this.startedAt = Number.isFinite(broker) ? broker : wall;
      this.sample ??= { broker: this.startedAt, wall };
      // Delivered before the restart: the cursor says up to when. Later changes are the gap.
      const cursor = this.cursorAt;
      const resume = this.firstOpen && cursor > 0 && cursor < this.startedAt && this.startedAt - cursor < CURSOR_MAX_AGE_MS;
      this.firstOpen = false;
      // Else from this read on: an order sent before the stream listens changes unheard.
      this.resumeFrom = resume ? cursor + 1 : this.startedAt;
      this.tracker.seed(resume ? open.filter((o) => !(Date.parse(o.updatedAt ?? '') > cursor)) : open);
    } catch {
      this.startedAt = wall;
    }
  }

  private wire(stream: TradingStream, seeded: Promise<void>): void {
    const handler = (u: unknown) => {
      this.health.data();
      const update = toTradeUpdate(u as Raw);
      const t = Date.parse(update.timestamp);
      if (Number.isFinite(t)) this.sample = { broker: t, wall: this.wall() };
      if (this.health.recovering) {
        if (this.held.length < MAX_HELD) this.held.push(update);
        return;
      }
      this.deliverLive(update);
    };
    const onAuthenticated = () => {
      // The seed must be in before a gap fill compares against it.
      void seeded.then(() => {
        if (this.lease?.stream !== stream) return;
        this.health.authenticated();
        this.resume();
      });
    };
    stream.onTradeUpdate(handler);
    const unfollow = followLifecycle(stream as never, this.health, () => this.lease?.stream === stream, onAuthenticated);
    stream.subscribeTradeUpdates();
    this.detach = () => {
      stream.off('trade_update' as never, handler as never);
      unfollow();
    };
    // Already authenticated (the order node opened the stream first): start from here.
    if (stream.getState() === 'authenticated') onAuthenticated();
  }

  private deliverLive(update: TradeUpdate): void {
    if (!this.tracker.live(update)) return;
    this.deliver(update);
  }

  private deliver(update: TradeUpdate): void {
    if (update.event === 'fill' || update.event === 'partial_fill') this.lastFillAt = update.timestamp;
    for (const l of [...this.listeners]) {
      try {
        l.update(update);
      } catch {
        // One listener failing must not starve the others.
      }
    }
    const at = Date.parse(update.order.updatedAt ?? update.timestamp);
    if (at > this.cursorAt) {
      this.cursorAt = at;
      this.cursorStore?.saveCursor({ at });
    }
    this.forgetOld();
  }

  /**
   * Lets the tracker forget final orders no gap fill can reach back to. Only while the feed is
   * healthy and no fill waits: then every later cutoff (a probe's, or an outage's that has not
   * begun) is after the floor.
   */
  private forgetOld(wall = this.wall()): void {
    if (wall - this.forgotAt < FORGET_EVERY_MS || this.health.isDown || this.health.recovering || this.nextFill) return;
    this.forgotAt = wall;
    this.tracker.forget(this.cutoff(this.smallest('watchdogMs'), wall) - FORGET_SLACK_MS);
  }

  /** First connect after a restart: fills the gap since the last update delivered before it, live updates held meanwhile. */
  private resume(): void {
    const from = this.resumeFrom;
    if (from === undefined || this.health.isDown) return;
    this.resumeFrom = undefined;
    this.health.recovering = true;
    void this.recover(from, true).catch(() => undefined);
  }

  /** Estimated broker time `agoMs` before now, minus a margin, never before the feed started. */
  private cutoff(agoMs: number, wall = this.wall()): number {
    const s = this.sample ?? { broker: wall, wall };
    const brokerNow = s.broker + (wall - s.wall);
    return Math.max(this.startedAt, brokerNow - agoMs - MARGIN_MS);
  }

  /**
   * Reads orders changed since `cutoff` over REST and delivers what the stream missed. One at a
   * time (a poll and a gap fill racing would both find the same missed fill); requests arriving
   * while one runs become one more run, from the earliest cutoff asked.
   */
  private catchUp(cutoff: number, held: TradeUpdate[] = []): Promise<number> {
    if (this.nextFill) {
      this.counts.coalesced++;
      this.nextFill.cutoff = Math.min(this.nextFill.cutoff, cutoff);
      return this.nextFill.run;
    }
    const next: { cutoff: number; run: Promise<number> } = { cutoff, run: Promise.resolve(0) };
    next.run = (this.catchingUp ?? Promise.resolve(0)).catch(() => 0).then(() => {
      if (this.nextFill === next) this.nextFill = undefined;
      return this.fill(next.cutoff, held);
    });
    this.nextFill = next;
    this.catchingUp = next.run;
    return next.run;
  }

  private async fill(cutoff: number, held: TradeUpdate[]): Promise<number> {
    const orders: OrderSnapshot[] = [];
    let after = this.tracker.queryAfter(cutoff);
    for (let page = 0; page < MAX_PAGES; page++) {
      this.counts.requests++;
      const list = await this.transport.rest(
        (a) =>
          a.trading.orders.getAllOrders({
            status: 'all',
            after: new Date(after).toISOString() as never,
            direction: 'asc',
            nested: true,
            limit: 500,
          } as never),
        { priority: PRIORITY.background },
      );
      for (const o of list as unknown as Raw[]) {
        orders.push(toOrder(o));
        for (const leg of (o.legs ?? []) as Raw[]) orders.push(toOrder(leg));
      }
      if (list.length < 500) break;
      const last = toOrder(list[list.length - 1] as unknown as Raw);
      const next = Date.parse(last.submittedAt ?? last.createdAt ?? '');
      if (!(next > after)) break;
      after = next - 1;
    }
    if (this.closed) return 0;
    const recovered = this.tracker.recover(orders, cutoff, held);
    for (const u of recovered) this.deliver(u);
    return recovered.length;
  }

  /**
   * Gap fill after a reconnect (`since`: wall time the outage began) or a restart (`since`: the
   * cursor, broker time): recovered updates first, then the live ones that arrived meanwhile.
   */
  private async recover(since: number, brokerTime = false): Promise<number> {
    this.counts.gapFills++;
    try {
      return await this.catchUp(brokerTime ? since : this.cutoff(0, since), this.held);
    } finally {
      const held = this.held;
      this.held = [];
      this.health.recovering = false;
      for (const u of held) this.deliverLive(u);
    }
  }

  private shut(): void {
    this.detach?.();
    this.detach = undefined;
    this.lease?.release();
    this.lease = undefined;
    this.held = [];
    if (!this.closed) this.health.reset();
  }
}
