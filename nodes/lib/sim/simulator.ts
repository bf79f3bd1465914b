// The built-in Alpaca-compatible paper broker: market model, paper broker and the HTTP/WebSocket
// shell on one loopback port. `new Simulator(opts).start()` resolves with its base URL.
import { Clock, type MarketHours } from './clock';
import { Market, type MarketOptions } from './market';
import { Broker, type BrokerOptions } from './broker';
import { SimServer } from './server';
import { dataRoutes } from './data-routes';
import { dataStreamEndpoint } from './data-stream';
import { tradingRoutes } from './trading-routes';
import { tradingStreamEndpoint } from './trading-stream';
import type { DataPlan, SimFaults, SimStats } from './types';

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Accept only this key pair (default: any non-empty pair). */
  key?: string;
  secret?: string;
  /** Seed of the random walk: the same seed gives the same prices. */
  seed?: number;
  /** Real milliseconds between price ticks (default 1000). */
  tickMs?: number;
  /** Simulated ms per real ms (default 1). */
  speed?: number;
  /** Simulated time at start (ISO text or epoch ms; default now): e.g. a Sunday 03:00 New York to rehearse a closed market. */
  startAt?: string | number;
  /** `nyse` (default): the exchange's calendar in New York time; `always`: stocks never close. */
  marketHours?: MarketHours;
  /** The market-data plan: `basic` (default, a new account's: IEX, no recent SIP) or `sip`. */
  dataPlan?: DataPlan;
  /** Path of a CSV of bars to replay instead of the random walk. */
  csv?: string;
  startingCash?: number;
  /** Slippage of market orders beyond the touch, in basis points (default 5). */
  slippageBps?: number;
  faults?: Partial<SimFaults>;
  market?: Partial<MarketOptions>;
  broker?: Partial<BrokerOptions>;
}

export class Simulator {
  readonly clock: Clock;
  readonly market: Market;
  readonly broker: Broker;
  readonly server: SimServer;
  private readonly closers: Array<() => void> = [];
  private started = false;

  constructor(readonly options: SimulatorOptions = {}) {
    const start = typeof options.startAt === 'string' ? Date.parse(options.startAt) : options.startAt;
    if (start !== undefined && !Number.isFinite(start)) throw new Error(`startAt ${JSON.stringify(options.startAt)} is not a time`);
    this.clock = new Clock({ speed: options.speed, marketHours: options.marketHours, start });
    this.market = new Market({
      seed: options.seed,
      tickMs: options.tickMs,
      csv: options.csv,
      ...options.market,
      clock: this.clock,
    });
    this.broker = new Broker({
      startingCash: options.startingCash,
      slippageBps: options.slippageBps,
      ...options.broker,
      market: this.market,
      clock: this.clock,
    });
    this.server = new SimServer({
      port: options.port,
      host: options.host,
      key: options.key,
      secret: options.secret,
      faults: options.faults,
    });
    this.server.addRoutes(tradingRoutes(this.broker, this.market, this.clock, this.server.stats));
    this.server.addRoutes(dataRoutes(this.market, this.clock, { dataPlan: options.dataPlan }));
    const data = dataStreamEndpoint(this.market, { dataPlan: options.dataPlan });
    const trading = tradingStreamEndpoint(this.broker);
    this.server.addStream(data);
    this.server.addStream(trading);
    this.closers.push(() => data.close(), () => trading.close());
    this.server.setControl({
      setPrice: (symbol, price) => {
        if (!this.market.asset(symbol)) throw new Error(`unknown symbol ${symbol}`);
        this.market.setPrice(symbol, price);
      },
      reset: () => this.broker.reset(),
      extraStats: () => ({ simTime: new Date(this.clock.now()).toISOString() }),
    });
  }

  get stats(): SimStats {
    return this.server.stats;
  }

  get faults(): SimFaults {
    return this.server.faults;
  }

  get url(): string {
    return this.server.url;
  }

  /** The address and port really bound, e.g. `0.0.0.0:8765`. */
  get boundAddress(): string {
    return this.server.boundAddress;
  }

  async start(): Promise<string> {
    const url = await this.server.listen();
    this.market.start();
    this.broker.start();
    this.started = true;
    return url;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.market.stop();
    this.broker.stop();
    for (const close of this.closers) close();
    await this.server.close();
  }

  dropStreams(): number {
    return this.server.dropStreams();
  }
}
