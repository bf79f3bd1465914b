// Checks an order before anything is sent: every rule here is one a broker would otherwise
// answer with a rejection (or worse, accept in a form the user did not mean). Each error names
// the field at fault. No Node-RED, no broker: plain data in, a validated request out.
import { InputError } from '../core/errors';
import { parseSymbol, type AssetKind } from '../core/symbols';
import { blank, positiveAmount as amount, show } from '../core/values';
import {
  ORDER_CLASSES,
  ORDER_SIDES,
  ORDER_TYPES,
  POSITION_INTENTS,
  TIME_IN_FORCE,
  type OrderClass,
  type OrderRef,
  type OrderRequest,
  type OrderSide,
  type OrderType,
  type PositionIntent,
  type ReplaceChanges,
  type TimeInForce,
} from './types';

/** The fields of a new order before validation (from the dialog and the msg, merged). */
export interface OrderFields {
  symbol?: unknown;
  side?: unknown;
  type?: unknown;
  timeInForce?: unknown;
  orderClass?: unknown;
  qty?: unknown;
  notional?: unknown;
  limitPrice?: unknown;
  stopPrice?: unknown;
  trailPrice?: unknown;
  trailPercent?: unknown;
  extendedHours?: unknown;
  takeProfitLimitPrice?: unknown;
  stopLossStopPrice?: unknown;
  stopLossLimitPrice?: unknown;
  positionIntent?: unknown;
}

export interface ReplaceFields {
  qty?: unknown;
  limitPrice?: unknown;
  stopPrice?: unknown;
  trail?: unknown;
  timeInForce?: unknown;
}

const MAX_QTY_DECIMALS = 9;

/** Digits after the decimal point of a number as JavaScript prints it. */
export function decimals(n: number): number {
  const [mantissa, exponent] = n.toString().split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v.trim().toLowerCase())) return v.trim().toLowerCase() as T;
  throw new InputError(field, `${field} must be one of ${allowed.join(', ')} (got ${show(v)})`);
}

function flag(field: string, v: unknown): boolean {
  if (blank(v)) return false;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new InputError(field, `${field} must be true or false (got ${show(v)})`);
}

/** Stocks: whole cents from $1 up, 4 decimals below; options: cents; crypto: up to 9 decimals. */
function checkPriceIncrement(field: string, price: number | undefined, kind: AssetKind): void {
  if (price === undefined) return;
  const places = decimals(price);
  const max = kind === 'crypto' ? 9 : kind === 'option' ? 2 : price >= 1 ? 2 : 4;
  if (places > max) {
    throw new InputError(
      field,
      `${field} ${price} has ${places} decimals; ${kind === 'stock' ? `stock prices ${price >= 1 ? 'from $1 take at most 2' : 'under $1 take at most 4'}` : `${kind} prices take at most ${max}`}`,
    );
  }
}

export function validateClientOrderId(v: unknown): string | undefined {
  if (blank(v)) return undefined;
  if (typeof v !== 'string') throw new InputError('clientOrderId', `clientOrderId must be text (got ${show(v)})`);
  const id = v.trim();
  if (id.length > 128) throw new InputError('clientOrderId', `clientOrderId must be at most 128 characters (got ${id.length})`);
  if (!/^[\x21-\x7e]+$/.test(id)) throw new InputError('clientOrderId', 'clientOrderId must be printable ASCII without spaces');
  return id;
}

