// Orders as Alpaca's trading API and trade_updates stream serialise them: snake_case, money and
// quantities as decimal strings, timestamps as RFC-3339.
import { decimalString, moneyString } from './decimal';
import type { OrderStatus, SimOrder } from './orders/order';

export type OrderJson = Record<string, unknown> & { id: string; status: OrderStatus; client_order_id: string };
export type TradeUpdate = Record<string, unknown> & { event: string; timestamp: string; order: OrderJson };

export const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function orderJson(o: SimOrder, nested = true): OrderJson {
  const filledAvg = o.filledQty > 0 ? decimalString(o.filledValue / o.filledQty) : null;
  const qty = o.qty !== null ? o.qty : o.status === 'filled' ? o.filledQty : null;
  const price = (v: number | null) => (v === null ? null : decimalString(v));
  const json: OrderJson = {
    id: o.id,
    client_order_id: o.clientOrderId,
    created_at: new Date(o.createdAt).toISOString(),
    updated_at: iso(o.updatedAt),
    submitted_at: iso(o.submittedAt),
    filled_at: iso(o.filledAt),
    expired_at: iso(o.expiredAt),
    canceled_at: iso(o.canceledAt),
    failed_at: iso(o.failedAt),
    replaced_at: iso(o.replacedAt),
    replaced_by: o.replacedBy,
    replaces: o.replaces,
    asset_id: o.asset.id,
    symbol: o.asset.symbol,
    asset_class: o.asset.assetClass,
    notional: o.notional === null ? null : moneyString(o.notional),
    qty: qty === null ? null : decimalString(qty),
    filled_qty: decimalString(o.filledQty),
    filled_avg_price: filledAvg,
    order_class: o.orderClass,
    order_type: o.type,
    type: o.type,
    side: o.side,
    position_intent: o.positionIntent,
    time_in_force: o.timeInForce,
    limit_price: price(o.limitPrice),
    stop_price: price(o.stopPrice),
    status: o.status,
    extended_hours: o.extendedHours,
    legs: nested && o.legs ? o.legs.map((l) => orderJson(l, false)) : null,
    trail_percent: price(o.trailPercent),
    trail_price: price(o.trailPrice),
    hwm: price(o.hwm),
    subtag: null,
    source: null,
  };
  if (o.expiresAt !== null) json.expires_at = new Date(o.expiresAt).toISOString();
  return json;
}
