// Order submission, cancel and replace on Alpaca through the shared connection (one client, one
// request budget). Exactly once: every order carries a client_order_id; a POST is never
// repeated; after an ambiguous failure (timeout, reset, 5xx) the order is looked up by its
// client_order_id before anything is reported; Alpaca's 422 "client_order_id must be unique"
// means this order already exists, and the existing order is reported instead.
import { RateLimitError, orders as sdkOrders } from '@alpacahq/alpaca-trade-api';
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import { BrokerError } from '../core/errors';
import { PRIORITY, type Priority } from '../core/priority';
import type { BulkResult } from '../core/snapshots';
import {
  OrderFailure,
  type Attempt,
  type CancelResult,
  type OrderDetails,
  type OrderExecutor,
  type OrderRef,
  type OrderRequest,
  type PlacedOrder,
  type PlacementResult,
  type ReplaceChanges,
} from '../orders/types';
import { toBrokerError } from './errors';
import { toOrder } from './map';
import type { Rest } from './transport';

type Raw = Record<string, unknown>;
type PostOrderRequest = Parameters<Alpaca['trading']['orders']['postOrderRaw']>[0]['postOrderRequest'];
type PatchOrderRequest = Parameters<Alpaca['trading']['orders']['patchOrderByOrderIdRaw']>[0]['patchOrderRequest'];

const DUPLICATE = /client_order_id must be unique/i;

const numOrNull = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};
const strOrNull = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

/** Alpaca's order JSON (snake_case strings) -> the plain OrderDetails the node emits. */
export function toOrderDetails(raw: Raw): OrderDetails {
  const legs = Array.isArray(raw.legs) ? (raw.legs as Raw[]).map(toOrderDetails) : null;
  return {
    ...toOrder(raw),
    assetClass: String(raw.asset_class ?? raw.assetClass ?? ''),
    extendedHours: raw.extended_hours === true || raw.extendedHours === true,
    trailPrice: numOrNull(raw.trail_price ?? raw.trailPrice),
    trailPercent: numOrNull(raw.trail_percent ?? raw.trailPercent),
    hwm: numOrNull(raw.hwm),
    positionIntent: strOrNull(raw.position_intent ?? raw.positionIntent),
    replaces: strOrNull(raw.replaces),
    replacedBy: strOrNull(raw.replaced_by ?? raw.replacedBy),
    canceledAt: strOrNull(raw.canceled_at ?? raw.canceledAt),
    expiredAt: strOrNull(raw.expired_at ?? raw.expiredAt),
    failedAt: strOrNull(raw.failed_at ?? raw.failedAt),
    legs,
  };
}

/** OrderRequest -> the SDK's order request (camelCase, amounts as strings). */
export function toPostOrder(o: OrderRequest, clientOrderId: string): PostOrderRequest {
  return sdkOrders.buildOrder({
    symbol: o.symbol,
    side: o.side,
    type: o.type,
    timeInForce: o.timeInForce,
    orderClass: o.orderClass === 'simple' ? undefined : o.orderClass,
    qty: o.qty,
    notional: o.notional,
    limitPrice: o.limitPrice,
    stopPrice: o.stopPrice,
    trailPrice: o.trailPrice,
    trailPercent: o.trailPercent,
    takeProfit: o.takeProfit,
    stopLoss: o.stopLoss,
    extendedHours: o.extendedHours ? true : undefined,
    positionIntent: o.positionIntent,
    clientOrderId,
  }) as PostOrderRequest;
}

function toPatch(changes: ReplaceChanges, clientOrderId: string): PatchOrderRequest {
  const out: PatchOrderRequest = { clientOrderId };
  if (changes.qty !== undefined) out.qty = String(changes.qty);
  if (changes.limitPrice !== undefined) out.limitPrice = String(changes.limitPrice);
  if (changes.stopPrice !== undefined) out.stopPrice = String(changes.stopPrice);
  if (changes.trail !== undefined) out.trail = String(changes.trail);
  if (changes.timeInForce !== undefined) out.timeInForce = changes.timeInForce;
  return out;
}

/** The server may have acted: a timeout, a dropped connection or a 5xx. */
export function isAmbiguous(e: BrokerError): boolean {
  return e.kind === 'network' || (e.status !== undefined && (e.status >= 500 || e.status === 408));
}

/**
 * A 429 on an order request, reported with the limit's reset time. It carries no HTTP status so
 * the budget does not re-send it: an order placed minutes after its signal is another trade.
 */
