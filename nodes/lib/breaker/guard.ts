// One guard per account, shared by every breaker node on that account config node: one account,
// one halt. It watches the account through the shared connection (equity polled within the
// request budget, every REST call's outcome, the trade-updates feed), keeps the state machine
// ACTIVE -> REDUCING -> HALTED, persists it through a store the node provides, and decides each
// order. No Node-RED here: the node passes the store, the clock and the connection.
import { EventEmitter } from 'node:events';
import type {
  AccountSnapshot,
  BulkResult,
  ClockSnapshot,
  ConnectionStatus,
  ConnectionUser,
  OrderSnapshot,
  PositionSnapshot,
  TradeUpdate,
  TradeUpdatesFeed,
} from '../core/broker';
import {
  BREAKER_STATES,
  SEVERITY,
  checkDailyLoss,
  checkDrawdown,
  checkErrorRate,
  checkOrder,
  checkOrderRate,
  checkRejections,
  checkRollingLoss,
  checkStreamDown,
  inputsTrip,
  marketSessionKey,
  positionKey,
  utcDate,
  type BreakerSettings,
  type BreakerState,
  type EquitySample,
  type OrderCheckId,
  type OrderIntent,
  type RequestOutcome,
  type RuleId,
  type Session,
  type Trip,
  type TripFigures,
} from './rules';

/** What the guard needs from the shared connection (AlpacaConnection has all of it). */
export interface BreakerConnection {
  readonly status: ConnectionStatus;
  register(user: ConnectionUser): void;
  deregister(user: ConnectionUser): Promise<void>;
  account(): Promise<AccountSnapshot>;
  positions(): Promise<PositionSnapshot[]>;
  openOrders(): Promise<OrderSnapshot[]>;
  clock(): Promise<ClockSnapshot>;
  cancelAllOrders(): Promise<BulkResult[]>;
  closeAllPositions(cancelOrders: boolean): Promise<BulkResult[]>;
  /** 'request' ({ ok, status?, kind?, at }) after every REST call of every node. */
  readonly events: { on(event: 'request', listener: (e: RequestEvent) => void): unknown; off(event: 'request', listener: (e: RequestEvent) => void): unknown };
  readonly tradeUpdates: TradeUpdatesFeed;
}

export interface RequestEvent {
  ok: boolean;
  status?: number;
  kind?: string;
  at?: number;
}

/** Where the shared state lives between deploys and restarts (the node: Node-RED global context). */
export interface StateStore {
  load(): Promise<unknown>;
  save(record: BreakerRecord): Promise<void>;
}

export interface HistoryEntry {
  state: BreakerState;
  rule?: RuleId;
  reason: string;
  at: string;
  by?: string;
}

/** The persisted state of one account's breaker. */
export interface BreakerRecord {
  version: 1;
  state: BreakerState;
  rule?: RuleId;
  reason: string;
  short: string;
  /** ISO time of the last state change. */
  since: string;
  /** Name of the breaker node that caused the last change, when one did. */
  by?: string;
  figures: TripFigures;
  /** Order msgs blocked since the last state change. */
  blocked: number;
  session?: Session;
  /** The last state changes, newest last. */
  history: HistoryEntry[];
}

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

export type Decision =
  | { pass: true; state: BreakerState }
  | { pass: false; state: BreakerState; check: OrderCheckId | 'halted' | 'orderRate' | 'starting'; reason: string; trip?: Trip };

export interface GuardMember {
  id: string;
  name: string;
  settings: BreakerSettings;
}

export interface GuardOptions {
  accountId: string;
  accountName: string;
  connection: BreakerConnection;
  store: StateStore;
  /** The rules' clock (windows, sessions, alert times). The node passes Date.now (or the built-in simulator's clock). */
  now?: () => number;
  /** Real time, for polling and staleness (never scaled). */
  realNow?: () => number;
  /** Last trade price of a symbol, to value orders without a price of their own. */
  priceOf?: (symbol: string) => Promise<number | undefined>;
  /** Since when the order-updates stream is down (undefined: up). Default: `streamDownSince(connection)`. */
  streamDownSince?: () => number | undefined;
  /** false: no timers; tests call tick() and poll() themselves. */
  timers?: boolean;
  tickMs?: number;
}

const HISTORY = 20;
const LEDGER_MS = 30_000;
const PRICE_CACHE_MS = 5_000;

const iso = (t: number): string => new Date(t).toISOString();

