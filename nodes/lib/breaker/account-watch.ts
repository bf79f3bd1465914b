// What the breaker reads of the account over REST, within the request budget: the account and
// its positions (the reconciliation of the marks; faster while positions are open and not marked
// from the stream), the market clock for sessions, and last prices to value orders no stream
// prices. No rules here: the guard decides what the figures mean.
import type { AccountReads } from '../core/broker';
import type { AccountSnapshot, ClockSnapshot, PositionSnapshot } from '../core/snapshots';
import { readsAgree } from './portfolio';
import { marketSessionKey, utcDate } from './rules';

export interface AccountWatchOptions {
  reads: AccountReads;
  /** The rules' clock (sessions). */
  now: () => number;
  /** Real time, for polling and staleness (never scaled). */
  realNow: () => number;
  /** Time between account checks, given whether positions are open. */
  intervalMs: (exposure: boolean) => number;
  /** A fresh account read (with its positions while any are open; read started at `startedAt`, real time). */
  onAccount: (account: AccountSnapshot, positions: PositionSnapshot[] | undefined, startedAt: number) => void | Promise<void>;
  /** An account fetch failed; `failures` in a row so far. */
  onFetchFailure: (failures: number, message: string) => void;
}

/** A price at most this old values an order: one read over REST, or the last trade a stream brought. */
export const PRICE_CACHE_MS = 5_000;
const CLOCK_CACHE_MS = 3_600_000;

export class AccountWatch {
  equity?: number;
  /** Real time of the last equity figure. */
  equityAt?: number;
  /** Whether the account holds positions (long or short market value). */
  exposure = false;
  fetchFailures = 0;
  lastFetchError?: string;
  private prices = new Map<string, { price: number; at: number }>();
  private clockCache?: { clock: ClockSnapshot; fetchedAt: number };
  /** Real time the last poll ended; the next is due an interval later (the interval in force then). */
  private polledAt = -Infinity;
  /** An earlier check asked for (a fill, a stream drop), real time. */
  private askedAt?: number;
  private polling?: Promise<void>;
  private closed = false;

  constructor(private readonly options: AccountWatchOptions) {}

  close(): void {
    this.closed = true;
  }

  /** Polls when due (called every second). */
  tick(): void {
    if (this.closed || this.polling) return;
    const due = Math.min(this.polledAt + this.options.intervalMs(this.exposure), this.askedAt ?? Infinity);
    if (this.options.realNow() >= due) void this.poll();
  }

  /** Asks for a check within `ms` (a fill, a stream drop, a faster breaker); asked during a poll, it comes after it. */
  soon(ms = 0): void {
    this.askedAt = Math.min(this.askedAt ?? Infinity, this.options.realNow() + ms);
  }

  /** Fetches the account (and the positions while any are open) through the shared budget. */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.askedAt = undefined;
    this.polling = this.fetch().finally(() => {
      this.polling = undefined;
      this.polledAt = this.options.realNow();
    });
    return this.polling;
  }

  /** The positions as the broker has them now (REDUCING checks every exit against them). */
  readPositions(): Promise<PositionSnapshot[]> {
    return this.options.reads.positions();
  }

  /** Last trade price of `symbol` over REST (cached a few seconds), or undefined. */
  async price(symbol: string): Promise<number | undefined> {
    const cached = this.cachedPrice(symbol);
    if (cached !== undefined) return cached;
    try {
      const price = await this.options.reads.latestPrice(symbol);
      if (price !== undefined) this.prices.set(symbol, { price, at: this.options.realNow() });
      return price;
    } catch {
      return undefined;
    }
  }

  /** A price read over REST within the last few seconds, or undefined. */
  cachedPrice(symbol: string): number | undefined {
    const cached = this.prices.get(symbol);
    return cached && this.options.realNow() - cached.at < PRICE_CACHE_MS ? cached.price : undefined;
  }

  /** The key of the session `now` belongs to (a UTC day, or the exchange's trading day from the broker's clock); undefined when the clock cannot be read. */
  async sessionKey(kind: 'market' | 'utc'): Promise<string | undefined> {
    const known = this.sessionKeyNow(kind);
    if (known !== undefined) return known;
    try {
      this.clockCache = { clock: await this.options.reads.clock(), fetchedAt: this.options.realNow() };
    } catch {
      // Keep the session we have; the clock is asked again next time.
      return undefined;
    }
    return marketSessionKey(this.clockCache.clock, this.options.now());
  }

  /** The session key when it needs no REST call (a UTC day, or a market clock still valid), else undefined. */
  sessionKeyNow(kind: 'market' | 'utc'): string | undefined {
    const now = this.options.now();
    if (kind === 'utc') return utcDate(now);
    const cached = this.clockCache;
    if (!cached || this.options.realNow() - cached.fetchedAt > CLOCK_CACHE_MS) return undefined;
    const boundary = Math.min(Date.parse(cached.clock.nextOpen) || Infinity, Date.parse(cached.clock.nextClose) || Infinity);
    return now >= boundary ? undefined : marketSessionKey(cached.clock, now);
  }

  private async fetch(): Promise<void> {
    if (this.closed) return;
    let read: { account: AccountSnapshot; positions?: PositionSnapshot[]; startedAt: number } | undefined;
    try {
      read = await this.read();
      // A fill between the two reads makes them disagree: read once more rather than mark from a mix.
      if (read.positions && !readsAgree(read.account, read.positions)) read = await this.read();
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
    this.equity = read.account.equity;
    this.equityAt = this.options.realNow();
    await this.options.onAccount(read.account, read.positions, read.startedAt);
  }

  private async read(): Promise<{ account: AccountSnapshot; positions?: PositionSnapshot[]; startedAt: number }> {
    const startedAt = this.options.realNow();
    const account = await this.options.reads.account();
    this.exposure = account.longMarketValue !== 0 || account.shortMarketValue !== 0;
    const positions = this.exposure ? await this.options.reads.positions() : undefined;
    return { account, positions, startedAt };
  }
}
