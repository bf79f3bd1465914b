// One connection per account config node, shared by every node using it: the composition root
// of the Alpaca side. It builds the parts (REST transport and its state, the stream pool, reads,
// the order gateway, the trade-updates and market-data feeds) around one SDK client and the
// account's request budgets, owns the in-process simulator in sim mode, and pushes its status to
// every registered user. The last user leaving closes everything it opened.
import { EventEmitter } from 'node:events';
import { RequestBudgetImpl, budgetProblem, defaultPanicReserve, DEFAULT_BUDGET, type BudgetOptions } from '../budget/budget';
import type { BudgetState, RequestBudget } from '../budget/types';
import { BrokerClock } from '../core/broker-clock';
import type { BrokerConnection, ConnectionHealth, ConnectionStatus, ConnectionUser, RequestEvent, StreamTuning, TradingMode } from '../core/broker';
import { BrokerError } from '../core/errors';
import { show } from '../core/values';
import { OrderGateway } from '../orders/gateway';
import { OrderJournal, type JournalOptions } from '../orders/journal';
import type { MarketKind } from '../streams/events';
import { Simulator, type SimulatorOptions } from '../sim/simulator';
import { endpointHost, isAlpacaHost, isLoopback, normaliseEndpoint, type StockFeed } from './client';
import { AlpacaMarketFeed } from './market-feed';
import { AlpacaOrders, type OrderTuning } from './orders';
import { AlpacaReads } from './reads';
import { StreamPool, type StreamDiagnostics } from './stream-pool';
import { AlpacaTradeUpdates } from './trade-updates';
import { AlpacaTransport, type ClientTarget } from './transport';

export interface AlpacaConnectionOptions {
  mode: TradingMode;
  keyId?: string;
  secret?: string;
  /** An Alpaca-compatible server for REST and every stream; empty = Alpaca (or the built-in simulator in sim mode). */
  endpoint?: string;
  feed?: StockFeed;
  /** Live trading runs only with this explicit acknowledgement from the dialog. */
  liveAcknowledged?: boolean;
  /** The endpoint the dialog's "Send my API keys to <host>" was ticked for (an endpoint off this machine needs it). */
  endpointAcknowledged?: string;
  /** Tuning of the in-process simulator (sim mode without an endpoint). */
  sim?: SimulatorOptions;
  /** First retry delay after a failed connection check; doubles up to `maxRetryMs`. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** Settings of the trading API's budget (default 180 requests per 60 s, sliding window, local; a panic reserve of 9). */
  budgetOptions?: BudgetOptions;
  /** Settings of the market-data budget (default 180 requests per 60 s, sliding window, local). */
  dataBudgetOptions?: BudgetOptions;
  /** Reconnect tuning of every stream (defaults: 1 s doubling to 60 s, ±20 % jitter, forever). */
  streams?: StreamTuning;
  /** How long an order waits for the account's breaker to start before it is refused (default 20 s). */
  policyWaitMs?: number;
  /** How orders are settled after a doubtful answer (settings.js `alpacaOrders`). */
  orders?: OrderTuning;
  /** The order journal's file and retention (no file: memory only). */
  journal?: JournalOptions;
}

/** Key pair the built-in simulator is given when the user configured none (it accepts any). */
const SIM_KEY = 'SIMULATOR';
const SIM_SECRET = 'simulator-accepts-any-secret';

/** Checks the settings; returns why the connection must not start, or undefined. */
export function configProblem(o: AlpacaConnectionOptions): string | undefined {
  if (o.mode !== 'sim' && o.mode !== 'paper' && o.mode !== 'live') return `unknown mode ${show(o.mode)}`;
  if (o.mode === 'live' && !o.liveAcknowledged) {
    return 'live trading refused: tick "I understand this trades real money" in the account config';
  }
  if (o.mode !== 'sim' && (!o.keyId || !o.secret)) return `an API key id and secret are required in ${o.mode} mode`;
  let endpoint: string | undefined;
  try {
    endpoint = normaliseEndpoint(o.endpoint);
  } catch (err) {
    return (err as Error).message;
  }
  return endpoint ? endpointProblem(o.mode, endpoint, o.endpointAcknowledged) : undefined;
}

/** Where an endpoint may take the keys: never to Alpaca past the mode, off this machine only when acknowledged for that host. */
function endpointProblem(mode: TradingMode, endpoint: string, acknowledged: string | undefined): string | undefined {
  if (isAlpacaHost(endpoint)) {
    return `Endpoint ${endpoint} is Alpaca's own: leave Endpoint empty, the mode chooses Alpaca's paper or live host`;
  }
  if (isLoopback(endpoint)) return undefined;
  if (mode === 'sim') {
    return `simulator mode sends keys only to a simulator on this machine, and Endpoint ${endpoint} is not a loopback address: use 127.0.0.1, or paper mode for another server`;
  }
  let ticked: string | undefined;
  try {
    ticked = normaliseEndpoint(acknowledged);
  } catch {
    ticked = undefined;
  }
  if (ticked !== endpoint) return `Endpoint ${endpoint} is not on this machine: tick "Send my API keys to ${endpointHost(endpoint)}" in the account config`;
  return undefined;
}

