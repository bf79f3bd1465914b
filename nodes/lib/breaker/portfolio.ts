// The account's positions valued at their latest prices: the REST poll sets cash and positions
// (the reconciliation), fills from the order-updates feed move a position between polls, and every
// price from the market-data stream re-values one position. Equity = cash + long value - short
// value, kept incrementally so a price costs O(1). No I/O, no clock of its own.
import type { AccountSnapshot, PositionSnapshot } from '../core/snapshots';
import { positionKey } from '../core/symbols';
import type { MarketKind } from '../streams/events';

/** Where a position's price came from. */
export type PriceSource = 'stream' | 'poll' | 'fill';

export interface Mark {
  /** The symbol as the market-data stream names it (BTC/USD, not BTCUSD). */
  symbol: string;
  /** The stream that prices it; undefined when none does (options stay at the polled value). */
  kind?: Exclude<MarketKind, 'news'>;
  /** Signed quantity: long > 0, short < 0. */
  qty: number;
  price: number;
  /** Units per quantity: 100 for an option contract, else 1. */
  multiplier: number;
  /** Broker time of the newest print that priced it (0 before any): older prints do not move it. */
  priceAt: number;
  /** Real time the price arrived. */
  receivedAt: number;
  /** Real time the stream last priced it (undefined: never); a poll's price does not make it fresh. */
  streamedAt?: number;
  source: PriceSource;
}

/** A price that re-valued a held position. */
export interface PriceMove {
  symbol: string;
  price: number;
  priceAt: number;
  channel: 'trades' | 'quotes';
}

/** What an equity figure came from: a price on the stream, or the account poll (`at`: the rules' clock). */
export type EquitySource = { source: 'stream'; move: PriceMove } | { source: 'poll'; at: number };

/** Quote currencies of Alpaca's crypto pairs, longest first (a position names BTCUSD for BTC/USD). */
const CRYPTO_QUOTES = ['USDT', 'USDC', 'USD', 'BTC'];

/** The stream symbol of a position: a crypto position's BTCUSD is BTC/USD on the stream. */
export function streamSymbol(symbol: string, assetClass: string): string {
  if (assetClass !== 'crypto' || symbol.includes('/')) return symbol;
  const quote = CRYPTO_QUOTES.find((q) => symbol.endsWith(q) && symbol.length > q.length);
  return quote ? `${symbol.slice(0, -quote.length)}/${quote}` : symbol;
}

export function streamKind(assetClass: string): Mark['kind'] {
  if (assetClass === 'us_equity') return 'stocks';
  if (assetClass === 'crypto') return 'crypto';
  return undefined;
}

const signedQty = (p: Pick<PositionSnapshot, 'qty' | 'side'>): number => (p.side === 'short' ? -Math.abs(p.qty) : Math.abs(p.qty));
const cents = (n: number): number => Math.round(n * 100) / 100;

/**
 * Whether an account read and a positions read describe the same moment: the positions' value
 * must match the account's long and short market value. A fill between the two reads breaks it.
 */
export function readsAgree(account: Pick<AccountSnapshot, 'longMarketValue' | 'shortMarketValue'>, positions: PositionSnapshot[]): boolean {
  let value = 0;
  let gross = 0;
  for (const p of positions) {
    const v = signedQty(p) * p.currentPrice * (p.assetClass === 'us_option' ? 100 : 1);
    value += v;
    gross += Math.abs(v);
  }
  const accountValue = account.longMarketValue - Math.abs(account.shortMarketValue);
  // Prices move a little between two reads; a fill moves the value by the whole order.
  return Math.abs(value - accountValue) <= Math.max(1, 0.0005 * gross);
}

export class Portfolio {
  /** Equity less the positions' value at the last reconciliation: cash and anything the marks do not cover. */
  private cash = 0;
  private value = 0;
  private readonly marks = new Map<string, Mark>();
  private reconciled = false;

  /** Marked equity in account currency (cents), or undefined before the first reconciliation. */
  get equity(): number | undefined {
    return this.reconciled ? cents(this.cash + this.value) : undefined;
  }