function isRecord(v: unknown): v is BreakerRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return r.version === 1 && (BREAKER_STATES as readonly string[]).includes(r.state as string) && typeof r.since === 'string';
}

/** A failed request the API is to blame for (server, network, rate limit, keys), not a bad request. */
export function isApiFailure(e: RequestEvent): boolean {
  if (e.ok) return false;
  if (e.status === undefined) return true;
  if (e.status >= 500 || e.status === 429 || e.status === 401) return true;
  return e.kind === 'network' || e.kind === 'broker' || e.kind === 'rate_limit' || e.kind === 'auth';
}

/**
 * Since when the order-updates stream has been down, or undefined while it is up. The input of
 * the "stream disconnected" rule, kept in one place to wire to the stream's own connection
 * events once the trade-updates feed reports them: it reads the feed's `status` ({ state, since })
 * when the feed has one, else the connection's status.
 */
export function streamDownSince(connection: BreakerConnection): number | undefined {
  const feed = connection.tradeUpdates as unknown as { status?: { state?: string; since?: number } };
  const s = feed.status && typeof feed.status.state === 'string' ? feed.status : connection.status;
  if (!s || s.state === 'connected' || s.state === 'idle') return undefined;
  return typeof s.since === 'number' ? s.since : undefined;
}

interface LedgerEntry {
  key: string;
  side: 'buy' | 'sell';
  qty: number;
  at: number;
}

