// Reads of the account on Alpaca through the shared client and budgets: account, positions, open
// orders, the market clock and the last trade price of a symbol.
import type { AccountReads } from '../core/broker';
import { PRIORITY } from '../core/priority';
import type { AccountSnapshot, ClockSnapshot, OrderSnapshot, PositionSnapshot } from '../core/snapshots';
import type { StockFeed } from './client';
import { toAccount, toClock, toOrder, toPosition } from './map';
import type { Rest } from './transport';

type Raw = Record<string, unknown>;
type Trades = { trades?: Record<string, { p?: number }> };

const read = { priority: PRIORITY.read };

export class AlpacaReads implements AccountReads {
  constructor(
    private readonly transport: Rest,
    private readonly feed: StockFeed,
  ) {}

  async account(): Promise<AccountSnapshot> {
    return toAccount((await this.transport.rest((a) => a.trading.account.getAccount(), read)) as unknown as Raw);
  }

  async positions(): Promise<PositionSnapshot[]> {
    const list = await this.transport.rest((a) => a.trading.positions.getAllOpenPositions(), read);
    return list.map((p) => toPosition(p as unknown as Raw));
  }

  async position(symbol: string): Promise<PositionSnapshot> {
    const p = await this.transport.rest((a) => a.trading.positions.getOpenPosition({ symbolOrAssetId: symbol }), read);
    return toPosition(p as unknown as Raw);
  }

  async openOrders(): Promise<OrderSnapshot[]> {
    const list = await this.transport.rest((a) => a.trading.orders.getAllOrders({ status: 'open', limit: 500, nested: true }), read);
    return list.map((o) => toOrder(o as unknown as Raw));
  }

  async clock(): Promise<ClockSnapshot> {
    return toClock((await this.transport.rest((a) => a.trading.clock.legacyClock(), read)) as unknown as Raw);
  }

  /** Last trade price, or undefined when the broker has none. Throws a BrokerError when the request fails. */
  async latestPrice(symbol: string): Promise<number | undefined> {
    const crypto = symbol.includes('/');
    const options = { ...read, api: 'data' as const };
    const resp: Trades = crypto
      ? await this.transport.rest((a) => a.marketData.crypto.cryptoLatestTrades({ loc: 'us', symbols: symbol }), options)
      : await this.transport.rest((a) => a.marketData.stocks.stockLatestTrades({ symbols: symbol, feed: this.feed as never }), options);
    const trades = resp.trades ?? {};
    const p = (trades[symbol] ?? trades[symbol.replace('/', '')])?.p;
    return typeof p === 'number' && p > 0 ? p : undefined;
  }
}
