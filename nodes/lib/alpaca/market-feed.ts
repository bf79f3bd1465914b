// The market-data feed of one kind (stocks, crypto, options, news) on the shared connection: one
// SDK socket for every stream node of the account, reference-counted subscriptions per node,
// normalised events, a watchdog for a silent socket, REST polling during long outages and bar
// backfill after a reconnect, all REST through the connection's budget.
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import type { MarketFeed } from '../core/broker';
import { PRIORITY } from '../core/priority';
import type { StockFeed } from './client';
import type { StreamLease, StreamSource } from './stream-pool';
import type { Rest } from './transport';
import { SubscriptionBook, isEmpty, type SubscriptionDiff, type Wanted } from '../streams/subscriptions';
import { StreamHealth, type Timers } from '../streams/health';
import { followLifecycle } from './stream-lifecycle';
import {
  brokerTime,
  epochMs,
  type ConnectionEvent,
  type FeedEvent,
  type MarketChannel,
  type MarketEvent,
  type MarketKind,
  type MarketSubscriber,
  type StreamStatus,
} from '../streams/events';

type Raw = Record<string, unknown>;
type MarketStream = ReturnType<Alpaca['marketData']['stockStream']>;

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

// --- normalisation of the SDK's mapped stream objects and of REST objects -----------------------
// These run once per market event: no second parse of a time the SDK parsed, no spread, one
// payload object per event.

export function normaliseTrade(t: Raw): MarketEvent {
  const symbol = String(t.symbol ?? t.S ?? '');
  const { timestamp, time } = brokerTime(t.timestamp ?? t.t, t.timestampRaw);
  const payload: MarketEvent['payload'] = {
    symbol,
    price: num(t.price ?? t.p),
    size: num(t.size ?? t.s),
    exchange: (t.exchange ?? t.x) as string | undefined,
    id: num(t.id ?? t.i),
    conditions: (t.conditions ?? t.c ?? []) as string[],
    tape: (t.tape ?? t.z) as string | undefined,
    timestamp,
    time,
  };
  const takerSide = t.takerSide ?? t.tks;
  if (takerSide) payload.takerSide = takerSide as string;
  return { channel: 'trades', symbol, payload };
}

export function normaliseQuote(q: Raw): MarketEvent {
  const symbol = String(q.symbol ?? q.S ?? '');
  const { timestamp, time } = brokerTime(q.timestamp ?? q.t, q.timestampRaw);
  const bid = num(q.bidPrice ?? q.bp);
  const ask = num(q.askPrice ?? q.ap);
  return {
    channel: 'quotes',
    symbol,
    payload: {
      symbol,
      bid,
      bidSize: num(q.bidSize ?? q.bs),
      ask,
      askSize: num(q.askSize ?? q.as),
      mid: bid !== undefined && ask !== undefined ? Number(((bid + ask) / 2).toFixed(8)) : undefined,
      bidExchange: (q.bidExchange ?? q.bx) as string | undefined,
      askExchange: (q.askExchange ?? q.ax) as string | undefined,
      conditions: (q.conditions ?? q.c ?? []) as string[],
      tape: (q.tape ?? q.z) as string | undefined,
      timestamp,
      time,
    },
  };
}

export function normaliseBar(b: Raw, channel: MarketChannel = 'bars', symbol?: string): MarketEvent {
  const sym = String(symbol ?? b.symbol ?? b.S ?? '');
  const { timestamp, time } = brokerTime(b.timestamp ?? b.t, b.timestampRaw);
  return {
    channel,
    symbol: sym,
    payload: {
      symbol: sym,
      open: num(b.open ?? b.o),
      high: num(b.high ?? b.h),
      low: num(b.low ?? b.l),
      close: num(b.close ?? b.c),
      volume: num(b.volume ?? b.v),
      vwap: num(b.vwap ?? b.vw),
      tradeCount: num(b.tradeCount ?? b.n),
      timestamp,
      time,
    },
  };
}

export function normaliseStatus(s: Raw): MarketEvent {
  const symbol = String(s.symbol ?? '');
  const { timestamp, time } = brokerTime(s.timestamp, s.timestampRaw);
  return {
    channel: 'statuses',
    symbol,
    payload: {
      symbol,
      statusCode: s.statusCode as string | undefined,
      statusMessage: s.statusMessage as string | undefined,
      reasonCode: s.reasonCode as string | undefined,
      reasonMessage: s.reasonMessage as string | undefined,
      tape: s.tape as string | undefined,
      timestamp,
      time,
    },
  };
}