export class BreakerGuard extends EventEmitter {
  private readonly members = new Map<string, GuardMember>();
  private current: BreakerRecord;
  private readonly now: () => number;
  private readonly realNow: () => number;
  private readonly connection: BreakerConnection;
  private readonly user: ConnectionUser;
  private samples: EquitySample[] = [];
  private requests: RequestOutcome[] = [];
  private passed: number[] = [];
  private rejectionsInARow = 0;
  private fetchFailures = 0;
  private lastFetchError?: string;
  private equity?: number;
  private equityAtReal?: number;
  private freshSince: number;
  private exposure = false;
  private positionsCache = new Map<string, PositionSnapshot>();
  private positionsAtReal = 0;
  private ledger: LedgerEntry[] = [];
  private seenOrders = new Set<string>();
  private prices = new Map<string, { price: number; at: number }>();
  private clockCache?: { clock: ClockSnapshot; fetchedAt: number };
  private nextPollAt = 0;
  private polling?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private readonly onRequest: (e: RequestEvent) => void;
  private loaded = false;
  private loadedResolve!: () => void;
  private readonly loadedPromise: Promise<void>;
  private readyResolve!: () => void;
  private readonly readyPromise: Promise<void>;
  private equityResolve!: () => void;
  private readonly equityPromise: Promise<void>;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: GuardOptions) {
    super();
    this.now = options.now ?? Date.now;
    this.realNow = options.realNow ?? Date.now;
    this.connection = options.connection;
    this.freshSince = this.realNow();
    this.current = {
      version: 1,
      state: 'ACTIVE',
      reason: 'not tripped',
      short: '',
      since: iso(this.now()),
      figures: {},
      blocked: 0,
      history: [],
    };
    this.readyPromise = new Promise((resolve) => (this.readyResolve = resolve));
    this.loadedPromise = new Promise((resolve) => (this.loadedResolve = resolve));
    this.equityPromise = new Promise((resolve) => (this.equityResolve = resolve));
    this.user = { id: `alpaca-breaker:${options.accountId}`, onConnectionStatus: () => undefined };
    this.onRequest = (e) => this.noteRequest(e);
  }

  get accountId(): string {
    return this.options.accountId;
  }

  get record(): BreakerRecord {
    return this.current;
  }

  get state(): BreakerState {
    return this.current.state;
  }

  /** Live figures for the dialog and tests. */
  figures(): Record<string, unknown> {
    return {
      equity: this.equity,
      equityAt: this.equityAtReal ? iso(this.equityAtReal) : undefined,
      session: this.current.session,
      requestsInWindow: this.requests.length,
      failedRequests: this.requests.filter((r) => !r.ok).length,
      rejectionsInARow: this.rejectionsInARow,
      ordersLastMinute: this.passed.filter((t) => t > this.now() - 60_000).length,
      fetchFailures: this.fetchFailures,
      lastFetchError: this.lastFetchError,
    };
  }

  attach(member: GuardMember): void {
    this.members.set(member.id, member);
    // A faster member may need an earlier check.
    this.nextPollAt = Math.min(this.nextPollAt, this.realNow() + this.pollInterval());
  }

  detach(id: string): void {
    this.members.delete(id);
  }

  get memberCount(): number {
    return this.members.size;
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
    if (isRecord(stored)) {
      this.current = { ...stored, history: Array.isArray(stored.history) ? stored.history : [], figures: stored.figures ?? {}, blocked: stored.blocked ?? 0 };
    } else if (loadError !== undefined || (stored !== undefined && stored !== null)) {
      // Fail closed: an unreadable record may have been a halt.
      this.loaded = true;
      this.trip(inputsTrip(loadError ? `the stored breaker state could not be read (${loadError})` : 'the stored breaker state is unreadable'));
    }
    this.loaded = true;
    this.loadedResolve();
    if (this.current.state === 'HALTED') this.readyResolve();
    this.connection.register(this.user);
    this.connection.events.on('request', this.onRequest);
    this.unsubscribe = this.connection.tradeUpdates.subscribe((u) => this.noteTradeUpdate(u));
    if (this.options.timers !== false) {
      this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
      this.timer.unref?.();
    }
    await this.poll();
  }

  /** Resolves once the stored state is loaded (a reset or halt before that would be overwritten by it). */
  whenLoaded(): Promise<void> {
    return this.loadedPromise;
  }

  /** Resolves once the stored state is loaded and the first equity arrived (or the breaker halted), or after `ms`. */
  ready(ms = 15_000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    return Promise.race([this.readyPromise, new Promise<void>((r) => (t = setTimeout(r, ms)))]).finally(() => clearTimeout(t));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.connection.events.off('request', this.onRequest);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.removeAllListeners();
    this.readyResolve();
    this.loadedResolve();
    this.equityResolve();
    await this.connection.deregister(this.user);
  }

  // --- Inputs ---------------------------------------------------------------------------------

  private pollInterval(): number {
    const list = [...this.members.values()].map((m) => m.settings);
    if (list.length === 0) return 60_000;
    const s = Math.min(...list.map((x) => (this.exposure ? x.pollOpenSeconds : x.pollFlatSeconds)));
    return s * 1000;
  }

  private settingsList(): GuardMember[] {
    return [...this.members.values()];
  }

  /** One second's housekeeping: poll when due, fail closed on stale data, watch the stream. */
  tick(): void {
    if (this.closed || !this.loaded) return;
    const real = this.realNow();
    if (real >= this.nextPollAt && !this.polling) void this.poll();
    const members = this.settingsList();
    if (members.length === 0) return;
    const staleMs = Math.min(...members.map((m) => m.settings.staleSeconds)) * 1000;
    const lastFresh = Math.max(this.equityAtReal ?? 0, this.freshSince);
    if (real - lastFresh > staleMs) {
      const age = Math.round((real - lastFresh) / 1000);
      this.trip(
        inputsTrip(`no fresh account equity for ${age} s (limit ${staleMs / 1000} s)${this.lastFetchError ? `; last error: ${this.lastFetchError}` : ''}`, {
          equity: this.equity,
        }),
      );
    }
    const down = (this.options.streamDownSince ?? (() => streamDownSince(this.connection)))();
    this.evaluate((s) => checkStreamDown(s, down, this.now()));
    this.ledger = this.ledger.filter((e) => real - e.at < LEDGER_MS);
  }

  /** Fetches the account (and the positions while any are open) through the shared budget. */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = this.fetchFigures().finally(() => {
      this.polling = undefined;
      this.nextPollAt = this.realNow() + this.pollInterval();
    });
    return this.polling;
  }

  private async fetchFigures(): Promise<void> {
    if (this.closed) return;
    let account: AccountSnapshot;
    try {
      account = await this.connection.account();
    } catch (err) {
      if (this.closed) return;
      this.fetchFailures++;
      this.lastFetchError = (err as Error).message;
      const max = Math.min(...this.settingsList().map((m) => m.settings.maxFetchFailures), Infinity);
      if (Number.isFinite(max) && this.fetchFailures >= max) {
        this.trip(inputsTrip(`the last ${this.fetchFailures} account fetches failed (${this.lastFetchError})`, { equity: this.equity }));
      }
      return;
    }
    if (this.closed) return;
    this.fetchFailures = 0;
    this.lastFetchError = undefined;
    this.exposure = account.longMarketValue !== 0 || account.shortMarketValue !== 0;
    if (this.exposure) await this.refreshPositions().catch(() => undefined);
    else this.positionsCache.clear();
    await this.noteEquity(account.equity);
  }

  private async refreshPositions(): Promise<void> {
    const list = await this.connection.positions();
    this.positionsCache = new Map(list.map((p) => [positionKey(p.symbol), p]));
    this.positionsAtReal = this.realNow();
  }

  private async sessionKey(): Promise<string> {
    const now = this.now();
    const first = this.settingsList()[0];
    if (first?.settings.session === 'utc') return utcDate(now);
    const cached = this.clockCache;
    const boundary = cached ? Math.min(Date.parse(cached.clock.nextOpen) || Infinity, Date.parse(cached.clock.nextClose) || Infinity) : 0;
    if (!cached || now >= boundary || this.realNow() - cached.fetchedAt > 3_600_000) {
      try {
        this.clockCache = { clock: await this.connection.clock(), fetchedAt: this.realNow() };
      } catch {
        // Keep the session we have; the clock is asked again next time.
        if (this.current.session) return this.current.session.key;
        return utcDate(now);
      }
    }
    return marketSessionKey((this.clockCache as { clock: ClockSnapshot }).clock, now);
  }

  /** A fresh equity figure: rolls the session, then runs the loss rules. */
  async noteEquity(equity: number): Promise<void> {
    const now = this.now();
    const key = await this.sessionKey();
    if (this.closed) return;
    this.equity = equity;
    this.equityAtReal = this.realNow();
    this.samples.push({ at: now, equity });
    const longest = Math.max(30, ...this.settingsList().map((m) => m.settings.rollingLoss.minutes));
    const from = now - longest * 60_000;
    while (this.samples.length > 1 && this.samples[0].at < from) this.samples.shift();
    const session = this.current.session;
    if (!session || session.key !== key) {
      this.current = { ...this.current, session: { key, startEquity: equity, peakEquity: equity, startedAt: iso(now) } };
      this.persist();
    } else if (equity > session.peakEquity) {
      this.current = { ...this.current, session: { ...session, peakEquity: equity } };
      this.persist();
    }
    const s = this.current.session;
    this.evaluate((settings) => checkRollingLoss(settings, this.samples, now) ?? checkDailyLoss(settings, s, equity) ?? checkDrawdown(settings, s, equity));
    this.equityResolve();
    this.readyResolve();
  }

  private noteRequest(e: RequestEvent): void {
    const now = this.now();
    this.requests.push({ at: now, ok: !isApiFailure(e) });
    const longest = Math.max(5, ...this.settingsList().map((m) => m.settings.errorRate.minutes));
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
      const key = positionKey(o.symbol ?? '');
      const i = this.ledger.findIndex((e) => e.key === key && e.side === o.side && (o.qty === null || e.qty === o.qty));
      const j = i >= 0 ? i : this.ledger.findIndex((e) => e.key === key && e.side === o.side);
      if (j >= 0) this.ledger.splice(j, 1);
    }
    if (u.event === 'rejected') {
      this.rejectionsInARow++;
      this.evaluate((s) => checkRejections(s, this.rejectionsInARow));
    } else if (u.event === 'new' || u.event === 'fill' || u.event === 'partial_fill' || u.event === 'accepted') {
      this.rejectionsInARow = 0;
    }
    if ((u.event === 'fill' || u.event === 'partial_fill') && o?.symbol) {
      const key = positionKey(o.symbol);
      const known = this.positionsCache.get(key);
      if (u.positionQty !== undefined) {
        const qty = Math.abs(u.positionQty);
        if (qty === 0) this.positionsCache.delete(key);
        else this.positionsCache.set(key, { ...(known ?? emptyPosition(o.symbol, u.price ?? 0)), qty, side: u.positionQty < 0 ? 'short' : 'long' });
      }
      this.exposure = this.exposure || this.positionsCache.size > 0;
      // Equity moves with fills: look soon, within the budget.
      this.nextPollAt = Math.min(this.nextPollAt, this.realNow() + 1000);
    }
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
    const record = this.current;
    this.options.store.save(record).catch((err: Error) => this.emit('warning', `could not store the breaker state: ${err.message}`));
  }

  private change(next: BreakerRecord, previous: BreakerState, trip: Trip | undefined, origin: string | undefined): void {
    this.current = next;
    this.persist();
    this.emit('change', { previous, record: next, trip, origin } satisfies StateChange);
  }

  /** Moves to the trip's state if that is more restrictive than now; returns whether it did. */
  trip(trip: Trip, origin?: string): boolean {
    if (this.closed || SEVERITY[trip.target] <= SEVERITY[this.current.state]) return false;
    const previous = this.current.state;
    const at = iso(this.now());
    const by = origin ? this.members.get(origin)?.name : undefined;
    const next: BreakerRecord = {
      ...this.current,
      state: trip.target,
      rule: trip.rule,
      reason: trip.reason,
      short: trip.short,
      since: at,
      by,
      figures: trip.figures,
      blocked: 0,
      history: [...this.current.history, { state: trip.target, rule: trip.rule, reason: trip.reason, at, by }].slice(-HISTORY),
    };
    this.change(next, previous, trip, origin);
    if (trip.target === 'HALTED') this.readyResolve();
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
    const previous = this.current.state;
    const now = this.now();
    const at = iso(now);
    this.samples = this.equity !== undefined ? [{ at: now, equity: this.equity }] : [];
    this.requests = [];
    this.passed = [];
    this.rejectionsInARow = 0;
    this.fetchFailures = 0;
    this.freshSince = this.realNow();
    const session = this.current.session && this.equity !== undefined ? { ...this.current.session, startEquity: this.equity, peakEquity: this.equity } : this.current.session;
    const reason = `reset by ${by}`;
    const next: BreakerRecord = {
      ...this.current,
      state: 'ACTIVE',
      rule: undefined,
      reason,
      short: '',
      since: at,
      by,
      figures: { equity: this.equity },
      blocked: 0,
      session,
      history: [...this.current.history, { state: 'ACTIVE' as BreakerState, reason, at, by }].slice(-HISTORY),
    };
    this.change(next, previous, undefined, origin);
    void this.poll();
    return true;
  }

  /** Counts a blocked order msg (shown in every breaker's status). */
  noteBlocked(): void {
    this.current = { ...this.current, blocked: this.current.blocked + 1 };
    this.persist();
    this.emit('blocked', this.current);
  }

  private async runActions(trip: Trip, origin?: string): Promise<void> {
    const members = origin && this.members.has(origin) ? [this.members.get(origin) as GuardMember] : this.settingsList();
    const cancel = members.some((m) => m.settings.actions.cancelOrders);
    const flatten = members.some((m) => m.settings.actions.closePositions);
    if (!cancel && !flatten) return;
    const results: ActionResult[] = [];
    if (flatten) {
      // Closing every position with its open orders canceled first covers both actions.
      results.push(await this.action('closePositions', () => this.connection.closeAllPositions(true)));
    } else if (cancel) {
      results.push(await this.action('cancelOrders', () => this.connection.cancelAllOrders()));
    }
    if (this.closed) return;
    this.emit('actions', { state: trip.target, rule: trip.rule, results, at: iso(this.now()) } satisfies ActionsReport);
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

  // --- Orders ---------------------------------------------------------------------------------

  /** Decides one order msg for breaker `memberId`. Decisions run one at a time per account. */
  decide(memberId: string, order: OrderIntent): Promise<Decision> {
    const run = this.chain.then(() => this.decideNow(memberId, order));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async decideNow(memberId: string, order: OrderIntent): Promise<Decision> {
    await this.ready();
    const member = this.members.get(memberId);
    const state = this.current.state;
    if (this.closed || !member) return { pass: false, state, check: 'starting', reason: 'the breaker is closing' };
    const s = member.settings;
    if (state === 'HALTED') return { pass: false, state, check: 'halted', reason: `the breaker is HALTED (${this.current.reason}); a person must reset it` };
    if (this.equity === undefined) {
      // Loaded as HALTED and just reset: the first account figures may still be on their way.
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.equityPromise, new Promise<void>((r) => (t = setTimeout(r, 15_000)))]).finally(() => clearTimeout(t));
    }
    if (this.closed) return { pass: false, state, check: 'starting', reason: 'the breaker is closing' };
    if (this.current.state !== state) return this.decideNow(memberId, order);
    if (this.equity === undefined) {
      return {
        pass: false,
        state,
        check: 'starting',
        reason: `no account figures yet${this.lastFetchError ? ` (${this.lastFetchError})` : ''}: the breaker does not let orders through blind`,
      };
    }
    const rate = checkOrderRate(s, this.passed, this.now());
    if (rate) {
      this.trip(rate, memberId);
      return { pass: false, state: this.current.state, check: 'orderRate', reason: rate.reason, trip: rate };
    }

    const key = positionKey(order.symbol);
    let positionQty: number;
    let pendingReduceQty = 0;
    let marketPrice: number | undefined;
    try {
      if (state === 'REDUCING') {
        // Exits must be right: ask the broker now rather than trust the cache.
        const [positions, open] = await Promise.all([this.connection.positions(), this.connection.openOrders()]);
        this.positionsCache = new Map(positions.map((p) => [positionKey(p.symbol), p]));
        this.positionsAtReal = this.realNow();
        pendingReduceQty = open
          .filter((o) => positionKey(o.symbol) === key && o.side === order.side)
          .reduce((sum, o) => sum + Math.max(0, (o.qty ?? 0) - o.filledQty), 0);
      } else if ((s.concentration.enabled || s.maxNotional.enabled) && this.exposure && this.realNow() - this.positionsAtReal > s.pollOpenSeconds * 2000) {
        await this.refreshPositions();
      }
    } catch (err) {
      return { pass: false, state, check: 'reducingOnly', reason: `the positions could not be read (${(err as Error).message}), so the order cannot be checked` };
    }
    const position = this.positionsCache.get(key);
    positionQty = position ? (position.side === 'short' ? -Math.abs(position.qty) : Math.abs(position.qty)) : 0;
    pendingReduceQty += this.ledger.filter((e) => e.key === key && e.side === order.side).reduce((sum, e) => sum + e.qty, 0);
    const needsPrice = (s.concentration.enabled || s.maxNotional.enabled || order.notional !== undefined) && order.limitPrice === undefined && order.stopPrice === undefined;
    if (needsPrice) marketPrice = position?.currentPrice || (await this.price(order.symbol));

    const verdict = checkOrder(s, order, { state, equity: this.equity, positionQty, pendingReduceQty, marketPrice });
    if (!verdict.pass) return { pass: false, state, check: verdict.check, reason: verdict.reason };
    // Passed: counts toward the order rate, and is on its way until the broker reports it.
    this.passed.push(this.now());
    this.passed = this.passed.filter((t) => t > this.now() - 60_000);
    const qty = order.qty ?? (marketPrice ? (order.notional as number) / marketPrice : 0);
    this.ledger.push({ key, side: order.side, qty, at: this.realNow() });
    return { pass: true, state };
  }

  private async price(symbol: string): Promise<number | undefined> {
    const cached = this.prices.get(symbol);
    if (cached && this.realNow() - cached.at < PRICE_CACHE_MS) return cached.price;
    if (!this.options.priceOf) return undefined;
    try {
      const price = await this.options.priceOf(symbol);
      if (price !== undefined) this.prices.set(symbol, { price, at: this.realNow() });
      return price;
    } catch {
      return undefined;
    }
  }
}

