// The account's trade updates from the one shared trading stream, for every node that listens
// (the order-updates node, the order node's wait-for-fill). Never silent, never lost: connection
// events and status, a watchdog that asks REST when the socket has been quiet, REST polling
// during a long outage, and gap fill after a reconnect: updates missed while down are recovered
// from REST orders and delivered exactly once, in order, marked `recovered`.
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

  constructor(
    private readonly transport: Rest,
    private readonly streams: StreamSource,
    private readonly reads: Pick<AccountReads, 'clock' | 'openOrders'>,
    private readonly timers?: Timers,
  ) {
    this.health = this.makeHealth();
  }

  get status(): StreamStatus {
    return this.health.status;
  }

  /** Listeners and orders tracked: for tests and diagnostics. */
  get stats(): { listeners: number; tracked: number; held: number } {
    return { listeners: this.listeners.size, tracked: this.tracker.size, held: this.held.length };
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
      probe: async () => (await this.catchUp(this.cutoff(this.smallest('watchdogMs')))) > 0,
      forceReconnect: () => this.lease?.forceReconnect(),
      poll: async () => {
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
    const wall = Date.now();
    try {
      const [clock, open] = await Promise.all([
        this.reads.clock().catch(() => undefined),
        this.reads.openOrders().catch(() => [] as OrderSnapshot[]),
      ]);
      const broker = clock ? Date.parse(clock.timestamp) : NaN;
      this.startedAt = Number.isFinite(broker) ? broker : wall;
      this.sample ??= { broker: this.startedAt, wall };
      this.tracker.seed(open);
    } catch {
      this.startedAt = wall;
    }
  }

  private wire(stream: TradingStream, seeded: Promise<void>): void {
    const handler = (u: unknown) => {
      this.health.data();
      const update = toTradeUpdate(u as Raw);
      const t = Date.parse(update.timestamp);
      if (Number.isFinite(t)) this.sample = { broker: t, wall: Date.now() };
      if (this.health.recovering) {
        if (this.held.length < MAX_HELD) this.held.push(update);
        return;
      }
      this.deliverLive(update);
    };
    const onAuthenticated = () => {
      // The seed must be in before a gap fill compares against it.
      void seeded.then(() => {
        if (this.lease?.stream === stream) this.health.authenticated();
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
    for (const l of [...this.listeners]) {
      try {
        l.update(update);
      } catch {
        // One listener failing must not starve the others.
      }
    }
  }

  /** Estimated broker time `agoMs` before now, minus a margin, never before the feed started. */
  private cutoff(agoMs: number, wall = Date.now()): number {
    const s = this.sample ?? { broker: wall, wall };
    const brokerNow = s.broker + (wall - s.wall);
    return Math.max(this.startedAt, brokerNow - agoMs - MARGIN_MS);
  }

  /** Reads orders changed since `cutoff` over REST and delivers what the stream missed. */
  private catchUp(cutoff: number, held: TradeUpdate[] = []): Promise<number> {
    // One at a time: a poll and a gap fill racing would both find the same missed fill.
    const run = (this.catchingUp ?? Promise.resolve(0)).catch(() => 0).then(async () => {
      const orders: OrderSnapshot[] = [];
      let after = this.tracker.queryAfter(cutoff);
      for (let page = 0; page < MAX_PAGES; page++) {
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
    });
    this.catchingUp = run;
    return run;
  }

  /** Gap fill after a reconnect: recovered updates first, then the live ones that arrived meanwhile. */
  private async recover(downSince: number): Promise<number> {
    try {
      return await this.catchUp(this.cutoff(0, downSince), this.held);
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
