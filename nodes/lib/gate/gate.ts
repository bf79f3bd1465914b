// The rate gate's logic, without Node-RED: a bounded priority queue per gate whose messages are
// released one ticket at a time by a request budget (one "lane" per budget: the account's, or one
// per category in standalone mode), with expiry and a policy for a full queue. A message that
// finds its lane empty and a token free leaves at once, in the same tick. Every message leaves
// exactly once: released with its ticket, or dropped with a reason.
import { EarliestTimer } from '../core/earliest-timer';
import { gatePriority, type Priority } from '../core/priority';
import { own, show } from '../core/values';
import type { BudgetFeedback, BudgetShape, RequestBudget, Ticket, TicketRequest } from '../budget/types';

export const FULL_POLICIES = ['reject-newest', 'drop-oldest', 'drop-lowest'] as const;
export type FullPolicy = (typeof FULL_POLICIES)[number];

export type DropReason = 'queue-full' | 'expired' | 'unavailable';

export interface GateOptions {
  /** Messages allowed to wait (all lanes together). */
  queueSize: number;
  fullPolicy: FullPolicy;
  /** A message waiting longer than this is expired, not sent late; 0 = wait as long as it takes. */
  maxWaitMs: number;
  /** After a budget failure, wait this long before asking again (default 1000 ms). */
  retryMs?: number;
}

export interface GateItem<M> {
  msg: M;
  /** The msg's priority, 0 (last) to 9 (first). */
  level: number;
  priority: Priority;
  lane: string;
  arrivedAt: number;
  seq: number;
}

export interface GateHandlers<M> {
  /** The msg may go: `ticket` is its token (carry it into the request, or spend it). */
  release(item: GateItem<M>, waitedMs: number, ticket: Ticket): void;
  drop(item: GateItem<M>, reason: DropReason, detail: string): void;
  /** The queue changed (for a status display). */
  change?(): void;
}

export type LaneBudget = Pick<RequestBudget, 'tryTicket' | 'requestTicket' | 'state'>;

interface Lane {
  name: string;
  budget: LaneBudget;
  /** Best first: priority high to low, then arrival. */
  items: GateItem<unknown>[];
  /** The ticket asked for the best waiting msg, and at which priority. */
  request?: TicketRequest;
  asked?: Priority;
  retryTimer?: NodeJS.Timeout;
}

export class RateGate<M> {
  private readonly lanes = new Map<string, Lane>();
  private seq = 0;
  private count = 0;
  private readonly expiry = new EarliestTimer(() => {
    this.expire();
    this.armExpiry();
  }, false);
  private closed = false;

  constructor(
    private readonly options: GateOptions,
    budgets: Map<string, LaneBudget>,
    private readonly handlers: GateHandlers<M>,
  ) {
    for (const [name, budget] of budgets) this.lanes.set(name, { name, budget, items: [] });
  }

  get depth(): number {
    return this.count;
  }

  hasLane(lane: string): boolean {
    return this.lanes.has(lane);
  }

  /** Releases a message at once when it can, else queues it (or drops one, by the full-queue policy). The lane must exist. */
  push(msg: M, level: number, laneName: string, now = Date.now()): void {
    const lane = this.lanes.get(laneName);
    if (!lane) throw new Error(`unknown category "${laneName}"`);
    if (this.closed) throw new Error('the gate is closed');
    const item: GateItem<M> = { msg, level, priority: gatePriority(level), lane: laneName, arrivedAt: now, seq: this.seq++ };
    // The fast path: nothing waits in this lane and the budget has a token now.
    if (lane.items.length === 0 && !lane.request && !lane.retryTimer) {
      const ticket = lane.budget.tryTicket(item.priority);
      if (ticket) {
        this.handlers.release(item, 0, ticket);
        this.handlers.change?.();
        return;
      }
    }
    if (this.count >= this.options.queueSize) {
      const victim = this.victim(item);
      const detail = `queue full (${this.options.queueSize} waiting, policy ${this.options.fullPolicy})`;
      if (victim === item) {
        this.handlers.drop(item, 'queue-full', detail);
        this.handlers.change?.();
        return;
      }
      this.remove(victim);
      this.handlers.drop(victim, 'queue-full', detail);
    }
    this.insert(lane, item);
    this.armExpiry();
    this.pump(lane);
    this.handlers.change?.();
  }