/** How the status names a connection: its mode, and the host when it is not Alpaca's or the built-in simulator. */
export function connectionLabel(mode: TradingMode, endpoint: string | undefined): string {
  const label = mode === 'live' ? 'LIVE' : mode;
  return endpoint ? `${label} · ${endpointHost(endpoint)}` : label;
}

/** Checks the budgets' settings (a malformed Redis URL included); returns why the connection must not start, or undefined. */
export function budgetConfigProblem(o: AlpacaConnectionOptions): string | undefined {
  const trading = o.budgetOptions && budgetProblem(o.budgetOptions);
  if (trading) return `request budget: ${trading}`;
  const data = o.dataBudgetOptions && budgetProblem(o.dataBudgetOptions);
  return data ? `market-data budget: ${data}` : undefined;
}

/** The trading API's budget keeps its last tokens for cancels, closes and the breaker's trip actions. */
function tradingBudgetOptions(o: BudgetOptions | undefined): BudgetOptions {
  return { name: 'Alpaca trading API budget', panicReserve: defaultPanicReserve(o?.limit ?? DEFAULT_BUDGET.limit), ...o };
}

export class AlpacaConnection implements BrokerConnection {
  private readonly users = new Map<string, ConnectionUser>();
  private simulator?: Simulator;
  private generation = 0;
  private readonly requests = new EventEmitter();
  private readonly transport: AlpacaTransport;
  private readonly pool: StreamPool;
  private tradeFeed?: AlpacaTradeUpdates;
  private readonly marketFeeds = new Map<MarketKind, AlpacaMarketFeed>();
  /** The broker's time from its answers: the order journal's clock. */
  private readonly brokerClock = new BrokerClock();
  /** The trading API's budget: every trading REST call of every node of this account. */
  readonly budget: RequestBudget;
  /** Market data is limited apart from trading (Alpaca: 200 a minute on the free plan). */
  readonly dataBudget: RequestBudget;
  readonly reads: AlpacaReads;
  readonly orders: OrderGateway;

  constructor(private readonly options: AlpacaConnectionOptions) {
    const problem = configProblem(options) ?? budgetConfigProblem(options);
    // A refused connection never sends a request: its budgets are placeholders (and reach no Redis).
    this.budget = new RequestBudgetImpl(problem ? {} : tradingBudgetOptions(options.budgetOptions));
    this.dataBudget = new RequestBudgetImpl(problem ? {} : { name: 'Alpaca market-data budget', ...options.dataBudgetOptions });
    this.requests.setMaxListeners(0);
    const endpoint = problem ? undefined : normaliseEndpoint(options.endpoint);
    this.transport = new AlpacaTransport({
      mode: options.mode,
      label: connectionLabel(options.mode, endpoint),
      host: endpoint ? endpointHost(endpoint) : undefined,
      problem,
      budgets: { trading: this.budget, data: this.dataBudget },
      clock: this.brokerClock,
      target: () => this.target(),
      secrets: [options.secret ?? '', options.keyId ?? ''],
      initialRetryMs: options.initialRetryMs,
      maxRetryMs: options.maxRetryMs,
      wanted: () => this.users.size > 0,
      onStatus: (status) => this.broadcast(status),
      onRequest: (event) => this.requests.emit('request', event),
    });
    this.pool = new StreamPool({
      client: () => this.transport.open(),
      endpoint: () => this.endpoint,
      paper: options.mode !== 'live',
      feed: this.stockFeed,
      unavailable: () => (this.simulator ? 'is not served by the built-in simulator (paper or live only)' : undefined),
      tuning: options.streams,
    });
    this.reads = new AlpacaReads(this.transport, this.stockFeed);
    this.orders = new OrderGateway(new AlpacaOrders(this.transport, (ms) => this.brokerClock.toWall(ms), options.orders), { policyWaitMs: options.policyWaitMs, journal: new OrderJournal({ now: () => this.brokerClock.now(), ...options.journal }) });
  }

  get status(): ConnectionStatus {
    return this.transport.status;
  }

  get mode(): TradingMode {
    return this.options.mode;
  }

  /** Base URL in use (the simulator's in sim mode, once started); undefined = Alpaca's own hosts. */
  get endpoint(): string | undefined {
    return this.simulator?.url ?? normaliseEndpoint(this.options.endpoint);
  }

  /** The in-process simulator (sim mode without endpoint) once started: its control API for tests and tools. */
  get sim(): Simulator | undefined {
    return this.simulator;
  }

  /** The stock data feed of this account (iex, sip, delayed_sip), for market-data REST calls. */
  get stockFeed(): StockFeed {
    return this.options.feed ?? 'iex';
  }

  now(): number {
    return this.simulator?.clock.now() ?? Date.now();
  }

