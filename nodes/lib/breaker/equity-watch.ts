// The account's equity as the breaker knows it: marked to market on every price from the live
// stream, moved by fills between polls, reconciled by the REST poll (cash, fills, anything the
// stream cannot know), which also carries it alone while the stream is down or its prices are old.
// It hands every new figure to the guard with what caused it; the guard runs the rules.
import type { BrokerConnection } from '../core/broker';
import type { PositionSnapshot, TradeUpdate } from '../core/snapshots';
import { classifySymbol } from '../core/symbols';
import { AccountWatch, PRICE_CACHE_MS } from './account-watch';
import { MarkToMarket, type Marking } from './mark-to-market';
import { Portfolio, type EquitySource, type PriceMove } from './portfolio';
import type { BreakerSettings } from './settings';
import { markingText } from './words';

export interface EquityWatchOptions {
  /** Subscriber id on the shared market-data feeds. */
  id: string;
  connection: Pick<BrokerConnection, 'reads' | 'marketFeed' | 'lastTrade'>;
  /** The rules' clock (sessions). */
  now: () => number;
  /** Real time (polling, freshness). */
  realNow: () => number;
  /** The settings of every breaker on the account (polling and freshness follow the fastest). */
  settings: () => BreakerSettings[];
  /** A new equity figure, in the session `sessionKey` (undefined: keep the current one). */
  onEquity: (equity: number, sessionKey: string | undefined, from: EquitySource) => void;
  /** An account fetch failed; `failures` in a row so far. */
  onFetchFailure: (failures: number, message: string) => void;
  /** The few words of the status about how the equity is kept current changed. */
  onMarking: (text: string) => void;
}

/** The asset class of an order's symbol, as a position names it. */
function assetClassOf(symbol: string): string {
  const kind = classifySymbol(symbol);
  return kind === 'option' ? 'us_option' : kind === 'crypto' ? 'crypto' : 'us_equity';
}

const iso = (t: number): string => new Date(t).toISOString();

export class EquityWatch {
  private readonly watch: AccountWatch;
  private readonly portfolio = new Portfolio();
  private readonly marks: MarkToMarket;
  private current: Marking = { mode: 'flat' };
  private said = '';
  /** Real time of the last reconciliation (account and positions read together). */
  private reconciledAt?: number;
  private closed = false;

  constructor(private readonly options: EquityWatchOptions) {
    this.watch = new AccountWatch({
      reads: options.connection.reads,
      now: options.now,
      realNow: options.realNow,
      intervalMs: (exposure) => this.pollInterval(exposure),
      onAccount: async (account, positions, startedAt) => {
        this.portfolio.reconcile(account, positions, startedAt, options.realNow());
        this.reconciledAt = options.realNow();
        this.marks.follow();
        const key = await this.watch.sessionKey(this.sessionKind());
        const equity = this.portfolio.equity;
        if (this.closed || equity === undefined) return;
        this.review();
        options.onEquity(equity, key, { source: 'poll', at: options.now() });
      },
      onFetchFailure: options.onFetchFailure,
    });
    this.marks = new MarkToMarket({
      id: options.id,
      feed: (kind) => options.connection.marketFeed(kind),
      lastTrade: (kind, symbol, maxAgeMs) => options.connection.lastTrade(kind, symbol, maxAgeMs),
      portfolio: this.portfolio,
      realNow: options.realNow,
      onMove: (move) => this.noteMove(move),
    });
  }

  /** Equity now: marked to market, else the last poll's; undefined before the first poll. */
  get equity(): number | undefined {
    return this.portfolio.equity ?? this.watch.equity;
  }

  /** The last polled equity and its real time. */
  get polled(): { equity?: number; at?: number } {
    return { equity: this.watch.equity, at: this.watch.equityAt };
  }

  get fetchFailures(): number {
    return this.watch.fetchFailures;
  }

  get lastFetchError(): string | undefined {
    return this.watch.lastFetchError;
  }

  /** The status words: "marked to market at 14:03:05", "AAPL price 2 min old", "stocks stream down". */
  get markingText(): string {
    return this.said;
  }

  /** After a reset: the failures before it no longer count. */
  forgetFailures(): void {
    this.watch.fetchFailures = 0;
  }

  poll(): Promise<void> {
    return this.watch.poll();
  }

  /** Asks for a check within `ms` (a faster breaker attached). */
  soon(ms: number): void {
    this.watch.soon(ms);
  }

  /** One second's housekeeping: symbols no longer worth following, is the stream still marking, is a poll due. */
  tick(): void {
    this.marks.expire();
    this.review();
    this.watch.tick();
  }

  close(): void {
    this.closed = true;
    this.watch.close();
    this.marks.close();
  }

  // --- what the stream and the fills say ---------------------------------------------------

  /**
   * An order event: a fill moves the position at once (cash pays for it) and the regular poll
   * reconciles it; a fill that does not say the position and price makes the account read soon.
   */
  noteUpdate(u: TradeUpdate): void {
    const o = u.order;
    if ((u.event === 'fill' || u.event === 'partial_fill') && o?.symbol) {
      if (u.positionQty === undefined || u.price === undefined) this.watch.soon(1000);
      else {
        const at = Date.parse(u.timestamp);
        this.portfolio.applyFill({
          symbol: o.symbol,
          assetClass: assetClassOf(o.symbol),
          positionQty: u.positionQty,
          price: u.price,
          signedQty: u.qty === undefined ? undefined : o.side === 'sell' ? -u.qty : u.qty,
          at: Number.isFinite(at) ? at : 0,
          now: this.options.realNow(),
        });
      }
    }
    this.marks.noteUpdate(u);
  }

