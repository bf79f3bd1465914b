// One connection per account config node, shared by every node using it: one SDK client for REST,
// the in-process simulator in sim mode, and lazily opened streams (one per kind, as Alpaca allows
// only one stream connection per key and endpoint). Users register and deregister; the last one
// leaving closes everything this connection opened.
import { EventEmitter } from 'node:events';
import { WebSocket } from 'ws';
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import {
  BrokerError,
  type AccountSnapshot,
  type BrokerConnection,
  type BulkResult,
  type ClockSnapshot,
  type ConnectionState,
  type ConnectionStatus,
  type ConnectionUser,
  type OrderSnapshot,
  type PositionSnapshot,
  type RequestBudget,
  type TradeUpdatesFeed,
} from '../core/broker';
import { RequestBudgetImpl, type BudgetOptions } from '../budget/budget';
import { AlpacaTradeUpdates } from './trade-updates';
import { AlpacaOrders } from './orders';
import { AlpacaMarketFeed, type MarketKind } from './market-feed';
import { Simulator, type SimulatorOptions } from '../sim/simulator';
import { createClient, normaliseEndpoint, streamUrls, type StockFeed, type TradingMode } from './client';
import { toBrokerError } from './errors';
import { toAccount, toClock, toOrder, toPosition } from './map';

export interface AlpacaConnectionOptions {
  mode: TradingMode;
  keyId?: string;
  secret?: string;
  /** An Alpaca-compatible server for REST and every stream; empty = Alpaca (or the built-in simulator in sim mode). */
  endpoint?: string;
  feed?: StockFeed;
  /** Live trading runs only with this explicit acknowledgement from the dialog. */
  liveAcknowledged?: boolean;
  /** Tuning of the in-process simulator (sim mode without an endpoint). */
  sim?: SimulatorOptions;
  /** First retry delay after a failed connection check; doubles up to `maxRetryMs`. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** The request budget every REST call goes through (default: the connection's own). */
  budget?: RequestBudget;
  /** Settings of the connection's own budget (default 180 requests per 60 s, local). */
  budgetOptions?: BudgetOptions;
  /** Reconnect tuning of every stream (defaults: 1 s doubling to 60 s, ±20 % jitter, forever). */
  streams?: StreamTuning;
}

export type StreamKind = 'trading' | 'stocks' | 'crypto' | 'options' | 'news';

export interface StreamTuning {
  initialReconnectMs?: number;
  maxReconnectMs?: number;
  reconnectJitter?: number;
  pingIntervalMs?: number;
  pongWaitMs?: number;
}

type SdkStream = ReturnType<Alpaca['trading']['stream']> | ReturnType<Alpaca['marketData']['stockStream']>;

interface SharedStream {
  stream: SdkStream;
  holders: number;
  /** The socket the SDK uses now (from our wsFactory), to force a reconnect. */
  socket?: WebSocket;
}

/** A share of one stream: `forceReconnect()` drops its socket so the SDK reconnects (the watchdog's tool). */
export interface StreamLease {
  stream: SdkStream;
  release: () => void;
  forceReconnect: () => void;
}

/** Key pair the built-in simulator is given when the user configured none (it accepts any). */
const SIM_KEY = 'SIMULATOR';
const SIM_SECRET = 'simulator-accepts-any-secret';