  get tradeUpdates(): AlpacaTradeUpdates {
    return (this.tradeFeed ??= new AlpacaTradeUpdates(this.transport, this.pool, this.reads, undefined, this.orders.journal));
  }

  marketFeed(kind: MarketKind): AlpacaMarketFeed {
    let feed = this.marketFeeds.get(kind);
    if (!feed) {
      feed = new AlpacaMarketFeed(this.transport, this.pool, this.stockFeed, kind, undefined, () => this.now());
      this.marketFeeds.set(kind, feed);
    }
    return feed;
  }

  lastTrade(kind: MarketKind, symbol: string, maxAgeMs: number): number | undefined {
    return this.marketFeeds.get(kind)?.lastTrade(symbol, maxAgeMs);
  }

  health(): ConnectionHealth {
    const streams: ConnectionHealth['streams'] = {};
    const recoveryRequests: ConnectionHealth['recoveryRequests'] = { orders: this.orders.recoveryRequests };
    if (this.tradeFeed) {
      if (this.tradeFeed.stats.listeners > 0) streams.trading = this.tradeFeed.status;
      recoveryRequests.trading = this.tradeFeed.stats.recovery.requests;
    }
    for (const [kind, feed] of this.marketFeeds) {
      if (feed.stats.subscribers > 0) streams[kind] = feed.status;
      recoveryRequests[kind] = feed.stats.recovery.requests;
    }
    return {
      connection: this.status,
      streams,
      budgets: { trading: this.budget.state, data: this.dataBudget.state },
      lastOrderAt: this.orders.lastOrderAt,
      lastFillAt: this.tradeFeed?.lastFillAt,
      journalBacklog: this.orders.journal.backlog,
      recoveryRequests,
    };
  }

  /** Counts for troubleshooting and leak tests: users of the connection, open streams, listeners, feed tables, the order journal. */
  diagnostics(): {
    users: number;
    requestListeners: number;
    streams: Record<string, StreamDiagnostics>;
    feeds: Record<string, unknown>;
    orders: { journal: 'file' | 'memory'; entries: number; backlog: number; recoveryRequests: number };
    budgets: Record<'trading' | 'data', BudgetState>;
  } {
    const feeds: Record<string, unknown> = {};
    if (this.tradeFeed) feeds.trading = this.tradeFeed.stats;
    for (const [kind, feed] of this.marketFeeds) feeds[kind] = feed.stats;
    const { journal } = this.orders;
    const orders = { journal: journal.durable ? ('file' as const) : ('memory' as const), entries: journal.size, backlog: journal.backlog, recoveryRequests: this.orders.recoveryRequests };
    const budgets = { trading: this.budget.state, data: this.dataBudget.state };
    return { users: this.users.size, requestListeners: this.requests.listenerCount('request'), streams: this.pool.describe(), feeds, orders, budgets };
  }

  onRequest(listener: (e: RequestEvent) => void): () => void {
    this.requests.on('request', listener);
    return () => this.requests.off('request', listener);
  }

  tuneStreams(tuning: StreamTuning): void {
    this.pool.tune(tuning);
  }

  register(user: ConnectionUser): void {
    this.users.set(user.id, user);
    user.onConnectionStatus(this.status);
    if (this.status.state === 'idle' || this.status.state === 'closed') void this.transport.open().catch(() => undefined);
  }

  deregister(user: ConnectionUser): Promise<void> {
    this.users.delete(user.id);
    return this.users.size === 0 ? this.close() : Promise.resolve();
  }

  /** Closes streams, timers and the simulator. Starts synchronously; resolves when all is released. */
  close(): Promise<void> {
    this.generation++;
    for (const feed of this.marketFeeds.values()) feed.close();
    this.marketFeeds.clear();
    this.tradeFeed?.close();
    this.tradeFeed = undefined;
    this.pool.close();
    this.transport.close();
    const sim = this.simulator;
    this.simulator = undefined;
    return Promise.all([sim?.stop(), this.budget.stop(), this.dataBudget.stop()]).then(() => undefined);
  }

  /** Where the client connects: the endpoint, Alpaca, or the built-in simulator started now. */
  private async target(): Promise<ClientTarget> {
    const { mode } = this.options;
    let endpoint = normaliseEndpoint(this.options.endpoint);
    if (mode === 'sim' && !endpoint) {
      const generation = this.generation;
      const sim = new Simulator({ ...this.options.sim, host: '127.0.0.1' });
      await sim.start();
      if (generation !== this.generation) {
        await sim.stop();
        throw new BrokerError('connection closed while opening', 'network');
      }
      this.simulator = sim;
      endpoint = sim.url;
    }
    const keyId = this.options.keyId || (mode === 'sim' ? SIM_KEY : '');
    const secret = this.options.secret || (mode === 'sim' ? SIM_SECRET : '');
    return { endpoint, keyId, secret };
  }

  private broadcast(status: ConnectionStatus): void {
    for (const user of this.users.values()) {
      try {
        user.onConnectionStatus(status);
      } catch {
        // A user's status display failing must not stop the others from hearing the news.
      }
    }
  }
}
