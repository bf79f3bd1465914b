// Order submission, cancel and replace on Alpaca through the shared connection (one client, one
// request budget). Exactly once: every order carries a client_order_id; a POST is never
// repeated, except after a 429 (Alpaca did not execute it) within the order's max wait; after an
// ambiguous failure (timeout, reset, 5xx) the order is looked up by its client_order_id before
// anything is reported; Alpaca's 422 "client_order_id must be unique" means this order already
// exists, and the existing order is reported instead. Every HTTP request made is listed.
import { RateLimitError, orders as sdkOrders } from '@alpacahq/alpaca-trade-api';
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import { BrokerError } from '../core/errors';
import { PRIORITY, type Priority } from '../core/priority';
import type { BulkResult } from '../core/snapshots';
import {
  OrderFailure,
  type SendOptions,
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
import { observeExchanges, type ExchangeObserver } from './client';
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
 * the budget does not re-send it: this executor decides, within the order's max wait.
 */
class OrderRateLimited extends BrokerError {
  /** On our clock. */
  readonly resetAt?: number;
  constructor(err: RateLimitError, toWall: (brokerMs: number) => number) {
    const mapped = toBrokerError(err);
    super(mapped.message, 'rate_limit', undefined, mapped.code, mapped.retryAfterMs);
    const reset = err.rateLimit?.reset?.getTime();
    // X-RateLimit-Reset is a time on the broker's clock.
    if (reset !== undefined && Number.isFinite(reset)) this.resetAt = toWall(reset);
  }
}

const resetAtOf = (err: unknown): number | undefined => (err instanceof OrderRateLimited ? err.resetAt : undefined);

const now = () => new Date().toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Lists every HTTP exchange of one step in `attempts` (told by the client's fetch, see
 * observeExchanges): the SDK's own retries of a GET and the budget's re-sends after a 429
 * included. Sealed once the step is over (an aborted fetch may report late).
 */
class AttemptRecorder implements ExchangeObserver {
  private sealed = false;
  readonly middleware = observeExchanges(this);

  constructor(
    private readonly step: Attempt['step'],
    private readonly attempts: Attempt[],
  ) {}

  /** The step failed with `e`: its last exchange carries the full message (or, if none was made, one entry says so). */
  failed(e: BrokerError): void {
    const last = this.sealed ? undefined : this.attempts[this.attempts.length - 1];
    if (last && last.step === this.step && !last.ok) last.error = e.message;
    else this.add({ ok: false, status: e.status, error: e.message });
  }

  seal(): void {
    this.sealed = true;
  }

  answered(status: number): void {
    const ok = status >= 200 && status < 300;
    this.add({ ok, status, ...(ok ? {} : { error: `answered ${status}` }) });
  }

  noAnswer(err: unknown): void {
    this.add({ ok: false, error: toBrokerError(err).message });
  }

  private add(fields: Omit<Attempt, 'step' | 'at'>): void {
    if (!this.sealed) this.attempts.push({ step: this.step, at: now(), ...fields });
  }
}

type Lookup = { found: true; raw: Raw } | { found: false; definite: boolean; error?: BrokerError };
type OrdersApi = Alpaca['trading']['orders'];
interface RecordedApi {
  orders: OrdersApi;
}

/** How orders are settled after a doubtful answer. */
export interface OrderTuning {
  /**
   * Delays before each lookup by client order id after an ambiguous failure (default 0, 1 s,
   * 3 s). Each lookup is a GET, which the SDK itself retries twice on 5xx and network errors.
   */
  lookupDelaysMs?: number[];
  /** How long an order answered 429 may wait for the limit to reset before it is reported as not placed, unless the node sets it (default 60 s). */
  rateLimitRetryMs?: number;
}

/** Orders listed per page when settling a restart, and pages at most. */
const PAGE = 500;
const MAX_PAGES = 10;
/** Margin before the oldest order looked for (times journaled before the broker first answered are the wall clock's). */
const LIST_MARGIN_MS = 5 * 60_000;

export class AlpacaOrders implements OrderExecutor {
  private readonly lookupDelaysMs: number[];
  private readonly rateLimitRetryMs: number;

  /**
   * `toWall`: a time on the broker's clock on ours (the connection's BrokerClock; a rate limit's
   * reset is the broker's time).
   */
  constructor(
    private readonly transport: Rest,
    private readonly toWall: (brokerMs: number) => number,
    tuning: OrderTuning = {},
  ) {
    this.lookupDelaysMs = tuning.lookupDelaysMs ?? [0, 1000, 3000];
    this.rateLimitRetryMs = tuning.rateLimitRetryMs ?? 60_000;
  }

  private placed(raw: Raw): PlacedOrder {
    return { order: toOrderDetails(raw), raw };
  }

  /** Places an order. Never sends it twice but after a 429; see the file comment. */
  async submit(order: OrderRequest, clientOrderId: string, options: SendOptions = {}): Promise<PlacementResult> {
    const attempts = options.attempts ?? [];
    try {
      const raw = await this.sendUntilNotLimited('submit', attempts, options, (o) => o.postOrderRaw({ postOrderRequest: toPostOrder(order, clientOrderId) }));
      return { outcome: 'placed', reconciled: false, clientOrderId, attempts, ...this.placed(raw) };
    } catch (err) {
      return this.afterFailure(toBrokerError(err), clientOrderId, attempts, 'order', resetAtOf(err));
    }
  }

  /** Replaces an open order; the new order gets `clientOrderId`, reconciled like a submit. */
  async replace(ref: OrderRef, changes: ReplaceChanges, clientOrderId: string, options: SendOptions = {}): Promise<PlacementResult> {
    const attempts = options.attempts ?? [];
    const orderId = await this.idOf(ref, attempts);
    try {
      const raw = await this.sendUntilNotLimited('replace', attempts, options, (o) => o.patchOrderByOrderIdRaw({ orderId, patchOrderRequest: toPatch(changes, clientOrderId) }));
      return { outcome: 'placed', reconciled: false, clientOrderId, attempts, ...this.placed(raw) };
    } catch (err) {
      const e = toBrokerError(err);
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
  async cancel(ref: OrderRef, priority: Priority, attempts: Attempt[] = []): Promise<CancelResult> {
    const orderId = await this.idOf(ref, attempts);
    try {
      await this.call('cancel', attempts, ({ orders }) => orders.deleteOrderByOrderID({ orderId }), priority);
    } catch (err) {
      const e = toBrokerError(err);
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

  async fetch(ref: OrderRef, attempts: Attempt[] = []): Promise<PlacedOrder> {
    if ('clientOrderId' in ref) return this.placed(await this.getByClientOrderId(ref.clientOrderId, attempts));
    const raw = await this.call('fetch', attempts, async ({ orders }) => {
      const res = await orders.getOrderByOrderIDRaw({ orderId: ref.orderId, nested: true } as Parameters<OrdersApi['getOrderByOrderIDRaw']>[0]);
      return (await res.raw.json()) as Raw;
    });
    return this.placed(raw);
  }

  /** Orders submitted since about `sinceMs` (the broker's time, as the journal records it), legs included. */
  async recentOrders(sinceMs: number, attempts: Attempt[] = []): Promise<{ orders: PlacedOrder[]; complete: boolean }> {
    let after = sinceMs - LIST_MARGIN_MS;
    const out: PlacedOrder[] = [];
    let complete = false;
    for (let page = 0; page < MAX_PAGES; page++) {
      const list = await this.call('list', attempts, async ({ orders }) => {
        const res = await orders.getAllOrdersRaw({ status: 'all', after: new Date(after).toISOString(), direction: 'asc', nested: true, limit: PAGE } as Parameters<OrdersApi['getAllOrdersRaw']>[0]);
        return (await res.raw.json()) as Raw[];
      });
      for (const raw of list) {
        out.push(this.placed(raw));
        for (const leg of (Array.isArray(raw.legs) ? raw.legs : []) as Raw[]) out.push(this.placed(leg));
      }
      if (list.length < PAGE) {
        complete = true;
        break;
      }
      const last = toOrderDetails(list[list.length - 1]);
      const next = Date.parse(last.submittedAt ?? last.createdAt ?? '');
      if (!(next > after)) break;
      after = next - 1;
    }
    return { orders: out, complete };
  }

  // --- internals ------------------------------------------------------------

  /** One REST call on the orders API through the shared budget, every HTTP exchange listed in `attempts`. */
  private async call<T>(step: Attempt['step'], attempts: Attempt[], fn: (api: RecordedApi) => Promise<T>, priority: Priority = PRIORITY.reconcile): Promise<T> {
    const recorder = new AttemptRecorder(step, attempts);
    try {
      return await this.transport.rest((a) => fn(recorded(a, recorder)), { priority });
    } catch (err) {
      recorder.failed(toBrokerError(err));
      throw err;
    } finally {
      recorder.seal();
    }
  }

  private async tryFetch(orderId: string, attempts: Attempt[]): Promise<PlacedOrder | undefined> {
    try {
      return await this.fetch({ orderId }, attempts);
    } catch {
      return undefined;
    }
  }

  /** The broker's id of a referenced order (a lookup when given a client order id). */
  private async idOf(ref: OrderRef, attempts: Attempt[]): Promise<string> {
    if ('orderId' in ref) return ref.orderId;
    try {
      return String((await this.getByClientOrderId(ref.clientOrderId, attempts)).id);
    } catch (err) {
      const e = toBrokerError(err);
      const message = e.status === 404 ? `no order with client order id "${ref.clientOrderId}"` : `could not look up client order id "${ref.clientOrderId}": ${e.message}`;
      throw new OrderFailure(message, e.kind, 'failed', attempts, ref.clientOrderId, e.status, e.code);
    }
  }

  private getByClientOrderId(clientOrderId: string, attempts: Attempt[]): Promise<Raw> {
    return this.call('lookup', attempts, async ({ orders }) => {
      const res = await orders.getOrderByClientOrderIdRaw({ clientOrderId });
      return (await res.raw.json()) as Raw;
    });
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
        return { found: true, raw: await this.getByClientOrderId(clientOrderId, attempts) };
      } catch (err) {
        const e = toBrokerError(err);
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
   * client order id, once the budget's pause for it is over, for at most the order's max wait.
   * Anything else is never sent twice.
   */
  private async sendUntilNotLimited(step: Attempt['step'], attempts: Attempt[], options: SendOptions, request: (o: OrdersApi) => Promise<{ raw: Response }>): Promise<Raw> {
    const until = Date.now() + (options.maxWaitMs ?? this.rateLimitRetryMs);
    let beforeSend = options.beforeSend;
    for (;;) {
      const recorder = new AttemptRecorder(step, attempts);
      try {
        return await this.transport.rest(
          async (a) => {
            // Recorded as on its way only now, when it leaves the budget's queue.
            if (beforeSend) await beforeSend();
            beforeSend = undefined;
            try {
              return (await (await request(recorded(a, recorder).orders)).raw.json()) as Raw;
            } catch (err) {
              throw err instanceof RateLimitError ? new OrderRateLimited(err, this.toWall) : err;
            }
          },
          { priority: PRIORITY.order },
        );
      } catch (err) {
        recorder.failed(toBrokerError(err));
        if (!(err instanceof OrderRateLimited)) throw err;
        // Retry-After is the broker's own word on when to come back; else the window's reset.
        const retryAt = err.retryAfterMs !== undefined ? Date.now() + err.retryAfterMs : (err.resetAt ?? Date.now() + 1000);
        if (retryAt > until) throw err;
      } finally {
        recorder.seal();
      }
    }
  }

  private async afterFailure(e: BrokerError, clientOrderId: string, attempts: Attempt[], what: string, resetAt?: number): Promise<PlacementResult> {
    if (e.kind === 'rate_limit') {
      const reset = resetAt ?? (e.retryAfterMs !== undefined ? Date.now() + e.retryAfterMs : undefined);
      const when = reset !== undefined ? `; the limit resets at ${new Date(reset).toISOString()}` : '';
      throw new OrderFailure(
        `${what} not placed: rate limited by the broker (429)${when}, later than the order may wait (its max wait). Queue orders through a rate-limit gate`,
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
        `${what} state UNKNOWN: ${e.message}, and the lookup by client order id ${clientOrderId} failed too (${tried}). Check the broker before sending it again; the same key would not duplicate it`,
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

/** The client's orders API with `recorder` listening to every exchange. */
function recorded(a: Alpaca, recorder: AttemptRecorder): RecordedApi {
  return { orders: a.trading.orders.withMiddleware(recorder.middleware) };
}
