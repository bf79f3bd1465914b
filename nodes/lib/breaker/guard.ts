// One guard per account, shared by every breaker node on that account config node: one account,
// one halt. It is the order policy of the account's gateway (so its state binds every order of
// the account, whatever the wiring), watches the account (equity marked to market from the live
// stream and reconciled by the poll, every REST call's outcome, the trade-updates feed), keeps the
// state machine ACTIVE -> REDUCING -> HALTED and persists it through a store the node provides.
// No Node-RED here.
import { EventEmitter } from 'node:events';
import type { BrokerConnection, ConnectionUser, RequestEvent } from '../core/broker';
import type { BulkResult, TradeUpdate } from '../core/snapshots';
import type { OrderPolicy, PolicyRequest, PolicyVerdict } from '../orders/gateway';
import { bucketFor, EquitySeries } from './equity-series';
import { EquityWatch } from './equity-watch';
import { Ledger } from './ledger';
import { OrderFactsSource, type OrderFacts } from './order-facts';
import { checkOrder, intentOf, remainingQty, type OrderIntent } from './order-rules';
import type { EquitySource } from './portfolio';
import { initialRecord, resetTo, restoreRecord, STORED_SAMPLES, tripped, type BreakerRecord, type StateStore } from './record';
import {
  checkDailyLoss,
  checkDrawdown,
  checkErrorRate,
  checkOrderRate,
  checkRejections,
  checkRollingLoss,
  checkStreamDown,
  inputsTrip,
  utcDate,
  withCause,
  type RequestOutcome,
  type Trip,
} from './rules';
import { SEVERITY, type BreakerSettings, type BreakerState, type RuleId } from './settings';

/** What the guard uses of the account's connection. */
export type GuardConnection = Pick<BrokerConnection, 'status' | 'register' | 'deregister' | 'reads' | 'orders' | 'tradeUpdates' | 'onRequest' | 'marketFeed' | 'lastTrade'>;

export interface StateChange {
  previous: BreakerState;
  record: BreakerRecord;
  trip?: Trip;
  /** Id of the breaker node whose rule tripped, reset or halted it; undefined for the guard's own fail-closed trip. */
  origin?: string;
}

export interface ActionResult {
  action: 'cancelOrders' | 'closePositions';
  ok: boolean;
  /** Orders canceled or positions closed. */
  count: number;
  failed: number;
  error?: string;
}

export interface ActionsReport {
  state: BreakerState;
  rule?: RuleId;
  results: ActionResult[];
  at: string;
}

export interface GuardMember {
  id: string;
  name: string;
  settings: BreakerSettings;
}

export interface GuardOptions {
  accountName: string;
  connection: GuardConnection;
  store: StateStore;
  /** The rules' clock (windows, sessions, alert times): the connection's now(), the simulator's time in sim mode. */
  now?: () => number;
  /** Real time, for polling and staleness (never scaled). */
  realNow?: () => number;
  /** Since when the order-updates stream is down (undefined: up). Default: the trade-updates feed's status. */
  streamDownSince?: () => number | undefined;
  /** false: no timers; tests call tick() and poll() themselves. */
  timers?: boolean;
  tickMs?: number;
}

/** Why a verdict blocks: the state, or a per-order rule. */
type Block = { pass: false; check: string; reason: string; state: BreakerState; trip?: Trip };

const iso = (t: number): string => new Date(t).toISOString();

/** A failed request the API is to blame for (server, network, rate limit, keys), not a bad request. */
export function isApiFailure(e: RequestEvent): boolean {
  if (e.ok) return false;
  if (e.status === undefined) return true;
  if (e.status >= 500 || e.status === 429 || e.status === 401) return true;
  return e.kind === 'network' || e.kind === 'broker' || e.kind === 'rate_limit' || e.kind === 'auth';
}

/** An order refused by the broker's REST answer (403 or 422): a rejection like a 'rejected' update. */
const isRefusal = (status: number | undefined): boolean => status === 403 || status === 422;