/** Validates a new order; throws InputError naming the first field at fault. */
export function validateOrder(f: OrderFields): OrderRequest {
  const { symbol, assetKind } = parseSymbol('symbol', f.symbol);
  const crypto = assetKind === 'crypto';
  const option = assetKind === 'option';

  if (blank(f.side)) throw new InputError('side', 'side is required: buy or sell');
  const side: OrderSide = oneOf('side', f.side, ORDER_SIDES);

  let orderClass: OrderClass = 'simple';
  if (!blank(f.orderClass)) {
    if (typeof f.orderClass === 'string' && f.orderClass.trim().toLowerCase() === 'mleg') {
      throw new InputError('orderClass', 'multi-leg options orders (orderClass mleg) are not supported yet: send each leg as its own order');
    }
    orderClass = oneOf('orderClass', f.orderClass, ORDER_CLASSES);
  }
  const type: OrderType = blank(f.type) ? (orderClass === 'oco' ? 'limit' : 'market') : oneOf('type', f.type, ORDER_TYPES);
  const timeInForce: TimeInForce = blank(f.timeInForce) ? (crypto ? 'gtc' : 'day') : oneOf('timeInForce', f.timeInForce, TIME_IN_FORCE);

  const qty = amount('qty', f.qty);
  const notional = amount('notional', f.notional);
  if (qty !== undefined && notional !== undefined) throw new InputError('notional', 'give qty or notional, not both');
  if (qty === undefined && notional === undefined) throw new InputError('qty', 'qty (units) or notional (amount of money) is required');
  if (qty !== undefined && decimals(qty) > MAX_QTY_DECIMALS) throw new InputError('qty', `qty takes at most ${MAX_QTY_DECIMALS} decimals (got ${qty})`);
  if (notional !== undefined && decimals(notional) > 2) throw new InputError('notional', `notional is money: at most 2 decimals (got ${notional})`);

  const limitPrice = amount('limitPrice', f.limitPrice);
  const stopPrice = amount('stopPrice', f.stopPrice);
  const trailPrice = amount('trailPrice', f.trailPrice);
  const trailPercent = amount('trailPercent', f.trailPercent);
  const tpLimit = amount('takeProfit.limitPrice', f.takeProfitLimitPrice);
  const slStop = amount('stopLoss.stopPrice', f.stopLossStopPrice);
  const slLimit = amount('stopLoss.limitPrice', f.stopLossLimitPrice);
  const extendedHours = flag('extendedHours', f.extendedHours);
  const positionIntent: PositionIntent | undefined = blank(f.positionIntent) ? undefined : oneOf('positionIntent', f.positionIntent, POSITION_INTENTS);

  // --- type ---------------------------------------------------------------
  const needsLimit = type === 'limit' || type === 'stop_limit';
  const needsStop = type === 'stop' || type === 'stop_limit';
  if (orderClass === 'oco') {
    if (type !== 'limit') throw new InputError('type', `oco orders are limit orders (got type ${type})`);
    if (limitPrice !== undefined) throw new InputError('limitPrice', 'an oco order takes its limit price from takeProfit.limitPrice: leave limitPrice empty');
  } else if (needsLimit && limitPrice === undefined) {
    throw new InputError('limitPrice', `a ${type} order needs limitPrice`);
  } else if (!needsLimit && limitPrice !== undefined) {
    throw new InputError('limitPrice', `a ${type} order takes no limitPrice (use type limit or stop_limit)`);
  }
  if (needsStop && stopPrice === undefined) throw new InputError('stopPrice', `a ${type} order needs stopPrice`);
  if (!needsStop && stopPrice !== undefined) throw new InputError('stopPrice', `a ${type} order takes no stopPrice (use type stop or stop_limit)`);
  if (type === 'trailing_stop') {
    if (trailPrice === undefined && trailPercent === undefined) throw new InputError('trailPercent', 'a trailing_stop order needs trailPercent or trailPrice');
    if (trailPrice !== undefined && trailPercent !== undefined) throw new InputError('trailPrice', 'give trailPercent or trailPrice, not both');
    if (trailPercent !== undefined && trailPercent >= 100) throw new InputError('trailPercent', `trailPercent must be under 100 (got ${trailPercent})`);
    if (timeInForce !== 'day' && timeInForce !== 'gtc') throw new InputError('timeInForce', `a trailing_stop order must be day or gtc (got ${timeInForce})`);
  } else {
    if (trailPrice !== undefined) throw new InputError('trailPrice', `trailPrice is only for trailing_stop orders (type is ${type})`);
    if (trailPercent !== undefined) throw new InputError('trailPercent', `trailPercent is only for trailing_stop orders (type is ${type})`);
  }

  // --- amount -------------------------------------------------------------
  if (notional !== undefined) {
    if (type !== 'market') throw new InputError('notional', `notional orders must be market orders (type is ${type}): use qty`);
    if (option) throw new InputError('notional', 'options are ordered in whole contracts: use qty');
    if (!crypto && timeInForce !== 'day') throw new InputError('timeInForce', `notional stock orders must be day orders (got ${timeInForce})`);
  }
  if (qty !== undefined && !Number.isInteger(qty)) {
    if (option) throw new InputError('qty', `options are ordered in whole contracts (got ${qty})`);
    if (!crypto && type !== 'market' && type !== 'limit') throw new InputError('qty', `fractional stock orders must be market or limit orders (qty ${qty}, type ${type})`);
    if (!crypto && timeInForce !== 'day') throw new InputError('timeInForce', `fractional stock orders must be day orders (qty ${qty})`);
  }

  // --- time in force and sessions -----------------------------------------
  if ((timeInForce === 'opg' || timeInForce === 'cls') && type !== 'market' && type !== 'limit') {
    throw new InputError('timeInForce', `${timeInForce} orders must be market or limit orders (type is ${type})`);
  }
  if (extendedHours) {
    if (crypto) throw new InputError('extendedHours', 'crypto trades around the clock: extendedHours is for stocks');
    if (option) throw new InputError('extendedHours', 'options do not trade in extended hours');
    if (type !== 'limit') throw new InputError('extendedHours', `extended-hours orders must be limit orders (type is ${type})`);
    if (timeInForce !== 'day' && timeInForce !== 'gtc') throw new InputError('timeInForce', `extended-hours orders must be day or gtc (got ${timeInForce})`);
  }
  if (crypto) {
    if (timeInForce !== 'gtc' && timeInForce !== 'ioc') throw new InputError('timeInForce', `crypto orders take time in force gtc or ioc (got ${timeInForce})`);
    if (type !== 'market' && type !== 'limit' && type !== 'stop_limit') throw new InputError('type', `crypto orders are market, limit or stop_limit (got ${type})`);
  }
  if (option) {
    if (timeInForce !== 'day' && timeInForce !== 'gtc') throw new InputError('timeInForce', `options orders take time in force day or gtc (got ${timeInForce})`);
    if (type === 'trailing_stop') throw new InputError('type', 'options orders are market, limit, stop or stop_limit');
  }

  // --- class --------------------------------------------------------------
  const hasLegs = tpLimit !== undefined || slStop !== undefined || slLimit !== undefined;
  if (slLimit !== undefined && slStop === undefined) throw new InputError('stopLoss.stopPrice', 'stopLoss.limitPrice needs stopLoss.stopPrice as well');
  if (orderClass === 'simple') {
    if (hasLegs) throw new InputError('orderClass', 'takeProfit / stopLoss need orderClass bracket, oco or oto (orderClass is simple)');
  } else {
    if (crypto || option) throw new InputError('orderClass', `${assetKind} orders must be simple orders (got ${orderClass})`);
    if (notional !== undefined) throw new InputError('notional', `${orderClass} orders need a whole-share qty, not notional`);
    if (qty !== undefined && !Number.isInteger(qty)) throw new InputError('qty', `${orderClass} orders need a whole-share qty (got ${qty})`);
    if (timeInForce !== 'day' && timeInForce !== 'gtc') throw new InputError('timeInForce', `${orderClass} orders must be day or gtc (got ${timeInForce})`);
    if (orderClass !== 'oco' && type !== 'market' && type !== 'limit') throw new InputError('type', `${orderClass} entry orders are market or limit (got ${type})`);
    if (orderClass === 'bracket' || orderClass === 'oco') {
      if (tpLimit === undefined) throw new InputError('takeProfit.limitPrice', `a ${orderClass} order needs takeProfit.limitPrice`);
      if (slStop === undefined) throw new InputError('stopLoss.stopPrice', `a ${orderClass} order needs stopLoss.stopPrice`);
    }
    if (orderClass === 'oto' && (tpLimit === undefined) === (slStop === undefined)) {
      throw new InputError('takeProfit.limitPrice', 'an oto order needs exactly one exit: takeProfit.limitPrice or stopLoss.stopPrice');
    }
    // Exits sell a long (or buy back a short): the take-profit sits on the profitable side of the stop.
    const exitSells = orderClass === 'oco' ? side === 'sell' : side === 'buy';
    if (tpLimit !== undefined && slStop !== undefined && (exitSells ? tpLimit <= slStop : tpLimit >= slStop)) {
      throw new InputError(
        'takeProfit.limitPrice',
        `takeProfit.limitPrice (${tpLimit}) must be ${exitSells ? 'above' : 'below'} stopLoss.stopPrice (${slStop}) for a ${side} ${orderClass} order`,
      );
    }
    if (orderClass !== 'oco' && limitPrice !== undefined) {
      if (tpLimit !== undefined && (exitSells ? tpLimit <= limitPrice : tpLimit >= limitPrice)) {
        throw new InputError('takeProfit.limitPrice', `takeProfit.limitPrice (${tpLimit}) must be ${exitSells ? 'above' : 'below'} the entry limitPrice (${limitPrice})`);
      }
      if (slStop !== undefined && (exitSells ? slStop >= limitPrice : slStop <= limitPrice)) {
        throw new InputError('stopLoss.stopPrice', `stopLoss.stopPrice (${slStop}) must be ${exitSells ? 'below' : 'above'} the entry limitPrice (${limitPrice})`);
      }
    }
  }

  checkPriceIncrement('limitPrice', limitPrice, assetKind);
  checkPriceIncrement('stopPrice', stopPrice, assetKind);
  checkPriceIncrement('trailPrice', trailPrice, assetKind);
  checkPriceIncrement('takeProfit.limitPrice', tpLimit, assetKind);
  checkPriceIncrement('stopLoss.stopPrice', slStop, assetKind);
  checkPriceIncrement('stopLoss.limitPrice', slLimit, assetKind);

  const order: OrderRequest = { symbol, assetKind, side, type, timeInForce, orderClass, extendedHours };
  if (qty !== undefined) order.qty = qty;
  if (notional !== undefined) order.notional = notional;
  if (limitPrice !== undefined) order.limitPrice = limitPrice;
  if (stopPrice !== undefined) order.stopPrice = stopPrice;
  if (trailPrice !== undefined) order.trailPrice = trailPrice;
  if (trailPercent !== undefined) order.trailPercent = trailPercent;
  if (tpLimit !== undefined) order.takeProfit = { limitPrice: tpLimit };
  if (slStop !== undefined) order.stopLoss = slLimit !== undefined ? { stopPrice: slStop, limitPrice: slLimit } : { stopPrice: slStop };
  if (positionIntent) order.positionIntent = positionIntent;
  return order;
}