export function normaliseNews(n: Raw): MarketEvent {
  const symbols = Array.isArray(n.symbols) ? (n.symbols as string[]) : [];
  const { timestamp, time } = brokerTime(n.createdAt, undefined);
  const updated = epochMs(n.updatedAt);
  return {
    channel: 'news',
    symbol: symbols[0] ?? '',
    payload: {
      id: num(n.id),
      headline: n.headline as string | undefined,
      summary: n.summary as string | undefined,
      author: n.author as string | undefined,
      source: n.source as string | undefined,
      url: n.url as string | undefined,
      content: n.content as string | undefined,
      symbols,
      updatedAt: Number.isFinite(updated) ? new Date(updated).toISOString() : undefined,
      timestamp,
      time,
    },
  };
}

const SUBSCRIBE: Record<MarketChannel, [keyof MarketStream, keyof MarketStream]> = {
  trades: ['subscribeForTrades', 'unsubscribeFromTrades'],
  quotes: ['subscribeForQuotes', 'unsubscribeFromQuotes'],
  bars: ['subscribeForBars', 'unsubscribeFromBars'],
  updatedBars: ['subscribeForUpdatedBars', 'unsubscribeFromUpdatedBars'],
  dailyBars: ['subscribeForDailyBars', 'unsubscribeFromDailyBars'],
  statuses: ['subscribeForStatuses', 'unsubscribeFromStatuses'],
  news: ['subscribeForNews', 'unsubscribeFromNews'],
};

const MINUTE = 60_000;
/** Live bars held back while a backfill runs, at most. */
const MAX_HELD = 10_000;
/** How late after its minute a bar may still arrive: a minute boundary this close before an outage may hide a missed bar. */
const BAR_LATENESS = 15_000;

/** REST requests the feed made to recover from outages and silence: the account's health shows them. */
export interface RecoveryCounts {
  /** Requests sent (every kind below). */
  requests: number;
  /** Gap fills after a reconnect that asked REST for missed bars. */
  gapFills: number;
  /** Reconnects after which nothing could have been missed: no request. */
  gapFillsSkipped: number;
  /** Reconnects that came while a gap fill ran: folded into one more fill. */
  gapFillsCoalesced: number;
  /** Watchdog questions to REST after a silence. */
  probes: number;
  /** REST polls while the socket was down. */
  polls: number;
}

/** Where events of one (channel, symbol) pair go, and the broker time of the latest one. */
interface Route {
  subscribers: MarketSubscriber[];
  /** The subscriptions' generation this list was made for. */
  generation: number;
  time?: number;
  /** The latest trade's price (a trades route). */
  price?: number;
}

/** Each further node holding a pair gets its own copy, so a flow changing its msg cannot change another's. */
function copyOf(e: FeedEvent): FeedEvent {
  const payload: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.payload)) payload[k] = Array.isArray(v) ? v.slice() : v;
  return { ...e, payload: payload as FeedEvent['payload'] };
}

export class AlpacaMarketFeed implements MarketFeed {
  private readonly book = new SubscriptionBook();
  private readonly subscribers = new Map<string, MarketSubscriber>();
  private readonly health: StreamHealth;
  private lease?: StreamLease;
  private opening = false;
  private unwire?: () => void;
  private closed = false;
  /** Per channel and symbol: the nodes to hand events to, and the latest event's broker time (probe and poll). */
  private readonly routes = new Map<MarketChannel, Map<string, Route>>();
  /** Bumped by every change of nodes or subscriptions: older routes are rebuilt when next used. */
  private generation = 0;
  /** Wall time each pair was subscribed (a pair never seen yet is compared against it). */
  private readonly subscribedAt = new Map<string, number>();
  /** Latest bar start per symbol: backfill starts after it, and live bars at or before it are duplicates. */
  private readonly lastBarTime = new Map<string, number>();
  private held: MarketEvent[] = [];
  /** Start of the newest minute the last gap fill asked REST about: no bar up to it is missing any more. */
  private filledThrough = -Infinity;
  /** Broker time when the current outage began. */
  private brokerDownSince?: number;
  /** The gap fill running now, and the earliest outage start a fill after it must still cover. */
  private filling?: Promise<number>;
  private refillSince?: number;
  private readonly recovery: RecoveryCounts = { requests: 0, gapFills: 0, gapFillsSkipped: 0, gapFillsCoalesced: 0, probes: 0, polls: 0 };

