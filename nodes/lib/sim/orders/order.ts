// The simulator's order record and the vocabulary Alpaca uses for it.
import { randomUUID } from 'node:crypto';
import { money, units } from '../decimal';
import type { SimAsset } from '../types';

export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop_limit' | 'trailing_stop';
export type TimeInForce = 'day' | 'gtc' | 'opg' | 'cls' | 'ioc' | 'fok';
export type OrderClass = 'simple' | 'bracket' | 'oco' | 'oto' | '';
export type OrderStatus =
  | 'accepted'
  | 'new'
  | 'held'
  | 'partially_filled'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'replaced'
  | 'rejected';

export interface SimOrder {
  id: string;
  clientOrderId: string;
  asset: SimAsset;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  orderClass: OrderClass;
  qty: number | null;
  notional: number | null;
  limitPrice: number | null;
  stopPrice: number | null;
  trailPrice: number | null;
  trailPercent: number | null;
  hwm: number | null;
  /** The limit Alpaca puts on a market order (the touch at submission plus the collar). */
  collar: number | null;
  extendedHours: boolean;
  positionIntent: string;
  status: OrderStatus;
  filledQty: number;
  filledValue: number;
  createdAt: number;
  updatedAt: number;
  submittedAt: number;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  failedAt: number | null;
  replacedAt: number | null;
  replacedBy: string | null;
  replaces: string | null;
  /** Day orders expire at the close, gtc orders after 90 days. */
  expiresAt: number | null;
  /** opg and cls orders may not execute before this instant. */
  notBefore: number | null;
  /** A stop (or trailing stop) has been hit and the order now works as market/limit. */
  triggered: boolean;
  /** The order rested on the book before filling: its fills add liquidity (maker fees). */
  rested: boolean;
  /** Closes a position only (OCO and bracket/OTO exits): reserves no buying power. */
  exitOnly: boolean;
  legs: SimOrder[] | null;
  parent: SimOrder | null;
  retired: boolean;
  dayTradeCounted: boolean;
}

export const WORKING: ReadonlySet<OrderStatus> = new Set(['accepted', 'new', 'partially_filled']);
export const TERMINAL: ReadonlySet<OrderStatus> = new Set(['filled', 'canceled', 'expired', 'replaced', 'rejected']);
export const ORDER_TYPES: ReadonlySet<string> = new Set(['market', 'limit', 'stop', 'stop_limit', 'trailing_stop']);
export const TIFS: ReadonlySet<string> = new Set(['day', 'gtc', 'opg', 'cls', 'ioc', 'fok']);
/** Orders that get one execution opportunity and are canceled for what they could not fill. */
export const SINGLE_PASS: ReadonlySet<TimeInForce> = new Set(['ioc', 'fok', 'opg', 'cls']);

/** The order a leg belongs to, or the order itself. */
export const rootOf = (o: SimOrder): SimOrder => o.parent ?? o;

export function newOrder(
  f: Pick<SimOrder, 'asset' | 'side' | 'type' | 'timeInForce' | 'orderClass' | 'qty' | 'notional' | 'limitPrice' | 'stopPrice' | 'positionIntent'> &
    Partial<Pick<SimOrder, 'trailPrice' | 'trailPercent' | 'extendedHours' | 'clientOrderId'>> & { now: number },
): SimOrder {
  return {
    id: randomUUID(),
    clientOrderId: f.clientOrderId ?? randomUUID(),
    asset: f.asset,
    side: f.side,
    type: f.type,
    timeInForce: f.timeInForce,
    orderClass: f.orderClass,
    qty: f.qty === null ? null : units(f.qty),
    notional: f.notional === null ? null : money(f.notional),
    limitPrice: f.limitPrice,
    stopPrice: f.stopPrice,
    trailPrice: f.trailPrice ?? null,
    trailPercent: f.trailPercent ?? null,
    hwm: null,
    collar: null,
    extendedHours: f.extendedHours ?? false,
    positionIntent: f.positionIntent,
    status: 'new',
    filledQty: 0,
    filledValue: 0,
    createdAt: f.now,
    updatedAt: f.now,
    submittedAt: f.now,
    filledAt: null,
    canceledAt: null,
    expiredAt: null,
    failedAt: null,
    replacedAt: null,
    replacedBy: null,
    replaces: null,
    expiresAt: null,
    notBefore: null,
    triggered: false,
    rested: false,
    exitOnly: false,
    legs: null,
    parent: null,
    retired: false,
    dayTradeCounted: false,
  };
}
