// The breaker's eye on prices: it follows the symbols the account holds (and those with open
// orders) on the account's shared market-data sockets, with reference-counted subscriptions like
// any stream node (never a socket of its own), and re-values the portfolio on every trade and
// quote midpoint. It says whether the stream is live enough to mark by; the guard decides what the
// equity means and when to poll instead.
import type { MarketFeed } from '../core/broker';
import { FINAL_EVENTS, FINAL_STATUSES } from '../core/order-status';
import type { OrderSnapshot, TradeUpdate } from '../core/snapshots';
import { classifySymbol, positionKey } from '../core/symbols';
import type { FeedEvent, MarketSubscriber, StreamStatus } from '../streams/events';
import type { Portfolio, PriceMove } from './portfolio';

export type FollowedKind = 'stocks' | 'crypto';
const KINDS: readonly FollowedKind[] = ['stocks', 'crypto'];

/** How the equity is being kept up to date right now. */
export type Marking =
  /** No positions: nothing to mark. */
  | { mode: 'flat' }
  /** Every position priced within the freshness limit while its stream is up. */
  | { mode: 'stream'; markedAt: number }
  /** The poll carries the equity: a stream is down, a symbol has no stream, or its newest price is old. */
  | { mode: 'poll'; why: 'down' | 'unpriced' | 'stale'; kind?: FollowedKind; symbol?: string; ageMs?: number; markedAt?: number };

export interface MarkToMarketOptions {
  /** The subscriber id on the shared feeds. */
  id: string;
  feed(kind: FollowedKind): MarketFeed;
  /** The connection's lookup of a feed's last trade (opens nothing). */
  lastTrade(kind: FollowedKind, symbol: string, maxAgeMs: number): number | undefined;
  portfolio: Portfolio;
  /** Real time (freshness). */
  realNow(): number;
  /** A price re-valued a held position: the portfolio's equity moved. */
  onMove(move: PriceMove): void;
}

/** Open orders, and symbols traded lately, remembered at most (each is followed too). */
const MAX_REMEMBERED = 1000;
/** A quote wider than this share of its midpoint is not a price (a one-sided or stub quote). */
const MAX_SPREAD = 0.1;
/** A symbol just traded stays followed this long after its position and orders end: the next order in it is valued from the stream, not a REST read. */
const LINGER_MS = 10 * 60_000;
/** A stream down for less than this (a reconnect takes about a second) still marks by its last prices while they are fresh. */
const DOWN_GRACE_MS = 5_000;

function kindOf(symbol: string): FollowedKind | undefined {
  const kind = classifySymbol(symbol);
  return kind === 'stock' ? 'stocks' : kind === 'crypto' ? 'crypto' : undefined;
}

/** The price an event gives: a trade's price, or a sane quote's midpoint. */
function priceOf(e: FeedEvent): { price: number; channel: 'trades' | 'quotes' } | undefined {
  const p = e.payload;
  if (e.channel === 'trades') {
    const price = p.price;
    return typeof price === 'number' && price > 0 ? { price, channel: 'trades' } : undefined;
  }
  if (e.channel !== 'quotes') return undefined;
  const bid = p.bid;
  const ask = p.ask;
  if (typeof bid !== 'number' || typeof ask !== 'number' || !(bid > 0) || !(ask >= bid)) return undefined;
  const mid = Number(((bid + ask) / 2).toFixed(8));
  return (ask - bid) / mid <= MAX_SPREAD ? { price: mid, channel: 'quotes' } : undefined;
}

const same = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => a.size === b.size && [...a].every((x) => b.has(x));

export class MarkToMarket {
  private readonly attached = new Map<FollowedKind, MarketFeed>();
  private readonly followed = new Map<FollowedKind, Set<string>>();
  private readonly statuses = new Map<FollowedKind, StreamStatus>();
  /** Open orders by id -> their stream symbol. */
  private readonly openOrders = new Map<string, string>();
  /** Symbols traded lately -> real time until which they stay followed. */
  private readonly recent = new Map<string, number>();
  /** Real time each kind's stream went down, while it is down. */
  private readonly downSince = new Map<FollowedKind, number>();
  /** Latest price of every followed symbol (held, with an open order or traded lately), by position key. */
  private readonly prices = new Map<string, { price: number; at: number }>();
  private closed = false;

  constructor(private readonly options: MarkToMarketOptions) {}

  /** The latest streamed price of a followed symbol, or undefined. */
  price(symbol: string): number | undefined {
    return this.prices.get(positionKey(symbol))?.price;
  }

  /** The last trade of a symbol the breaker does not follow, where a stream node subscribes it on the same socket. */
  streamedElsewhere(symbol: string, maxAgeMs: number): number | undefined {
    const kind = kindOf(symbol);
    return kind ? this.options.lastTrade(kind, symbol, maxAgeMs) : undefined;
  }