  constructor(
    private readonly transport: Rest,
    private readonly streams: StreamSource,
    private readonly stockFeed: StockFeed,
    readonly kind: MarketKind,
    timers?: Timers,
    /** The broker's clock (the built-in simulator's may run apart from this machine's). */
    private readonly brokerNow: () => number = Date.now,
  ) {
    this.health = new StreamHealth({
      kind,
      timers,
      watchdogMs: () => this.smallest('watchdogMs'),
      pollAfterMs: () => this.smallest('pollAfterMs'),
      probe: () => this.probe(),
      forceReconnect: () => this.lease?.forceReconnect(),
      poll: () => this.poll(),
      recover: () => this.backfill(),
    });
    this.health.on('status', (s: StreamStatus) => {
      for (const sub of [...this.subscribers.values()]) sub.onStatus(s);
    });
    this.health.on('event', (e: ConnectionEvent) => {
      if (e.event === 'disconnected') this.brokerDownSince = this.brokerNow();
      for (const sub of [...this.subscribers.values()]) sub.onConnectionEvent(e);
    });
  }

  get status(): StreamStatus {
    return this.health.status;
  }

  /** Nodes attached, distinct (channel, symbol) pairs held, table sizes and recovery requests: for tests and diagnostics. */
  get stats(): { subscribers: number; pairs: number; tracked: number; held: number; recovery: RecoveryCounts } {
    let tracked = 0;
    for (const bySymbol of this.routes.values()) for (const r of bySymbol.values()) if (r.time !== undefined) tracked++;
    return { subscribers: this.subscribers.size, pairs: this.book.size, tracked, held: this.held.length, recovery: { ...this.recovery } };
  }

  /** Everything the socket is subscribed to (the union of every node's interest). */
  get serverSubscriptions(): Wanted {
    return this.book.all();
  }

  attach(sub: MarketSubscriber): void {
    if (this.closed) return;
    this.subscribers.set(sub.id, sub);
    this.generation++;
    sub.onStatus(this.health.status);
    this.health.retune();
    if (!this.lease && !this.opening) this.open();
  }

  /** Removes a node and only its own interest; the last node leaving closes the socket. */
  detach(id: string): void {
    if (!this.subscribers.delete(id)) return;
    this.apply(this.book.removeOwner(id));
    this.health.retune();
    if (this.subscribers.size === 0) this.shut();
  }

  subscribe(id: string, wanted: Wanted): void {
    this.apply(this.book.add(id, wanted));
  }

  unsubscribe(id: string, wanted: Wanted): void {
    this.apply(this.book.remove(id, wanted));
  }

  replace(id: string, wanted: Wanted): void {
    this.apply(this.book.replace(id, wanted));
  }

  subscriptionsOf(id: string): Wanted {
    return this.book.of(id);
  }

  lastTrade(symbol: string, maxAgeMs: number): number | undefined {
    if (this.health.status.state !== 'connected') return undefined;
    const route = this.routeOf('trades', symbol);
    if (route?.price === undefined || !(route.price > 0) || route.time === undefined) return undefined;
    return this.brokerNow() - route.time <= maxAgeMs ? route.price : undefined;
  }

  close(): void {
    this.closed = true;
    this.subscribers.clear();
    this.shut();
    this.health.close();
  }

  // --- socket -----------------------------------------------------------------

  private open(): void {
    this.opening = true;
    this.health.connecting();
    this.streams.acquire(this.kind).then(
      (lease) => {
        this.opening = false;
        if (this.closed || this.subscribers.size === 0) {
          lease.release();
          return;
        }
        this.lease = lease;
        this.wire(lease.stream as MarketStream);
        const all = this.book.all();
        if (!isEmpty(all)) this.apply({ subscribe: all, unsubscribe: {} });
      },
      (err: Error) => {
        this.opening = false;
        if (!this.closed) this.health.unavailable(err.message);
      },
    );
  }