function emptyPosition(symbol: string, price: number): PositionSnapshot {
  return {
    symbol,
    assetClass: symbol.includes('/') ? 'crypto' : 'us_equity',
    side: 'long',
    qty: 0,
    qtyAvailable: 0,
    avgEntryPrice: price,
    currentPrice: price,
    marketValue: 0,
    costBasis: 0,
    unrealizedPl: 0,
    unrealizedPlpc: 0,
    unrealizedIntradayPl: 0,
    changeToday: 0,
  };
}

// --- One guard per account ---------------------------------------------------------------------

const guards = new Map<string, { guard: BreakerGuard; refs: number }>();

/** The account's guard, created (and started) by the first breaker; later breakers share it. */
export function acquireGuard(accountId: string, create: () => BreakerGuard): BreakerGuard {
  let entry = guards.get(accountId);
  if (!entry) {
    const guard = create();
    entry = { guard, refs: 0 };
    guards.set(accountId, entry);
    void guard.start();
  }
  entry.refs++;
  return entry.guard;
}

/** Gives back a share; the last one closes the guard (a redeploy starts a new one from the store). */
export function releaseGuard(guard: BreakerGuard): Promise<void> {
  const entry = guards.get(guard.accountId);
  if (!entry || entry.guard !== guard) return Promise.resolve();
  entry.refs--;
  if (entry.refs > 0) return Promise.resolve();
  guards.delete(guard.accountId);
  return guard.close();
}
