// The broker-neutral views of an account, its positions, orders, the market clock and order
// events: plain data with numbers as numbers, what the nodes emit and the rules reason about.

export interface AccountSnapshot {
  id: string;
  accountNumber: string;
  status: string;
  currency: string;
  equity: number;
  lastEquity: number;
  cash: number;
  buyingPower: number;
  portfolioValue: number;
  longMarketValue: number;
  shortMarketValue: number;
  daytradeCount: number;
  patternDayTrader: boolean;
  tradingBlocked: boolean;
  accountBlocked: boolean;
  transfersBlocked: boolean;
  shortingEnabled: boolean;
  /** Equity change since the previous close, in account currency. */
  dayChange: number;
}

export interface PositionSnapshot {
  symbol: string;
  assetClass: string;
  side: 'long' | 'short';
  qty: number;
  qtyAvailable: number;
  avgEntryPrice: number;
  currentPrice: number;
  marketValue: number;
  costBasis: number;
  unrealizedPl: number;
  unrealizedPlpc: number;
  unrealizedIntradayPl: number;
  changeToday: number;
}

export interface OrderSnapshot {
  id: string;
  clientOrderId: string;
  symbol: string;
  side: string;
  type: string;
  orderClass: string;
  timeInForce: string;
  status: string;
  qty: number | null;
  notional: number | null;
  filledQty: number;
  filledAvgPrice: number | null;
  limitPrice: number | null;
  stopPrice: number | null;
  createdAt: string | null;
  updatedAt: string | null;
  submittedAt: string | null;
  filledAt: string | null;
}

export interface ClockSnapshot {
  timestamp: string;
  isOpen: boolean;
  nextOpen: string;
  nextClose: string;
}

/** One failed order-cancel or position-close of a bulk action. */
export interface BulkResult {
  symbol?: string;
  id?: string;
  status: number;
  ok: boolean;
  order?: OrderSnapshot;
  error?: string;
}

/** One trade update (order event), normalised, in the broker-neutral shape. */
export interface TradeUpdate {
  /** new, partial_fill, fill, canceled, expired, replaced, rejected, done_for_day, ... */
  event: string;
  /** ISO time of the event. */
  timestamp: string;
  order: OrderSnapshot;
  /** The fill's price and quantity (fill / partial_fill). */
  price?: number;
  qty?: number;
  /** The position after this fill. */
  positionQty?: number;
  executionId?: string;
  /** True when recovered over REST (missed during a stream outage, or before the stream first listened) rather than received live. */
  recovered?: boolean;
}