  private wire(stream: MarketStream): void {
    const onTrade = (t: unknown) => this.dispatch(normaliseTrade(t as Raw));
    const onQuote = (q: unknown) => this.dispatch(normaliseQuote(q as Raw));
    const onBar = (b: unknown) => this.dispatch(normaliseBar(b as Raw, 'bars'));
    const onUpdatedBar = (b: unknown) => this.dispatch(normaliseBar(b as Raw, 'updatedBars'));
    const onDailyBar = (b: unknown) => this.dispatch(normaliseBar(b as Raw, 'dailyBars'));
    const onStatus = (s: unknown) => this.dispatch(normaliseStatus(s as Raw));
    const onNews = (n: unknown) => this.dispatch(normaliseNews(n as Raw));
    const listeners: Array<[string, (...a: never[]) => void]> = [
      ['trade', onTrade],
      ['quote', onQuote],
      ['bar', onBar],
      ['updated_bar', onUpdatedBar],
      ['daily_bar', onDailyBar],
      ['status', onStatus],
      ['news', onNews],
    ];
    for (const [event, fn] of listeners) stream.on(event as never, fn as never);
    const unfollow = followLifecycle(stream, this.health, () => this.lease?.stream === stream, () => this.health.authenticated());
    this.unwire = () => {
      for (const [event, fn] of listeners) stream.off(event as never, fn as never);
      unfollow();
    };
  }

  private shut(): void {
    this.unwire?.();
    this.unwire = undefined;
    this.lease?.release();
    this.lease = undefined;
    this.held = [];
    this.routes.clear();
    this.subscribedAt.clear();
    this.lastBarTime.clear();
    this.brokerDownSince = undefined;
    this.refillSince = undefined;
    this.filledThrough = -Infinity;
    if (!this.closed) this.health.reset();
  }

  private apply(diff: SubscriptionDiff): void {
    this.generation++;
    const now = Date.now();
    for (const [channel, symbols] of Object.entries(diff.subscribe)) {
      for (const s of symbols) if (!this.subscribedAt.has(`${channel}|${s}`)) this.subscribedAt.set(`${channel}|${s}`, now);
    }
    for (const [channel, symbols] of Object.entries(diff.unsubscribe)) {
      const routes = this.routes.get(channel as MarketChannel);
      for (const s of symbols) {
        this.subscribedAt.delete(`${channel}|${s}`);
        routes?.delete(s);
        if (channel === 'bars') this.lastBarTime.delete(s);
      }
      // Symbols seen only through a wildcard are forgotten with it.
      if (routes && symbols.includes('*')) {
        for (const s of routes.keys()) if (!this.book.holders(channel, s)) routes.delete(s);
      }
    }
    const stream = this.lease?.stream as MarketStream | undefined;
    if (!stream) return; // applied from the book once the socket is there
    for (const [channel, symbols] of Object.entries(diff.unsubscribe)) {
      if (symbols.length) (stream[SUBSCRIBE[channel as MarketChannel][1]] as (s: string[]) => void).call(stream, symbols);
    }
    for (const [channel, symbols] of Object.entries(diff.subscribe)) {
      if (symbols.length) (stream[SUBSCRIBE[channel as MarketChannel][0]] as (s: string[]) => void).call(stream, symbols);
    }
  }

  // --- delivery -----------------------------------------------------------------

  /** Runs once per market event. */
  private dispatch(e: MarketEvent, origin?: 'recovered' | 'polled'): void {
    this.health.data();
    if (e.channel === 'bars') {
      if (this.health.recovering && !origin) {
        if (this.held.length < MAX_HELD) this.held.push(e);
        return;
      }
      const last = this.lastBarTime.get(e.symbol);
      if (last !== undefined && e.payload.time <= last) return; // already delivered (backfill or live)
      this.lastBarTime.set(e.symbol, e.payload.time);
    }
    const event: FeedEvent = origin ? { ...e, [origin]: true } : e;
    if (e.channel === 'news') {
      const owners = new Set<string>();
      for (const s of (e.payload.symbols as string[]).length ? (e.payload.symbols as string[]) : ['*']) {
        for (const id of this.book.holders('news', s) ?? []) owners.add(id);
      }
      this.deliver(event, [...owners].map((id) => this.subscribers.get(id)));
      return;
    }
    const route = this.routeOf(e.channel, e.symbol);
    if (!route) return;
    route.time = e.payload.time;
    if (e.channel === 'trades') route.price = e.payload.price as number | undefined;
    this.deliver(event, route.subscribers);
  }