/** Checks the settings; returns why the connection must not start, or undefined. */
export function configProblem(o: AlpacaConnectionOptions): string | undefined {
  if (o.mode !== 'sim' && o.mode !== 'paper' && o.mode !== 'live') return `unknown mode "${String(o.mode)}"`;
  if (o.mode === 'live' && !o.liveAcknowledged) {
    return 'live trading refused: tick "I understand this trades real money" in the account config';
  }
  if (o.mode !== 'sim' && (!o.keyId || !o.secret)) return `an API key id and secret are required in ${o.mode} mode`;
  try {
    normaliseEndpoint(o.endpoint);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

export class AlpacaConnection implements BrokerConnection {
  private readonly users = new Map<string, ConnectionUser>();
  private current: ConnectionStatus;
  private client?: Alpaca;
  private simulator?: Simulator;
  private opening?: Promise<Alpaca>;
  private retryTimer?: NodeJS.Timeout;
  private attempt = 0;
  private generation = 0;
  private readonly streams = new Map<StreamKind, SharedStream>();
  private streamTuning: StreamTuning;
  private readonly problem?: string;
  /** Every REST call of this connection, from any node, goes through this one budget. */
  readonly budget: RequestBudget;
  /**
   * 'request' ({ ok, status?, kind?, at }) after every REST call, whoever made it: the
   * circuit breaker's error-rate input.
   */
  readonly events = new EventEmitter();
  private tradeFeed?: AlpacaTradeUpdates;
  private orderApi?: AlpacaOrders;
  private readonly marketFeeds = new Map<MarketKind, AlpacaMarketFeed>();

  constructor(private readonly options: AlpacaConnectionOptions) {
    this.problem = configProblem(options);
    this.budget = options.budget ?? new RequestBudgetImpl({ name: 'Alpaca request budget', ...options.budgetOptions });
    this.streamTuning = { ...options.streams };
    this.current = this.problem
      ? { state: 'refused', text: this.problem, since: Date.now(), reason: this.problem }
      : { state: 'idle', text: 'not connected', since: Date.now() };
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  get mode(): TradingMode {
    return this.options.mode;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** Base URL in use (the simulator's in sim mode), once open. */
  get endpoint(): string | undefined {
    return this.simulator?.url ?? normaliseEndpoint(this.options.endpoint);
  }

  /** The in-process simulator (sim mode without endpoint), for its control API. */
  get sim(): Simulator | undefined {
    return this.simulator;
  }

  /** The account's trade updates, one shared trading stream for every subscriber. */
  get tradeUpdates(): TradeUpdatesFeed {
    return (this.tradeFeed ??= new AlpacaTradeUpdates(this));
  }

  /** Order submission, cancel and replace through the shared client and budget. */
  get orders(): AlpacaOrders {
    return (this.orderApi ??= new AlpacaOrders(this));
  }

  /** The market-data feed of one kind (one socket per kind), shared by every stream node. */
  marketFeed(kind: MarketKind): AlpacaMarketFeed {
    let feed = this.marketFeeds.get(kind);
    if (!feed) {
      feed = new AlpacaMarketFeed(this, kind);
      this.marketFeeds.set(kind, feed);
    }
    return feed;
  }

  register(user: ConnectionUser): void {
    this.users.set(user.id, user);
    user.onConnectionStatus(this.current);
    if (this.current.state === 'idle' || this.current.state === 'closed') void this.open().catch(() => undefined);
  }

  deregister(user: ConnectionUser): Promise<void> {
    this.users.delete(user.id);
    return this.users.size === 0 ? this.close() : Promise.resolve();
  }

  /** Closes streams, timers and the simulator. Starts synchronously; resolves when all is released. */
  close(): Promise<void> {
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const feed of this.marketFeeds.values()) feed.close();
    this.marketFeeds.clear();
    this.tradeFeed?.close();
    this.tradeFeed = undefined;
    for (const shared of this.streams.values()) shared.stream.disconnect();
    this.streams.clear();
    this.client = undefined;
    this.opening = undefined;
    const sim = this.simulator;
    this.simulator = undefined;
    if (this.current.state !== 'refused') this.setStatus('closed', 'closed');
    return Promise.all([sim?.stop(), this.budget.stop()]).then(() => undefined);
  }

  // --- REST ---------------------------------------------------------------

  async account(): Promise<AccountSnapshot> {
    return toAccount(await this.rest((a) => a.trading.account.getAccount()));
  }

  async positions(): Promise<PositionSnapshot[]> {
    const list = await this.rest((a) => a.trading.positions.getAllOpenPositions());
    return list.map((p) => toPosition(p as unknown as Record<string, unknown>));
  }

  async position(symbol: string): Promise<PositionSnapshot> {
    const p = await this.rest((a) => a.trading.positions.getOpenPosition({ symbolOrAssetId: symbol }));
    return toPosition(p as unknown as Record<string, unknown>);
  }

  async openOrders(): Promise<OrderSnapshot[]> {
    const list = await this.rest((a) => a.trading.orders.getAllOrders({ status: 'open', limit: 500, nested: true }));
    return list.map((o) => toOrder(o));
  }

  async clock(): Promise<ClockSnapshot> {
    return toClock((await this.rest((a) => a.trading.clock.legacyClock())) as unknown as Record<string, unknown>);
  }

  async closePosition(symbol: string, amount: { qty?: number; percentage?: number } = {}): Promise<OrderSnapshot> {
    const order = await this.rest((a) =>
      a.trading.positions.deleteOpenPosition({ symbolOrAssetId: symbol, qty: amount.qty, percentage: amount.percentage }),
    );
    return toOrder(order);
  }

  async cancelAllOrders(): Promise<BulkResult[]> {
    const results = await this.rest((a) => a.trading.orders.deleteAllOrders());
    return results.map((r) => {
      const status = Number((r as unknown as Record<string, unknown>).status ?? 200);
      return { id: String((r as unknown as Record<string, unknown>).id ?? ''), status, ok: status >= 200 && status < 300 };
    });
  }

  async closeAllPositions(cancelOrders: boolean): Promise<BulkResult[]> {
    const results = await this.rest((a) => a.trading.positions.deleteAllOpenPositions({ cancelOrders }));
    return results.map((r) => {
      const ok = r.status >= 200 && r.status < 300;
      const body = r.body as unknown as Record<string, unknown> | undefined;
      return {
        symbol: r.symbol,
        status: r.status,
        ok,
        order: ok && body ? toOrder(body) : undefined,
        error: ok ? undefined : String(body?.message ?? `status ${r.status}`),
      };
    });
  }

  /**
   * Runs one REST call on the shared client, mapping errors to BrokerErrors and keeping the
   * connection state in step with what the broker answered.
   */
  async rest<T>(call: (alpaca: Alpaca) => Promise<T>, options: { priority?: number } = {}): Promise<T> {
    if (this.problem) throw new BrokerError(this.problem, 'refused');
    const client = await this.open();
    try {
      const result = await this.budget.schedule(() => call(client), options);
      this.events.emit('request', { ok: true, at: Date.now() });
      if (this.current.state !== 'connected') this.markConnected();
      return result;
    } catch (err) {
      const brokerError = toBrokerError(err, this.secrets());
      this.events.emit('request', { ok: false, status: brokerError.status, kind: brokerError.kind, at: Date.now() });
      this.noteFailure(brokerError);
      throw brokerError;
    }
  }

  // --- Streams ------------------------------------------------------------

  /** The stock data feed of this account (iex, sip, delayed_sip), for market-data REST calls. */
  get stockFeed(): StockFeed {
    return this.options.feed ?? 'iex';
  }

  /** Changes the reconnect tuning of streams opened from now on (settings.js `alpacaStreams`, tests). */
  tuneStreams(tuning: StreamTuning): void {
    this.streamTuning = { ...this.streamTuning, ...tuning };
  }

  /** Kinds with an open shared stream and how many holders each has (for tests and diagnostics). */
  streamHolders(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [kind, shared] of this.streams) out[kind] = shared.holders;
    return out;
  }

  /**
   * Takes a share of the one stream of that kind, opening it on first use. `release()` gives it
   * back; the last holder's release disconnects it.
   */
  async acquireStream(kind: StreamKind): Promise<StreamLease> {
    if (this.problem) throw new BrokerError(this.problem, 'refused');
    const client = await this.open();
    if (this.simulator && (kind === 'options' || kind === 'news')) {
      throw new BrokerError(`${kind} data is not served by the built-in simulator (paper or live only)`, 'refused');
    }
    let shared = this.streams.get(kind);
    if (!shared) {
      const urls = streamUrls(this.options.mode !== 'live', this.endpoint, this.options.feed ?? 'iex');
      const t = this.streamTuning;
      const entry: SharedStream = { stream: undefined as unknown as SdkStream, holders: 0 };
      // Never give up reconnecting; back off 1 s doubling to 60 s with jitter (the SDK's default stops after 10).
      const common = {
        maxReconnectAttempts: -1,
        initialReconnectMs: t.initialReconnectMs ?? 1000,
        maxReconnectMs: t.maxReconnectMs ?? 60_000,
        reconnectJitter: t.reconnectJitter ?? 0.2,
        ...(t.pingIntervalMs !== undefined ? { pingIntervalMs: t.pingIntervalMs } : {}),
        ...(t.pongWaitMs !== undefined ? { pongWaitMs: t.pongWaitMs } : {}),
        // Our own socket factory (same settings as the SDK's) so a silent socket can be dropped.
        wsFactory: (url: string, codec: string) => {
          const ws = new WebSocket(url, {
            perMessageDeflate: false,
            headers: codec === 'msgpack' ? { 'Content-Type': 'application/msgpack' } : undefined,
          });
          entry.socket = ws;
          ws.once('close', () => {
            if (entry.socket === ws) entry.socket = undefined;
          });
          return ws as unknown as ReturnType<NonNullable<Parameters<Alpaca['marketData']['stockStream']>[0]>['wsFactory'] & {}>;
        },
      };
      const md = client.marketData;
      const stream: SdkStream =
        kind === 'trading'
          ? client.trading.stream({ ...common, url: urls.trading })
          : kind === 'crypto'
            ? md.cryptoStream({ ...common, url: urls.crypto })
            : kind === 'options'
              ? (md.optionStream({ ...common, url: urls.options }) as unknown as SdkStream)
              : kind === 'news'
                ? (md.newsStream({ ...common, url: urls.news }) as unknown as SdkStream)
                : md.stockStream({ ...common, url: urls.stocks });
      entry.stream = stream;
      shared = entry;
      this.streams.set(kind, shared);
      stream.connect();
    }
    shared.holders++;
    const held = shared;
    let released = false;
    return {
      stream: held.stream,
      forceReconnect: () => {
        if (!released) held.socket?.terminate();
      },
      release: () => {
        if (released) return;
        released = true;
        held.holders--;
        if (held.holders === 0 && this.streams.get(kind) === held) {
          this.streams.delete(kind);
          held.stream.disconnect();
          held.socket = undefined;
        }
      },
    };
  }

  // --- Internals ----------------------------------------------------------

  private secrets(): string[] {
    return [this.options.secret ?? '', this.options.keyId ?? ''];
  }

  /** Creates the client (starting the simulator in sim mode) once; later calls share it. */
  private open(): Promise<Alpaca> {
    if (this.problem) return Promise.reject(new BrokerError(this.problem, 'refused'));
    if (this.client) return Promise.resolve(this.client);
    if (this.opening) return this.opening;
    const generation = this.generation;
    this.setStatus('connecting', 'connecting…');
    this.opening = (async () => {
      let endpoint = normaliseEndpoint(this.options.endpoint);
      let keyId = this.options.keyId;
      let secret = this.options.secret;
      if (this.options.mode === 'sim' && !endpoint) {
        const sim = new Simulator({ ...this.options.sim, host: '127.0.0.1' });
        await sim.start();
        if (generation !== this.generation) {
          await sim.stop();
          throw new BrokerError('connection closed while opening', 'network');
        }
        this.simulator = sim;
        endpoint = sim.url;
      }
      if (this.options.mode === 'sim') {
        keyId = keyId || SIM_KEY;
        secret = secret || SIM_SECRET;
      }
      this.client = createClient({
        keyId: keyId ?? '',
        secret: secret ?? '',
        paper: this.options.mode !== 'live',
        endpoint,
        timeoutMs: 15_000,
        // The connection's budget is the one source of truth; the SDK's own limiter stays off.
        rateLimit: false,
        onResponse: (feedback) => this.budget.observe(feedback),
      });
      void this.check(generation);
      return this.client;
    })();
    this.opening.catch(() => {
      if (generation === this.generation) this.opening = undefined;
    });
    return this.opening;
  }

  /** Confirms the keys and reachability with an account fetch; retries with backoff while unreachable. */
  private async check(generation: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      // Through the budget like every other call: a reconnect storm must not overrun the key.
      await this.budget.schedule(() => client.trading.account.getAccount());
      if (generation === this.generation) this.markConnected();
    } catch (err) {
      if (generation !== this.generation) return;
      this.noteFailure(toBrokerError(err, this.secrets()));
    }
  }

  private markConnected(): void {
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const label = this.options.mode === 'live' ? 'LIVE' : this.options.mode;
    this.setStatus('connected', `connected · ${label}`);
  }

  private noteFailure(err: BrokerError): void {
    if (err.kind === 'auth') {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.setStatus('auth_failed', 'auth failed: keys rejected', err.message);
    } else if (err.kind === 'network' || (err.status !== undefined && err.status >= 500)) {
      this.scheduleRetry(err.message);
    }
  }

  private scheduleRetry(reason: string): void {
    if (this.retryTimer || this.users.size === 0) return;
    this.attempt++;
    const initial = this.options.initialRetryMs ?? 1000;
    const max = this.options.maxRetryMs ?? 60_000;
    const base = Math.min(initial * 2 ** (this.attempt - 1), max);
    const delay = Math.round(Math.min(max, base * (0.8 + Math.random() * 0.4)));
    const since = this.current.state === 'reconnecting' ? this.current.since : Date.now();
    this.setStatus('reconnecting', `unreachable (attempt ${this.attempt}, since ${clockTime(since)})`, reason, since);
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (generation === this.generation) void this.check(generation);
    }, delay);
  }

  private setStatus(state: ConnectionState, text: string, reason?: string, since = Date.now()): void {
    this.current = { state, text, since, reason, attempt: state === 'reconnecting' ? this.attempt : undefined };
    for (const user of this.users.values()) {
      try {
        user.onConnectionStatus(this.current);
      } catch {
        // A user's status display failing must not stop the others from hearing the news.
      }
    }
  }
}

export interface ConnectionTestResult {
  ok: boolean;
  mode: TradingMode;
  account?: { status: string; equity: number; cash: number; buyingPower: number; currency: string; accountNumber: string };
  error?: string;
  kind?: string;
}

/** A one-off check of settings (the dialog's Test connection button); releases everything it opened. */
export async function testConnection(options: AlpacaConnectionOptions): Promise<ConnectionTestResult> {
  const problem = configProblem({ ...options, liveAcknowledged: true });
  if (problem) return { ok: false, mode: options.mode, error: problem, kind: 'refused' };
  const connection = new AlpacaConnection({ ...options, liveAcknowledged: true });
  const probe: ConnectionUser = { id: 'connection-test', onConnectionStatus: () => undefined };
  connection.register(probe);
  try {
    const a = await connection.account();
    return {
      ok: true,
      mode: options.mode,
      account: {
        status: a.status,
        equity: a.equity,
        cash: a.cash,
        buyingPower: a.buyingPower,
        currency: a.currency,
        accountNumber: a.accountNumber,
      },
    };
  } catch (err) {
    const e = toBrokerError(err);
    return { ok: false, mode: options.mode, error: e.message, kind: e.kind };
  } finally {
    await connection.deregister(probe);
  }
}
