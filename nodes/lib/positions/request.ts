// What the positions/account node does, with no Node-RED in sight: read the action and its
// parameters from the dialog settings and the msg, validate them, and run them on a connection.
import type { BrokerConnection } from '../core/broker';
import { InputError } from '../core/errors';
import { parseSymbol } from '../core/symbols';
import { blank, isPlainObject, own, positiveAmount, refuseForbiddenFields, show } from '../core/values';
import type { OrderOrigin } from '../orders/types';

export const POSITION_ACTIONS = ['account', 'positions', 'position', 'orders', 'clock', 'close', 'closeAll'] as const;
export type PositionAction = (typeof POSITION_ACTIONS)[number];

/** Dialog settings. `action: 'msg'` leaves the action to msg.topic. */
export interface PositionsSettings {
  action: PositionAction | 'msg';
  symbol?: string;
  /** close: a quantity or a percentage of the position; empty = all of it. */
  qty?: string | number;
  percentage?: string | number;
  cancelOrders?: boolean;
}

export interface PositionsRequest {
  action: PositionAction;
  symbol?: string;
  qty?: number;
  percentage?: number;
  cancelOrders: boolean;
}

export interface ResolvedRequest {
  request: PositionsRequest;
  /** msg values ignored because the dialog already sets that field (the http request node's rule). */
  warnings: string[];
}

type Msg = { topic?: unknown; payload?: unknown; [key: string]: unknown };

function isAction(v: unknown): v is PositionAction {
  return typeof v === 'string' && (POSITION_ACTIONS as readonly string[]).includes(v);
}

function positiveNumber(field: string, v: unknown): number {
  const n = positiveAmount(field, v);
  if (n === undefined) throw new InputError(field, `${field} must be a number greater than 0 (got ${show(v)})`);
  return n;
}

/**
 * Works out what to do from the dialog and the msg. A msg value applies only where the dialog
 * leaves the field empty; where both set it, the dialog wins and a warning says so.
 */
export function resolveRequest(settings: PositionsSettings, msg: Msg): ResolvedRequest {
  if (typeof msg !== 'object' || msg === null) throw new InputError('msg', 'msg must be an object');
  const warnings: string[] = [];
  refuseForbiddenFields(msg, ['payload', 'topic']);
  const payload = isPlainObject(msg.payload) ? msg.payload : {};

  let action: PositionAction;
  if (settings.action === 'msg') {
    if (!isAction(msg.topic)) {
      throw new InputError(
        'msg.topic',
        `msg.topic must name the action: one of ${POSITION_ACTIONS.join(', ')} (got ${show(msg.topic)})`,
      );
    }
    action = msg.topic;
  } else if (isAction(settings.action)) {
    action = settings.action;
  } else {
    throw new InputError('action', `unknown action "${String(settings.action)}"`);
  }

  // A msg may carry the symbol as msg.payload.symbol, or as a plain string payload.
  const msgSymbol = !blank(own(payload, 'symbol')) ? own(payload, 'symbol') : typeof msg.payload === 'string' && !blank(msg.payload) ? msg.payload : undefined;
  const pick = (field: string, fromDialog: unknown, fromMsg: unknown): unknown => {
    if (!blank(fromDialog)) {
      if (!blank(fromMsg) && String(fromMsg) !== String(fromDialog)) {
        warnings.push(`msg.payload.${field} ignored: the node's ${field} is set to ${String(fromDialog)}`);
      }
      return fromDialog;
    }
    return fromMsg;
  };

  const request: PositionsRequest = { action, cancelOrders: false };
  if (action === 'position' || action === 'close') {
    const symbol = pick('symbol', settings.symbol, msgSymbol);
    if (blank(symbol)) throw new InputError('symbol', `action "${action}" needs a symbol: set it in the node or in msg.payload.symbol`);
    request.symbol = parseSymbol('symbol', symbol).symbol;
  }
  if (action === 'close') {
    const qty = pick('qty', settings.qty, own(payload, 'qty'));
    const percentage = pick('percentage', settings.percentage, own(payload, 'percentage'));
    if (!blank(qty) && !blank(percentage)) throw new InputError('qty', 'give qty or percentage to close, not both');
    if (!blank(qty)) request.qty = positiveNumber('qty', qty);
    if (!blank(percentage)) {
      const pct = positiveNumber('percentage', percentage);
      if (pct > 100) throw new InputError('percentage', `percentage must be at most 100 (got ${pct})`);
      request.percentage = pct;
    }
  }
  if (action === 'closeAll') {
    const fromMsg = own(payload, 'cancelOrders');
    if (fromMsg !== undefined && typeof fromMsg !== 'boolean') {
      throw new InputError('cancelOrders', 'msg.payload.cancelOrders must be true or false');
    }
    request.cancelOrders = settings.cancelOrders === true || fromMsg === true;
  }
  return { request, warnings };
}

/** Runs a validated request (closes through the account's order gateway); the result becomes msg.payload. */
export async function runRequest(connection: Pick<BrokerConnection, 'reads' | 'orders'>, r: PositionsRequest, origin: OrderOrigin): Promise<unknown> {
  const { reads, orders } = connection;
  switch (r.action) {
    case 'account':
      return reads.account();
    case 'positions':
      return reads.positions();
    case 'position':
      return reads.position(r.symbol as string);
    case 'orders':
      return reads.openOrders();
    case 'clock':
      return reads.clock();
    case 'close':
      return (await orders.closePosition(r.symbol as string, { qty: r.qty, percentage: r.percentage }, origin)).order;
    case 'closeAll':
      return orders.closeAll(r.cancelOrders, origin);
  }
}

/** A few words for the status dot after success. */
export function describeResult(r: PositionsRequest, result: unknown): string {
  switch (r.action) {
    case 'account': {
      const a = result as { equity: number; currency: string };
      return `equity ${a.equity.toFixed(2)} ${a.currency}`;
    }
    case 'positions':
      return `${(result as unknown[]).length} positions`;
    case 'position': {
      const p = result as { qty: number; symbol: string };
      return `${p.qty} ${p.symbol}`;
    }
    case 'orders':
      return `${(result as unknown[]).length} open orders`;
    case 'clock':
      return (result as { isOpen: boolean }).isOpen ? 'market open' : 'market closed';
    case 'close':
      return `closing ${r.symbol}`;
    case 'closeAll': {
      const list = result as Array<{ ok: boolean }>;
      const failed = list.filter((x) => !x.ok).length;
      return `closing ${list.length} positions${failed ? `, ${failed} failed` : ''}`;
    }
  }
}
