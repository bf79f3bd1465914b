// An order from POST /v2/orders' snake_case body, refused the way Alpaca refuses it: 422 for what
// is malformed or not allowed (sub-penny prices, crypto time in force, leg prices), 403 for what
// the account may not do (minimum order value, crypto minimum size, wash trades).
import { randomUUID } from 'node:crypto';
import { quoteCurrency, resolveAsset } from '../assets';
import { decimalString, hasAtMostDecimals, isWhole } from '../decimal';
import { forbidden, invalid, positive, record, unprocessable } from '../input';
import type { MarketView, SimAsset } from '../types';
import type { OrderBook } from './book';
import { ORDER_TYPES, TIFS, newOrder, rootOf, type OrderClass, type OrderSide, type OrderType, type SimOrder, type TimeInForce } from './order';

export interface OrderContext {
  market: MarketView;
  book: OrderBook;
  /** Signed quantity of the account's position in the asset. */
  heldQty(asset: SimAsset): number;
  fractionalTrading: boolean;
  suspendTrade: boolean;
  now: number;
}

/** Crypto buys in USD pairs must be worth at least this much (Alpaca's paper and live API). */
const CRYPTO_MIN_NOTIONAL_USD = 10;

/** Stocks: whole cents from $1, four decimals below (SEC Rule 612). 422 otherwise. */
export function checkSubPenny(asset: SimAsset, price: number | undefined, field: string): void {
  if (price === undefined || asset.assetClass === 'crypto') return;
  if (!hasAtMostDecimals(price, price >= 1 ? 2 : 4)) {
    throw unprocessable(`invalid ${field} ${decimalString(price)}. sub-penny increment does not fulfill minimum pricing criteria`);
  }
}

/** The new client_order_id, or a generated one; 422 when too long or already used. */
export function clientOrderIdOf(input: Record<string, unknown>, book: OrderBook): string {
  let clientOrderId: string = randomUUID();
  if (input.client_order_id !== undefined && input.client_order_id !== null && input.client_order_id !== '') {
    if (typeof input.client_order_id !== 'string') throw invalid('client_order_id must be a string');
    clientOrderId = input.client_order_id;
  }
  book.checkClientOrderId(clientOrderId);
  return clientOrderId;
}

export function buildOrder(body: unknown, ctx: OrderContext): SimOrder {
  const input = record(body);
  if (!input) throw invalid('request body must be an order object');
  if (ctx.suspendTrade) throw forbidden('trading is suspended for this account');

  const symbol = typeof input.symbol === 'string' ? input.symbol : '';
  if (!symbol) throw invalid('symbol is required');
  const asset = resolveAsset(ctx.market, symbol);
  if (!asset) throw invalid(`asset "${symbol}" not found`);
  const crypto = asset.assetClass === 'crypto';

  const side = input.side;
  if (side !== 'buy' && side !== 'sell') throw invalid('invalid side (expected buy or sell)');
  const type = String(input.type ?? '');
  if (!ORDER_TYPES.has(type)) throw invalid(`invalid order type "${type}"`);
  const tif = String(input.time_in_force ?? '');
  if (!TIFS.has(tif)) throw invalid(`invalid time_in_force "${tif}"`);
  const rawClass = input.order_class === undefined || input.order_class === null ? '' : String(input.order_class);
  if (!['', 'simple', 'bracket', 'oco', 'oto'].includes(rawClass)) throw invalid(`invalid order_class "${rawClass}"`);
  const orderClass = (rawClass || 'simple') as OrderClass;

  const qty = positive(input.qty, 'qty');
  const notional = positive(input.notional, 'notional');
  if (qty !== undefined && notional !== undefined) throw invalid('only one of qty or notional may be specified');
  if (qty === undefined && notional === undefined) throw invalid('qty or notional is required');

  const limitPrice = positive(input.limit_price, 'limit_price');
  const stopPrice = positive(input.stop_price, 'stop_price');
  const trailPrice = positive(input.trail_price, 'trail_price');
  const trailPercent = positive(input.trail_percent, 'trail_percent');
  // An OCO's limit price comes from its take_profit.
  if ((type === 'limit' || type === 'stop_limit') && limitPrice === undefined && orderClass !== 'oco') {
    throw invalid('limit_price is required for limit orders');
  }
  if ((type === 'stop' || type === 'stop_limit') && stopPrice === undefined) throw invalid('stop_price is required for stop orders');
  if (type === 'market' && (limitPrice !== undefined || stopPrice !== undefined)) {
    throw invalid('market orders take neither limit_price nor stop_price');
  }
  checkSubPenny(asset, limitPrice, 'limit_price');
  checkSubPenny(asset, stopPrice, 'stop_price');
  if (type === 'trailing_stop') {
    if ((trailPrice === undefined) === (trailPercent === undefined)) throw invalid('trailing_stop orders require exactly one of trail_price or trail_percent');
    if (trailPercent !== undefined && trailPercent >= 100) throw invalid('trail_percent must be < 100');
    if (tif !== 'day' && tif !== 'gtc') throw invalid('trailing_stop orders must be day or gtc');
  }

  const fractional = notional !== undefined || (qty !== undefined && !isWhole(qty));
  if (fractional) {
    if (!asset.fractionable || !ctx.fractionalTrading) throw invalid(`requested asset ${asset.symbol} is not fractionable`);
    if (!crypto && type !== 'market' && type !== 'limit') throw invalid('fractional orders must be market or limit orders');
    if (!crypto && tif !== 'day') throw invalid('fractional orders must be day orders');
  }
  if (notional !== undefined && type !== 'market') throw invalid('notional orders must be market orders');

  if (crypto) {
    if (tif !== 'gtc' && tif !== 'ioc') throw invalid('invalid crypto time_in_force (expected gtc or ioc)');
    if (type !== 'market' && type !== 'limit' && type !== 'stop_limit') throw invalid(`invalid order type for crypto order: ${type}`);
    if (orderClass !== 'simple') throw invalid('crypto orders must be simple orders');
  }

  const extendedHours = input.extended_hours === true;
  if (extendedHours && (type !== 'limit' || tif !== 'day')) throw invalid('extended hours order must be DAY limit orders');

  const clientOrderId = clientOrderIdOf(input, ctx.book);
  const held = ctx.heldQty(asset);
  const positionIntent = side === 'buy' ? (held < 0 ? 'buy_to_close' : 'buy_to_open') : held > 0 ? 'sell_to_close' : 'sell_to_open';
  const o = newOrder({
    asset,
    side,
    type: type as OrderType,
    timeInForce: tif as TimeInForce,
    orderClass,
    qty: qty ?? null,
    notional: notional ?? null,
    limitPrice: limitPrice ?? null,
    stopPrice: type === 'trailing_stop' ? null : stopPrice ?? null,
    trailPrice: trailPrice ?? null,
    trailPercent: trailPercent ?? null,
    extendedHours,
    positionIntent,
    clientOrderId,
    now: ctx.now,
  });
  if (orderClass !== 'simple') attachLegs(o, input, ctx);
  return o;
}

