// One order gateway per account: every order-changing request of the account passes here, from
// whichever node or wiring it comes. The account's policies (its circuit breaker) decide each
// request on the order actually sent; cancels are never blocked; panic actions go first in the
// request budget; every request leaves an entry in the audit trail.
import { EventEmitter } from 'node:events';
import { BrokerError, type ErrorKind } from '../core/errors';
import { PRIORITY } from '../core/priority';
import type { BulkResult } from '../core/snapshots';
import type { CancelResult, OrderDetails, OrderExecutor, OrderRef, OrderRequest, PlacedOrder, PlacementResult, ReplaceChanges } from './types';
import { describeOrder } from './describe';

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

/** What a policy is asked to decide. Cancels never reach a policy. */
export interface PolicyRequest {
  change: Exclude<OrderChange, { action: 'cancel' } | { action: 'cancelAll' }>;
  origin: OrderOrigin;
  /** A replace: the order as it stands at the broker (the replace produces it with the changes). */
  original?: OrderDetails;
  /** Only asked (the breaker node's own gate in the flow): nothing is counted. */
  dryRun: boolean;
}

export type PolicyVerdict = { pass: true } | { pass: false; check: string; reason: string; state?: string };

export interface OrderPolicy {
  /** Names the policy in errors, e.g. 'circuit breaker "main"'. */
  readonly label: string;
  decide(request: PolicyRequest): Promise<PolicyVerdict>;
  /** What became of a request that passed (not called for dry runs). */
  settled?(request: PolicyRequest, outcome: { ok: true } | { ok: false; kind: ErrorKind; status?: number }): void;
}

/** A request a policy refused: nothing was sent to the broker. */
export class OrderBlocked extends BrokerError {
  constructor(
    message: string,
    readonly policy: string,
    readonly check: string,
    readonly state?: string,
  ) {
    super(message, 'refused');
    this.name = 'OrderBlocked';
  }
}

export interface AuditEntry {
  at: string;
  action: OrderChange['action'];
  /** A few words: "buy 10 AAPL @ market", "cancel 61e6…", "close all positions". */
  summary: string;
  origin: string;
  /** exempt: a cancel or a trip action, which no policy may block. */
  verdict: 'passed' | 'blocked' | 'exempt';
  policy?: string;
  reason?: string;
  /** Filled in when the broker has answered. */
  outcome?: 'ok' | 'failed';
  error?: string;
}

export interface GatewayOptions {
  /** How long a request waits for an expected policy (a breaker in the flows) to start; default 20 s. */
  policyWaitMs?: number;
  /** Audit entries kept in memory; default 200. */
  auditSize?: number;
}

interface Slot {
  label: string;
  policy?: OrderPolicy;
  waiters: Array<() => void>;
}

const refText = (ref: OrderRef): string => ('orderId' in ref ? ref.orderId : `client order id ${ref.clientOrderId}`);

function summary(change: OrderChange): string {
  switch (change.action) {
    case 'submit':
      return describeOrder(change.order);
    case 'replace':
      return `replace ${refText(change.ref)}`;
    case 'cancel':
      return `cancel ${refText(change.ref)}`;
    case 'cancelAll':
      return 'cancel all orders';
    case 'closePosition':
      return `close ${change.qty !== undefined ? `${change.qty} of ` : change.percentage !== undefined ? `${change.percentage}% of ` : ''}${change.symbol}`;
    case 'closeAll':
      return `close all positions${change.cancelOrders ? ' and cancel orders' : ''}`;
  }
}

export class OrderGateway extends EventEmitter {
  private readonly slots = new Map<string, Slot>();
  private readonly audit: AuditEntry[] = [];
  private readonly policyWaitMs: number;
  private readonly auditSize: number;
  /** When the broker last accepted an order or a replace from this account (ISO). */
  lastOrderAt?: string;

  constructor(
    private readonly executor: OrderExecutor,
    options: GatewayOptions = {},
  ) {
    super();
    this.policyWaitMs = options.policyWaitMs ?? 20_000;
    this.auditSize = options.auditSize ?? 200;
  }

  // --- policies ---------------------------------------------------------------------------------

