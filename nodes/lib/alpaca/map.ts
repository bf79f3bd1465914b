// Alpaca's SDK models (money as strings, Dates) -> the plain, numeric snapshots the nodes emit.
import type { AccountSnapshot, ClockSnapshot, OrderSnapshot, PositionSnapshot } from '../core/snapshots';

type Raw = Record<string, unknown>;

const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
};
const numOrNull = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : num(v));
const iso = (v: unknown): string | null => {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  return typeof v === 'string' && v ? v : null;
};
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

export function toAccount(a: Raw): AccountSnapshot {
  const equity = num(a.equity);
  const lastEquity = num(a.lastEquity ?? a.last_equity);
  return {
    id: str(a.id),
    accountNumber: str(a.accountNumber ?? a.account_number),
    status: str(a.status),
    currency: str(a.currency) || 'USD',
    equity,
    lastEquity,
    cash: num(a.cash),
    buyingPower: num(a.buyingPower ?? a.buying_power),
    portfolioValue: num(a.portfolioValue ?? a.portfolio_value ?? equity),
    longMarketValue: num(a.longMarketValue ?? a.long_market_value),
    shortMarketValue: num(a.shortMarketValue ?? a.short_market_value),
    // The SDK leaves these two as raw snake_case keys.
    daytradeCount: num(a.daytrade_count ?? a.daytradeCount),
    patternDayTrader: Boolean(a.pattern_day_trader ?? a.patternDayTrader),
    tradingBlocked: Boolean(a.tradingBlocked ?? a.trading_blocked),
    accountBlocked: Boolean(a.accountBlocked ?? a.account_blocked),
    transfersBlocked: Boolean(a.transfersBlocked ?? a.transfers_blocked),
    shortingEnabled: Boolean(a.shortingEnabled ?? a.shorting_enabled),
    dayChange: Math.round((equity - lastEquity) * 100) / 100,
  };
}

export function toPosition(p: Raw): PositionSnapshot {
  return {
    symbol: str(p.symbol),
    assetClass: str(p.assetClass ?? p.asset_class),
    side: str(p.side) === 'short' ? 'short' : 'long',
    qty: num(p.qty),
    qtyAvailable: num(p.qtyAvailable ?? p.qty_available ?? p.qty),
    avgEntryPrice: num(p.avgEntryPrice ?? p.avg_entry_price),
    currentPrice: num(p.currentPrice ?? p.current_price),
    marketValue: num(p.marketValue ?? p.market_value),
    costBasis: num(p.costBasis ?? p.cost_basis),
    unrealizedPl: num(p.unrealizedPl ?? p.unrealized_pl),
    unrealizedPlpc: num(p.unrealizedPlpc ?? p.unrealized_plpc),
    unrealizedIntradayPl: num(p.unrealizedIntradayPl ?? p.unrealized_intraday_pl),
    changeToday: num(p.changeToday ?? p.change_today),
  };
}

export function toOrder(o: Raw): OrderSnapshot {
  return {
    id: str(o.id),
    clientOrderId: str(o.clientOrderId ?? o.client_order_id),
    symbol: str(o.symbol),
    side: str(o.side),
    type: str(o.type ?? o.orderType ?? o.order_type),
    orderClass: str(o.orderClass ?? o.order_class) || 'simple',
    timeInForce: str(o.timeInForce ?? o.time_in_force),
    status: str(o.status),
    qty: numOrNull(o.qty),
    notional: numOrNull(o.notional),
    filledQty: num(o.filledQty ?? o.filled_qty),
    filledAvgPrice: numOrNull(o.filledAvgPrice ?? o.filled_avg_price),
    limitPrice: numOrNull(o.limitPrice ?? o.limit_price),
    stopPrice: numOrNull(o.stopPrice ?? o.stop_price),
    createdAt: iso(o.createdAt ?? o.created_at),
    updatedAt: iso(o.updatedAt ?? o.updated_at),
    submittedAt: iso(o.submittedAt ?? o.submitted_at),
    filledAt: iso(o.filledAt ?? o.filled_at),
  };
}

export function toClock(c: Raw): ClockSnapshot {
  return {
    timestamp: iso(c.timestamp) ?? '',
    isOpen: Boolean(c.isOpen ?? c.is_open),
    nextOpen: iso(c.nextOpen ?? c.next_open) ?? '',
    nextClose: iso(c.nextClose ?? c.next_close) ?? '',
  };
}
