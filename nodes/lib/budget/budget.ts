// The request budget: ONE per account and API (or per category of a standalone gate), shared by
// every request. It grants tokens by priority from its shape (sliding window by default), keeps
// the last few for panic actions, hands out per-msg tickets, pauses on a 429 and, when shared,
// counts in Redis with a conservative local share while Redis is away. When a token is free and
// nothing as important waits, a call or ticket is granted on the spot, without a timer hop.
import { EventEmitter } from 'node:events';
import { EarliestTimer } from '../core/earliest-timer';
import { BrokerError } from '../core/errors';
import { PRIORITY, isPanic, type Priority } from '../core/priority';
import { Pause, excessTokens, pauseEnd } from './pause';
import { WaitQueue, type Waiter } from './scheduler';
import { DEFAULT_BUDGET, budgetProblem, windowMargin, type BudgetOptions } from './settings';
import { SharedStore } from './shared-store';
import { InstanceShare } from './share';
import { SlidingWindow, TokenBucket, type Shape } from './shapes';
import { TicketBook, carriedTicket } from './tickets';
import type { BudgetEvents, BudgetFeedback, BudgetShape, BudgetState, RequestBudget, ScheduleOptions, Ticket, TicketRequest } from './types';

export { DEFAULT_BUDGET, budgetProblem, sharedBudgetKey, defaultPanicReserve, type BudgetOptions } from './settings';

function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; statusCode?: unknown } | undefined;
  const s = e?.status ?? e?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Shared: longest time a waiting instance goes without asking Redis again. */