  /**
   * Declares that a policy will fill `slot` (a breaker exists in the flows): until it does,
   * requests wait for it, then are refused. Cancels never wait.
   */
  expectPolicy(slot: string, label: string): void {
    if (!this.slots.has(slot)) this.slots.set(slot, { label, waiters: [] });
  }

  /**
   * Fills `slot` with `policy`. The returned function empties it again: with `keepExpected` (a
   * redeploy, the breaker comes back) requests wait for the next policy instead of passing.
   */
  setPolicy(slot: string, policy: OrderPolicy): (keepExpected: boolean) => void {
    const entry = this.slots.get(slot) ?? { label: policy.label, waiters: [] };
    entry.policy = policy;
    entry.label = policy.label;
    this.slots.set(slot, entry);
    for (const wake of entry.waiters.splice(0)) wake();
    return (keepExpected) => {
      if (entry.policy !== policy) return;
      entry.policy = undefined;
      if (!keepExpected) {
        this.slots.delete(slot);
        for (const wake of entry.waiters.splice(0)) wake();
      }
    };
  }

  /** Whether any policy is expected or in place (a replace then needs its original order). */
  get guarded(): boolean {
    return this.slots.size > 0;
  }

  // --- requests ---------------------------------------------------------------------------------

  async submit(order: OrderRequest, clientOrderId: string, origin: OrderOrigin): Promise<PlacementResult> {
    const change = { action: 'submit', order, clientOrderId } as const;
    const request = await this.authorize(change, origin);
    return this.execute(change, origin, request, () => this.executor.submit(order, clientOrderId));
  }

  async replace(ref: OrderRef, changes: ReplaceChanges, clientOrderId: string, origin: OrderOrigin): Promise<PlacementResult> {
    const change = { action: 'replace', ref, changes, clientOrderId } as const;
    const request = await this.authorize(change, origin);
    return this.execute(change, origin, request, () => this.executor.replace(ref, changes, clientOrderId));
  }

  cancel(ref: OrderRef, origin: OrderOrigin): Promise<CancelResult> {
    const change = { action: 'cancel', ref } as const;
    return this.execute(change, origin, undefined, () => this.executor.cancel(ref, PRIORITY.panic));
  }

  cancelAll(origin: OrderOrigin): Promise<BulkResult[]> {
    return this.execute({ action: 'cancelAll' }, origin, undefined, () => this.executor.cancelAll(PRIORITY.panic));
  }

  async closePosition(symbol: string, amount: { qty?: number; percentage?: number }, origin: OrderOrigin): Promise<PlacedOrder> {
    const change = { action: 'closePosition', symbol, ...amount } as const;
    const request = await this.authorize(change, origin);
    return this.execute(change, origin, request, () => this.executor.closePosition(symbol, amount, PRIORITY.panic));
  }

  async closeAll(cancelOrders: boolean, origin: OrderOrigin): Promise<BulkResult[]> {
    const change = { action: 'closeAll', cancelOrders } as const;
    const request = await this.authorize(change, origin);
    return this.execute(change, origin, request, () => this.executor.closeAll(cancelOrders, PRIORITY.panic));
  }

  /**
   * A circuit breaker's own trip action: passes in every state, first in the budget. Only the
   * breaker calls this, from its code; no msg can ask for it.
   */
  tripAction(action: 'cancelAll' | 'closeAll', origin: OrderOrigin): Promise<BulkResult[]> {
    const change: OrderChange = action === 'cancelAll' ? { action } : { action, cancelOrders: true };
    return this.execute(change, origin, undefined, () =>
      action === 'cancelAll' ? this.executor.cancelAll(PRIORITY.panic) : this.executor.closeAll(true, PRIORITY.panic),
    );
  }

  /**
   * Asks the policies about a change without sending it or counting it (the breaker node's gate
   * in the flow); resolves with the verdict.
   */
  async check(change: OrderChange, origin: OrderOrigin): Promise<PolicyVerdict> {
    if (change.action === 'cancel' || change.action === 'cancelAll') return { pass: true };
    try {
      await this.authorize(change, origin, true);
      return { pass: true };
    } catch (err) {
      if (err instanceof OrderBlocked) return { pass: false, check: err.check, reason: err.message, state: err.state };
      throw err;
    }
  }

