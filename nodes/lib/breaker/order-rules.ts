// The circuit breaker's checks of one order-changing request, on the order actually sent (as the
// gateway resolved it): per-order limits (value, concentration) and, while REDUCING, that the
// order can only reduce a position. No Node-RED, no I/O.
import type { OrderDetails, OrderRequest } from '../orders/types';
import type { PolicyRequest } from '../orders/gateway';
import { describeOrder } from '../orders/describe';
import type { BreakerSettings, BreakerState, OrderCheckId } from './settings';
import { money, pct, round } from './words';

/** An order as the breaker values it. */
export interface OrderIntent {
  symbol: string;
  side: 'buy' | 'sell';
  qty?: number;
  notional?: number;
  type: string;
  limitPrice?: number;
  stopPrice?: number;
  /** Units per contract: 100 for options, else 1. */
  multiplier: number;
}

const orNone = (v: number | null | undefined): number | undefined => (v === null || v === undefined ? undefined : v);

function fromRequest(o: OrderRequest): OrderIntent {
  return {
    symbol: o.symbol,
    side: o.side,
    qty: o.qty,
    notional: o.notional,
    type: o.type,
    limitPrice: o.limitPrice,
    stopPrice: o.stopPrice,
    multiplier: o.assetKind === 'option' ? 100 : 1,
  };
}

/** The open quantity of an order at the broker (what is not filled yet). */
export function remainingQty(o: Pick<OrderDetails, 'qty' | 'filledQty'>): number {
  return Math.max(0, (o.qty ?? 0) - o.filledQty);
}

/** The order a submit sends, or the one a replace produces (the original with the changes). */
export function intentOf(request: PolicyRequest): OrderIntent | undefined {
  const change = request.change;
  if (change.action === 'submit') return fromRequest(change.order);
  if (change.action !== 'replace' || !request.original) return undefined;
  const o = request.original;
  const c = change.changes;
  return {
    symbol: o.symbol,
    side: o.side === 'sell' ? 'sell' : 'buy',
    qty: c.qty ?? orNone(o.qty),
    notional: c.qty === undefined ? orNone(o.notional) : undefined,
    type: o.type,
    limitPrice: c.limitPrice ?? orNone(o.limitPrice),
    stopPrice: c.stopPrice ?? orNone(o.stopPrice),
    multiplier: o.assetClass === 'us_option' ? 100 : 1,
  };
}

/** The price an order is valued at: its own limit (or stop) price, else the market's. */
export function orderPrice(o: OrderIntent, marketPrice: number | undefined): number | undefined {
  return o.limitPrice ?? o.stopPrice ?? marketPrice;
}

export interface OrderContext {
  state: BreakerState;
  equity: number;
  /** Signed position in the order's symbol (long > 0, short < 0), 0 when flat. */
  positionQty: number;
  /** Quantity of orders already on their way that reduce this position (open or just passed). */
  pendingReduceQty: number;
  /** The market price of the symbol, when known. */
  marketPrice?: number;
  /** A replace: the open quantity of the order it replaces (a replace that does not raise it adds no exposure). */
  replacesQty?: number;
}

export type OrderVerdict = { pass: true } | { pass: false; check: OrderCheckId; reason: string };

function checkReducing(o: OrderIntent, ctx: OrderContext): OrderVerdict {
  if (ctx.replacesQty !== undefined && o.qty !== undefined && o.qty <= ctx.replacesQty + 1e-9) return { pass: true };
  const pos = ctx.positionQty;
  const what = ctx.replacesQty !== undefined ? `the replace to ${describeOrder(o)}` : describeOrder(o);
  const reduces = (pos > 0 && o.side === 'sell') || (pos < 0 && o.side === 'buy');
  if (!reduces) {
    return {
      pass: false,
      check: 'reducingOnly',
      reason:
        pos === 0
          ? `${what} would open a position: the breaker is REDUCING and lets only orders that reduce an existing position through`
          : `${what} would add to the ${pos > 0 ? 'long' : 'short'} ${o.symbol} position: the breaker is REDUCING`,
    };
  }
  if (o.qty === undefined) {
    return {
      pass: false,
      check: 'reducingOnly',
      reason: `${what} is given as a notional amount: while REDUCING the breaker needs a qty to make sure the order cannot flip the position`,
    };
  }
  const available = Math.abs(pos) - ctx.pendingReduceQty;
  if (o.qty > available + 1e-9) {
    return {
      pass: false,
      check: 'reducingOnly',
      reason: `${what} would flip the ${pos > 0 ? 'long' : 'short'} position of ${Math.abs(pos)} ${o.symbol} through zero${
        ctx.pendingReduceQty > 0 ? ` (${ctx.pendingReduceQty} already on the way out)` : ''
      }: at most ${Math.max(0, round(available, 8))} may be ${o.side === 'sell' ? 'sold' : 'bought'} while REDUCING`,
    };
  }
  return { pass: true };
}

/**
 * Checks one order (or the order a replace produces) against the per-order rules and, in
 * REDUCING, against the position. Knows nothing about HALTED (the caller blocks everything
 * then) or the order rate (a trip, not a check).
 */
export function checkOrder(s: BreakerSettings, o: OrderIntent, ctx: OrderContext): OrderVerdict {
  const price = orderPrice(o, ctx.marketPrice);
  const signed = o.side === 'buy' ? 1 : -1;
  const qty = o.qty ?? (price ? (o.notional as number) / price : undefined);

  if (ctx.state === 'REDUCING') {
    const verdict = checkReducing(o, ctx);
    if (!verdict.pass) return verdict;
  }

  if (s.maxNotional.enabled) {
    const value = o.notional ?? (price !== undefined && qty !== undefined ? qty * price * o.multiplier : undefined);
    if (value === undefined) {
      return { pass: false, check: 'maxNotional', reason: `${describeOrder(o)}: no price to value it at, so the max notional rule cannot check it` };
    }
    if (value > s.maxNotional.amount) {
      return {
        pass: false,
        check: 'maxNotional',
        reason: `${describeOrder(o)} is worth about ${money(value)}, over the ${money(s.maxNotional.amount)} limit per order`,
      };
    }
  }

  if (s.concentration.enabled) {
    if (qty === undefined || price === undefined) {
      return { pass: false, check: 'concentration', reason: `${describeOrder(o)}: no price to value it at, so the concentration rule cannot check it` };
    }
    const after = ctx.positionQty + signed * qty;
    const grows = Math.abs(after) > Math.abs(ctx.positionQty) + 1e-9;
    if (grows) {
      if (!(ctx.equity > 0)) {
        return { pass: false, check: 'concentration', reason: `${describeOrder(o)}: equity is ${ctx.equity}, so no position may grow` };
      }
      const value = Math.abs(after) * price * o.multiplier;
      const share = value / ctx.equity;
      if (share * 100 > s.concentration.pct) {
        return {
          pass: false,
          check: 'concentration',
          reason: `${describeOrder(o)} would make the ${o.symbol} position ${pct(share * 100)} of equity (${money(value)} of ${money(ctx.equity)}), over the ${s.concentration.pct}% limit`,
        };
      }
    }
  }
  return { pass: true };
}
