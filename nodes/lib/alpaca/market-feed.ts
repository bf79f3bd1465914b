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
  isoTime,
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

export function normaliseTrade(t: Raw, now = Date.now()): MarketEvent {
  const time = isoTime(t.timestampRaw ?? t.timestamp ?? t.t, now);
  return {
    channel: 'trades',
    symbol: String(t.symbol ?? t.S ?? ''),
    payload: {
      symbol: String(t.symbol ?? t.S ?? ''),
      price: num(t.price ?? t.p),
      size: num(t.size ?? t.s),
      exchange: (t.exchange ?? t.x) as string | undefined,
      id: num(t.id ?? t.i),
      conditions: (t.conditions ?? t.c ?? []) as string[],
      tape: (t.tape ?? t.z) as string | undefined,
      ...(t.takerSide ?? t.tks ? { takerSide: (t.takerSide ?? t.tks) as string } : {}),
      ...time,
    },
  };
}

export function normaliseQuote(q: Raw, now = Date.now()): MarketEvent {
  const time = isoTime(q.timestampRaw ?? q.timestamp ?? q.t, now);
  const bid = num(q.bidPrice ?? q.bp);
  const ask = num(q.askPrice ?? q.ap);
  return {
    channel: 'quotes',
    symbol: String(q.symbol ?? q.S ?? ''),
    payload: {
      symbol: String(q.symbol ?? q.S ?? ''),
      bid,
      bidSize: num(q.bidSize ?? q.bs),
      ask,
      askSize: num(q.askSize ?? q.as),
      mid: bid !== undefined && ask !== undefined ? Number(((bid + ask) / 2).toFixed(8)) : undefined,
      bidExchange: (q.bidExchange ?? q.bx) as string | undefined,
      askExchange: (q.askExchange ?? q.ax) as string | undefined,
      conditions: (q.conditions ?? q.c ?? []) as string[],
      tape: (q.tape ?? q.z) as string | undefined,
      ...time,
    },
  };
}

export function normaliseBar(b: Raw, channel: MarketChannel = 'bars', symbol?: string, now = Date.now()): MarketEvent {
  const sym = String(symbol ?? b.symbol ?? b.S ?? '');
  const time = isoTime(b.timestampRaw ?? b.timestamp ?? b.t, now);
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
      ...time,
    },
  };
}

export function normaliseStatus(s: Raw, now = Date.now()): MarketEvent {
  const time = isoTime(s.timestampRaw ?? s.timestamp, now);
  return {
    channel: 'statuses',
    symbol: String(s.symbol ?? ''),
    payload: {
      symbol: String(s.symbol ?? ''),
      statusCode: s.statusCode as string | undefined,
      statusMessage: s.statusMessage as string | undefined,
      reasonCode: s.reasonCode as string | undefined,
      reasonMessage: s.reasonMessage as string | undefined,
      tape: s.tape as string | undefined,
      ...time,
    },
  };
}