  /** Fresh state of one order (a read: no policy). */
  fetch(ref: OrderRef): Promise<PlacedOrder> {
    return this.executor.fetch(ref);
  }

  /** The audit trail, oldest first. */
  recent(): AuditEntry[] {
    return [...this.audit];
  }

  // --- internals --------------------------------------------------------------------------------

  /** Runs every policy on the change; throws OrderBlocked on the first refusal. Cancels pass untouched. */
  private async authorize(change: Exclude<OrderChange, { action: 'cancel' } | { action: 'cancelAll' }>, origin: OrderOrigin, dryRun = false): Promise<PolicyRequest | 'checked'> {
    if (this.slots.size === 0) return 'checked';
    const request: PolicyRequest = { change, origin, dryRun };
    try {
      for (const [name, slot] of this.slots) {
        const policy = slot.policy ?? (await this.waitFor(name, slot));
        if (!policy) continue; // the slot was given up while waiting: no policy expected any more
        if (change.action === 'replace' && !request.original) request.original = await this.original(change.ref, policy.label);
        const verdict = await policy.decide(request);
        if (!verdict.pass) throw new OrderBlocked(`${summary(change)} blocked by the ${policy.label}${verdict.state ? ` (${verdict.state})` : ''}: ${verdict.reason}`, policy.label, verdict.check, verdict.state);
      }
    } catch (err) {
      if (!dryRun && err instanceof OrderBlocked) this.record(change, origin, { verdict: 'blocked', policy: err.policy, reason: err.message });
      throw err;
    }
    return request;
  }

  private waitFor(name: string, slot: Slot): Promise<OrderPolicy | undefined> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = slot.waiters.indexOf(wake);
        if (i >= 0) slot.waiters.splice(i, 1);
        reject(new OrderBlocked(`the ${slot.label} of this account is configured but not running (it did not start within ${this.policyWaitMs / 1000} s): nothing was sent`, slot.label, 'starting'));
      }, this.policyWaitMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(this.slots.get(name)?.policy);
      };
      slot.waiters.push(wake);
    });
  }

  private async original(ref: OrderRef, label: string): Promise<OrderDetails> {
    try {
      return (await this.executor.fetch(ref)).order;
    } catch (err) {
      throw new OrderBlocked(`the order to replace (${refText(ref)}) could not be read (${(err as Error).message}), so the ${label} cannot check the replace`, label, 'unreadable');
    }
  }

  /** Sends a change that passed (`request`: what the policies decided on) or is exempt (`undefined`: cancels, trip actions). */
  private async execute<T>(change: OrderChange, origin: OrderOrigin, request: PolicyRequest | undefined | 'checked', send: () => Promise<T>): Promise<T> {
    const entry = this.record(change, origin, { verdict: request === undefined ? 'exempt' : 'passed' });
    const decided = request === 'checked' ? undefined : request;
    try {
      const result = await send();
      entry.outcome = 'ok';
      if (change.action === 'submit' || change.action === 'replace') this.lastOrderAt = new Date().toISOString();
      if (decided) this.settle(decided, { ok: true });
      return result;
    } catch (err) {
      entry.outcome = 'failed';
      entry.error = (err as Error).message;
      const e = err as Partial<BrokerError>;
      if (decided) this.settle(decided, { ok: false, kind: e.kind ?? 'broker', status: e.status });
      throw err;
    } finally {
      this.emit('audit', entry);
    }
  }

  private settle(request: PolicyRequest, outcome: Parameters<NonNullable<OrderPolicy['settled']>>[1]): void {
    for (const slot of this.slots.values()) {
      try {
        slot.policy?.settled?.(request, outcome);
      } catch {
        // A policy's bookkeeping failing must not turn a placed order into an error.
      }
    }
  }

  private record(change: OrderChange, origin: OrderOrigin, fields: Pick<AuditEntry, 'verdict' | 'policy' | 'reason'>): AuditEntry {
    const entry: AuditEntry = { at: new Date().toISOString(), action: change.action, summary: summary(change), origin: origin.name, ...fields };
    this.audit.push(entry);
    if (this.audit.length > this.auditSize) this.audit.splice(0, this.audit.length - this.auditSize);
    if (fields.verdict === 'blocked') this.emit('audit', entry);
    return entry;
  }
}
