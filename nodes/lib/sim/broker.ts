// STUB (to be replaced by the paper-broker work).
import { EventEmitter } from 'node:events';
import type { MarketView, SimClock } from './types';

export interface BrokerOptions {
  market: MarketView;
  clock: SimClock;
  startingCash?: number;
  slippageBps?: number;
}

export class Broker extends EventEmitter {
  constructor(readonly opts: BrokerOptions) {
    super();
  }
  start(): void {}
  stop(): void {}
  reset(): void {}
}