  /** Stops releasing; returns what was still waiting (the caller settles it). */
  close(): GateItem<M>[] {
    this.closed = true;
    this.expiry.clear();
    const left: GateItem<M>[] = [];
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.retryTimer);
      this.withdraw(lane);
      left.push(...(lane.items as GateItem<M>[]));
      lane.items = [];
    }
    this.count = 0;
    return left.sort((a, b) => a.seq - b.seq);
  }

  // --- Internals ------------------------------------------------------------

  /** Which message a full queue gives up: the newcomer or one already waiting. */
  private victim(item: GateItem<M>): GateItem<M> {
    const all = [...this.lanes.values()].flatMap((l) => l.items as GateItem<M>[]);
    if (this.options.fullPolicy === 'reject-newest' || all.length === 0) return item;
    if (this.options.fullPolicy === 'drop-oldest') return all.reduce((a, b) => (b.seq < a.seq ? b : a));
    // drop-lowest: the least important waiting msg (the newest of equals), unless the newcomer is no more important.
    const lowest = all.reduce((a, b) => (b.priority < a.priority || (b.priority === a.priority && b.seq > a.seq) ? b : a));
    return lowest.priority < item.priority ? lowest : item;
  }

  private insert(lane: Lane, item: GateItem<M>): void {
    const items = lane.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid].priority >= item.priority) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, item);
    this.count++;
  }

  private remove(item: GateItem<M>): void {
    const lane = this.lanes.get(item.lane);
    if (!lane) return;
    const i = lane.items.indexOf(item);
    if (i >= 0) {
      lane.items.splice(i, 1);
      this.count--;
      if (!lane.items.length) this.withdraw(lane);
    }
  }

  /** Nothing waits in the lane any more: its ticket request is withdrawn. */
  private withdraw(lane: Lane): void {
    const request = lane.request;
    lane.request = lane.asked = undefined;
    request?.cancel();
  }

  /** Releases the lane's best msgs while tickets come at once; else asks for one ticket, for the best. */
  private pump(lane: Lane): void {
    while (!this.closed && lane.items.length && !lane.retryTimer) {
      const best = lane.items[0] as GateItem<M>;
      if (lane.request) {
        // A more important msg arrived since the ticket was asked for: it moves the request up.
        if (lane.asked !== undefined && best.priority > lane.asked) {
          lane.asked = best.priority;
          lane.request.raise(best.priority);
        }
        return;
      }
      const ticket = lane.budget.tryTicket(best.priority);
      if (!ticket) {
        this.ask(lane, best.priority);
        return;
      }
      lane.items.shift();
      this.count--;
      this.handlers.release(best, Date.now() - best.arrivedAt, ticket);
      this.handlers.change?.();
    }
  }

  private ask(lane: Lane, priority: Priority): void {
    const request = lane.budget.requestTicket(priority);
    lane.request = request;
    lane.asked = priority;
    request.promise.then(
      (ticket) => {
        if (lane.request !== request || this.closed) {
          ticket.refund();
          return;
        }
        lane.request = lane.asked = undefined;
        this.expire();
        const item = lane.items.shift() as GateItem<M> | undefined;
        if (!item) {
          ticket.refund();
          return;
        }
        this.count--;
        this.handlers.release(item, Date.now() - item.arrivedAt, ticket);
        this.handlers.change?.();
        this.pump(lane);
      },
      (err: Error) => {
        if (lane.request !== request || this.closed) return;
        lane.request = lane.asked = undefined;
        // The budget cannot grant (stopped, overfull): the best msg is reported, not held forever.
        const item = lane.items.shift() as GateItem<M> | undefined;
        if (item) {
          this.count--;
          this.handlers.drop(item, 'unavailable', err.message);
          this.handlers.change?.();
        }
        lane.retryTimer = setTimeout(() => {
          lane.retryTimer = undefined;
          this.pump(lane);
        }, this.options.retryMs ?? 1000);
        lane.retryTimer.unref();
      },
    );
  }

  /** Drops every msg that waited longer than maxWait. */
  private expire(now = Date.now()): void {
    const maxWait = this.options.maxWaitMs;
    if (!(maxWait > 0)) return;
    const expired: GateItem<M>[] = [];
    for (const lane of this.lanes.values()) {
      const keep: GateItem<unknown>[] = [];
      for (const item of lane.items) (now - item.arrivedAt >= maxWait ? expired : keep).push(item as GateItem<M>);
      if (keep.length !== lane.items.length) {
        lane.items = keep;
        if (!keep.length) this.withdraw(lane);
      }
    }
    if (!expired.length) return;
    this.count -= expired.length;
    for (const item of expired.sort((a, b) => a.seq - b.seq)) {
      this.handlers.drop(item, 'expired', `waited ${Math.round((now - item.arrivedAt) / 100) / 10} s, longer than the ${maxWait / 1000} s allowed`);
    }
    this.handlers.change?.();
  }

  /** One timer, at the earliest deadline. */
  private armExpiry(): void {
    const maxWait = this.options.maxWaitMs;
    if (!(maxWait > 0) || this.closed) return;
    let oldest = Infinity;
    for (const lane of this.lanes.values()) for (const item of lane.items) oldest = Math.min(oldest, item.arrivedAt);
    if (oldest !== Infinity) this.expiry.arm(oldest + maxWait);
  }
}