  private noteMove(move: PriceMove): void {
    const equity = this.portfolio.equity;
    if (equity === undefined || this.closed) return;
    this.options.onEquity(equity, this.watch.sessionKeyNow(this.sessionKind()), { source: 'stream', move });
  }

  // --- what an order decision needs -----------------------------------------------------------

  /** Signed position in `symbol` as marked (polled, then moved by fills). */
  position(symbol: string): number {
    return this.portfolio.position(symbol);
  }

  /**
   * Whether the marked positions are recent enough for the per-order rules: flat at the last poll
   * (the fills since say the rest), or reconciled within two of the poll's slowest interval. The
   * fills move the positions at once between polls, and the poll's interval follows the position
   * and the marking mode, which a flow trading in and out flips every second or so: only a poll
   * missed even on its slowest schedule makes them stale (three failed polls halt the breaker).
   */
  positionsCurrent(): boolean {
    if (!this.watch.exposure) return true;
    return this.reconciledAt !== undefined && this.options.realNow() - this.reconciledAt <= 2 * this.slowestInterval();
  }

  /** The positions as the broker has them now (REDUCING checks every exit against them). */
  readPositions(): Promise<PositionSnapshot[]> {
    return this.watch.readPositions();
  }

  /**
   * A market price without a REST call: the stream's, the marks', one read a moment ago, or the
   * last trade of a symbol a stream node subscribes on the account's socket.
   */
  knownPrice(symbol: string): number | undefined {
    return this.marks.price(symbol) ?? this.portfolio.price(symbol) ?? this.watch.cachedPrice(symbol) ?? this.marks.streamedElsewhere(symbol, PRICE_CACHE_MS);
  }

  /** A market price, over REST when none is known. */
  async price(symbol: string): Promise<number | undefined> {
    return this.knownPrice(symbol) ?? this.watch.price(symbol);
  }

  /** Figures for the dialog and the account's health. */
  figures(): Record<string, unknown> {
    const m = this.current;
    return {
      equity: this.equity,
      polledEquity: this.watch.equity,
      equityAt: this.watch.equityAt ? iso(this.watch.equityAt) : undefined,
      marking: {
        ...m,
        ...('markedAt' in m && m.markedAt ? { markedAt: iso(m.markedAt) } : {}),
        text: this.said,
        streams: this.marks.streams(),
      },
      positions: [...this.portfolio.holdings.values()].slice(0, 50).map((p) => ({
        symbol: p.symbol,
        qty: p.qty,
        price: p.price,
        source: p.source,
        pricedAt: iso(p.receivedAt),
        streamedAt: p.streamedAt === undefined ? undefined : iso(p.streamedAt),
      })),
      fetchFailures: this.watch.fetchFailures,
      lastFetchError: this.watch.lastFetchError,
    };
  }

  // --- polling --------------------------------------------------------------------------------

  private sessionKind(): 'market' | 'utc' {
    return this.options.settings()[0]?.session ?? 'market';
  }

  private fastest(pick: (s: BreakerSettings) => number): number {
    return Math.min(...this.options.settings().map(pick));
  }

  /** The slow reconciliation while the stream marks every position, else the fast poll. */
  private openInterval(): number {
    if (this.options.settings().length === 0) return 60_000;
    const marked = this.current.mode === 'stream';
    return this.fastest((s) => (marked ? s.pollMarkedSeconds : s.pollOpenSeconds)) * 1000;
  }

  /** The longest the poll's interval can be, whatever is held and however it is marked. */
  private slowestInterval(): number {
    if (this.options.settings().length === 0) return 60_000;
    return this.fastest((s) => Math.max(s.pollOpenSeconds, s.pollMarkedSeconds, s.pollFlatSeconds)) * 1000;
  }

  /** The poll's interval: the open-positions one while any are held, else the flat one. */
  private pollInterval(polledExposure: boolean): number {
    if (this.options.settings().length === 0) return 60_000;
    // The positions as marked (polled, then moved by fills) once reconciled: a fill since the poll
    // may have opened or closed one.
    const exposure = this.reconciledAt === undefined ? polledExposure : this.portfolio.holdings.size > 0;
    return exposure ? this.openInterval() : this.fastest((s) => s.pollFlatSeconds) * 1000;
  }

  /** Whether the stream still marks the equity; when it stops, the poll takes over at once. */
  private review(): void {
    if (this.closed) return;
    const was = this.current.mode;
    // A price older than the fast poll's interval no longer keeps the equity current.
    const now = this.options.settings().length ? this.marks.marking(this.fastest((s) => s.pollOpenSeconds) * 1000) : ({ mode: 'flat' } as const);
    this.current = now;
    // The stream stopped marking held positions: the poll takes over at once (going flat needs no poll).
    if (was === 'stream' && now.mode === 'poll') this.watch.soon(0);
    const said = markingText(this.current, this.watch.equityAt);
    if (said !== this.said) {
      this.said = said;
      this.options.onMarking(said);
    }
  }
}