/** Bracket, OCO and OTO: validates take_profit/stop_loss and builds the exit legs. */
function attachLegs(o: SimOrder, input: Record<string, unknown>, ctx: OrderContext): void {
  const takeProfit = record(input.take_profit);
  const stopLoss = record(input.stop_loss);
  const tpLimit = takeProfit ? positive(takeProfit.limit_price, 'take_profit.limit_price') : undefined;
  const slStop = stopLoss ? positive(stopLoss.stop_price, 'stop_loss.stop_price') : undefined;
  const slLimit = stopLoss ? positive(stopLoss.limit_price, 'stop_loss.limit_price') : undefined;
  if (takeProfit && tpLimit === undefined) throw invalid('take_profit.limit_price is required');
  if (stopLoss && slStop === undefined) throw invalid('stop_loss.stop_price is required');
  checkSubPenny(o.asset, tpLimit, 'take_profit.limit_price');
  checkSubPenny(o.asset, slStop, 'stop_loss.stop_price');
  checkSubPenny(o.asset, slLimit, 'stop_loss.limit_price');
  if (o.qty === null || !isWhole(o.qty)) throw invalid(`${o.orderClass} orders require a whole-share qty`);
  if (o.timeInForce !== 'day' && o.timeInForce !== 'gtc') throw invalid(`${o.orderClass} orders must be day or gtc`);
  const buy = o.side === 'buy';

  if (o.orderClass === 'bracket') {
    if (tpLimit === undefined || slStop === undefined) throw invalid('bracket orders require take_profit and stop_loss');
    if (o.type !== 'market' && o.type !== 'limit') throw invalid('bracket orders must be market or limit orders');
  } else if (o.orderClass === 'oto') {
    if ((tpLimit === undefined) === (slStop === undefined)) throw invalid('oto orders require exactly one of take_profit or stop_loss');
    if (o.type !== 'market' && o.type !== 'limit') throw invalid('oto orders must be market or limit orders');
  } else {
    if (tpLimit === undefined || slStop === undefined) throw invalid('oco orders require take_profit and stop_loss');
    if (o.type !== 'limit') throw invalid('oco orders must be limit orders');
    const held = ctx.heldQty(o.asset);
    if (buy ? held >= 0 : held <= 0) throw invalid('oco orders must exit an open position');
  }

  // The exit leg's side is the opposite of the entry; an OCO's own side already is the exit.
  const exitSide: OrderSide = o.orderClass === 'oco' ? o.side : buy ? 'sell' : 'buy';
  const exitIsSell = exitSide === 'sell';
  if (o.orderClass !== 'oco') {
    const q = ctx.market.quote(o.asset.symbol);
    const base = o.limitPrice ?? (q ? (buy ? q.ask : q.bid) : undefined);
    if (base !== undefined) {
      if (tpLimit !== undefined && (exitIsSell ? tpLimit < base + 0.01 : tpLimit > base - 0.01)) {
        throw invalid(`take_profit.limit_price must be ${exitIsSell ? '>=' : '<='} base_price ${exitIsSell ? '+' : '-'} 0.01`);
      }
      if (slStop !== undefined && (exitIsSell ? slStop > base - 0.01 : slStop < base + 0.01)) {
        throw invalid(`stop_loss.stop_price must be ${exitIsSell ? '<=' : '>='} base_price ${exitIsSell ? '-' : '+'} 0.01`);
      }
    }
  }
  if (tpLimit !== undefined && slStop !== undefined && (exitIsSell ? tpLimit <= slStop : tpLimit >= slStop)) {
    throw invalid(`take_profit.limit_price must be ${exitIsSell ? '>' : '<'} stop_loss.stop_price`);
  }

  const intent = exitIsSell ? 'sell_to_close' : 'buy_to_close';
  const legOf = (fields: { type: OrderType; limitPrice: number | null; stopPrice: number | null }): SimOrder => {
    const leg = newOrder({
      asset: o.asset,
      side: exitSide,
      timeInForce: o.timeInForce,
      orderClass: o.orderClass,
      qty: o.qty,
      notional: null,
      positionIntent: intent,
      now: o.createdAt,
      ...fields,
    });
    leg.parent = o;
    leg.exitOnly = true;
    leg.status = o.orderClass === 'oco' ? 'new' : 'held';
    return leg;
  };
  const stopLeg = () =>
    legOf({ type: slLimit !== undefined ? 'stop_limit' : 'stop', limitPrice: slLimit ?? null, stopPrice: slStop ?? null });
  if (o.orderClass === 'oco') {
    // Alpaca's OCO is the take-profit limit order carrying the stop-loss as its one leg.
    o.limitPrice = tpLimit ?? null;
    o.exitOnly = true;
    o.positionIntent = intent;
    o.legs = [stopLeg()];
  } else {
    o.legs = [];
    if (tpLimit !== undefined) o.legs.push(legOf({ type: 'limit', limitPrice: tpLimit, stopPrice: null }));
    if (slStop !== undefined) o.legs.push(stopLeg());
  }
}

