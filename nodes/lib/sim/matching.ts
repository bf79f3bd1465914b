// The matching engine: whether an open order executes against a quote, at what price and for how
// much. Fills happen at the touch (plus slippage for market orders, never beyond the order's
// collar), limited by the displayed size left on that side of the quote.
import { isWhole, QTY_EPSILON, round, units } from './decimal';
import { SINGLE_PASS, type OrderSide, type SimOrder } from './orders/order';
import type { SimAsset, SimQuote } from './types';

export type Match =
  /** Not executable at this quote; the order keeps working. */
  | { kind: 'wait' }
  /** A single-pass order (ioc, fok, opg, cls) that cannot execute (in full, for fok). */
  | { kind: 'cancel' }
  | { kind: 'fill'; qty: number; price: number };

interface LiquidityBudget {
  t: number;
  buy: number;
  sell: number;
}

/** Price decimals Alpaca accepts: cents from $1, four decimals below; crypto by its price increment. */
export function priceDecimals(asset: SimAsset, price: number): number {
  if (asset.assetClass === 'crypto') {
    if (asset.priceIncrement && asset.priceIncrement > 0) {
      return Math.max(0, Math.min(9, Math.ceil(-Math.log10(asset.priceIncrement) - 1e-9)));
    }
    return price >= 1 ? 2 : 9;
  }
  return price >= 1 ? 2 : 4;
}

export const roundPrice = (asset: SimAsset, price: number): number => round(price, priceDecimals(asset, price));

/**
 * The limit Alpaca puts on a market order, from the touch at submission: 2% for crypto; for stocks
 * 2.5% from $50 and 4% below (Alpaca documents 2.5% to 4%). Beyond it the order rests unfilled.
 */
export function marketCollar(asset: SimAsset, side: OrderSide, touch: number): number {
  const width = asset.assetClass === 'crypto' ? 0.02 : touch >= 50 ? 0.025 : 0.04;
  return roundPrice(asset, side === 'buy' ? touch * (1 + width) : touch * (1 - width));
}

export class MatchingEngine {
  private readonly budgets = new Map<string, LiquidityBudget>();

  constructor(
    /** Slippage of market (and triggered stop) orders beyond the touch, as a fraction. */
    private readonly slippage: number,
    /** Units one symbol side can fill per quote; default: the quote's displayed size. */
    private readonly liquidityPerTick: number | undefined,
  ) {}

  reset(): void {
    this.budgets.clear();
  }

  /** Sell trails the high-water mark down; buy trails the low-water mark up. */
  updateTrail(o: SimOrder, touch: number): void {
    if (o.triggered) return;
    const buy = o.side === 'buy';
    if (o.hwm === null || (buy ? touch < o.hwm : touch > o.hwm)) o.hwm = touch;
    const offset = o.trailPrice ?? (o.hwm * (o.trailPercent ?? 0)) / 100;
    o.stopPrice = roundPrice(o.asset, buy ? o.hwm + offset : o.hwm - offset);
  }

  /** What an order gets at this quote. Triggers stops and moves trails, but takes no liquidity. */
  match(o: SimOrder, q: SimQuote): Match {
    const buy = o.side === 'buy';
    const touch = buy ? q.ask : q.bid;
    if (!(touch > 0)) return { kind: 'wait' };
    const miss: Match = SINGLE_PASS.has(o.timeInForce) ? { kind: 'cancel' } : { kind: 'wait' };

    if (o.type === 'trailing_stop') this.updateTrail(o, touch);
    if ((o.type === 'stop' || o.type === 'stop_limit' || o.type === 'trailing_stop') && !o.triggered) {
      const stop = o.stopPrice ?? 0;
      if (buy ? touch < stop : touch > stop) return miss;
      o.triggered = true;
    }

    const isLimit = o.type === 'limit' || o.type === 'stop_limit';
    const limit = isLimit ? o.limitPrice ?? 0 : o.collar;
    if (limit !== null && (buy ? touch > limit : touch < limit)) return miss;
    let price: number;
    if (isLimit) price = buy ? Math.min(limit as number, touch) : Math.max(limit as number, touch);
    else {
      price = buy ? touch * (1 + this.slippage) : touch * (1 - this.slippage);
      if (limit !== null) price = buy ? Math.min(price, limit) : Math.max(price, limit);
    }
    price = roundPrice(o.asset, price);

    const budget = this.budget(o.asset.symbol, q);
    const available = buy ? budget.buy : budget.sell;
    const wanted = o.notional !== null ? units((o.notional - o.filledValue) / price) : units((o.qty ?? 0) - o.filledQty);
    let qty = units(Math.min(wanted, available));
    if (o.notional === null && o.qty !== null && isWhole(o.qty)) qty = Math.floor(qty + QTY_EPSILON);
    if (o.timeInForce === 'fok' && qty < wanted - QTY_EPSILON) return { kind: 'cancel' };
    if (qty <= QTY_EPSILON) return miss;
    return { kind: 'fill', qty, price };
  }

  /** Takes filled quantity out of the size shown at this quote. */
  take(o: SimOrder, q: SimQuote, qty: number): void {
    const budget = this.budget(o.asset.symbol, q);
    if (o.side === 'buy') budget.buy = units(budget.buy - qty);
    else budget.sell = units(budget.sell - qty);
  }

  /** The displayed size (or the configured liquidity) left on each side at this quote. */
  private budget(symbol: string, q: SimQuote): LiquidityBudget {
    let b = this.budgets.get(symbol);
    if (!b || b.t !== q.t) {
      const size = (displayed: number) =>
        this.liquidityPerTick ?? (Number.isFinite(displayed) && displayed > 0 ? displayed : Number.POSITIVE_INFINITY);
      b = { t: q.t, buy: size(q.askSize), sell: size(q.bidSize) };
      this.budgets.set(symbol, b);
    }
    return b;
  }
}