  get holdings(): ReadonlyMap<string, Mark> {
    return this.marks;
  }

  /** Signed quantity held in `symbol` (0 when flat). */
  position(symbol: string): number {
    return this.marks.get(positionKey(symbol))?.qty ?? 0;
  }

  /** The latest price of a held symbol, or undefined. */
  price(symbol: string): number | undefined {
    return this.marks.get(positionKey(symbol))?.price;
  }

  /**
   * The poll's account (and positions, undefined when the account holds none) replace everything.
   * A stream price that arrived after the read started (real time) is newer than the read's and is kept.
   */
  reconcile(account: Pick<AccountSnapshot, 'equity' | 'longMarketValue' | 'shortMarketValue'>, positions: PositionSnapshot[] | undefined, readStartedAt: number, now: number): void {
    this.cash = account.equity - account.longMarketValue + Math.abs(account.shortMarketValue);
    const previous = new Map(this.marks);
    this.marks.clear();
    this.value = 0;
    for (const p of positions ?? []) {
      const key = positionKey(p.symbol);
      const qty = signedQty(p);
      if (qty === 0) continue;
      const kept = previous.get(key);
      const newer = kept && kept.source === 'stream' && kept.receivedAt >= readStartedAt;
      const mark: Mark = {
        symbol: kept?.symbol ?? streamSymbol(p.symbol, p.assetClass),
        kind: streamKind(p.assetClass),
        qty,
        price: newer ? kept.price : p.currentPrice,
        multiplier: p.assetClass === 'us_option' ? 100 : 1,
        // A polled price has no print time: the stream's ordering watermark stays where it was.
        priceAt: kept?.priceAt ?? 0,
        receivedAt: newer ? kept.receivedAt : now,
        streamedAt: kept?.streamedAt,
        source: newer ? 'stream' : 'poll',
      };
      this.marks.set(key, mark);
      this.value += qty * mark.price * mark.multiplier;
    }
    this.reconciled = true;
  }

  /**
   * A fill reported by the order-updates feed: the position becomes `positionQty` and cash pays
   * for the change. A fill the last reconciliation already counted leaves the position as it is.
   * Returns whether anything changed.
   */
  applyFill(fill: { symbol: string; assetClass: string; positionQty: number; price: number; signedQty?: number; at: number; now: number }): boolean {
    if (!this.reconciled) return false;
    const key = positionKey(fill.symbol);
    const mark = this.marks.get(key);
    const before = mark?.qty ?? 0;
    const change = fill.positionQty - before;
    if (Math.abs(change) < 1e-12) return false;
    const multiplier = fill.assetClass === 'us_option' ? 100 : 1;
    this.cash -= (fill.signedQty ?? change) * fill.price * multiplier;
    if (mark) this.value -= mark.qty * mark.price * mark.multiplier;
    if (fill.positionQty === 0) {
      this.marks.delete(key);
      return true;
    }
    const next: Mark = mark
      ? { ...mark, qty: fill.positionQty }
      : { symbol: streamSymbol(fill.symbol, fill.assetClass), kind: streamKind(fill.assetClass), qty: fill.positionQty, price: fill.price, multiplier, priceAt: fill.at, receivedAt: fill.now, source: 'fill' };
    this.marks.set(key, next);
    this.value += next.qty * next.price * next.multiplier;
    return true;
  }

  /**
   * A price from the stream. Re-values the position when `symbol` is held and the print is not
   * older than the price it has (a late print does not move the mark). Returns whether it did.
   */
  mark(symbol: string, price: number, priceAt: number, receivedAt: number): boolean {
    const mark = this.marks.get(positionKey(symbol));
    if (!mark || !(price > 0) || priceAt < mark.priceAt) return false;
    this.value += mark.qty * (price - mark.price) * mark.multiplier;
    mark.price = price;
    mark.priceAt = priceAt;
    mark.receivedAt = receivedAt;
    mark.streamedAt = receivedAt;
    mark.source = 'stream';
    return true;
  }
}