  private deliver(event: FeedEvent, subscribers: Iterable<MarketSubscriber | undefined>): void {
    let first = true;
    for (const sub of subscribers) {
      if (!sub) continue;
      sub.onEvent(first ? event : copyOf(event));
      first = false;
    }
  }

  /** The route of a pair anybody holds (a wildcard counts), made for the current subscriptions. */
  private routeOf(channel: MarketChannel, symbol: string): Route | undefined {
    let bySymbol = this.routes.get(channel);
    const route = bySymbol?.get(symbol);
    if (route && route.generation === this.generation) return route;
    const holders = this.book.holders(channel, symbol);
    if (!holders) {
      bySymbol?.delete(symbol);
      return undefined;
    }
    const subscribers: MarketSubscriber[] = [];
    for (const id of holders) {
      const sub = this.subscribers.get(id);
      if (sub) subscribers.push(sub);
    }
    if (!bySymbol) this.routes.set(channel, (bySymbol = new Map()));
    const fresh: Route = { subscribers, generation: this.generation, time: route?.time, price: route?.price };
    bySymbol.set(symbol, fresh);
    return fresh;
  }

  private smallest(field: 'watchdogMs' | 'pollAfterMs'): number {
    let min = 0;
    for (const s of this.subscribers.values()) {
      const v = s[field];
      if (v > 0 && (min === 0 || v < min)) min = v;
    }
    return min;
  }

  /** Concrete symbols (no wildcard) subscribed on a channel. */
  private symbolsOn(channel: MarketChannel): string[] {
    return (this.book.all()[channel] ?? []).filter((s) => s !== '*');
  }

  // --- REST: probe, poll, backfill ---------------------------------------------------

  /** Every REST request of the feed: counted, through the market-data budget, behind everything else. */
  private request<T>(call: (a: Alpaca) => Promise<T>): Promise<T> {
    this.recovery.requests++;
    return this.transport.rest(call, { priority: PRIORITY.background, api: 'data' });
  }

  private latest(channel: 'trades' | 'quotes' | 'bars', symbols: string[]): Promise<Record<string, Raw>> {
    const joined = symbols.join(',');
    const feed = this.stockFeed;
    return this.request((a) => {
      const s = a.marketData.stocks;
      const c = a.marketData.crypto;
      const crypto = this.kind === 'crypto';
      if (channel === 'trades') {
        return (crypto ? c.cryptoLatestTrades({ loc: 'us', symbols: joined }) : s.stockLatestTrades({ symbols: joined, feed: feed as never })) as Promise<unknown>;
      }
      if (channel === 'quotes') {
        return (crypto ? c.cryptoLatestQuotes({ loc: 'us', symbols: joined }) : s.stockLatestQuotes({ symbols: joined, feed: feed as never })) as Promise<unknown>;
      }
      return (crypto ? c.cryptoLatestBars({ loc: 'us', symbols: joined }) : s.stockLatestBars({ symbols: joined, feed: feed as never })) as Promise<unknown>;
    }).then((resp) => ((resp as Raw)[channel] ?? {}) as Record<string, Raw>);
  }

  /** The watchdog's question: does REST have newer data than the socket gave us? One request. */
  private async probe(): Promise<boolean> {
    if (this.kind !== 'stocks' && this.kind !== 'crypto') return false;
    for (const channel of ['trades', 'quotes', 'bars'] as const) {
      const symbols = this.symbolsOn(channel).slice(0, 10);
      if (!symbols.length) continue;
      this.recovery.probes++;
      const latest = await this.latest(channel, symbols);
      const tolerance = channel === 'bars' ? MINUTE : 1000;
      for (const symbol of symbols) {
        const r = latest[symbol];
        if (!r) continue;
        const restTime = epochMs(r.timestamp ?? r.t);
        const seen = this.routes.get(channel)?.get(symbol)?.time ?? this.subscribedAt.get(`${channel}|${symbol}`) ?? Date.now();
        if (restTime > seen + tolerance) return true;
      }
      return false;
    }
    return false;
  }

