// Works out what an order node should do from its dialog settings and the msg, following the
// http request node's rule: a msg value applies only where the dialog leaves the field empty;
// where both set it, the dialog wins and a warning says so. Then validates the result.
import { InputError } from '../core/errors';
import { blank, isPlainObject, own, refuseForbiddenFields, show } from '../core/values';
import { ORDER_ACTIONS, type OrderAction, type ResolvedAction } from './types';
import { validateClientOrderId, validateOrder, validateRef, validateReplace, type OrderFields } from './validate';

/** Dialog settings, as the editor saves them (text; empty = left to the msg). */
export interface OrderSettings {
  /** submit, cancel, cancelAll, replace, or msg (= msg.topic decides). */
  action: string;
  symbol?: string;
  side?: string;
  /** The order type (Node-RED reserves `type` for the node's own type). */
  orderType?: string;
  timeInForce?: string;
  orderClass?: string;
  qty?: string | number;
  notional?: string | number;
  limitPrice?: string | number;
  stopPrice?: string | number;
  trailPrice?: string | number;
  trailPercent?: string | number;
  /** '' (msg decides, default off), 'true', 'false'. */
  extendedHours?: string | boolean;
  takeProfitLimitPrice?: string | number;
  stopLossStopPrice?: string | number;
  stopLossLimitPrice?: string | number;
  positionIntent?: string;
  /** The msg property holding the idempotency key (e.g. "signalId", "payload.alertId"); empty = none. */
  keyProperty?: string;
  /** Seconds an order answered 429 may wait to be sent again; empty = msg.maxWait, else settings.js. */
  maxWait?: string | number;
}

export interface Resolution {
  resolved: ResolvedAction;
  /** msg values ignored because the dialog sets that field. */
  warnings: string[];
}

type Msg = { topic?: unknown; payload?: unknown; [key: string]: unknown };
type Payload = Record<string, unknown>;

/** Where each field may come from in msg.payload: its name, then Alpaca's snake_case spelling. */
const ALIASES: Record<string, string[]> = {
  symbol: ['symbol'],
  side: ['side'],
  type: ['type', 'order_type'],
  timeInForce: ['timeInForce', 'time_in_force'],
  orderClass: ['orderClass', 'order_class'],
  qty: ['qty'],
  notional: ['notional'],
  limitPrice: ['limitPrice', 'limit_price'],
  stopPrice: ['stopPrice', 'stop_price'],
  trailPrice: ['trailPrice', 'trail_price'],
  trailPercent: ['trailPercent', 'trail_percent'],
  extendedHours: ['extendedHours', 'extended_hours'],
  positionIntent: ['positionIntent', 'position_intent'],
  clientOrderId: ['clientOrderId', 'client_order_id'],
  takeProfit: ['takeProfit', 'take_profit'],
  stopLoss: ['stopLoss', 'stop_loss'],
};
const SUBMIT_KEYS = new Set(Object.values(ALIASES).flat());

function read(payload: Payload, field: string, names = ALIASES[field] ?? [field]): unknown {
  let found: unknown;
  let foundName = '';
  for (const name of names) {
    const v = own(payload, name);
    if (blank(v)) continue;
    if (foundName && String(v) !== String(found)) {
      throw new InputError(field, `msg.payload.${foundName} and msg.payload.${name} disagree (${show(found)} vs ${show(v)})`);
    }
    if (!foundName) {
      found = v;
      foundName = name;
    }
  }
  return found;
}

function nested(payload: Payload, field: 'takeProfit' | 'stopLoss'): Payload {
  const v = read(payload, field);
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InputError(field, `msg.payload.${field} must be an object like ${field === 'takeProfit' ? '{ limitPrice: 110 }' : '{ stopPrice: 95 }'}`);
  }
  return v as Payload;
}

const isAction = (v: unknown): v is OrderAction => typeof v === 'string' && (ORDER_ACTIONS as readonly string[]).includes(v);

/**
 * Merges the dialog's settings with msg.payload, noting the msg values the dialog overrides.
 * (Methods, not closures made per msg: the order path stays one set of functions for V8 to optimize.)
 */
class Merge {
  readonly warnings: string[] = [];
  constructor(
    private readonly settings: OrderSettings,
    private readonly payload: Payload,
  ) {}

