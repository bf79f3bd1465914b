// What a request budget is to its users: schedule a call, feed back what the broker said, watch
// its state. One per account (and one per category of a standalone rate gate).

/** The one REST request budget of a connection (Alpaca: about 200 requests a minute per key). */
export interface RequestBudget {
  /** Runs `call` when the budget grants it; higher priority goes first. */
  schedule<T>(call: () => Promise<T>, options?: { priority?: number }): Promise<T>;
  /** Feedback from each response: status and the X-RateLimit-* / Retry-After headers. */
  observe(feedback: { status: number; limit?: number; remaining?: number; resetAt?: number; retryAfterMs?: number }): void;
  /** Releases timers (and any Redis connection). */
  stop(): Promise<void>;
  /**
   * Takes one token for a request made elsewhere (the rate gate releasing a msg). With `credit`,
   * the next call scheduled within a moment spends that token instead of taking another.
   */
  grant(options?: { priority?: number; credit?: boolean }): Promise<void>;
  /** Tokens left, calls waiting, pause: the last known state (refreshed on every change). */
  readonly state: BudgetState;
  /** 'state', 'paused', 'resumed', 'lowered', 'dropped', 'problem': see BudgetEvents. */
  on<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this;
  off<E extends keyof BudgetEvents>(event: E, listener: (payload: BudgetEvents[E]) => void): this;
}

export interface BudgetState {
  name: string;
  /** Requests allowed per window, and the window (ms). */
  limit: number;
  windowMs: number;
  /** 'bucket': a burst of `limit`, refilled continuously; 'window': at most `limit` in any `windowMs`. */
  shape: 'bucket' | 'window';
  store: 'local' | 'redis';
  /** False while the shared store (Redis) is unreachable. */
  storeOk: boolean;
  /** Whole tokens left now (negative while paused: the debt the pause repays). */
  tokens: number;
  /** Calls waiting for a token, and calls under way. */
  queued: number;
  running: number;
  /** Epoch ms until which the broker asked us to wait (429), if in the future. */
  pausedUntil?: number;
  /** Counts since start: 429 answers seen, calls the budget dropped, times the broker's count lowered ours. */
  rateLimited: number;
  dropped: number;
  lowered: number;
}

export interface BudgetEvents {
  state: BudgetState;
  paused: { until: number; reason: string; status?: number };
  resumed: { at: number };
  lowered: { from: number; to: number; remaining: number };
  dropped: { reason: string; priority: number };
  problem: { message: string };
}