  /** While down: latest trades and quotes over REST, delivered when newer than what we had. */
  private async poll(): Promise<void> {
    if (this.kind !== 'stocks' && this.kind !== 'crypto') return;
    for (const channel of ['trades', 'quotes'] as const) {
      const symbols = this.symbolsOn(channel).slice(0, 100);
      if (!symbols.length) continue;
      this.recovery.polls++;
      const latest = await this.latest(channel, symbols);
      for (const symbol of symbols) {
        const r = latest[symbol];
        if (!r) continue;
        const e = channel === 'trades' ? normaliseTrade({ ...r, S: symbol }) : normaliseQuote({ ...r, S: symbol });
        const last = this.routes.get(channel)?.get(symbol)?.time;
        if (last !== undefined && e.payload.time <= last) continue;
        this.dispatch(e, 'polled');
      }
    }
  }

  /**
   * After a reconnect: the minute bars missed while down, from REST, oldest first; then the live
   * bars held meanwhile. One request per feed, none when no bar can have been missed; reconnects
   * during a fill are folded into one more fill after it.
   */
  private backfill(): Promise<number> {
    const since = this.brokerDownSince ?? this.brokerNow();
    this.brokerDownSince = undefined;
    if (this.filling) {
      this.recovery.gapFillsCoalesced++;
      this.refillSince = Math.min(this.refillSince ?? since, since);
      return this.filling;
    }
    const run = async (): Promise<number> => {
      let count = 0;
      try {
        let from: number | undefined = since;
        while (from !== undefined && !this.closed) {
          count += await this.fillOnce(from);
          from = this.refillSince;
          this.refillSince = undefined;
        }
      } finally {
        this.filling = undefined;
        const held = this.held;
        this.held = [];
        this.health.recovering = false;
        for (const e of held) this.dispatch(e);
      }
      return count;
    };
    return (this.filling = run());
  }

  /**
   * The start of the newest minute whose bar may be missing for `symbols` after an outage since
   * `downSince` (broker time), or undefined when none can be.
   */
  private missedBarsThrough(symbols: string[], downSince: number): number | undefined {
    // A bar for minute M comes shortly after M + 1 min: only an outage reaching past a minute
    // boundary (less the lateness a bar may have) can hide one.
    const boundary = Math.floor(this.brokerNow() / MINUTE) * MINUTE;
    if (boundary < downSince - BAR_LATENESS) return undefined;
    const newest = boundary - MINUTE;
    return symbols.some((s) => Math.max(this.lastBarTime.get(s) as number, this.filledThrough) < newest) ? newest : undefined;
  }

  private async fillOnce(downSince: number): Promise<number> {
    const symbols = this.symbolsOn('bars').filter((s) => this.lastBarTime.has(s));
    const through = symbols.length && (this.kind === 'stocks' || this.kind === 'crypto') ? this.missedBarsThrough(symbols, downSince) : undefined;
    if (through === undefined) {
      this.recovery.gapFillsSkipped++;
      return 0;
    }
    this.recovery.gapFills++;
    const from = Math.min(...symbols.map((s) => this.lastBarTime.get(s) as number)) + MINUTE;
    const feed = this.stockFeed;
    const resp = (await this.request(
      (a) =>
        (this.kind === 'crypto'
          ? a.marketData.crypto.cryptoBars({ loc: 'us', symbols: symbols.join(','), timeframe: '1Min', start: new Date(from), limit: 10_000 })
          : a.marketData.stocks.stockBars({ symbols: symbols.join(','), timeframe: '1Min', start: new Date(from), limit: 10_000, feed: feed as never })) as Promise<unknown>,
    )) as { bars?: Record<string, Raw[]> };
    this.filledThrough = Math.max(this.filledThrough, through);
    const events: MarketEvent[] = [];
    for (const symbol of symbols) for (const b of resp.bars?.[symbol] ?? []) events.push(normaliseBar(b, 'bars', symbol));
    events.sort((a, b) => a.payload.time - b.payload.time);
    let count = 0;
    for (const e of events) {
      const last = this.lastBarTime.get(e.symbol);
      if (last !== undefined && e.payload.time <= last) continue;
      this.dispatch(e, 'recovered');
      count++;
    }
    return count;
  }
}
