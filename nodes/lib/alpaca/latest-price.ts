// The last trade price of one symbol through the shared connection (and its budget): what the
// circuit breaker values a market order at when the order carries no price of its own.
import type { AlpacaConnection } from './connection';

type Trades = { trades?: Record<string, { p?: number }> };

/** Last trade price, or undefined when the broker has none. Throws a BrokerError when the request fails. */
export async function latestPrice(connection: AlpacaConnection, symbol: string): Promise<number | undefined> {
  const crypto = symbol.includes('/');
  const resp: Trades = crypto
    ? await connection.rest((a) => a.marketData.crypto.cryptoLatestTrades({ loc: 'us', symbols: symbol }))
    : await connection.rest((a) => a.marketData.stocks.stockLatestTrades({ symbols: symbol, feed: 'iex' }));
  const trades = resp.trades ?? {};
  const p = (trades[symbol] ?? trades[symbol.replace('/', '')])?.p;
  return typeof p === 'number' && p > 0 ? p : undefined;
}