export function normaliseNews(n: Raw, now = Date.now()): MarketEvent {
  const symbols = Array.isArray(n.symbols) ? (n.symbols as string[]) : [];
  const time = isoTime(n.createdAt, now);
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
      ...time,
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

export class AlpacaMarketFeed implements MarketFeed {
  private readonly book = new SubscriptionBook();
  private readonly subscribers = new Map<string, MarketSubscriber>();
  private readonly health: StreamHealth;
  private lease?: StreamLease;
  private opening = false;
  private unwire?: () => void;
  private closed = false;
  /** Broker time of the latest event per "channel|symbol" (probe and poll). */
  private readonly lastTime = new Map<string, number>();
  /** Wall time each pair was subscribed (a pair never seen yet is compared against it). */
  private readonly subscribedAt = new Map<string, number>();
  /** Latest bar start per symbol: backfill starts after it, and live bars at or before it are duplicates. */
  private readonly lastBarTime = new Map<string, number>();
  private held: MarketEvent[] = [];

  constructor(
    private readonly transport: Rest,
    private readonly streams: StreamSource,
    private readonly stockFeed: StockFeed,
    readonly kind: MarketKind,
    timers?: Timers,
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
      for (const sub of [...this.subscribers.values()]) sub.onConnectionEvent(e);
    });
  }

  get status(): StreamStatus {
    return this.health.status;
  }

  /** Nodes attached and distinct (channel, symbol) pairs held: for tests and diagnostics. */
  get stats(): { subscribers: number; pairs: number; tracked: number; held: number } {
    return { subscribers: this.subscribers.size, pairs: this.book.size, tracked: this.lastTime.size, held: this.held.length };
  }

  /** Everything the socket is subscribed to (the union of every node's interest). */
  get serverSubscriptions(): Wanted {
    return this.book.all();
  }

  attach(sub: MarketSubscriber): void {
    if (this.closed) return;
    this.subscribers.set(sub.id, sub);
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
    const at = () => Date.now();
    const onTrade = (t: unknown) => this.dispatch(normaliseTrade(t as Raw, at()));
    const onQuote = (q: unknown) => this.dispatch(normaliseQuote(q as Raw, at()));
    const onBar = (b: unknown) => this.dispatch(normaliseBar(b as Raw, 'bars', undefined, at()));
    const onUpdatedBar = (b: unknown) => this.dispatch(normaliseBar(b as Raw, 'updatedBars', undefined, at()));
    const onDailyBar = (b: unknown) => this.dispatch(normaliseBar(b as Raw, 'dailyBars', undefined, at()));
    const onStatus = (s: unknown) => this.dispatch(normaliseStatus(s as Raw, at()));
    const onNews = (n: unknown) => this.dispatch(normaliseNews(n as Raw, at()));
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
    this.lastTime.clear();
    this.subscribedAt.clear();
    this.lastBarTime.clear();
    if (!this.closed) this.health.reset();
  }

  private apply(diff: SubscriptionDiff): void {
    const now = Date.now();
    for (const [channel, symbols] of Object.entries(diff.subscribe)) {
      for (const s of symbols) if (!this.subscribedAt.has(`${channel}|${s}`)) this.subscribedAt.set(`${channel}|${s}`, now);
    }
    for (const [channel, symbols] of Object.entries(diff.unsubscribe)) {
      for (const s of symbols) {
        this.subscribedAt.delete(`${channel}|${s}`);
        this.lastTime.delete(`${channel}|${s}`);
        if (channel === 'bars') this.lastBarTime.delete(s);
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

  private dispatch(e: MarketEvent, extra?: { recovered?: boolean; polled?: boolean }): void {
    this.health.data();
    const key = `${e.channel}|${e.symbol}`;
    if (e.channel === 'bars') {
      if (this.health.recovering && !extra) {
        if (this.held.length < MAX_HELD) this.held.push(e);
        return;
      }
      const last = this.lastBarTime.get(e.symbol);
      if (last !== undefined && e.payload.time <= last) return; // already delivered (backfill or live)
      this.lastBarTime.set(e.symbol, e.payload.time);
    }
    if (this.subscribedAt.has(key) || this.subscribedAt.has(`${e.channel}|*`)) this.lastTime.set(key, e.payload.time);
    const event: FeedEvent = extra ? { ...e, ...extra } : e;
    if (e.channel === 'news') {
      const owners = new Set<string>();
      for (const s of (e.payload.symbols as string[]).length ? (e.payload.symbols as string[]) : ['*']) {
        for (const id of this.book.holders('news', s) ?? []) owners.add(id);
      }
      for (const id of owners) this.subscribers.get(id)?.onEvent(event);
      return;
    }
    const holders = this.book.holders(e.channel, e.symbol);
    if (!holders) return;
    for (const id of holders) this.subscribers.get(id)?.onEvent(event);
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

  private latest(channel: 'trades' | 'quotes' | 'bars', symbols: string[]): Promise<Record<string, Raw>> {
    const joined = symbols.join(',');
    const feed = this.stockFeed;
    return this.transport
      .rest(
        (a) => {
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
        },
        { priority: PRIORITY.background, api: 'data' },
      )
      .then((resp) => ((resp as Raw)[channel] ?? {}) as Record<string, Raw>);
  }

  /** The watchdog's question: does REST have newer data than the socket gave us? */
  private async probe(): Promise<boolean> {
    if (this.kind !== 'stocks' && this.kind !== 'crypto') return false;
    for (const channel of ['trades', 'quotes', 'bars'] as const) {
      const symbols = this.symbolsOn(channel).slice(0, 10);
      if (!symbols.length) continue;
      const latest = await this.latest(channel, symbols);
      const tolerance = channel === 'bars' ? MINUTE : 1000;
      for (const symbol of symbols) {
        const r = latest[symbol];
        if (!r) continue;
        const restTime = epochMs(r.t ?? r.timestamp);
        const key = `${channel}|${symbol}`;
        const seen = this.lastTime.get(key) ?? this.subscribedAt.get(key) ?? Date.now();
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
      const latest = await this.latest(channel, symbols);
      for (const symbol of symbols) {
        const r = latest[symbol];
        if (!r) continue;
        const e = channel === 'trades' ? normaliseTrade({ ...r, S: symbol }) : normaliseQuote({ ...r, S: symbol });
        const last = this.lastTime.get(`${channel}|${symbol}`);
        if (last !== undefined && e.payload.time <= last) continue;
        this.dispatch(e, { polled: true });
      }
    }
  }

  /** After a reconnect: minute bars missed while down, from REST, oldest first; then the held live bars. */
  private async backfill(): Promise<number> {
    let count = 0;
    try {
      const symbols = this.symbolsOn('bars').filter((s) => this.lastBarTime.has(s));
      if (symbols.length && (this.kind === 'stocks' || this.kind === 'crypto')) {
        const from = Math.min(...symbols.map((s) => this.lastBarTime.get(s) as number)) + MINUTE;
        const feed = this.stockFeed;
        const resp = (await this.transport.rest(
          (a) =>
            (this.kind === 'crypto'
              ? a.marketData.crypto.cryptoBars({ loc: 'us', symbols: symbols.join(','), timeframe: '1Min', start: new Date(from), limit: 10_000 })
              : a.marketData.stocks.stockBars({ symbols: symbols.join(','), timeframe: '1Min', start: new Date(from), limit: 10_000, feed: feed as never })) as Promise<unknown>,
          { priority: PRIORITY.background, api: 'data' },
        )) as { bars?: Record<string, Raw[]> };
        const events: MarketEvent[] = [];
        for (const symbol of symbols) for (const b of resp.bars?.[symbol] ?? []) events.push(normaliseBar(b, 'bars', symbol));
        events.sort((a, b) => a.payload.time - b.payload.time);
        for (const e of events) {
          const last = this.lastBarTime.get(e.symbol);
          if (last !== undefined && e.payload.time <= last) continue;
          this.dispatch(e, { recovered: true });
          count++;
        }
      }
    } finally {
      const held = this.held;
      this.held = [];
      this.health.recovering = false;
      for (const e of held) this.dispatch(e);
    }
    return count;
  }
}
