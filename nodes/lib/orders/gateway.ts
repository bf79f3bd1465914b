// One order gateway per account: every order-changing request of the account passes here, from
// whichever node or wiring it comes. The account's policies (its circuit breaker) decide each
// request on the order actually sent; cancels are never blocked; panic actions go first in the
// request budget; every request leaves an entry in the audit trail and in the order journal
// (before anything is done with it), and a client order id the journal knows as placed is
// reported as a duplicate without sending anything. After a restart, `recover()` settles what
// the last run left unreported and hands the reports to the nodes through `reports`.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BrokerError, type ErrorKind } from '../core/errors';
import { PRIORITY } from '../core/priority';
import type { BulkResult } from '../core/snapshots';
import {
  OrderFailure,
  type Attempt,
  type CancelResult,
  type OrderChange,
  type OrderDetails,
  type OrderExecutor,
  type OrderOrigin,
  type OrderRef,
  type OrderRequest,
  type PlacedOrder,
  type PlacementResult,
  type ReplaceChanges,
  type SendOptions,
} from './types';
import { describeOrder } from './describe';
import { JournalUnavailable, OrderJournal, PLACED_OUTCOMES, type JournalEntry, type JournalOutcome } from './journal';
import { ReportDesk, journalOutcome, reconcile, type OrderReport, type RecoveryOptions } from './recovery';

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
  /** The account's order journal (default: one in memory). */
  journal?: OrderJournal;
  /** Tuning of the restart recovery (tests). */
  recovery?: RecoveryOptions & { retryMs?: number; maxRetryMs?: number };
}

/**
 * What a node passes with one request. `ticket`: the node reports the outcome itself and then
 * calls `reported(ticket)`; without one the journal entry is done as soon as the outcome is known.
 */
export interface RequestOptions {
  /** How long an order answered 429 may wait to be sent again (see SendOptions). */
  maxWaitMs?: number;
  /** A few fields of the msg (JSON-safe, no secret) for a report after a restart. */
  msg?: Record<string, unknown>;
  ticket?: JournalTicket;
}

/** Filled in by the gateway when it journals the request. */
export interface JournalTicket {
  id?: string;
}

function outcomeOf(err: unknown): JournalOutcome {
  if (err instanceof OrderBlocked) return 'not_placed';
  const outcome = (err as Partial<OrderFailure>).outcome;
  return outcome === 'not_placed' || outcome === 'unknown' || outcome === 'failed' ? outcome : 'failed';
}

interface Slot {
  label: string;
  policy?: OrderPolicy;
  waiters: Array<() => void>;
}

const noop = (): void => undefined;

/**
 * Client order ids being placed now, in this process: a second request with the same id waits
 * for the first, and so does recovery after a redeploy (the old account's request may still run).
 */