  /** The dialog's value where it sets one (a differing msg value becomes a warning), else the msg's. */
  pick(field: string, fromDialog: unknown, fromMsg: unknown, label = `msg.payload.${field}`): unknown {
    if (!blank(fromDialog)) {
      if (!blank(fromMsg) && String(fromMsg).trim().toLowerCase() !== String(fromDialog).trim().toLowerCase()) {
        this.warnings.push(`${label} (${String(fromMsg).slice(0, 200)}) ignored: the node's ${field} is set to ${String(fromDialog)}`);
      }
      return fromDialog;
    }
    return fromMsg;
  }

  /** A field the dialog and msg.payload name alike. */
  field(name: string): unknown {
    return this.pick(name, (this.settings as unknown as Record<string, unknown>)[name], read(this.payload, name));
  }
}

/** Every error names its field, so the user knows what to fix. */
export function resolveOrder(settings: OrderSettings, msg: Msg): Resolution {
  try {
    return resolve(settings, msg);
  } catch (err) {
    if (err instanceof InputError && !err.message.includes(err.field)) throw new InputError(err.field, `${err.field}: ${err.message}`);
    throw err;
  }
}

function resolve(settings: OrderSettings, msg: Msg): Resolution {
  if (typeof msg !== 'object' || msg === null) throw new InputError('msg', 'msg must be an object');
  const raw = msg.payload;
  refuseForbiddenFields(msg, ['payload', 'topic']);
  const payload: Payload = isPlainObject(raw) ? raw : {};
  const merge = new Merge(settings, payload);
  const warnings = merge.warnings;

  let action: OrderAction;
  if (blank(settings.action) || settings.action === 'msg') {
    if (!isAction(msg.topic)) {
      throw new InputError('msg.topic', `msg.topic must name the action: one of ${ORDER_ACTIONS.join(', ')} (got ${show(msg.topic)})`);
    }
    action = msg.topic;
  } else if (isAction(settings.action)) {
    action = settings.action;
  } else {
    throw new InputError('action', `unknown action "${String(settings.action)}"`);
  }

  switch (action) {
    case 'cancelAll':
      return { resolved: { action }, warnings };

    case 'cancel': {
      // A string payload is taken as the order id; an order from another node carries `id`.
      const orderId = read(payload, 'orderId', ['orderId', 'order_id', 'id']) ?? (typeof raw === 'string' && !blank(raw) ? raw : undefined);
      return { resolved: { action, ref: validateRef(orderId, read(payload, 'clientOrderId')) }, warnings };
    }

    case 'replace': {
      const orderId = read(payload, 'orderId', ['orderId', 'order_id', 'id']);
      const ref = validateRef(orderId, read(payload, 'clientOrderId'));
      // The dialog's trail price or percent is the new trail; msg.payload.trail too.
      const dialogTrail = blank(settings.trailPrice) ? settings.trailPercent : settings.trailPrice;
      const msgTrail = read(payload, 'trail', ['trail', 'trailPrice', 'trail_price', 'trailPercent', 'trail_percent']);
      const changes = validateReplace({
        qty: merge.field('qty'),
        limitPrice: merge.field('limitPrice'),
        stopPrice: merge.field('stopPrice'),
        trail: merge.pick('trail', dialogTrail, msgTrail),
        timeInForce: merge.field('timeInForce'),
      });
      const clientOrderId = validateClientOrderId(read(payload, 'newClientOrderId', ['newClientOrderId', 'new_client_order_id']));
      return { resolved: { action, ref, changes, clientOrderId }, warnings };
    }

    case 'submit': {
      for (const key of Object.keys(payload)) {
        if (!SUBMIT_KEYS.has(key)) {
          throw new InputError(
            `msg.payload.${key}`,
            `msg.payload.${key} is not an order field (a typo would silently change the order); order fields: symbol, side, type, qty, notional, limitPrice, stopPrice, trailPrice, trailPercent, timeInForce, orderClass, extendedHours, takeProfit, stopLoss, positionIntent, clientOrderId`,
          );
        }
      }
      const takeProfit = nested(payload, 'takeProfit');
      const stopLoss = nested(payload, 'stopLoss');
      const fields: OrderFields = {
        symbol: merge.field('symbol'),
        side: merge.field('side'),
        type: merge.pick('type', settings.orderType, read(payload, 'type')),
        timeInForce: merge.field('timeInForce'),
        orderClass: merge.field('orderClass'),
        qty: merge.field('qty'),
        notional: merge.field('notional'),
        limitPrice: merge.field('limitPrice'),
        stopPrice: merge.field('stopPrice'),
        trailPrice: merge.field('trailPrice'),
        trailPercent: merge.field('trailPercent'),
        extendedHours: merge.pick('extendedHours', settings.extendedHours === true ? 'true' : settings.extendedHours === false ? '' : settings.extendedHours, read(payload, 'extendedHours')),
        takeProfitLimitPrice: merge.pick('takeProfitLimitPrice', settings.takeProfitLimitPrice, read(takeProfit, 'limitPrice', ['limitPrice', 'limit_price']), 'msg.payload.takeProfit.limitPrice'),
        stopLossStopPrice: merge.pick('stopLossStopPrice', settings.stopLossStopPrice, read(stopLoss, 'stopPrice', ['stopPrice', 'stop_price']), 'msg.payload.stopLoss.stopPrice'),
        stopLossLimitPrice: merge.pick('stopLossLimitPrice', settings.stopLossLimitPrice, read(stopLoss, 'limitPrice', ['limitPrice', 'limit_price']), 'msg.payload.stopLoss.limitPrice'),
        positionIntent: merge.field('positionIntent'),
      };
      // The dialog's qty and notional are one choice: a msg may not add the other one.
      if (!blank(settings.qty) && blank(settings.notional) && !blank(fields.notional)) {
        warnings.push(`msg.payload.notional (${String(fields.notional)}) ignored: the node's qty is set to ${String(settings.qty)}`);
        fields.notional = undefined;
      }
      if (!blank(settings.notional) && blank(settings.qty) && !blank(fields.qty)) {
        warnings.push(`msg.payload.qty (${String(fields.qty)}) ignored: the node's notional is set to ${String(settings.notional)}`);
        fields.qty = undefined;
      }
      const order = validateOrder(fields);
      const clientOrderId = validateClientOrderId(read(payload, 'clientOrderId'));
      return { resolved: { action, order, clientOrderId }, warnings };
    }
  }
}

