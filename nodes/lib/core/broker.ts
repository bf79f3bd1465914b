// The broker-neutral boundary: everything a node needs from a brokerage connection, and nothing
// more. The Alpaca implementation lives in ../alpaca; another broker would implement the same.
import type { BudgetState, RequestBudget } from '../budget/types';
import type { OrderGateway } from '../orders/gateway';
import type { ConnectionEvent, MarketKind, MarketSubscriber, StreamStatus } from '../streams/events';
import type { Wanted } from '../streams/subscriptions';
import type { AccountSnapshot, ClockSnapshot, OrderSnapshot, PositionSnapshot, TradeUpdate } from './snapshots';

export type TradingMode = 'sim' | 'paper' | 'live';

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

/** The outcome of one REST call, whoever made it: the circuit breaker's error-rate input. */
export interface RequestEvent {
  ok: boolean;
  status?: number;
  kind?: string;
  at: number;
}

/** Reads of the account through the shared client and budget. */
export interface AccountReads {
  account(): Promise<AccountSnapshot>;
  positions(): Promise<PositionSnapshot[]>;
  position(symbol: string): Promise<PositionSnapshot>;
  openOrders(): Promise<OrderSnapshot[]>;
  clock(): Promise<ClockSnapshot>;
  /** Last trade price of a symbol, or undefined when the broker has none. */
  latestPrice(symbol: string): Promise<number | undefined>;
}

/** Options of one trade-updates listener beyond the updates themselves. */
export interface TradeUpdatesListenerOptions {
  onStatus?(status: StreamStatus): void;
  onConnectionEvent?(event: ConnectionEvent): void;
  /** Quiet time before the watchdog asks REST (ms, 0 = off; the smallest of all listeners wins). */
  watchdogMs?: number;
  /** Outage length before REST polling starts (ms, 0 = never; the smallest wins). */
  pollAfterMs?: number;
}

/** The account's trade updates, one shared stream for every subscriber. */
export interface TradeUpdatesFeed {
  readonly status: StreamStatus;
  /** Starts the shared stream on the first subscriber; returns the unsubscribe function. */
  subscribe(listener: (update: TradeUpdate) => void, options?: TradeUpdatesListenerOptions): () => void;
}

/** The market data of one kind on one shared socket; subscriptions counted per node. */
export interface MarketFeed {
  readonly status: StreamStatus;
  attach(subscriber: MarketSubscriber): void;
  /** Removes a node and only its own interest; the last node leaving closes the socket. */
  detach(id: string): void;
  subscribe(id: string, wanted: Wanted): void;
  unsubscribe(id: string, wanted: Wanted): void;
  replace(id: string, wanted: Wanted): void;
  subscriptionsOf(id: string): Wanted;
  /**
   * The price of the latest trade of `symbol` this socket delivered to a node subscribing its
   * trades, while the stream is up and that trade is at most `maxAgeMs` old (the broker's clock).
   */
  lastTrade(symbol: string, maxAgeMs: number): number | undefined;
}

/** Reconnect tuning of every stream (defaults: 1 s doubling to 60 s, ±20 % jitter, forever). */
export interface StreamTuning {
  initialReconnectMs?: number;
  maxReconnectMs?: number;
  reconnectJitter?: number;
  pingIntervalMs?: number;
  pongWaitMs?: number;
}

/** What the connection knows of its own health (the health node adds the breaker's). */
export interface ConnectionHealth {
  connection: ConnectionStatus;
  /** The shared streams some node listens to, by kind (trading, stocks, crypto, ...). */
  streams: Record<string, StreamStatus>;
  budgets: Record<string, BudgetState>;
  lastOrderAt?: string;
  lastFillAt?: string;
  /** Orders of the last run the journal has not settled yet. */
  journalBacklog: number;
  /** REST requests made so far to recover what was missed: by each stream (gap fills, probes, polls while down) and by the order journal after a restart. */
  recoveryRequests: Record<string, number>;
}

export interface BrokerConnection {
  readonly mode: TradingMode;
  readonly status: ConnectionStatus;
  register(user: ConnectionUser): void;
  /** Resolves once closing what the last user needed has finished. */
  deregister(user: ConnectionUser): Promise<void>;
  readonly reads: AccountReads;
  /** Every order-changing request of the account passes here. */
  readonly orders: OrderGateway;
  readonly tradeUpdates: TradeUpdatesFeed;
  marketFeed(kind: MarketKind): MarketFeed;
  /** MarketFeed.lastTrade of the kind's feed where some node has one; opens nothing. */
  lastTrade(kind: MarketKind, symbol: string, maxAgeMs: number): number | undefined;
  /** The trading API's request budget, shared by every node of the account. */
  readonly budget: RequestBudget;
  /** The market-data API's request budget (Alpaca limits it apart from trading). */
  readonly dataBudget: RequestBudget;
  /** 'request' (RequestEvent) after every REST call. */
  onRequest(listener: (e: RequestEvent) => void): () => void;
  /** Changes the reconnect tuning of streams opened from now on. */
  tuneStreams(tuning: StreamTuning): void;
  /** The rules' clock: the built-in simulator's time in sim mode (it may run faster), else Date.now(). */
  now(): number;
  health(): ConnectionHealth;
}