export class BreakerGuard extends EventEmitter implements OrderPolicy {
  readonly label: string;
  private readonly members = new Map<string, GuardMember>();
  private current: BreakerRecord;
  private readonly now: () => number;
  private readonly realNow: () => number;
  private readonly connection: GuardConnection;
  private readonly user: ConnectionUser;
  private readonly watch: EquityWatch;
  private readonly ledger = new Ledger();
  private readonly facts: OrderFactsSource;
  private series = new EquitySeries();
  private requests: RequestOutcome[] = [];
  private passed: number[] = [];
  private rejectionsInARow = 0;
  private freshSince: number;
  private seenOrders = new Set<string>();
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private offRequest?: () => void;
  private loaded = false;
  private loadedResolve!: () => void;
  private readonly loadedPromise: Promise<void>;
  /** The stored state is loaded and the first equity arrived (or it is HALTED): decisions need not wait. */
  private isReady = false;
  private readyResolve!: () => void;
  private readonly readyPromise: Promise<void>;
  private equityResolve!: () => void;
  private readonly equityPromise: Promise<void>;
  /** Decisions that had to wait, in order; a decision that needs no wait runs at once only when none is queued. */
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private saveTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: GuardOptions) {
    super();
    this.label = `circuit breaker of "${options.accountName}"`;
    this.now = options.now ?? Date.now;
    this.realNow = options.realNow ?? Date.now;
    this.connection = options.connection;
    this.freshSince = this.realNow();
    this.current = initialRecord(iso(this.now()));
    this.readyPromise = new Promise((resolve) => (this.readyResolve = resolve));
    this.loadedPromise = new Promise((resolve) => (this.loadedResolve = resolve));
    this.equityPromise = new Promise((resolve) => (this.equityResolve = resolve));
    this.user = { id: `alpaca-breaker:${options.accountName}`, onConnectionStatus: () => undefined };
    this.watch = new EquityWatch({
      id: this.user.id,
      connection: options.connection,
      now: this.now,
      realNow: this.realNow,
      settings: () => this.settingsList().map((m) => m.settings),
      onEquity: (equity, key, from) => this.noteEquity(equity, key, from),
      onFetchFailure: (failures, message) => {
        const max = this.smallest((s) => s.maxFetchFailures);
        if (Number.isFinite(max) && failures >= max) this.trip(inputsTrip(`the last ${failures} account fetches failed (${message})`, { equity: this.watch.equity }));
      },
      onMarking: (text) => this.emit('marking', text),
    });
    this.facts = new OrderFactsSource({ watch: this.watch, ledger: this.ledger, reads: options.connection.reads, settings: () => this.settingsList().map((m) => m.settings) });
  }

  get record(): BreakerRecord {
    return this.current;
  }

  get state(): BreakerState {
    return this.current.state;
  }

  /** The account's equity as the breaker knows it now: marked to market, else the last poll's. */
  get equity(): number | undefined {
    return this.watch.equity;
  }

  /** Live figures for the dialog, tests and the account's health. */
  figures(): Record<string, unknown> {
    return {
      ...this.watch.figures(),
      session: this.current.session,
      samples: this.series.samples.length,
      requestsInWindow: this.requests.length,
      failedRequests: this.requests.filter((r) => !r.ok).length,
      rejectionsInARow: this.rejectionsInARow,
      ordersLastMinute: this.passed.filter((t) => t > this.now() - 60_000).length,
    };
  }

  /** How the equity is kept current, in a few words for the status ("marked to market at 14:03:05"). */
  get markingStatus(): string {
    return this.watch.markingText;
  }

  attach(member: GuardMember): void {
    this.members.set(member.id, member);
    // A faster member may need an earlier check.
    this.watch.soon(member.settings.pollOpenSeconds * 1000);
  }

  detach(id: string): void {
    this.members.delete(id);
  }

  /** Loads the stored state, then starts watching the account. */
  async start(): Promise<void> {
    let stored: unknown;
    let loadError: string | undefined;
    try {
      stored = await this.options.store.load();
    } catch (err) {
      loadError = (err as Error).message;
    }
    if (this.closed) return;
    const record = restoreRecord(stored);
    this.loaded = true;
    if (record) {
      this.current = record;
      this.series = new EquitySeries(record.samples);
    } else if (loadError !== undefined || (stored !== undefined && stored !== null)) {
      // Fail closed: an unreadable record may have been a halt.
      this.trip(inputsTrip(loadError ? `the stored breaker state could not be read (${loadError})` : 'the stored breaker state is unreadable'));
    }
    this.loadedResolve();
    if (this.current.state === 'HALTED') this.becomeReady();
    this.connection.register(this.user);
    this.offRequest = this.connection.onRequest((e) => this.noteRequest(e));
    this.unsubscribe = this.connection.tradeUpdates.subscribe((u) => this.noteTradeUpdate(u));
    if (this.options.timers !== false) {
      this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
      this.timer.unref?.();
    }
    await this.watch.poll();
  }

  /** Resolves once the stored state is loaded (a reset or halt before that would be overwritten by it). */
  whenLoaded(): Promise<void> {
    return this.loadedPromise;
  }

  /** Resolves once the stored state is loaded and the first equity arrived (or the breaker halted), or after `ms`. */
  ready(ms = 15_000): Promise<void> {
    if (this.isReady) return Promise.resolve();
    let t: NodeJS.Timeout | undefined;
    return Promise.race([this.readyPromise, new Promise<void>((r) => (t = setTimeout(r, ms)))]).finally(() => clearTimeout(t));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.persist();
    }
    this.watch.close();
    this.offRequest?.();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.removeAllListeners();
    this.becomeReady();
    this.loadedResolve();
    this.equityResolve();
    await this.connection.deregister(this.user);
  }

  /** Fetches the account now (tests, and after a reset). */
  poll(): Promise<void> {
    return this.watch.poll();
  }

  // --- Inputs ---------------------------------------------------------------------------------

  private becomeReady(): void {
    this.isReady = true;
    this.readyResolve();
  }

  private settingsList(): GuardMember[] {
    return [...this.members.values()];
  }

  private smallest(pick: (s: BreakerSettings) => number): number {
    let min = Infinity;
    for (const m of this.members.values()) min = Math.min(min, pick(m.settings));
    return min;
  }

  private largest(pick: (s: BreakerSettings) => number): number {
    let max = -Infinity;
    for (const m of this.members.values()) max = Math.max(max, pick(m.settings));
    return max;
  }

  /** One second's housekeeping: poll when due, fail closed on stale data, watch the streams. */
  tick(): void {
    if (this.closed || !this.loaded) return;
    this.watch.tick();
    if (this.members.size === 0) return;
    const real = this.realNow();
    const staleMs = this.smallest((s) => s.staleSeconds) * 1000;
    const lastFresh = Math.max(this.watch.polled.at ?? 0, this.freshSince);
    if (real - lastFresh > staleMs) {
      const age = Math.round((real - lastFresh) / 1000);
      const error = this.watch.lastFetchError;
      this.trip(inputsTrip(`no fresh account equity for ${age} s (limit ${staleMs / 1000} s)${error ? `; last error: ${error}` : ''}`, { equity: this.equity }));
    }
    const down = (this.options.streamDownSince ?? (() => this.streamDownSince()))();
    this.evaluate((s) => checkStreamDown(s, down, this.now()));
    this.ledger.expire(real);
  }

  /** Since when the order-updates stream has been down, or undefined while it is up. */
  private streamDownSince(): number | undefined {
    const s = this.connection.tradeUpdates.status;
    if (s.state === 'connected' || s.state === 'idle') return undefined;
    return s.since;
  }

  /** A fresh equity figure (a price on the stream or the poll): rolls the session, then runs the loss rules on it. */
  private noteEquity(equity: number, sessionKey: string | undefined, from: EquitySource): void {
    if (this.closed) return;
    const now = this.now();
    // Without the broker's clock the session stays as it is (a UTC day until there is one).
    const key = sessionKey ?? (this.current.session ? undefined : utcDate(now));
    const longest = Math.max(30, this.largest((s) => s.rollingLoss.minutes)) * 60_000;
    this.series.add(now, equity, bucketFor(longest));
    this.series.trim(now - longest);
    const session = this.current.session;
    if (key !== undefined && (!session || session.key !== key)) {
      this.current = { ...this.current, session: { key, startEquity: equity, peakEquity: equity, startedAt: iso(now) } };
    } else if (session && equity > session.peakEquity) {
      this.current = { ...this.current, session: { ...session, peakEquity: equity } };
    }
    this.persistSoon();
    const s = this.current.session;
    const samples = this.series.samples;
    this.evaluate((settings) => {
      const trip = checkRollingLoss(settings, samples, equity, now) ?? checkDailyLoss(settings, s, equity) ?? checkDrawdown(settings, s, equity);
      return trip && withCause(trip, from);
    });
    if (from.source === 'poll') {
      this.equityResolve();
      this.becomeReady();
    }
  }

  private noteRequest(e: RequestEvent): void {
    const now = this.now();
    this.requests.push({ at: now, ok: !isApiFailure(e) });
    const longest = Math.max(5, this.largest((s) => s.errorRate.minutes));
    const from = now - longest * 60_000;
    while (this.requests.length && this.requests[0].at < from) this.requests.shift();
    this.evaluate((s) => checkErrorRate(s, this.requests, now));
  }

  private noteTradeUpdate(u: TradeUpdate): void {
    const o = u.order;
    if (o?.id && !this.seenOrders.has(o.id)) {
      // The order is now known to the broker: its passage no longer needs the ledger.
      this.seenOrders.add(o.id);
      if (this.seenOrders.size > 2000) this.seenOrders = new Set([...this.seenOrders].slice(-1000));
      this.ledger.settle(o);
    }
    if (u.event === 'rejected') this.noteRejection();
    else if (u.event === 'new' || u.event === 'fill' || u.event === 'partial_fill' || u.event === 'accepted') this.rejectionsInARow = 0;
    this.watch.noteUpdate(u);
  }

  private noteRejection(): void {
    this.rejectionsInARow++;
    this.evaluate((s) => checkRejections(s, this.rejectionsInARow));
  }

  /** Runs `check` for every member's settings; trips on the most severe result. */
  private evaluate(check: (s: BreakerSettings) => Trip | undefined): Trip | undefined {
    if (!this.loaded || this.closed) return undefined;
    let worst: { trip: Trip; origin: string } | undefined;
    for (const m of this.members.values()) {
      const trip = check(m.settings);
      if (trip && (!worst || SEVERITY[trip.target] > SEVERITY[worst.trip.target])) worst = { trip, origin: m.id };
    }
    if (worst) this.trip(worst.trip, worst.origin);
    return worst?.trip;
  }

  // --- State ----------------------------------------------------------------------------------

  private persist(): void {
    const record: BreakerRecord = { ...this.current, samples: this.series.newest(STORED_SAMPLES) };
    this.options.store.save(record).catch((err: Error) => this.emit('warning', `could not store the breaker state: ${err.message}`));
  }

  /** Stores the figures within a few seconds (equity samples arrive often; state changes are stored at once). */
  private persistSoon(): void {
    if (this.saveTimer || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.persist();
    }, 5_000);
    this.saveTimer.unref?.();
  }

  private change(next: BreakerRecord, previous: BreakerState, trip: Trip | undefined, origin: string | undefined): void {
    this.current = next;
    this.persist();
    this.emit('change', { previous, record: next, trip, origin } satisfies StateChange);
  }

  /** Moves to the trip's state if that is more restrictive than now; returns whether it did. */
  trip(trip: Trip, origin?: string): boolean {
    if (this.closed) return false;
    const next = tripped(this.current, trip, iso(this.now()), origin ? this.members.get(origin)?.name : undefined);
    if (!next) return false;
    this.change(next, this.current.state, trip, origin);
    if (trip.target === 'HALTED') this.becomeReady();
    void this.runActions(trip, origin);
    return true;
  }

  /** A person's halt (msg.halt or the dialog's button). */
  halt(reason: string, origin?: string): boolean {
    return this.trip({ rule: 'manual', target: 'HALTED', reason: `halted by hand: ${reason}`, short: 'halted by hand', figures: { equity: this.equity } }, origin);
  }

  /**
   * A person's reset: back to ACTIVE, every rule measuring afresh from now (the rolling window,
   * the session's start and peak, the error and order counts). Returns false when already ACTIVE.
   */
  reset(by: string, origin?: string): boolean {
    if (this.closed || this.current.state === 'ACTIVE') return false;
    const next = resetTo(this.current, iso(this.now()), by, this.equity);
    this.series.replace(next.samples ?? []);
    this.requests = [];
    this.passed = [];
    this.rejectionsInARow = 0;
    this.watch.forgetFailures();
    this.freshSince = this.realNow();
    this.change(next, this.current.state, undefined, origin);
    void this.watch.poll();
    return true;
  }

  /** Counts a blocked order (shown in every breaker's status). */
  private noteBlocked(): void {
    this.current = { ...this.current, blocked: this.current.blocked + 1 };
    this.persistSoon();
    this.emit('blocked', this.current);
  }

  private async runActions(trip: Trip, origin?: string): Promise<void> {
    const members = origin && this.members.has(origin) ? [this.members.get(origin) as GuardMember] : this.settingsList();
    const cancel = members.some((m) => m.settings.actions.cancelOrders);
    const flatten = members.some((m) => m.settings.actions.closePositions);
    if (!cancel && !flatten) return;
    const by = { name: `${this.label} (${trip.target}: ${trip.short})` };
    // Closing every position with its open orders canceled first covers both actions.
    const result = flatten
      ? await this.action('closePositions', () => this.connection.orders.tripAction('closeAll', by))
      : await this.action('cancelOrders', () => this.connection.orders.tripAction('cancelAll', by));
    if (this.closed) return;
    this.emit('actions', { state: trip.target, rule: trip.rule, results: [result], at: iso(this.now()) } satisfies ActionsReport);
  }

  private async action(name: ActionResult['action'], run: () => Promise<BulkResult[]>): Promise<ActionResult> {
    try {
      const list = await run();
      const failed = list.filter((r) => !r.ok);
      return { action: name, ok: failed.length === 0, count: list.length - failed.length, failed: failed.length, error: failed[0]?.error };
    } catch (err) {
      return { action: name, ok: false, count: 0, failed: 0, error: (err as Error).message };
    }
  }

  // --- The account's order policy ---------------------------------------------------------------

  /**
   * Decides one order-changing request of the account (the gateway asks). A decision that needs
   * no REST call and no wait is made at once; the others run one at a time, in order, and a
   * decision made at once never overtakes them.
   */
  decide(request: PolicyRequest): Promise<PolicyVerdict> {
    if (this.queued === 0) {
      const verdict = this.decideNow(request);
      if (verdict) return Promise.resolve(this.counted(verdict));
    }
    this.queued++;
    const run = this.chain.then(() => this.decideLater(request)).finally(() => this.queued--);
    this.chain = run.catch(() => undefined);
    return run.then((verdict) => this.counted(verdict));
  }

  /** A request that passed was answered by the broker: refusals count as rejections; refused orders leave the ledger. */
  settled(request: PolicyRequest, outcome: { ok: true } | { ok: false; status?: number }): void {
    if (outcome.ok) return;
    const change = request.change;
    if (change.action !== 'submit' && change.action !== 'replace') return;
    if (isRefusal(outcome.status)) this.noteRejection();
    const intent = intentOf(request);
    if (intent && change.action === 'submit') this.ledger.settle({ symbol: intent.symbol, side: intent.side, qty: intent.qty ?? null, clientOrderId: change.clientOrderId });
  }

  private counted(verdict: PolicyVerdict | Block): PolicyVerdict {
    if (!verdict.pass) this.noteBlocked();
    return verdict;
  }

  /** What the state alone decides (closing, HALTED, closing positions), or undefined when the order must be checked. */
  private byState(request: PolicyRequest): PolicyVerdict | Block | undefined {
    const state = this.current.state;
    if (this.closed || this.members.size === 0) return { pass: false, state, check: 'starting', reason: 'the breaker is closing' };
    if (state === 'HALTED') return { pass: false, state, check: 'halted', reason: `HALTED (${this.current.reason}); only cancels pass until a person resets it` };
    // Closing positions reduces risk: it passes in ACTIVE and REDUCING.
    const action = request.change.action;
    if (action === 'closePosition' || action === 'closeAll') return { pass: true };
    return undefined;
  }

  /** The decision when everything it needs is at hand, or undefined when it must wait or read. */
  private decideNow(request: PolicyRequest): PolicyVerdict | Block | undefined {
    if (!this.isReady) return undefined;
    const early = this.byState(request);
    if (early) return early;
    const intent = intentOf(request);
    if (!intent) return this.judge(request);
    const facts = this.facts.atHand(intent, this.current.state);
    return facts && this.judge(request, { intent, facts });
  }

  /** The decision after waiting for the first figures and reading what the order needs. */
  private async decideLater(request: PolicyRequest): Promise<PolicyVerdict | Block> {
    await this.ready();
    const early = this.byState(request);
    if (early) return early;
    if (this.equity === undefined) {
      // Loaded as HALTED and just reset: the first account figures may still be on their way.
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.equityPromise, new Promise<void>((r) => (t = setTimeout(r, 15_000)))]).finally(() => clearTimeout(t));
    }
    const intent = intentOf(request);
    if (!intent) return this.judge(request);
    let facts: OrderFacts;
    try {
      facts = await this.facts.read(intent, this.current.state, request.original);
    } catch (err) {
      return { pass: false, state: this.current.state, check: 'reducingOnly', reason: `the positions could not be read (${(err as Error).message}), so the order cannot be checked` };
    }
    // The state moved while reading: gather again for the state it is in now.
    if (facts.state !== this.current.state && !this.byState(request)) return this.decideLater(request);
    return this.judge(request, { intent, facts });
  }

  /** The verdict on an order (undefined: one that could not be read) and its facts, in the state as it is at this instant. */
  private judge(request: PolicyRequest, order?: { intent: OrderIntent; facts: OrderFacts }): PolicyVerdict | Block {
    const early = this.byState(request);
    if (early) return early;
    const state = this.current.state;
    const equity = this.equity;
    if (equity === undefined) {
      const error = this.watch.lastFetchError;
      return { pass: false, state, check: 'starting', reason: `no account figures yet${error ? ` (${error})` : ''}: the breaker does not let orders through blind` };
    }
    for (const m of this.members.values()) {
      const rate = checkOrderRate(m.settings, this.passed, this.now());
      if (rate) {
        this.trip(rate, m.id);
        return { pass: false, state: this.current.state, check: 'orderRate', reason: rate.reason, trip: rate };
      }
    }
    if (!order) return { pass: false, state, check: 'unreadable', reason: 'the order could not be read' };
    const { intent, facts } = order;
    const replacesQty = request.original ? remainingQty(request.original) : undefined;
    for (const m of this.members.values()) {
      const verdict = checkOrder(m.settings, intent, { state, equity, positionQty: facts.positionQty, pendingReduceQty: facts.pendingReduceQty, marketPrice: facts.marketPrice, replacesQty });
      if (!verdict.pass) return { ...verdict, state };
    }
    if (!request.dryRun) {
      // Passed: counts toward the order rate, and is on its way until the broker reports it.
      const now = this.now();
      this.passed.push(now);
      while (this.passed.length && this.passed[0] <= now - 60_000) this.passed.shift();
      const change = request.change;
      const qty = intent.qty ?? 0;
      const clientOrderId = change.action === 'submit' || change.action === 'replace' ? change.clientOrderId : undefined;
      if (qty > 0) this.ledger.add(intent.symbol, intent.side, qty, this.realNow(), clientOrderId);
    }
    return { pass: true };
  }
}
