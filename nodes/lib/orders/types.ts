// Orders in broker-neutral terms: the order request, the richer order view the nodes emit, how a
// placement ended (placed, duplicate, not placed, unknown), and what a broker must do with them.
import { BrokerError, type ErrorKind } from '../core/errors';
import type { Priority } from '../core/priority';
import type { AssetKind } from '../core/symbols';
import type { BulkResult, OrderSnapshot } from '../core/snapshots';

export const ORDER_ACTIONS = ['submit', 'cancel', 'cancelAll', 'replace'] as const;
export type OrderAction = (typeof ORDER_ACTIONS)[number];

export const ORDER_SIDES = ['buy', 'sell'] as const;
export type OrderSide = (typeof ORDER_SIDES)[number];

export const ORDER_TYPES = ['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'] as const;
export type OrderType = (typeof ORDER_TYPES)[number];

export const TIME_IN_FORCE = ['day', 'gtc', 'opg', 'cls', 'ioc', 'fok'] as const;
export type TimeInForce = (typeof TIME_IN_FORCE)[number];

/** `mleg` (multi-leg options) is recognised only to say it is not supported yet. */
export const ORDER_CLASSES = ['simple', 'bracket', 'oco', 'oto'] as const;
export type OrderClass = (typeof ORDER_CLASSES)[number];

export const POSITION_INTENTS = ['buy_to_open', 'buy_to_close', 'sell_to_open', 'sell_to_close'] as const;
export type PositionIntent = (typeof POSITION_INTENTS)[number];

/** A new order, validated: numbers are finite and positive, exactly one of qty / notional. */
export interface OrderRequest {
  symbol: string;
  assetKind: AssetKind;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  orderClass: OrderClass;
  qty?: number;
  notional?: number;
  limitPrice?: number;
  stopPrice?: number;
  trailPrice?: number;
  trailPercent?: number;
  extendedHours: boolean;
  takeProfit?: { limitPrice: number };
  stopLoss?: { stopPrice: number; limitPrice?: number };
  positionIntent?: PositionIntent;
}

/** Changes to an open order (Alpaca's replace): at least one field. */
export interface ReplaceChanges {
  qty?: number;
  limitPrice?: number;
  stopPrice?: number;
  /** The new trail_price or trail_percent of a trailing stop (whichever the order uses). */
  trail?: number;
  timeInForce?: TimeInForce;
}

/** Identifies one existing order: by the broker's id or by its client order id. */
export type OrderRef = { orderId: string } | { clientOrderId: string };

export type ResolvedAction =
  | { action: 'submit'; order: OrderRequest; clientOrderId?: string }
  | { action: 'cancel'; ref: OrderRef }
  | { action: 'cancelAll' }
  | { action: 'replace'; ref: OrderRef; changes: ReplaceChanges; clientOrderId?: string };

/** The order as the node emits it: plain JSON, numbers as numbers. */
export interface OrderDetails extends OrderSnapshot {
  assetClass: string;
  extendedHours: boolean;
  trailPrice: number | null;
  trailPercent: number | null;
  /** High-water mark of a trailing stop. */
  hwm: number | null;
  positionIntent: string | null;
  replaces: string | null;
  replacedBy: string | null;
  canceledAt: string | null;
  expiredAt: string | null;
  failedAt: string | null;
  /** Exit legs of bracket / OTO / OCO orders. */
  legs: OrderDetails[] | null;
}

/** An order as the broker answered, plain and raw. */
export interface PlacedOrder {
  order: OrderDetails;
  /** The broker's own JSON for the order, exactly as received. */
  raw: Record<string, unknown>;
}

/** One request made while placing, canceling or reconciling an order. */
export interface Attempt {
  step: 'submit' | 'lookup' | 'cancel' | 'replace' | 'fetch' | 'cancelAll' | 'list';
  at: string;
  ok: boolean;
  status?: number;
  error?: string;
}

/**
 * An order the broker has: placed now (or found after an ambiguous failure: `reconciled`), or a
 * duplicate (this client order id had placed it already: nothing new). Not placed and unknown
 * outcomes are OrderFailures.
 */
export interface PlacementResult extends PlacedOrder {
  outcome: 'placed' | 'duplicate';
  /** True when the order was found by client order id after a failed or ambiguous request. */
  reconciled: boolean;
  clientOrderId: string;
  attempts: Attempt[];
}

export interface CancelResult extends Partial<PlacedOrder> {
  orderId: string;
  /** False when the order had already been canceled before this request. */
  canceledNow: boolean;
  attempts: Attempt[];
}

/** An order action that failed; says whether the order exists and what was tried. */
export class OrderFailure extends BrokerError {
  constructor(
    message: string,
    kind: ErrorKind,
    readonly outcome: 'not_placed' | 'unknown' | 'failed',
    readonly attempts: Attempt[],
    readonly clientOrderId?: string,
    status?: number,
    code?: number | string,
    retryAfterMs?: number,
    /** Epoch ms at which the broker's rate-limit window resets (429 only). */
    readonly resetAt?: number,
  ) {
    super(message, kind, status, code, retryAfterMs);
    this.name = 'OrderFailure';
  }
}

/** How one order request may go: set by the node (dialog, msg) for that request. */
export interface SendOptions {
  /**
   * How long an order answered 429 (not executed by the broker) may wait for the limit to reset
   * and be sent again, with the same client order id (default: the executor's own setting).
   */
  maxWaitMs?: number;
  /** Every HTTP request made for this order is added here. */
  attempts?: Attempt[];
  /** Called (and awaited) right before the order request goes out; throwing stops it. */
  beforeSend?: () => Promise<void>;
}

/** The broker's side of order changes: each request exactly once, reconciled after an ambiguous answer. */
export interface OrderExecutor {
  submit(order: OrderRequest, clientOrderId: string, options?: SendOptions): Promise<PlacementResult>;
  replace(ref: OrderRef, changes: ReplaceChanges, clientOrderId: string, options?: SendOptions): Promise<PlacementResult>;
  cancel(ref: OrderRef, priority: Priority, attempts?: Attempt[]): Promise<CancelResult>;
  cancelAll(priority: Priority): Promise<BulkResult[]>;
  closePosition(symbol: string, amount: { qty?: number; percentage?: number }, priority: Priority): Promise<PlacedOrder>;
  closeAll(cancelOrders: boolean, priority: Priority): Promise<BulkResult[]>;
  /** Fresh state of one order, by id or client order id. */
  fetch(ref: OrderRef, attempts?: Attempt[]): Promise<PlacedOrder>;
  /**
   * Orders submitted since about `sinceMs` (epoch ms on the broker's clock, as the order journal
   * records it), oldest first, legs included;
   * `complete` when the listing reached the newest order (not cut short by its page limit).
   */
  recentOrders(sinceMs: number, attempts?: Attempt[]): Promise<{ orders: PlacedOrder[]; complete: boolean }>;
}

/** An order-changing request, as the gateway sees it. */
export type OrderChange =
  | { action: 'submit'; order: OrderRequest; clientOrderId: string }
  | { action: 'replace'; ref: OrderRef; changes: ReplaceChanges; clientOrderId: string }
  | { action: 'cancel'; ref: OrderRef }
  | { action: 'cancelAll' }
  | { action: 'closePosition'; symbol: string; qty?: number; percentage?: number }
  | { action: 'closeAll'; cancelOrders: boolean };

/** Who sent a request: named in the audit trail and in errors. */
export interface OrderOrigin {
  nodeId?: string;
  name: string;
}