/** Validates the changes of a replace; at least one is required. */
export function validateReplace(f: ReplaceFields): ReplaceChanges {
  const changes: ReplaceChanges = {};
  const qty = amount('qty', f.qty);
  if (qty !== undefined) {
    if (!Number.isInteger(qty)) throw new InputError('qty', `a replace can only set a whole qty (got ${qty})`);
    changes.qty = qty;
  }
  const limitPrice = amount('limitPrice', f.limitPrice);
  const stopPrice = amount('stopPrice', f.stopPrice);
  const trail = amount('trail', f.trail);
  if (limitPrice !== undefined) changes.limitPrice = limitPrice;
  if (stopPrice !== undefined) changes.stopPrice = stopPrice;
  if (trail !== undefined) changes.trail = trail;
  if (!blank(f.timeInForce)) changes.timeInForce = oneOf('timeInForce', f.timeInForce, TIME_IN_FORCE);
  // The asset is not known here: allow crypto's precision; the broker checks the tick size.
  for (const [field, v] of [['limitPrice', limitPrice], ['stopPrice', stopPrice], ['trail', trail]] as const) {
    if (v !== undefined && decimals(v) > 9) throw new InputError(field, `${field} takes at most 9 decimals (got ${v})`);
  }
  if (Object.keys(changes).length === 0) {
    throw new InputError('qty', 'a replace needs at least one change: qty, limitPrice, stopPrice, trail or timeInForce');
  }
  return changes;
}

/** The order a cancel or replace is about: its id, or its client order id. */
export function validateRef(orderId: unknown, clientOrderId: unknown): OrderRef {
  if (!blank(orderId)) {
    if (typeof orderId !== 'string') throw new InputError('orderId', `orderId must be text (got ${show(orderId)})`);
    const id = orderId.trim();
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) throw new InputError('orderId', `orderId ${show(orderId)} is not an order id`);
    return { orderId: id };
  }
  const coid = validateClientOrderId(clientOrderId);
  if (coid) return { clientOrderId: coid };
  throw new InputError('orderId', 'which order? give msg.payload.orderId (or id) or msg.payload.clientOrderId');
}
