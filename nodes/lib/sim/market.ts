// STUB (to be replaced by the market-model work): a minimal random walk so the rest builds.
import { EventEmitter } from 'node:events';
import type { MarketView, SimAsset, SimClock, SimQuote, SimTrade } from './types';

export interface MarketOptions {
  clock: SimClock;
  seed?: number;
  tickMs?: number;
  csv?: string;
}

export class Market extends EventEmitter implements MarketView {
  private readonly list: SimAsset[] = [
    { id: '00000000-0000-4000-8000-000000000001', symbol: 'AAPL', name: 'Apple Inc.', assetClass: 'us_equity', exchange: 'NASDAQ', fractionable: true, basePrice: 190 },
    { id: '00000000-0000-4000-8000-000000000002', symbol: 'BTC/USD', name: 'Bitcoin', assetClass: 'crypto', exchange: 'CRYPTO', fractionable: true, basePrice: 60000 },
  ];
  private readonly prices = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private tradeId = 0;

  constructor(private readonly opts: MarketOptions) {
    super();
    for (const a of this.list) this.prices.set(a.symbol, a.basePrice);
  }
  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  asset(s: string) {
    return this.list.find((a) => a.symbol === s || a.id === s);
  }
  assets() {
    return this.list;
  }
  quote(symbol: string): SimQuote | undefined {
    const p = this.prices.get(symbol);
    if (p === undefined) return undefined;
    return { symbol, bid: p - 0.01, ask: p + 0.01, bidSize: 100, askSize: 100, t: this.opts.clock.now() };
  }
  lastTrade(symbol: string): SimTrade | undefined {
    const p = this.prices.get(symbol);
    return p === undefined ? undefined : { symbol, price: p, size: 100, id: this.tradeId, t: this.opts.clock.now() };
  }
  setPrice(symbol: string, price: number): void {
    this.prices.set(symbol, price);
  }
  private tick(): void {
    for (const [symbol, p] of this.prices) {
      this.prices.set(symbol, p * (1 + (Math.random() - 0.5) * 0.001));
      this.tradeId++;
      this.emit('tick', symbol, this.quote(symbol), this.lastTrade(symbol));
    }
  }
}