const REASK_MS = 1000;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export class RequestBudgetImpl extends EventEmitter implements RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly shape: BudgetShape;
  readonly name: string;
  readonly reserve: number;
  /** Requests per window while the shared store is unreachable. */
  readonly share: number;
  private readonly spanMs: number;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private readonly maxWaitMs: number;
  /** The tokens, when not shared. */
  private readonly tokens: Shape;
  /** Shared: this instance's view (its grants, the others', its local share). */
  private readonly mine?: InstanceShare;
  private store?: SharedStore;
  private readonly queue = new WaitQueue((waiters, now) => this.expired(waiters, now));
  private readonly pause = new Pause();
  private readonly tickets: TicketBook;
  /** Calls under way, and those of them that count against maxConcurrent. */
  private inFlight = 0;
  private running = 0;
  private pumping = false;
  private acquiring = false;
  /** Shared: the head could not be granted before `until` at `priority` (no need to ask Redis again). */
  private blocked?: { priority: Priority; until: number };
  /**
   * Shared window: the names of grants asked for whose answer never came (a command timed out).
   * Redis may still have made them; nothing was sent on them, so they go back once Redis is back.
   */
  private readonly unanswered = new Set<string>();
  /** Wakes the queue at the next token or deadline; keeps the process alive while something waits for a token. */
  private readonly wake = new EarliestTimer(() => this.pump());
  private resumeTimer?: NodeJS.Timeout;
  private stateTimer?: NodeJS.Timeout;
  private stopping = false;
  private counters = { rateLimited: 0, dropped: 0, lowered: 0 };

  constructor(private readonly options: BudgetOptions = {}) {
    super();
    const problem = budgetProblem(options);
    if (problem) throw new Error(problem);
    this.limit = options.limit ?? DEFAULT_BUDGET.limit;
    this.windowMs = options.windowMs ?? DEFAULT_BUDGET.windowMs;
    this.shape = options.shape ?? 'window';
    this.name = options.name ?? 'request budget';
    this.reserve = options.panicReserve ?? 0;
    this.spanMs = this.windowMs + windowMargin(this.windowMs);
    this.maxConcurrent = options.maxConcurrent ?? 10;
    this.maxQueued = options.maxQueued ?? 1000;
    this.maxWaitMs = options.maxWaitMs ?? 300_000;
    const redis = options.redis;
    this.share = redis ? (redis.share ?? Math.max(1, Math.floor(this.limit / (redis.instances ?? 2)))) : this.limit;
    if (redis) this.mine = new InstanceShare(this.limit, this.share, this.reserve, this.spanMs);
    this.tickets = new TicketBook(this, options.ticketTtlMs ?? 2000, (t) => this.giveBack(t.at, t.member));
    this.tokens = this.shape === 'window' ? new SlidingWindow(this.limit, this.spanMs) : new TokenBucket(this.limit, this.windowMs, Date.now());
    // Shared: reach Redis now, so its state shows at once and a new epoch's grace is over before the first order.
    this.openStore();
  }

  get state(): BudgetState {
    const now = Date.now();
    const store = this.store;
    const shared = !!this.mine;
    const tokens = this.mine ? this.mine.left(now, !!store?.ready) : this.tokens.left(now);
    const paused = this.pause.active(now);
    return {
      name: this.name,
      limit: this.limit,
      windowMs: this.windowMs,
      shape: this.shape,
      reserve: this.reserve,
      store: shared ? 'redis' : 'local',
      storeOk: !shared || !!store?.ready,
      storeProblem: shared && !store?.ready ? (store?.problem ?? (store ? 'Redis: connecting' : undefined)) : undefined,
      share: shared ? this.share : undefined,
      tokens,
      queued: this.queue.size,
      running: this.inFlight,
      pausedUntil: paused ? this.pause.until : undefined,
      pauseReason: paused ? this.pause.reason : undefined,
      ...this.counters,
    };
  }

  /** The state as of now (kept for callers that await it). */
  async refresh(): Promise<BudgetState> {
    return this.state;
  }

  // --- RequestBudget --------------------------------------------------------

  async schedule<T>(call: () => Promise<T>, options: ScheduleOptions = {}): Promise<T> {
    let priority = options.priority ?? PRIORITY.read;
    const maxWaitMs = options.maxWaitMs ?? this.maxWaitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.runOnce(call, priority, maxWaitMs, attempt === 0);
      } catch (err) {
        // A 429 means the broker did not do it: wait out the pause and try again, ahead of new work.
        if (statusOf(err) === 429 && attempt < (this.options.max429Retries ?? 3) && !this.stopping) {
          if (!this.pause.active(Date.now())) {
            const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
            this.observe({ status: 429, retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined });
          }
          if (priority < PRIORITY.reconcile) priority = PRIORITY.reconcile;
          continue;
        }
        throw err;
      }
    }
  }

  tryTicket(priority: Priority): Ticket | undefined {
    const now = Date.now();
    if (!this.mayGrantNow(now) || this.queue.hasAtLeast(priority)) return undefined;
    const taken = this.takeNow(now, priority);
    if (typeof taken === 'number') return undefined;
    this.changed();
    return this.tickets.issue(now, taken || undefined);
  }

  requestTicket(priority: Priority): TicketRequest {
    let waiter: Waiter | undefined;
    let withdrawn = false;
    const promise = new Promise<Ticket>((resolve, reject) => {
      waiter = this.enqueue('ticket', priority, Infinity, (at, member) => {
        const ticket = this.tickets.issue(at, member);
        if (withdrawn) ticket.refund();
        else resolve(ticket);
      }, reject);
    });
    return {
      promise,
      raise: (p: Priority) => {
        if (waiter) this.queue.raise(waiter, p);
        this.pump();
      },
      cancel: () => {
        withdrawn = true;
        if (waiter && this.queue.remove(waiter)) waiter.refuse(new BrokerError(`${this.name}: ticket withdrawn`, 'refused'));
        this.changed();
      },
    };
  }

  observe(feedback: BudgetFeedback): void {
    const now = Date.now();
    if (feedback.status === 429) {
      this.counters.rateLimited++;
      const until = pauseEnd(feedback, now, { defaultPauseMs: this.options.defaultPauseMs ?? 1000, maxPauseMs: this.options.maxPauseMs ?? 300_000 });
      this.pauseUntil(until, 'the broker answered 429 (rate limit)', 429, true);
      return;
    }
    const remaining = feedback.remaining;
    if (this.pause.active(now) || remaining === undefined || !Number.isFinite(remaining)) return;
    // Calls still under way may not be counted by the broker yet: assume they are not.
    const othersInFlight = this.inFlight - 1;
    const store = this.store;
    if (this.mine && store?.ready) {
      // Only Redis knows every instance's grants: compare there (not when even this instance's own leave more).
      if (excessTokens(this.limit - this.mine.count(now), remaining, othersInFlight) <= 0) return;
      store.lower(Math.max(0, Math.floor(remaining) - Math.max(0, othersInFlight))).then(
        ({ counted, left }) => {
          if (counted > 0) this.lowered(left, left - counted, remaining);
        },
        (err: Error) => this.storeFailed(err),
      );
      return;
    }
    const left = this.state.tokens;
    const excess = excessTokens(left, remaining, othersInFlight);
    if (excess <= 0) return;
    if (this.mine) this.mine.absorb(now, excess);
    else this.tokens.absorb(now, excess, now);
    this.lowered(left, left - excess, remaining);
  }

  private lowered(from: number, to: number, remaining: number): void {
    this.counters.lowered++;
    this.emit('lowered', { from, to, remaining });
    this.changed();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of [this.resumeTimer, this.stateTimer]) clearTimeout(t);
    this.resumeTimer = this.stateTimer = undefined;
    this.wake.clear();
    for (const w of this.queue.drain()) w.refuse(new BrokerError(`${this.name} stopped: the request was not sent`, 'refused'));
    this.tickets.refundAll();
    this.store?.close();
    this.store = undefined;
    this.acquiring = false;
    this.blocked = undefined;
    this.stopping = false;
  }

  // --- Granting ---------------------------------------------------------------

  private async runOnce<T>(call: () => Promise<T>, priority: Priority, maxWaitMs: number, firstAttempt: boolean): Promise<T> {
    const now = Date.now();
    // The msg this request is made for holds a token of this budget already.
    const ticket = firstAttempt ? carriedTicket() : undefined;
    if (ticket && !this.pause.active(now) && ticket.claim(this, now)) return this.track(call, false);
    if (this.mayGrantNow(now) && !this.queue.hasAtLeast(priority) && this.concurrencyAllows(priority) && typeof this.takeNow(now, priority) === 'string') {
      this.changed();
      return this.track(call, true);
    }
    return new Promise<T>((resolve, reject) => {
      this.enqueue('call', priority, maxWaitMs > 0 ? maxWaitMs : Infinity, () => this.track(call, true).then(resolve, reject), reject);
    });
  }

  /** Whether a grant may be decided here and now (not paused, not waiting for Redis). */
  private mayGrantNow(now: number): boolean {
    this.openStore();
    return !this.pause.active(now) && (!this.store || this.store.condition === 'down');
  }

  private concurrencyAllows(priority: Priority): boolean {
    return isPanic(priority) || this.maxConcurrent <= 0 || this.running < this.maxConcurrent;
  }

  /**
   * Takes a token now from the local shape, or from this instance's share while Redis is away,
   * and returns its name in the shared log ('' when not shared); otherwise says when to try again.
   */
  private takeNow(now: number, priority: Priority): string | number {
    if (this.mine) return this.mine.take(now, isPanic(priority));
    const keep = isPanic(priority) ? 0 : this.reserve;
    return this.tokens.take(now, keep) ? '' : this.tokens.freeAt(now, keep);
  }

  /** Queues a waiter that may wait `maxWaitMs` from now (Infinity: as long as it takes). */
  private enqueue(kind: Waiter['kind'], priority: Priority, maxWaitMs: number, grant: (at: number, member?: string) => void, refuse: (err: Error) => void): Waiter {
    const enqueuedAt = Date.now();
    const w: Waiter = { kind, priority, deadline: enqueuedAt + maxWaitMs, seq: this.queue.nextSeq(), enqueuedAt, grant, refuse };
    this.queue.insert(w);
    if (this.queue.size > this.maxQueued) {
      const victim = this.queue.last() as Waiter;
      this.queue.remove(victim);
      const reason = `more than ${this.maxQueued} calls waiting`;
      this.counters.dropped++;
      victim.refuse(new BrokerError(`${this.name}: ${reason}; the least important was dropped unsent`, 'rate_limit'));
      this.emit('dropped', { reason, priority: victim.priority });
    }
    this.pump();
    return w;
  }

  /** Grants the best waiters while tokens allow; arms a timer for when the next could go. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const head = this.queue.peek();
        if (!head) break;
        const now = Date.now();
        if (this.pause.active(now)) {
          this.wake.arm(this.pause.until);
          break;
        }
        // A call finishing pumps again.
        if (head.kind === 'call' && !this.concurrencyAllows(head.priority)) break;
        this.openStore();
        if (this.store && this.store.condition !== 'down') {
          if (this.store.ready) this.acquireShared(head, now);
          break;
        }
        const taken = this.takeNow(now, head.priority);
        if (typeof taken === 'number') {
          this.wake.arm(taken);
          break;
        }
        this.queue.shift();
        head.grant(now, taken || undefined);
      }
    } finally {
      this.pumping = false;
    }
    this.changed();
  }

  /** Asks Redis for the head's token (one question at a time). */
  private acquireShared(head: Waiter, now: number): void {
    const store = this.store as SharedStore;
    if (this.acquiring) return;
    if (this.blocked && now < this.blocked.until && head.priority <= this.blocked.priority) {
      this.wake.arm(this.blocked.until);
      return;
    }
    this.acquiring = true;
    const mine = this.mine as InstanceShare;
    const member = mine.name();
    store.acquire(isPanic(head.priority) ? 0 : this.reserve, mine.count(now), member).then(
      (r) => {
        if (this.store !== store) return;
        this.acquiring = false;
        const at = Date.now();
        if (r.ok) {
          this.blocked = undefined;
          mine.granted(at, member, r.count);
          const w = this.queue.shift();
          if (w) w.grant(at, member);
          else this.giveBack(at, member);
        } else {
          if (r.pausedMs > 0) this.pauseUntil(at + r.pausedMs, `${r.pauseReason || 'paused'} (another instance)`, 429, false);
          // Ask again within a second at the latest: another instance may give a token back before its time.
          const until = at + Math.min(r.waitMs, REASK_MS);
          this.blocked = { priority: head.priority, until };
          this.wake.arm(until);
        }
        this.pump();
      },
      (err: Error) => {
        if (this.store !== store) return;
        this.acquiring = false;
        if (this.shape === 'window') this.unanswered.add(member);
        this.storeFailed(err);
      },
    );
  }

  /** Runs a granted call, counting it while under way. */
  private track<T>(call: () => Promise<T>, counted: boolean): Promise<T> {
    this.inFlight++;
    if (counted) this.running++;
    let result: Promise<T>;
    try {
      result = call();
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.finally(() => {
      this.inFlight--;
      if (counted) this.running--;
      if (this.queue.size) this.pump();
      else this.changed();
    });
  }

  // --- Tickets ----------------------------------------------------------------

  /** A token whose request was never sent goes back. */
  private giveBack(at: number, member?: string): void {
    if (!this.mine) this.tokens.refund(at);
    else {
      this.mine.refund(at, member ?? '');
      if (member && this.store?.ready) this.store.release(member).catch((err: Error) => this.storeFailed(err));
    }
    this.blocked = undefined;
    this.pump();
  }

  // --- Pauses, deadlines, the shared store ---------------------------------------

  /** Pauses the whole budget until `until`; `broadcast` tells every instance sharing it. */
  private pauseUntil(until: number, reason: string, status: number | undefined, broadcast: boolean): void {
    const now = Date.now();
    if (!this.pause.extend(until, reason)) return;
    // The broker is full now: after the pause, tokens come back at the steady rate, not all at once.
    if (!this.mine) this.tokens.saturate(now, until);
    else if (this.store?.ready) {
      if (broadcast) this.store.saturate(until - now, reason).catch((err: Error) => this.storeFailed(err));
    } else this.mine.saturate(now, until);
    this.blocked = undefined;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.emit('resumed', { at: Date.now() });
      this.pump();
    }, Math.max(0, until - now));
    this.resumeTimer.unref();
    this.wake.arm(until);
    this.emit('paused', { until, reason, status });
    this.changed();
  }

  /** Refuses the waiters whose max wait is over, saying why they waited. */
  private expired(waiters: Waiter[], now: number): void {
    const why = this.waitReason(now);
    for (const w of waiters) {
      this.counters.dropped++;
      w.refuse(new BrokerError(`${this.name}: waited ${seconds(now - w.enqueuedAt)} for a token, longer than the ${seconds(w.deadline - w.enqueuedAt)} allowed (${why}); the request was not sent`, 'rate_limit'));
      this.emit('dropped', { reason: `waited longer than allowed (${why})`, priority: w.priority });
    }
    this.changed();
  }

  /** Why calls wait now, in a few words. */
  private waitReason(now: number): string {
    if (this.pause.active(now)) return `paused until ${new Date(this.pause.until).toISOString()}: ${this.pause.reason}`;
    if (this.store && !this.store.ready) return `${this.store.problem ?? 'Redis: connecting'}; running on a local share of ${this.share} per ${seconds(this.windowMs)}`;
    return `${this.limit} requests per ${seconds(this.windowMs)} in use`;
  }

  /** Creates the shared store on first use (again after stop). */
  private openStore(): void {
    const redis = this.options.redis;
    if (!redis || this.store || this.stopping) return;
    const mine = this.mine as InstanceShare;
    const store = new SharedStore({
      url: redis.url,
      key: redis.key,
      shape: this.shape,
      limit: this.limit,
      windowMs: this.windowMs,
      spanMs: this.spanMs,
      ownGrants: () => mine.recent(Date.now()),
    });
    store.on('up', () => {
      this.blocked = undefined;
      this.releaseUnanswered(store);
      this.emit('store', { ok: true });
      this.pump();
    });
    store.on('down', ({ problem }: { problem: string }) => {
      this.acquiring = false;
      this.emit('store', { ok: false, problem, share: this.share });
      this.pump();
    });
    store.on('problem', (p: { message: string }) => this.emit('problem', p));
    this.store = store;
    store.open();
  }

  /** Takes back from Redis the grants it may have made for questions whose answer never came. */
  private releaseUnanswered(store: SharedStore): void {
    for (const member of this.unanswered) {
      store.release(member).then(
        () => this.unanswered.delete(member),
        (err: Error) => this.storeFailed(err),
      );
    }
  }

  private storeFailed(err: Error): void {
    this.store?.failed(err);
    this.pump();
  }

  /** Tells listeners the state changed (coalesced: at most every 100 ms). */
  private changed(): void {
    if (this.stateTimer || this.listenerCount('state') === 0) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      this.emit('state', this.state);
    }, 100);
    this.stateTimer.unref();
  }

  override on<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this {
    return super.on(event, listener);
  }

  override off<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this {
    return super.off(event, listener);
  }
}