/**
 * 403s for orders too small to take: stocks under $1 of value ("cost basis must be >= 1"),
 * crypto buys in USD pairs under $10, crypto quantities under the asset's min_order_size.
 * `price` values the order (its limit, stop or the touch).
 */
export function checkMinimums(o: SimOrder, price: number): void {
  const value = o.notional ?? (o.qty ?? 0) * price;
  if (o.asset.assetClass !== 'crypto') {
    if (value < 1) throw forbidden('cost basis must be >= 1');
    return;
  }
  if (o.side === 'buy' && quoteCurrency(o.asset) === 'USD' && value < CRYPTO_MIN_NOTIONAL_USD) {
    throw forbidden(`cost basis must be >= minimal amount of order ${CRYPTO_MIN_NOTIONAL_USD}`);
  }
  const min = o.asset.minOrderSize;
  if (o.qty !== null && min !== undefined && o.qty < min - 1e-12) {
    throw forbidden(`qty must be >= ${decimalString(min, 12)} (min_order_size of ${o.asset.symbol})`);
  }
}

/** The best price an order could buy at (Infinity for market-like) or sell at (0 for market-like). */
function reachPrice(o: SimOrder): number {
  if (o.type === 'limit' || o.type === 'stop_limit') return o.limitPrice ?? (o.side === 'buy' ? Infinity : 0);
  return o.side === 'buy' ? Infinity : 0;
}

/**
 * Alpaca's wash-trade protection: an order is refused when it could execute against an open
 * opposite-side order of the same account in the same symbol (a market, stop or trailing order
 * could trade at any price). Legs of one bracket, OCO or OTO group never count against each other.
 */
export function checkWashTrade(o: SimOrder, book: OrderBook, except?: SimOrder): void {
  const live = [o, ...(o.legs ?? []).filter((l) => l.status !== 'held')];
  for (const other of book.openInSymbol(o.asset.symbol)) {
    if (other === except || other.status === 'held') continue;
    if (rootOf(other) === rootOf(o) || (except && rootOf(other) === rootOf(except))) continue;
    for (const mine of live) {
      if (other.side === mine.side) continue;
      const [buy, sell] = mine.side === 'buy' ? [mine, other] : [other, mine];
      if (reachPrice(buy) >= reachPrice(sell)) throw forbidden('potential wash trade detected. use complex orders');
    }
  }
}
