// Contracts between the simulator's parts: the server shell (server.ts), the market model
// (market.ts, data-routes.ts, data-stream.ts) and the paper broker (broker.ts,
// trading-routes.ts, trading-stream.ts). Each part depends on these types, not on the others.
import type { WebSocket } from 'ws';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { RateLimitAlgorithm } from './rate-limit';

/** Where the US stock market stands: pre-market 04:00-09:30, core 09:30-16:00, post-market to 20:00 New York. */
export type SessionPhase = 'pre' | 'core' | 'post' | 'closed';

/** One trading day of the exchange (epoch ms edges). */
export interface SimSession {
  date: string; // YYYY-MM-DD, New York
  preOpen: number;
  open: number;
  close: number; // 13:00 New York on early-close days
  postClose: number;
  earlyClose: boolean;
}

/** Simulated time. `now()` runs `speed` times faster than the wall clock. */
export interface SimClock {
  /** Simulated epoch milliseconds. */
  now(): number;
  /** How many simulated ms pass per real ms (1 = real time). */
  readonly speed: number;
  /** Whether US equities trade now, by the configured market-hours policy. */
  isMarketOpen(at?: number): boolean;
  /** Next open and close (epoch ms) from `at`, by the same policy. */
  nextOpenClose(at?: number): { nextOpen: number; nextClose: number };
  /** The stock session phase at `at` ('core' all the time under the always-open policy). */
  phase(at?: number): SessionPhase;
  /**
   * The session an order placed at `at` trades in: the first whose close (post-market close when
   * `extended`) is still ahead. Undefined under the always-open policy, which has no sessions.
   */
  session(at?: number, extended?: boolean): SimSession | undefined;
}

export type AssetClass = 'us_equity' | 'crypto';

export interface SimAsset {
  id: string;
  symbol: string; // AAPL or BTC/USD
  name: string;
  assetClass: AssetClass;
  exchange: string; // NASDAQ, NYSE, ARCA, CRYPTO
  fractionable: boolean;
  /** Starting price of the random walk. */
  basePrice: number;
  minOrderSize?: number; // crypto
  minTradeIncrement?: number; // crypto
  priceIncrement?: number; // crypto
}

export interface SimQuote {
  symbol: string;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  t: number; // epoch ms (simulated)
}

export interface SimTrade {
  symbol: string;
  price: number;
  size: number;
  id: number;
  t: number;
}

export interface SimBar {
  symbol: string;
  t: number; // bar start, epoch ms
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  vw: number;
}

/**
 * What the paper broker needs from the market. Events (EventEmitter):
 *  'tick'  (symbol: string, quote: SimQuote, trade: SimTrade)  after every price move
 *  'trade' (trade: SimTrade), 'quote' (quote: SimQuote)
 *  'bar' (bar: SimBar)          a completed one-minute bar
 *  'updatedBar' (bar: SimBar)   a late correction of a completed bar (rare)
 *  'dailyBar' (bar: SimBar)     the running daily bar, after each completed minute
 */
export interface MarketView extends EventEmitter {
  asset(symbolOrId: string): SimAsset | undefined;
  assets(): SimAsset[];
  /** Current quote; undefined for an unknown symbol. */
  quote(symbol: string): SimQuote | undefined;
  lastTrade(symbol: string): SimTrade | undefined;
  /** Move a market: the next ticks walk from this price. */
  setPrice(symbol: string, price: number): void;
}

/** A REST handler: return a value to send as JSON with `status` (default 200). */
export interface SimRequest {
  method: string;
  path: string; // without query
  params: Record<string, string>; // from the route pattern
  query: URLSearchParams;
  body: unknown; // parsed JSON or undefined
  keyId: string;
  raw: IncomingMessage;
}

export interface SimResponse {
  status?: number;
  body?: unknown; // JSON-serialised; undefined -> empty body
  headers?: Record<string, string>;
}

export type RouteHandler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';
  /** Path pattern with `{name}` segments, e.g. `/v2/orders/{order_id}`. */
  pattern: string;
  handler: RouteHandler;
}

/** Thrown by handlers to produce Alpaca's error body `{code, message}` with an HTTP status. */
export class SimHttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: number,
    message: string,
    /** Extra string fields some Alpaca errors carry (the 403 buying-power body's `buying_power`, `cost_basis`). */
    public readonly details?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A WebSocket endpoint the shell hands accepted connections to. */
export interface StreamEndpoint {
  /** Paths served, e.g. ['/v2/iex', '/v2/sip']. */
  paths: string[];
  /** Called for each accepted socket; `counted` is released by the shell on close. */
  accept(socket: WebSocket, req: IncomingMessage, path: string, ctx: StreamContext): void;
}

export interface StreamContext {
  /** True when key and secret are accepted by the simulator. */
  checkCredentials(keyId: unknown, secret: unknown): boolean;
  /**
   * Claim the single connection Alpaca allows per key and endpoint. Returns false when
   * another socket holds it (the caller then sends error 406 and closes).
   */
  claimConnection(keyId: string, path: string, socket: WebSocket): boolean;
  stats: SimStats;
  /** The faults in force (live object: read it when sending, it changes at run time). */
  faults: SimFaults;
  /** Frame encoding the client asked for on the upgrade (`Content-Type: application/msgpack`), else JSON. */
  codec: StreamCodec;
  /** Key pair sent as APCA-API-KEY-ID / APCA-API-SECRET-KEY headers on the upgrade, if any. */
  headerCredentials?: { keyId: unknown; secret: unknown };
}

export type StreamCodec = 'json' | 'msgpack';

/** Alpaca's market-data plans: `basic` (free: IEX live, SIP only 15 min delayed) or `sip` (Algo Trader Plus). */
export type DataPlan = 'basic' | 'sip';

export interface SimStats {
  requests: number;
  rateLimited: number;
  errorsInjected: number;
  orders: number; // order submissions accepted by POST /v2/orders (incl. legs' parent only)
  streamConnections: number; // open stream sockets right now
  streamConnectionsTotal: number; // accepted since start
  streamsDropped: number;
}

export interface SimFaults {
  /** Fraction 0..1 of REST requests answered with 500. */
  errorRate: number;
  /** Added delay for every REST request. */
  latencyMs: number;
  /** Trading-API requests per minute per key before 429. */
  rateLimitPerMinute: number;
  /** Market-data REST requests per minute per key before 429 (counted apart from trading). */
  dataRateLimitPerMinute: number;
  /** How the limits count: sliding 60 s window (default, strictest), fixed minute windows, or a token bucket. */
  rateLimitAlgorithm: RateLimitAlgorithm;
  /** After a 429, every request of that key gets 429 for this long. 0 = no lockout. */
  lockoutMs: number;
  /** Fraction 0..1 of REST requests that are carried out and THEN answered with 500 (ambiguous). */
  errorAfterRate: number;
  /** Fraction 0..1 of REST requests that are carried out and then have their connection reset. */
  resetAfterRate: number;
  /** Streams stay connected but send no data frames (a silent socket). */
  silentStreams: boolean;
  /** A closed stream's connection slot stays taken this long: a reconnect within it gets 406. 0 = freed at once. */
  staleSlotMs: number;
  /** The trading stream answers authentication this much later (a slow broker after a reconnect). */
  tradingAuthDelayMs: number;
}

export type { ServerResponse };
