// The broker-neutral boundary: what the nodes need from a brokerage connection. The Alpaca
// implementation lives in ./alpaca; another broker would implement the same interfaces.

export type ConnectionState =
  | 'idle' // nobody uses it yet
  | 'connecting'
  | 'connected'
  | 'reconnecting' // lost, retrying with backoff
  | 'auth_failed' // keys rejected: terminal until the config changes
  | 'refused' // misconfigured (live without acknowledgement, missing keys): terminal
  | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** Short human text for a status dot, never containing a secret. */
  text: string;
  /** Epoch ms when this state began. */
  since: number;
  /** Why, for auth_failed / refused / reconnecting. */
  reason?: string;
  attempt?: number;
}

/** A node using a connection. The connection pushes its status to every user. */
export interface ConnectionUser {
  id: string;
  onConnectionStatus(status: ConnectionStatus): void;
}

export interface AccountSnapshot {
  id: string;
  accountNumber: string;
  status: string;
  currency: string;
  equity: number;
  lastEquity: number;
  cash: number;
  buyingPower: number;
  portfolioValue: number;
  longMarketValue: number;
  shortMarketValue: number;
  daytradeCount: number;
  patternDayTrader: boolean;
  tradingBlocked: boolean;
  accountBlocked: boolean;
  transfersBlocked: boolean;
  shortingEnabled: boolean;
  /** Equity change since the previous close, in account currency. */
  dayChange: number;
}

export interface PositionSnapshot {
  symbol: string;
  assetClass: string;
  side: 'long' | 'short';
  qty: number;
  qtyAvailable: number;
  avgEntryPrice: number;
  currentPrice: number;
  marketValue: number;
  costBasis: number;
  unrealizedPl: number;
  unrealizedPlpc: number;
  unrealizedIntradayPl: number;
  changeToday: number;
}

export interface OrderSnapshot {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: string;
  type: string;
  orderClass: string;
  timeInForce: string;
  status: string;
  qty: number | null;
  notional: number | null;
  filledQty: number;
  filledAvgPrice: number | null;
  limitPrice: number | null;
  stopPrice: number | null;
  createdAt: string | null;
  updatedAt: string | null;
  submittedAt: string | null;
  filledAt: string | null;
}

export interface ClockSnapshot {
  timestamp: string;
  isOpen: boolean;
  nextOpen: string;
  nextClose: string;
}

/** One failed order-cancel or position-close of a bulk action. */
export interface BulkResult {
  symbol?: string;
  id?: string;
  status: number;
  ok: boolean;
  order?: OrderSnapshot;
  error?: string;
}

export type ErrorKind = 'auth' | 'forbidden' | 'not_found' | 'validation' | 'rate_limit' | 'network' | 'broker' | 'refused';

/** An error from the broker (or refused before reaching it), safe to show: it never carries a secret. */
export class BrokerError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind,
    readonly status?: number,
    readonly code?: number | string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

export interface BrokerConnection {
  readonly status: ConnectionStatus;
  register(user: ConnectionUser): void;
  /** Resolves once closing what the last user needed has finished. */
  deregister(user: ConnectionUser): Promise<void>;
  account(): Promise<AccountSnapshot>;
  positions(): Promise<PositionSnapshot[]>;
  position(symbol: string): Promise<PositionSnapshot>;
  openOrders(): Promise<OrderSnapshot[]>;
  clock(): Promise<ClockSnapshot>;
  closePosition(symbol: string, amount?: { qty?: number; percentage?: number }): Promise<OrderSnapshot>;
  closeAllPositions(cancelOrders: boolean): Promise<BulkResult[]>;
  cancelAllOrders(): Promise<BulkResult[]>;
}

// --- Extension points used by the stream, order, rate-gate and breaker nodes ------------------

/** One trade update (order event), normalised, in the broker-neutral shape. */
export interface TradeUpdate {
  /** new, partial_fill, fill, canceled, expired, replaced, rejected, done_for_day, ... */
  event: string;
  /** ISO time of the event. */
  timestamp: string;
  order: OrderSnapshot;
  /** The fill's price and quantity (fill / partial_fill). */
  price?: number;
  qty?: number;
  /** The position after this fill. */
  positionQty?: number;
  executionId?: string;
  /** True when recovered over REST after a stream outage rather than received live. */
  recovered?: boolean;
}

/** The account's trade-updates feed, shared by every node of one connection. */
export interface TradeUpdatesFeed {
  /** Starts the shared stream on the first subscriber; returns the unsubscribe function. */
  subscribe(listener: (update: TradeUpdate) => void): () => void;
}

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
