// The market-data feed of one kind on the shared connection. PLACEHOLDER: the stream work
// implements it (ref-counted subscriptions, reconnect, gap fill, bounded buffers).
import type { AlpacaConnection } from './connection';

export type MarketKind = 'stocks' | 'crypto' | 'options' | 'news';

export class AlpacaMarketFeed {
  constructor(
    readonly connection: AlpacaConnection,
    readonly kind: MarketKind,
  ) {}

  close(): void {
    // Nothing opened yet.
  }
}
