// What the breaker knows of the account: equity polled within the request budget (faster while
// positions are open), the positions, the market clock for sessions and last prices to value
// orders without a price of their own. Fills from the trade-updates feed keep the positions
// current between polls. No rules here: the guard decides what the figures mean.
import type { AccountReads } from '../core/broker';
import type { AccountSnapshot, ClockSnapshot, PositionSnapshot, TradeUpdate } from '../core/snapshots';
import { positionKey } from '../core/symbols';
import { marketSessionKey, utcDate } from './rules';

export interface AccountWatchOptions {
  reads: AccountReads;
  /** The rules' clock (sessions). */
  now: () => number;
  /** Real time, for polling and staleness (never scaled). */
  realNow: () => number;
  /** Time between account checks, given whether positions are open. */
  intervalMs: (exposure: boolean) => number;
  /** A fresh equity figure arrived. */
  onEquity: (equity: number) => void | Promise<void>;
  /** An account fetch failed; `failures` in a row so far. */
  onFetchFailure: (failures: number, message: string) => void;
}

const PRICE_CACHE_MS = 5_000;
const CLOCK_CACHE_MS = 3_600_000;

export class AccountWatch {
  equity?: number;
  /** Real time of the last equity figure. */
  equityAt?: number;
  /** Whether the account holds positions (long or short market value). */
  exposure = false;
  fetchFailures = 0;
  lastFetchError?: string;
  private positions = new Map<string, PositionSnapshot>();
  private positionsAt = 0;
  private prices = new Map<string, { price: number; at: number }>();
  private clockCache?: { clock: ClockSnapshot; fetchedAt: number };
  private nextPollAt = 0;
  private polling?: Promise<void>;
  private closed = false;

  constructor(private readonly options: AccountWatchOptions) {}

  close(): void {
    this.closed = true;
  }

  /** Polls when due (called every second). */
  tick(): void {
    if (!this.closed && this.options.realNow() >= this.nextPollAt && !this.polling) void this.poll();
  }

  /** Asks for a check within `ms` (a faster rule, a fill, a reset). */
  soon(ms = 0): void {
    this.nextPollAt = Math.min(this.nextPollAt, this.options.realNow() + ms);
  }

  /** Fetches the account (and the positions while any are open) through the shared budget. */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = this.fetch().finally(() => {
      this.polling = undefined;
      this.nextPollAt = this.options.realNow() + this.options.intervalMs(this.exposure);
    });
    return this.polling;
  }

  /** The position in `symbol` as the breaker knows it: signed quantity and its snapshot. */
  position(symbol: string): { qty: number; snapshot?: PositionSnapshot } {
    const p = this.positions.get(positionKey(symbol));
    return { qty: p ? (p.side === 'short' ? -Math.abs(p.qty) : Math.abs(p.qty)) : 0, snapshot: p };
  }

  /** Re-reads the positions when the cached ones are older than `maxAgeMs` (0: always). */
  async refreshPositions(maxAgeMs = 0): Promise<void> {
    if (maxAgeMs > 0 && this.options.realNow() - this.positionsAt <= maxAgeMs) return;
    const list = await this.options.reads.positions();
    this.positions = new Map(list.map((p) => [positionKey(p.symbol), p]));
    this.positionsAt = this.options.realNow();
  }

  /** A fill moves the position now; equity is asked again soon. */
  noteFill(u: TradeUpdate): void {
    const o = u.order;
    if (!o?.symbol) return;
    const key = positionKey(o.symbol);
    if (u.positionQty !== undefined) {
      const qty = Math.abs(u.positionQty);
      if (qty === 0) this.positions.delete(key);
      else this.positions.set(key, { ...(this.positions.get(key) ?? emptyPosition(o.symbol, u.price ?? 0)), qty, side: u.positionQty < 0 ? 'short' : 'long' });
    }
    this.exposure = this.exposure || this.positions.size > 0;
    this.soon(1000);
  }

  /** Last trade price of `symbol` (cached a few seconds), or undefined. */
  async price(symbol: string): Promise<number | undefined> {
    const known = this.position(symbol).snapshot?.currentPrice;
    if (known) return known;
    const cached = this.prices.get(symbol);
    if (cached && this.options.realNow() - cached.at < PRICE_CACHE_MS) return cached.price;
    try {
      const price = await this.options.reads.latestPrice(symbol);
      if (price !== undefined) this.prices.set(symbol, { price, at: this.options.realNow() });
      return price;
    } catch {
      return undefined;
    }
  }

  /** The key of the session `now` belongs to: a UTC day, or the exchange's trading day from the broker's clock. */
  async sessionKey(kind: 'market' | 'utc', fallback: string | undefined): Promise<string> {
    const now = this.options.now();
    if (kind === 'utc') return utcDate(now);
    const cached = this.clockCache;
    const boundary = cached ? Math.min(Date.parse(cached.clock.nextOpen) || Infinity, Date.parse(cached.clock.nextClose) || Infinity) : 0;
    if (!cached || now >= boundary || this.options.realNow() - cached.fetchedAt > CLOCK_CACHE_MS) {
      try {
        this.clockCache = { clock: await this.options.reads.clock(), fetchedAt: this.options.realNow() };
      } catch {
        // Keep the session we have; the clock is asked again next time.
        return fallback ?? utcDate(now);
      }
    }
    return marketSessionKey((this.clockCache as { clock: ClockSnapshot }).clock, now);
  }

  private async fetch(): Promise<void> {
    if (this.closed) return;
    let account: AccountSnapshot;
    try {
      account = await this.options.reads.account();
    } catch (err) {
      if (this.closed) return;
      this.fetchFailures++;
      this.lastFetchError = (err as Error).message;
      this.options.onFetchFailure(this.fetchFailures, this.lastFetchError);
      return;
    }
    if (this.closed) return;
    this.fetchFailures = 0;
    this.lastFetchError = undefined;
    this.exposure = account.longMarketValue !== 0 || account.shortMarketValue !== 0;
    if (this.exposure) await this.refreshPositions().catch(() => undefined);
    else this.positions.clear();
    this.equity = account.equity;
    this.equityAt = this.options.realNow();
    await this.options.onEquity(account.equity);
  }
}

function emptyPosition(symbol: string, price: number): PositionSnapshot {
  return {
    symbol,
    assetClass: symbol.includes('/') ? 'crypto' : 'us_equity',
    side: 'long',
    qty: 0,
    qtyAvailable: 0,
    avgEntryPrice: price,
    currentPrice: price,
    marketValue: 0,
    costBasis: 0,
    unrealizedPl: 0,
    unrealizedPlpc: 0,
    unrealizedIntradayPl: 0,
    changeToday: 0,
  };
}