// --- msg properties ----------------------------------------------------------

const NAMED_LEVELS: ReadonlyMap<string, number> = new Map([
  ['lowest', 0],
  ['low', 2],
  ['normal', 5],
  ['high', 8],
  ['highest', 9],
]);

/** msg.priority: 0 (last) to 9 (first), or lowest / low / normal / high / highest; undefined = the default. */
export function parsePriority(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const named = typeof value === 'string' ? NAMED_LEVELS.get(value.trim().toLowerCase()) : undefined;
  if (named !== undefined) return named;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 9) {
    throw new Error(`msg.priority must be a whole number from 0 (last) to 9 (first), or "low", "normal" or "high" (got ${show(value)})`);
  }
  return n;
}

function header(headers: Record<string, unknown>, names: string[]): number | string | undefined {
  for (const key of Object.keys(headers)) {
    const value = own(headers, key);
    if (!names.includes(key.toLowerCase())) continue;
    const v = Array.isArray(value) ? value[0] : value;
    if (typeof v === 'number' || typeof v === 'string') return v;
  }
  return undefined;
}

function num(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(String(v).trim().split(/[,;\s]/)[0]);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads a response's status and rate-limit headers (X-RateLimit-*, RateLimit-*, Retry-After),
 * as any API sends them. A reset may be epoch seconds, epoch ms or seconds from now.
 */
export function parseFeedback(status: unknown, headers: unknown, now = Date.now()): BudgetFeedback {
  const s = Number(status);
  if (!Number.isInteger(s) || s < 100 || s > 599) throw new Error(`feedback needs an HTTP status from 100 to 599 (got ${show(status)})`);
  const h = headers && typeof headers === 'object' ? (headers as Record<string, unknown>) : {};
  const limit = num(header(h, ['x-ratelimit-limit', 'ratelimit-limit', 'x-rate-limit-limit']));
  const remaining = num(header(h, ['x-ratelimit-remaining', 'ratelimit-remaining', 'x-rate-limit-remaining']));
  const reset = num(header(h, ['x-ratelimit-reset', 'ratelimit-reset', 'x-rate-limit-reset']));
  const retryRaw = header(h, ['retry-after']);
  let retryAfterMs: number | undefined;
  if (retryRaw !== undefined) {
    const secs = num(retryRaw);
    if (secs !== undefined) retryAfterMs = Math.max(0, secs * 1000);
    else {
      const when = Date.parse(String(retryRaw));
      if (Number.isFinite(when)) retryAfterMs = Math.max(0, when - now);
    }
  }
  let resetAt: number | undefined;
  if (reset !== undefined) resetAt = reset > 1e12 ? reset : reset > 1e9 ? reset * 1000 : now + reset * 1000;
  return { status: s, limit, remaining, resetAt, retryAfterMs };
}

// --- standalone categories -----------------------------------------------------

export interface CategorySpec {
  name: string;
  /** Requests per window. */
  limit: number;
  /** Window in seconds. */
  window: number;
  shape: BudgetShape;
}

/** Published limits, as presets: the dialog copies them into its table, where they can be edited. */
export const PRESETS: Record<string, { label: string; categories: CategorySpec[] }> = {
  alpaca: {
    label: 'Alpaca trading API (200 a minute; 180 used, sliding window)',
    categories: [{ name: 'rest', limit: 180, window: 60, shape: 'window' }],
  },
  tradestation: {
    label: 'TradeStation (per resource category, 5-minute quotas)',
    categories: [
      { name: 'accounts', limit: 250, window: 300, shape: 'window' },
      { name: 'orders', limit: 250, window: 300, shape: 'window' },
      { name: 'balances', limit: 250, window: 300, shape: 'window' },
      { name: 'positions', limit: 250, window: 300, shape: 'window' },
      { name: 'quote-change-stream', limit: 500, window: 300, shape: 'window' },
      { name: 'barchart-stream', limit: 500, window: 300, shape: 'window' },
      { name: 'tickbar-stream', limit: 500, window: 300, shape: 'window' },
      { name: 'options', limit: 90, window: 60, shape: 'window' },
      { name: 'quote-snapshot', limit: 30, window: 60, shape: 'window' },
      { name: 'market-depth', limit: 30, window: 60, shape: 'window' },
    ],
  },
  ibkr: {
    label: 'Interactive Brokers pacing (50 messages a second)',
    categories: [
      { name: 'messages', limit: 50, window: 1, shape: 'window' },
      { name: 'historical', limit: 60, window: 600, shape: 'window' },
    ],
  },
};

const CATEGORY_NAME = /^[A-Za-z0-9_.:-]{1,40}$/;

/** Checks a category table; returns the problems (empty when fine). */
export function categoryProblems(categories: unknown): string[] {
  if (!Array.isArray(categories) || categories.length === 0) return ['at least one category is needed'];
  const problems: string[] = [];
  const seen = new Set<string>();
  categories.forEach((c: Partial<CategorySpec>, i) => {
    const where = `category ${i + 1}${c && typeof c.name === 'string' ? ` "${c.name}"` : ''}`;
    if (!c || typeof c.name !== 'string' || !CATEGORY_NAME.test(c.name)) problems.push(`${where}: the name must be 1 to 40 letters, digits, - _ . or :`);
    else if (seen.has(c.name)) problems.push(`${where}: the name is used twice`);
    else seen.add(c.name);
    if (!Number.isInteger(c?.limit) || (c.limit as number) < 1 || (c.limit as number) > 1_000_000) problems.push(`${where}: requests must be a whole number from 1 to 1000000`);
    if (typeof c?.window !== 'number' || !(c.window >= 0.01 && c.window <= 86_400)) problems.push(`${where}: the window must be from 0.01 to 86400 seconds`);
    if (c?.shape !== 'bucket' && c?.shape !== 'window') problems.push(`${where}: the shape must be "bucket" or "window"`);
  });
  return problems;
}