class OrderRateLimited extends BrokerError {
  readonly resetAt?: number;
  constructor(err: RateLimitError) {
    const mapped = toBrokerError(err);
    super(mapped.message, 'rate_limit', undefined, mapped.code, mapped.retryAfterMs);
    this.resetAt = err.rateLimit?.reset?.getTime();
  }
}

const resetAtOf = (err: unknown): number | undefined => (err instanceof OrderRateLimited ? err.resetAt : undefined);

const now = () => new Date().toISOString();
const okAttempt = (step: Attempt['step'], status = 200): Attempt => ({ step, at: now(), ok: true, status });
const failedAttempt = (step: Attempt['step'], e: BrokerError): Attempt => ({
  step,
  at: now(),
  ok: false,
  status: e.status ?? (e.kind === 'rate_limit' ? 429 : undefined),
  error: e.message,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Lookup = { found: true; raw: Raw } | { found: false; definite: boolean; error?: BrokerError };

/** How orders are settled after a doubtful answer. */
export interface OrderTuning {
  /**
   * Delays before each lookup by client order id after an ambiguous failure (default 0, 1 s,
   * 3 s). Each lookup is a GET, which the SDK itself retries twice on 5xx and network errors.
   */
  lookupDelaysMs?: number[];
  /** How long an order answered 429 may wait for the limit to reset before it is reported as not placed (default 60 s). */
  rateLimitRetryMs?: number;
}

export class AlpacaOrders implements OrderExecutor {
  private readonly lookupDelaysMs: number[];
  private readonly rateLimitRetryMs: number;

  constructor(
    private readonly transport: Rest,
    tuning: OrderTuning = {},
  ) {
    this.lookupDelaysMs = tuning.lookupDelaysMs ?? [0, 1000, 3000];
    this.rateLimitRetryMs = tuning.rateLimitRetryMs ?? 60_000;
  }

  private placed(raw: Raw): PlacedOrder {
    return { order: toOrderDetails(raw), raw };
  }

  /** Places an order. Never sends it twice; see the file comment. */
  async submit(order: OrderRequest, clientOrderId: string): Promise<PlacementResult> {
    const attempts: Attempt[] = [];
    try {
      const raw = await this.sendUntilNotLimited('submit', attempts, (a) => a.trading.orders.postOrderRaw({ postOrderRequest: toPostOrder(order, clientOrderId) }));
      attempts.push(okAttempt('submit'));
      return { outcome: 'placed', reconciled: false, clientOrderId, attempts, ...this.placed(raw) };
    } catch (err) {
      const e = toBrokerError(err);
      attempts.push(failedAttempt('submit', e));
      return this.afterFailure(e, clientOrderId, attempts, 'order', resetAtOf(err));
    }
  }

  /** Replaces an open order; the new order gets `clientOrderId`, reconciled like a submit. */
  async replace(ref: OrderRef, changes: ReplaceChanges, clientOrderId: string): Promise<PlacementResult> {
    const attempts: Attempt[] = [];
    const orderId = await this.idOf(ref, attempts);
    try {
      const raw = await this.sendUntilNotLimited('replace', attempts, (a) =>
        a.trading.orders.patchOrderByOrderIdRaw({ orderId, patchOrderRequest: toPatch(changes, clientOrderId) }),
      );
      attempts.push(okAttempt('replace'));
      return { outcome: 'placed', reconciled: false, clientOrderId, attempts, ...this.placed(raw) };
    } catch (err) {
      const e = toBrokerError(err);
      attempts.push(failedAttempt('replace', e));
      // A second delivery of the same replace finds the old order already replaced (422): the
      // replacement it made carries our client order id.
      if (e.status === 422) {
        const found = await this.lookup(clientOrderId, attempts);
        if (found.found) return { outcome: 'duplicate', reconciled: true, clientOrderId, attempts, ...this.placed(found.raw) };
      }
      return this.afterFailure(e, clientOrderId, attempts, 'replacement', resetAtOf(err));
    }
  }

  /** Cancels one order; an order already canceled counts as done (canceledNow false). */
  async cancel(ref: OrderRef, priority: Priority): Promise<CancelResult> {
    const attempts: Attempt[] = [];
    const orderId = await this.idOf(ref, attempts);
    try {
      await this.transport.rest((a) => a.trading.orders.deleteOrderByOrderID({ orderId }), { priority });
      attempts.push(okAttempt('cancel', 204));
    } catch (err) {
      const e = toBrokerError(err);
      attempts.push(failedAttempt('cancel', e));
      if (e.status !== 422 && !isAmbiguous(e)) {
        throw new OrderFailure(`cancel failed: ${e.message}`, e.kind, 'failed', attempts, undefined, e.status, e.code);
      }
      // Not cancelable, or no answer: what state is the order in?
      const state = await this.tryFetch(orderId, attempts);
      const status = state?.order.status;
      if (status === 'canceled') return { orderId, canceledNow: e.status !== 422, attempts, ...state };
      if (status === 'pending_cancel') return { orderId, canceledNow: true, attempts, ...state };
      const what = status ? `the order is ${status}` : 'its state could not be read';
      throw new OrderFailure(`cancel failed: ${e.message}; ${what}`, e.kind, status ? 'failed' : 'unknown', attempts, undefined, e.status, e.code);
    }
    const state = await this.tryFetch(orderId, attempts);
    return { orderId, canceledNow: true, attempts, ...(state ?? {}) };
  }

  async cancelAll(priority: Priority): Promise<BulkResult[]> {
    const results = await this.transport.rest((a) => a.trading.orders.deleteAllOrders(), { priority });
    return results.map((r) => {
      const status = Number((r as unknown as Raw).status ?? 200);
      return { id: String((r as unknown as Raw).id ?? ''), status, ok: status >= 200 && status < 300 };
    });
  }

  async closePosition(symbol: string, amount: { qty?: number; percentage?: number }, priority: Priority): Promise<PlacedOrder> {
    const raw = await this.transport.rest(
      async (a) => {
        const res = await a.trading.positions.deleteOpenPositionRaw({ symbolOrAssetId: symbol, qty: amount.qty, percentage: amount.percentage });
        return (await res.raw.json()) as Raw;
      },
      { priority },
    );
    return this.placed(raw);
  }

  async closeAll(cancelOrders: boolean, priority: Priority): Promise<BulkResult[]> {
    const results = await this.transport.rest((a) => a.trading.positions.deleteAllOpenPositions({ cancelOrders }), { priority });
    return results.map((r) => {
      const ok = r.status >= 200 && r.status < 300;
      const body = r.body as unknown as Raw | undefined;
      return {
        symbol: r.symbol,
        status: r.status,
        ok,
        order: ok && body ? toOrder(body) : undefined,
        error: ok ? undefined : String(body?.message ?? `status ${r.status}`),
      };
    });
  }

  async fetch(ref: OrderRef): Promise<PlacedOrder> {
    if ('clientOrderId' in ref) return this.placed(await this.getByClientOrderId(ref.clientOrderId));
    const raw = await this.transport.rest(
      async (a) => {
        const res = await a.trading.orders.getOrderByOrderIDRaw({ orderId: ref.orderId, nested: true } as Parameters<Alpaca['trading']['orders']['getOrderByOrderIDRaw']>[0]);
        return (await res.raw.json()) as Raw;
      },
      { priority: PRIORITY.reconcile },
    );
    return this.placed(raw);
  }

  // --- internals ------------------------------------------------------------

  private async tryFetch(orderId: string, attempts: Attempt[]): Promise<PlacedOrder | undefined> {
    try {
      const state = await this.fetch({ orderId });
      attempts.push(okAttempt('fetch'));
      return state;
    } catch (err) {
      attempts.push(failedAttempt('fetch', toBrokerError(err)));
      return undefined;
    }
  }

  /** The broker's id of a referenced order (a lookup when given a client order id). */
  private async idOf(ref: OrderRef, attempts: Attempt[]): Promise<string> {
    if ('orderId' in ref) return ref.orderId;
    try {
      const raw = await this.getByClientOrderId(ref.clientOrderId);
      attempts.push(okAttempt('lookup'));
      return String(raw.id);
    } catch (err) {
      const e = toBrokerError(err);
      attempts.push(failedAttempt('lookup', e));
      const message = e.status === 404 ? `no order with client order id "${ref.clientOrderId}"` : `could not look up client order id "${ref.clientOrderId}": ${e.message}`;
      throw new OrderFailure(message, e.kind, 'failed', attempts, ref.clientOrderId, e.status, e.code);
    }
  }

  private async getByClientOrderId(clientOrderId: string): Promise<Raw> {
    return this.transport.rest(
      async (a) => {
        const res = await a.trading.orders.getOrderByClientOrderIdRaw({ clientOrderId });
        return (await res.raw.json()) as Raw;
      },
      { priority: PRIORITY.reconcile },
    );
  }

  /**
   * Looks an order up by client order id, following `lookupDelaysMs`. A 404 is definite once the
   * server has answered the write (a 5xx), or after two 404s a second apart (the write may still
   * have been on its way after a timeout or reset).
   */
  private async lookup(clientOrderId: string, attempts: Attempt[], writeAnswered = true): Promise<Lookup> {
    let notFound = 0;
    let lastError: BrokerError | undefined;
    for (const delay of this.lookupDelaysMs) {
      if (delay > 0) await sleep(delay);
      try {
        const raw = await this.getByClientOrderId(clientOrderId);
        attempts.push(okAttempt('lookup'));
        return { found: true, raw };
      } catch (err) {
        const e = toBrokerError(err);
        attempts.push(failedAttempt('lookup', e));
        lastError = e;
        if (e.status === 404) {
          notFound++;
          if (writeAnswered || notFound >= 2) return { found: false, definite: true };
        } else if (!isAmbiguous(e) && e.kind !== 'rate_limit') {
          return { found: false, definite: false, error: e };
        }
      }
    }
    return notFound > 0 ? { found: false, definite: true } : { found: false, definite: false, error: lastError };
  }

  /**
   * Sends an order request; a 429 (not executed by the broker) is sent again, with the same
   * client order id, once the budget's pause for it is over, for at most `rateLimitRetryMs`.
   * Anything else is never sent twice.
   */
  private async sendUntilNotLimited(step: Attempt['step'], attempts: Attempt[], request: (a: Alpaca) => Promise<{ raw: Response }>): Promise<Raw> {
    const until = Date.now() + this.rateLimitRetryMs;
    for (;;) {
      try {
        return await this.sendOnce(request);
      } catch (err) {
        if (!(err instanceof OrderRateLimited)) throw err;
        // Retry-After is the broker's own word on when to come back; else the window's reset.
        const retryAt = err.retryAfterMs !== undefined ? Date.now() + err.retryAfterMs : (err.resetAt ?? Date.now() + 1000);
        if (retryAt > until) throw err;
        attempts.push(failedAttempt(step, err));
      }
    }
  }

  /** One order request, never re-sent, through the shared client and budget. */
  private sendOnce(request: (a: Alpaca) => Promise<{ raw: Response }>): Promise<Raw> {
    return this.transport.rest(
      async (a) => {
        try {
          return (await (await request(a)).raw.json()) as Raw;
        } catch (err) {
          throw err instanceof RateLimitError ? new OrderRateLimited(err) : err;
        }
      },
      { priority: PRIORITY.order },
    );
  }

  private async afterFailure(e: BrokerError, clientOrderId: string, attempts: Attempt[], what: string, resetAt?: number): Promise<PlacementResult> {
    if (e.kind === 'rate_limit') {
      const reset = resetAt ?? (e.retryAfterMs !== undefined ? Date.now() + e.retryAfterMs : undefined);
      const when = reset !== undefined ? `; the limit resets at ${new Date(reset).toISOString()}` : '';
      throw new OrderFailure(
        `${what} not placed: rate limited by the broker (429)${when}, later than it may wait. Queue orders through a rate-limit gate`,
        'rate_limit',
        'not_placed',
        attempts,
        clientOrderId,
        429,
        e.code,
        e.retryAfterMs,
        reset,
      );
    }
    if (e.status === 422 && DUPLICATE.test(e.message)) {
      const found = await this.lookup(clientOrderId, attempts);
      if (found.found) return { outcome: 'duplicate', reconciled: true, clientOrderId, attempts, ...this.placed(found.raw) };
      throw new OrderFailure(
        `an order with client order id ${clientOrderId} already exists, but it could not be read: ${found.error?.message ?? 'not found'}`,
        'validation',
        'unknown',
        attempts,
        clientOrderId,
        e.status,
        e.code,
      );
    }
    if (isAmbiguous(e)) {
      const found = await this.lookup(clientOrderId, attempts, e.kind !== 'network');
      if (found.found) return { outcome: 'placed', reconciled: true, clientOrderId, attempts, ...this.placed(found.raw) };
      const tried = `${attempts.length} requests: ${attempts.map((a) => `${a.step} ${a.ok ? 'ok' : a.status ?? 'no answer'}`).join(', ')}`;
      if (found.definite) {
        throw new OrderFailure(`${what} not placed: ${e.message}; no order with client order id ${clientOrderId} exists (${tried})`, e.kind, 'not_placed', attempts, clientOrderId, e.status, e.code);
      }
      throw new OrderFailure(
        `${what} state UNKNOWN: ${e.message}, and the lookup by client order id ${clientOrderId} failed too (${tried}). Check the broker before sending it again; the same msg would not duplicate it`,
        e.kind,
        'unknown',
        attempts,
        clientOrderId,
        e.status,
        e.code,
      );
    }
    throw new OrderFailure(`${what} rejected: ${e.message}`, e.kind, 'not_placed', attempts, clientOrderId, e.status, e.code, e.retryAfterMs);
  }
}