  /** Streams followed and their state, for the dialog. */
  streams(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const kind of this.attached.keys()) out[kind] = this.statuses.get(kind)?.state ?? 'idle';
    return out;
  }

  /** Remembers open orders read at start: their symbols are followed until they end. */
  noteOpenOrders(orders: Pick<OrderSnapshot, 'id' | 'symbol' | 'status'>[]): void {
    for (const o of orders) if (o.id && !FINAL_STATUSES.has(o.status)) this.rememberOrder(o.id, o.symbol);
    this.follow();
  }

  /** An order event: an open order's symbol is followed, an ended one's for a while longer. */
  noteUpdate(u: TradeUpdate): void {
    const o = u.order;
    if (!o?.id) return;
    if (FINAL_EVENTS.has(u.event) || FINAL_STATUSES.has(o.status)) this.openOrders.delete(o.id);
    else this.rememberOrder(o.id, o.symbol);
    if (o.symbol) {
      this.recent.delete(o.symbol);
      this.recent.set(o.symbol, this.options.realNow() + LINGER_MS);
      // Oldest first: a flood of symbols cannot grow this without bound.
      if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
    }
    this.follow();
  }

  /** Stops following the symbols whose linger has ended (call now and then). */
  expire(): void {
    const now = this.options.realNow();
    let changed = false;
    for (const [symbol, until] of this.recent) {
      if (until > now) continue;
      this.recent.delete(symbol);
      changed = true;
    }
    if (changed) this.follow();
  }

  /** Subscribes what the account holds or has orders in, and unsubscribes the rest (call after any change). */
  follow(): void {
    if (this.closed) return;
    const wanted = new Map<FollowedKind, Set<string>>(KINDS.map((k) => [k, new Set<string>()]));
    for (const mark of this.options.portfolio.holdings.values()) {
      if (mark.kind === 'stocks' || mark.kind === 'crypto') wanted.get(mark.kind)?.add(mark.symbol);
    }
    for (const symbol of [...this.openOrders.values(), ...this.recent.keys()]) {
      const kind = kindOf(symbol);
      if (kind) wanted.get(kind)?.add(symbol);
    }
    for (const kind of KINDS) this.apply(kind, wanted.get(kind) as Set<string>);
  }

  /**
   * Whether the equity is marked from the stream: every position priced by a live stream within
   * `freshMs` (a poll's price does not count). Otherwise why not: the stalest symbol when prices
   * are old (no `ageMs`: the stream has not priced it yet).
   */
  marking(freshMs: number): Marking {
    const holdings = this.options.portfolio.holdings;
    if (holdings.size === 0) return { mode: 'flat' };
    const now = this.options.realNow();
    let markedAt = 0;
    let streamedAt = 0;
    let stalest: { symbol: string; at: number } | undefined;
    for (const mark of holdings.values()) {
      if (mark.kind !== 'stocks' && mark.kind !== 'crypto') return { mode: 'poll', why: 'unpriced', symbol: mark.symbol };
      const down = this.downSince.get(mark.kind);
      if (this.statuses.get(mark.kind)?.state !== 'connected' && (down === undefined || now - down >= Math.min(freshMs, DOWN_GRACE_MS))) {
        return { mode: 'poll', why: 'down', kind: mark.kind };
      }
      markedAt = Math.max(markedAt, mark.receivedAt);
      streamedAt = Math.max(streamedAt, mark.streamedAt ?? 0);
      const at = mark.streamedAt ?? -Infinity;
      if (!stalest || at < stalest.at) stalest = { symbol: mark.symbol, at };
    }
    if (stalest && now - stalest.at > freshMs) {
      return { mode: 'poll', why: 'stale', symbol: stalest.symbol, ...(Number.isFinite(stalest.at) ? { ageMs: now - stalest.at } : {}), markedAt };
    }
    return { mode: 'stream', markedAt: streamedAt };
  }

  close(): void {
    this.closed = true;
    for (const [kind, feed] of this.attached) {
      feed.detach(this.options.id);
      this.attached.delete(kind);
    }
    this.followed.clear();
    this.prices.clear();
    this.recent.clear();
  }

  private rememberOrder(id: string, symbol: string): void {
    if (!symbol) return;
    this.openOrders.delete(id);
    this.openOrders.set(id, symbol);
    // The oldest go first: a flood of orders cannot grow this without bound.
    if (this.openOrders.size > MAX_REMEMBERED) this.openOrders.delete(this.openOrders.keys().next().value as string);
  }

  private apply(kind: FollowedKind, wanted: Set<string>): void {
    const current = this.followed.get(kind) ?? new Set<string>();
    if (same(current, wanted) && (wanted.size === 0) === !this.attached.has(kind)) return;
    for (const symbol of current) if (!wanted.has(symbol)) this.prices.delete(positionKey(symbol));
    this.followed.set(kind, wanted);
    let feed = this.attached.get(kind);
    if (wanted.size === 0) {
      if (feed) {
        // The last subscriber leaving closes the socket: a flat account holds none open.
        feed.detach(this.options.id);
        this.attached.delete(kind);
        this.statuses.delete(kind);
        this.downSince.delete(kind);
      }
      return;
    }
    if (!feed) {
      feed = this.options.feed(kind);
      this.attached.set(kind, feed);
      feed.attach(this.subscriber(kind));
    }
    const symbols = [...wanted].sort();
    feed.replace(this.options.id, { trades: symbols, quotes: symbols });
  }

  private subscriber(kind: FollowedKind): MarketSubscriber {
    return {
      id: this.options.id,
      // The breaker's fallback is the account poll, not the feed's REST probes: it adds no requests.
      watchdogMs: 0,
      pollAfterMs: 0,
      onEvent: (e) => this.onEvent(e),
      onStatus: (s) => {
        const was = this.statuses.get(kind)?.state === 'connected';
        this.statuses.set(kind, s);
        const up = s.state === 'connected';
        if (up) this.downSince.delete(kind);
        else if (was || !this.downSince.has(kind)) this.downSince.set(kind, this.options.realNow());
      },
      onConnectionEvent: () => undefined,
    };
  }

  private onEvent(e: FeedEvent): void {
    if (this.closed) return;
    const quoted = priceOf(e);
    if (!quoted) return;
    const key = positionKey(e.symbol);
    const at = e.payload.time;
    const known = this.prices.get(key);
    if (known && at < known.at) return; // a late print does not move the price
    this.prices.set(key, { price: quoted.price, at });
    if (this.options.portfolio.mark(e.symbol, quoted.price, at, this.options.realNow())) {
      this.options.onMove({ symbol: e.symbol, price: quoted.price, priceAt: at, channel: quoted.channel });
    }
  }
}
