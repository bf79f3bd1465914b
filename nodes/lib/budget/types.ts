// What a request budget is to its users: schedule a call, take a ticket for a msg, feed back what
// the broker said, watch its state. Two per account (trading API, market data), one per category
// of a standalone rate gate.
import type { Priority } from '../core/priority';

/** What a response said about the limit: its status and the X-RateLimit-* / Retry-After headers. */
export interface BudgetFeedback {
  status: number;
  limit?: number;
  remaining?: number;
  resetAt?: number;
  retryAfterMs?: number;
}

export interface ScheduleOptions {
  /** Default PRIORITY.read. */
  priority?: Priority;
  /** Longest wait for a token before the call is refused unsent (default: the budget's maxWaitMs). */
  maxWaitMs?: number;
}

/**
 * One token taken for one msg. `carry` runs the msg on its way: the first request it leads to
 * through the same budget spends the ticket instead of taking another token. A ticket neither
 * carried into a request nor spent within its lifetime goes back to the budget.
 */
export interface Ticket {
  carry<T>(work: () => T): T;
  /** The token is used by something outside the budget (a standalone gate's msg). */
  spend(): void;
  /** Nothing was sent: the token goes back. */
  refund(): void;
}

/** A ticket still waiting for a token. */
export interface TicketRequest {
  readonly promise: Promise<Ticket>;
  /** Moves the request up the queue (a more important msg now waits behind it). */
  raise(priority: Priority): void;
  /** Withdraws the request (nothing waits for it any more); a ticket granted meanwhile goes back. */
  cancel(): void;
}

export interface RequestBudget {
  /** Runs `call` when the budget grants it a token; higher priority first. */
  schedule<T>(call: () => Promise<T>, options?: ScheduleOptions): Promise<T>;
  /** A ticket at once, without a timer hop, when a token is free and nothing as important waits. */
  tryTicket(priority: Priority): Ticket | undefined;
  /** A ticket when the budget grants one. */
  requestTicket(priority: Priority): TicketRequest;
  observe(feedback: BudgetFeedback): void;
  /** Releases timers and any Redis connection; waiting calls are refused. */
  stop(): Promise<void>;
  /** Tokens left, calls waiting, pause, shared store: as of now. */
  readonly state: BudgetState;
  on<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this;
  off<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this;
}

/**
 * 'window': never more than `limit` requests in ANY `windowMs` (a sliding window: safe whatever a
 * server counts with). 'bucket': a burst of `limit`, refilled continuously (a token bucket).
 */
export type BudgetShape = 'window' | 'bucket';

export interface BudgetState {
  name: string;
  limit: number;
  windowMs: number;
  shape: BudgetShape;
  /** Tokens kept for panic actions (cancels, closes, trip actions). */
  reserve: number;
  store: 'local' | 'redis';
  /** False while the shared store (Redis) is unreachable: the budget then runs on `share`. */
  storeOk: boolean;
  /** What is wrong with the shared store (masked), while it is. */
  storeProblem?: string;
  /** Requests per window this instance allows itself while Redis is unreachable. */
  share?: number;
  /** Whole tokens left now (an instance's own view while shared). */
  tokens: number;
  /** Calls and tickets waiting, and calls under way. */
  queued: number;
  running: number;
  /** Epoch ms until which the broker (or fed-back feedback) asked us to wait, if in the future. */
  pausedUntil?: number;
  pauseReason?: string;
  /** Counts since start: 429 answers seen, waiting calls dropped or timed out, times the broker's count lowered ours. */
  rateLimited: number;
  dropped: number;
  lowered: number;
}

export interface BudgetEvents {
  state: BudgetState;
  paused: { until: number; reason: string; status?: number };
  resumed: { at: number };
  lowered: { from: number; to: number; remaining: number };
  dropped: { reason: string; priority: Priority };
  /** The shared store went away (the budget runs on its local share) or came back. */
  store: { ok: boolean; problem?: string; share?: number };
  problem: { message: string };
}