const placing = new Map<string, Promise<unknown>>();

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
  readonly journal: OrderJournal;
  /** Reports of requests whose node was gone when the outcome came (restart, redeploy). */
  readonly reports = new ReportDesk();
  /** Client order ids of the last run still being settled by recover(). */
  private readonly recovering = new Map<string, Promise<void>>();
  private settleRecovery?: () => void;
  private recoveryTimer?: NodeJS.Timeout;
  private closed = false;
  /** REST requests recover() made, for the account's diagnostics. */
  recoveryRequests = 0;

  constructor(
    private readonly executor: OrderExecutor,
    private readonly options: GatewayOptions = {},
  ) {
    super();
    this.policyWaitMs = options.policyWaitMs ?? 20_000;
    this.auditSize = options.auditSize ?? 200;
    this.journal = options.journal ?? new OrderJournal();
    if (this.journal.unfinished.length) {
      const settled = new Promise<void>((resolve) => (this.settleRecovery = resolve));
      for (const e of this.journal.unfinished) this.recovering.set(e.id, settled);
    }
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

  submit(order: OrderRequest, clientOrderId: string, origin: OrderOrigin, options: RequestOptions = {}): Promise<PlacementResult> {
    const change = { action: 'submit', order, clientOrderId } as const;
    return this.place(change, origin, options, (send) => this.executor.submit(order, clientOrderId, send), { order, symbol: order.symbol });
  }

  replace(ref: OrderRef, changes: ReplaceChanges, clientOrderId: string, origin: OrderOrigin, options: RequestOptions = {}): Promise<PlacementResult> {
    const change = { action: 'replace', ref, changes, clientOrderId } as const;
    return this.place(change, origin, options, (send) => this.executor.replace(ref, changes, clientOrderId, send), { ref, changes });
  }

  cancel(ref: OrderRef, origin: OrderOrigin, options: RequestOptions = {}): Promise<CancelResult> {
    const change = { action: 'cancel', ref } as const;
    return this.journaled(change, origin, options, { ref }, async (sent) => {
      await sent();
      return this.execute(change, origin, undefined, () => this.executor.cancel(ref, PRIORITY.panic));
    });
  }

  cancelAll(origin: OrderOrigin, options: RequestOptions = {}): Promise<BulkResult[]> {
    const change = { action: 'cancelAll' } as const;
    return this.journaled(change, origin, options, {}, async (sent) => {
      await sent();
      return this.execute(change, origin, undefined, () => this.executor.cancelAll(PRIORITY.panic));
    });
  }

  closePosition(symbol: string, amount: { qty?: number; percentage?: number }, origin: OrderOrigin, options: RequestOptions = {}): Promise<PlacedOrder> {
    const change = { action: 'closePosition', symbol, ...amount } as const;
    return this.journaled(change, origin, options, { symbol }, async (sent) => {
      const request = await this.authorize(change, origin);
      await sent();
      return this.execute(change, origin, request, () => this.executor.closePosition(symbol, amount, PRIORITY.panic));
    });
  }

  closeAll(cancelOrders: boolean, origin: OrderOrigin, options: RequestOptions = {}): Promise<BulkResult[]> {
    const change = { action: 'closeAll', cancelOrders } as const;
    return this.journaled(change, origin, options, {}, async (sent) => {
      const request = await this.authorize(change, origin);
      await sent();
      return this.execute(change, origin, request, () => this.executor.closeAll(cancelOrders, PRIORITY.panic));
    });
  }

  /**
   * A circuit breaker's own trip action: passes in every state, first in the budget. Only the
   * breaker calls this, from its code; no msg can ask for it.
   */
  tripAction(action: 'cancelAll' | 'closeAll', origin: OrderOrigin): Promise<BulkResult[]> {
    const change: OrderChange = action === 'cancelAll' ? { action } : { action, cancelOrders: true };
    return this.journaled(change, origin, {}, {}, async (sent) => {
      await sent();
      return this.execute(change, origin, undefined, () =>
        action === 'cancelAll' ? this.executor.cancelAll(PRIORITY.panic) : this.executor.closeAll(true, PRIORITY.panic),
      );
    });
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

  /** Fresh state of one order (a read: no policy); the requests made are added to `attempts`. */
  fetch(ref: OrderRef, attempts?: Attempt[]): Promise<PlacedOrder> {
    return this.executor.fetch(ref, attempts);
  }

  /** The node holding `ticket` has reported its outcome (output or error): the journal entry is done. */
  reported(ticket: JournalTicket): void {
    if (ticket.id) this.journal.reported(ticket.id);
  }

  /**
   * The node holding `ticket` was closed (a redeploy) before it could report: the outcome goes to
   * the node with the same id once the flows run again (or to the account, if it is gone).
   */
  handOver(ticket: JournalTicket, outcome: { result?: Partial<PlacedOrder> & { attempts?: Attempt[] }; error?: Error }): void {
    const entry = ticket.id ? this.journal.get(ticket.id) : undefined;
    if (!entry || entry.reportedAt !== undefined) return;
    const { result, error } = outcome;
    const placing = entry.action === 'submit' || entry.action === 'replace';
    this.reports.deliver({
      entry,
      outcome: error ? (outcomeOf(error) === 'unknown' ? 'unknown' : placing ? 'not_placed' : 'not_canceled') : placing ? 'placed' : 'canceled',
      found: result?.order && result.raw ? { order: result.order, raw: result.raw } : undefined,
      detail: `${entry.summary}: ${error ? error.message : 'done'} while its node was being redeployed`,
      attempts: result?.attempts ?? (error as Partial<OrderFailure> | undefined)?.attempts ?? [],
      cause: 'redeploy',
    });
  }

  /**
   * Settles what the last run left unreported (once, retrying while the broker cannot be asked)
   * and hands each report to `reports`. Requests for those client order ids wait for it.
   */
  recover(): Promise<void> {
    const entries = this.journal.unfinished.splice(0);
    const unclean = this.journal.uncleanSince;
    if (!entries.length && unclean === undefined) return Promise.resolve();
    // After an unclean stop the listing also brings orders of ours the journal lost.
    const sweep = unclean === undefined ? undefined : { since: unclean, known: (id: string) => this.journal.get(id) !== undefined };
    const retryMs = this.options.recovery?.retryMs ?? 1000;
    const maxRetryMs = this.options.recovery?.maxRetryMs ?? 60_000;
    // A request the account before a redeploy still runs lands first.
    const still = entries.map((e) => placing.get(e.id)?.then(noop, noop));
    return Promise.all(still).then(() => new Promise<void>((resolve) => {
      const attempt = (n: number) => {
        if (this.closed) return resolve();
        const attempts: Attempt[] = [];
        reconcile(entries, this.executor, this.options.recovery, { sweep, attempts }).then(
          (reports) => {
            this.recoveryRequests += attempts.length;
            for (const r of reports) {
              if (!this.journal.get(r.entry.id)) this.journal.adopt(r.entry);
              this.journal.recovered(r.entry.id, journalOutcome(r.outcome), r.found?.order.id);
              this.reports.deliver(r);
            }
            this.journal.swept();
            this.finishRecovery();
            resolve();
          },
          (err: Error) => {
            this.recoveryRequests += attempts.length;
            const what = entries.length ? `${entries.length} request(s) from before the restart could not be looked up yet` : 'the orders an unclean stop may have lost could not be looked for yet';
            this.emit('recovery-problem', `${what} (${err.message}): trying again`);
            this.recoveryTimer = setTimeout(() => attempt(n + 1), Math.min(maxRetryMs, retryMs * 2 ** n));
          },
        );
      };
      attempt(0);
    }));
  }

  /** A report of `entry` was shown by a node or by the account: it is done. */
  settledReport(report: OrderReport): void {
    this.journal.reported(report.entry.id);
  }

  /** Stops recovery and the journal (the account closes). */
  close(): void {
    this.closed = true;
    clearTimeout(this.recoveryTimer);
    this.finishRecovery();
    this.reports.stop();
    this.journal.close();
  }

  /** The audit trail, oldest first. */
  recent(): AuditEntry[] {
    return [...this.audit];
  }

  // --- internals --------------------------------------------------------------------------------

  private finishRecovery(): void {
    this.recovering.clear();
    this.settleRecovery?.();
    this.settleRecovery = undefined;
  }

  /**
   * A submit or replace, exactly once per client order id: one already placed (the journal knows
   * it) is read back as a duplicate; one being placed now or settled after a restart is waited for.
   */
  private place(
    change: Extract<OrderChange, { action: 'submit' | 'replace' }>,
    origin: OrderOrigin,
    options: RequestOptions,
    send: (send: SendOptions) => Promise<PlacementResult>,
    fields: Partial<JournalEntry>,
  ): Promise<PlacementResult> {
    const id = change.clientOrderId;
    const earlier = placing.get(id) ?? this.recovering.get(id);
    if (earlier) return earlier.then(noop, noop).then(() => this.place(change, origin, options, send, fields));
    const known = this.journal.get(id);
    if (known && known.action === change.action && known.outcome && PLACED_OUTCOMES.has(known.outcome)) return this.duplicateOf(id, change, origin);
    // Every request for this order, the policy's read of a replaced order included.
    const attempts: Attempt[] = [];
    const run = this.journaled(change, origin, options, fields, async (sent) => {
      const request = await this.authorize(change, origin, false, attempts);
      return this.execute(change, origin, request, () => send({ maxWaitMs: options.maxWaitMs, beforeSend: sent, attempts }));
    }, id);
    placing.set(id, run);
    const forget = () => {
      if (placing.get(id) === run) placing.delete(id);
    };
    run.then(forget, forget);
    return run;
  }

  /**
   * Journals a request (synchronously, before anything else happens), runs it, and journals its
   * outcome. `work` calls `sent()` right before the request goes out to the broker.
   */
  private journaled<T>(change: OrderChange, origin: OrderOrigin, options: RequestOptions, fields: Partial<JournalEntry>, work: (sent: () => Promise<void>) => Promise<T>, id = `${change.action}-${randomUUID()}`): Promise<T> {
    try {
      this.journal.ask({ ...fields, id, action: change.action, at: this.journal.now(), nodeId: origin.nodeId, origin: origin.name, summary: summary(change), msg: options.msg });
    } catch (err) {
      if (!(err instanceof JournalUnavailable)) throw err;
      return Promise.reject(new OrderFailure(`${summary(change)} not sent: ${err.message}`, 'refused', 'not_placed', [], 'clientOrderId' in change ? change.clientOrderId : undefined));
    }
    if (options.ticket) options.ticket.id = id;
    const selfReported = !options.ticket;
    return work(() => this.journal.sent(id)).then(
      (result) => {
        const r = result as Partial<PlacementResult> & { order?: OrderDetails; canceledNow?: boolean };
        this.journal.answer(id, r.outcome === 'duplicate' ? 'duplicate' : change.action === 'submit' || change.action === 'replace' ? 'placed' : 'ok', r.order?.id, selfReported);
        return result;
      },
      (err: unknown) => {
        this.journal.answer(id, outcomeOf(err), undefined, selfReported);
        throw err;
      },
    );
  }

  /** The order this client order id placed earlier, read fresh: nothing is sent. */
  private async duplicateOf(clientOrderId: string, change: OrderChange, origin: OrderOrigin): Promise<PlacementResult> {
    const attempts: Attempt[] = [];
    const entry = this.record(change, origin, { verdict: 'passed', reason: 'already placed: not sent again' });
    try {
      const found = await this.executor.fetch({ clientOrderId }, attempts);
      entry.outcome = 'ok';
      return { outcome: 'duplicate', reconciled: false, clientOrderId, attempts, ...found };
    } catch (err) {
      const e = err as Partial<BrokerError>;
      entry.outcome = 'failed';
      entry.error = (err as Error).message;
      throw new OrderFailure(
        `client order id ${clientOrderId} was placed earlier (the order journal says so), but it could not be read now: ${(err as Error).message}. Nothing was sent`,
        e.kind ?? 'broker',
        'unknown',
        attempts,
        clientOrderId,
        e.status,
        e.code,
      );
    } finally {
      this.emit('audit', entry);
    }
  }

  /** Runs every policy on the change; throws OrderBlocked on the first refusal. Cancels pass untouched. */
  private async authorize(change: Exclude<OrderChange, { action: 'cancel' } | { action: 'cancelAll' }>, origin: OrderOrigin, dryRun = false, attempts?: Attempt[]): Promise<PolicyRequest | 'checked'> {
    if (this.slots.size === 0) return 'checked';
    const request: PolicyRequest = { change, origin, dryRun };
    try {
      for (const [name, slot] of this.slots) {
        const policy = slot.policy ?? (await this.waitFor(name, slot));
        if (!policy) continue; // the slot was given up while waiting: no policy expected any more
        if (change.action === 'replace' && !request.original) request.original = await this.original(change.ref, policy.label, attempts);
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

  private async original(ref: OrderRef, label: string, attempts?: Attempt[]): Promise<OrderDetails> {
    try {
      return (await this.executor.fetch(ref, attempts)).order;
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
