// Assets as the trading API names and shows them.
import { decimalString } from './decimal';
import type { MarketView, SimAsset } from './types';

/** Alpaca names crypto positions without the slash (BTCUSD) although orders say BTC/USD. */
export function positionSymbol(asset: SimAsset): string {
  return asset.assetClass === 'crypto' ? asset.symbol.replace('/', '') : asset.symbol;
}

/** Finds an asset by symbol, asset id, or a crypto pair without its slash (BTCUSD). */
export function resolveAsset(market: MarketView, symbolOrId: string): SimAsset | undefined {
  const wanted = symbolOrId.trim();
  if (!wanted) return undefined;
  const direct = market.asset(wanted) ?? market.asset(wanted.toUpperCase());
  if (direct) return direct;
  const flat = wanted.toUpperCase().replace('/', '');
  return market.assets().find((a) => a.symbol.replace('/', '') === flat || a.id === wanted);
}

/** The currency a crypto pair is quoted in (USD for BTC/USD); undefined for stocks. */
export function quoteCurrency(asset: SimAsset): string | undefined {
  return asset.assetClass === 'crypto' ? asset.symbol.split('/')[1] : undefined;
}

/** An increment as Alpaca writes it: "0.000000001", never 1e-9. */
const increment = (value: number) => decimalString(value, 12);

export function assetJson(a: SimAsset): Record<string, unknown> {
  const crypto = a.assetClass === 'crypto';
  const out: Record<string, unknown> = {
    id: a.id,
    class: a.assetClass,
    exchange: a.exchange,
    symbol: a.symbol,
    name: a.name,
    status: 'active',
    tradable: true,
    marginable: !crypto,
    maintenance_margin_requirement: crypto ? 100 : 30,
    margin_requirement_long: crypto ? '100' : '50',
    margin_requirement_short: crypto ? '100' : '50',
    shortable: !crypto,
    easy_to_borrow: !crypto,
    fractionable: a.fractionable,
    attributes: [],
  };
  if (!crypto) out.borrow_status = 'easy_to_borrow';
  if (a.minOrderSize !== undefined) out.min_order_size = increment(a.minOrderSize);
  if (a.minTradeIncrement !== undefined) out.min_trade_increment = increment(a.minTradeIncrement);
  if (a.priceIncrement !== undefined) out.price_increment = increment(a.priceIncrement);
  return out;
}