/** Longest idempotency key accepted. */
const MAX_KEY = 1000;
const PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

/** Whether `path` is a msg property path a key may live at (dotted names, no prototype keys). */
export function isKeyPath(path: string): boolean {
  return PATH.test(path) && !path.split('.').some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype');
}

/**
 * The msg's idempotency key: the value of the msg property the dialog names (text or a number).
 * A named property that is missing is an error: the user asked for idempotency.
 */
export function resolveKey(settings: Pick<OrderSettings, 'keyProperty'>, msg: Msg): { property: string; key: string } | undefined {
  if (blank(settings.keyProperty)) return undefined;
  const property = String(settings.keyProperty).trim().replace(/^msg\./, '');
  if (!isKeyPath(property)) {
    throw new InputError('keyProperty', `the node's idempotency key property "${show(settings.keyProperty)}" is not a msg property path like signalId or payload.alertId`);
  }
  let v: unknown = msg;
  for (const part of property.split('.')) v = typeof v === 'object' && v !== null ? own(v as Record<string, unknown>, part) : undefined;
  const where = `msg.${property}`;
  if (blank(v)) throw new InputError(where, `${where} is empty, but the node takes its idempotency key from there: nothing was sent`);
  if (typeof v === 'number' && Number.isFinite(v)) return { property, key: String(v) };
  if (typeof v !== 'string') throw new InputError(where, `${where} (the idempotency key) must be text or a number (got ${show(v)})`);
  const key = v.trim();
  if (key.length > MAX_KEY) throw new InputError(where, `${where} (the idempotency key) must be at most ${MAX_KEY} characters (got ${key.length})`);
  return { property, key };
}

/**
 * The order's max wait after a 429, in ms: the dialog's, else msg.maxWait (seconds), else
 * undefined (the account's default). Where both are set the dialog wins, with a warning.
 */
export function resolveMaxWaitMs(settings: Pick<OrderSettings, 'maxWait'>, msg: Msg, warnings: string[]): number | undefined {
  const seconds = (v: unknown, where: string): number => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
    if (!(n >= 0 && n <= 86_400)) throw new InputError(where, `${where} must be a number of seconds from 0 (never wait) to 86400 (got ${show(v)})`);
    return n * 1000;
  };
  const fromMsg = own(msg as Record<string, unknown>, 'maxWait');
  if (!blank(settings.maxWait)) {
    const ms = seconds(settings.maxWait, 'maxWait');
    if (!blank(fromMsg) && String(fromMsg).trim() !== String(settings.maxWait).trim()) warnings.push(`msg.maxWait (${show(fromMsg)}) ignored: the node's max wait is set to ${String(settings.maxWait)} s`);
    return ms;
  }
  return blank(fromMsg) ? undefined : seconds(fromMsg, 'msg.maxWait');
}
