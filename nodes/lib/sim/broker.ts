// The simulator's paper broker: an Alpaca-like account, order book and positions driven by the
// market's price path. Fills happen at the touch (plus slippage for market orders), limited by the
// displayed size per tick, and every change is announced as an Alpaca trade_updates `data` object.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { SimHttpError, type MarketView, type SimAsset, type SimClock, type SimQuote } from './types';

/** Alpaca names crypto positions without the slash (BTCUSD) although orders say BTC/USD. */
function positionSymbol(asset: SimAsset): string {
  return asset.assetClass === 'crypto' ? asset.symbol.replace('/', '') : asset.symbol;
}

export interface BrokerOptions {
  market: MarketView;
  clock: SimClock;
  /** Cash of a fresh account (default 100,000 USD). */
  startingCash?: number;
  /** Slippage of market (and triggered stop) orders beyond the touch, in basis points (default 5). */
  slippageBps?: number;
  /** Units one symbol side can fill per tick; default: the quote's displayed size. */
  liquidityPerTick?: number;
  /** Reg-T margin multiplier: 2 = margin account (default), 1 = cash account. */
  multiplier?: number;
  /** Closed orders kept for queries (default 10,000); older closed orders are forgotten. */
  maxClosedOrders?: number;
  /** Whether stocks may be sold short (default true). */
  shorting?: boolean;
  /** Real ms between sweeps for expiries, the open and the close (default 1000). */
  sweepMs?: number;
}

export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop_limit' | 'trailing_stop';
export type TimeInForce = 'day' | 'gtc' | 'opg' | 'cls' | 'ioc' | 'fok';
export type OrderClass = 'simple' | 'bracket' | 'oco' | 'oto' | '';
export type OrderStatus =
  | 'accepted'
  | 'new'
  | 'held'
  | 'partially_filled'
  | 'filled'
  | 'canceled'
  | 'expired'
  | 'replaced'
  | 'rejected';

export type OrderJson = Record<string, unknown> & { id: string; status: OrderStatus; client_order_id: string };
export type TradeUpdate = Record<string, unknown> & { event: string; timestamp: string; order: OrderJson };

interface SimOrder {
  id: string;
  clientOrderId: string;
  asset: SimAsset;
  side: OrderSide;
  type: OrderType;
  timeInForce: TimeInForce;
  orderClass: OrderClass;
  qty: number | null;
  notional: number | null;
  limitPrice: number | null;
  stopPrice: number | null;
  trailPrice: number | null;
  trailPercent: number | null;
  hwm: number | null;
  extendedHours: boolean;
  positionIntent: string;
  status: OrderStatus;
  filledQty: number;
  filledValue: number;
  createdAt: number;
  updatedAt: number;
  submittedAt: number;
  filledAt: number | null;
  canceledAt: number | null;
  expiredAt: number | null;
  failedAt: number | null;
  replacedAt: number | null;
  replacedBy: string | null;
  replaces: string | null;
  /** Day orders in NYSE mode expire at this instant. */
  expiresAt: number | null;
  /** opg and cls orders may not execute before this instant. */
  notBefore: number | null;
  /** A stop (or trailing stop) has been hit and the order now works as market/limit. */
  triggered: boolean;
  /** Closes a position only (OCO and bracket/OTO exits): reserves no buying power. */
  exitOnly: boolean;
  legs: SimOrder[] | null;
  parent: SimOrder | null;
  retired: boolean;
  dayTradeCounted: boolean;
}

interface SimPosition {
  asset: SimAsset;
  /** Signed: negative for a short. */
  qty: number;
  avgEntryPrice: number;
  /** Session key of the last time the position was opened or added to (for day trades). */
  openedSession: string;
}

interface LiquidityBudget {
  t: number;
  buy: number;
  sell: number;
}

export interface ListOrdersQuery {
  status?: string;
  limit?: number;
  after?: string;
  until?: string;
  direction?: string;
  nested?: boolean;
  symbols?: string[];
  side?: string;
}

const WORKING: ReadonlySet<OrderStatus> = new Set(['accepted', 'new', 'partially_filled']);
const TERMINAL: ReadonlySet<OrderStatus> = new Set(['filled', 'canceled', 'expired', 'replaced', 'rejected']);
const ORDER_TYPES: ReadonlySet<string> = new Set(['market', 'limit', 'stop', 'stop_limit', 'trailing_stop']);
const TIFS: ReadonlySet<string> = new Set(['day', 'gtc', 'opg', 'cls', 'ioc', 'fok']);
const SINGLE_PASS: ReadonlySet<TimeInForce> = new Set(['ioc', 'fok', 'opg', 'cls']);
const MINUTE = 60_000;
const QTY_EPSILON = 1e-9;

export const DEFAULT_MAX_CLOSED_ORDERS = 10_000;

const invalid = (message: string) => new SimHttpError(422, 40010001, message);
const forbidden = (message: string) => new SimHttpError(403, 40310000, message);
const notFound = (message: string) => new SimHttpError(404, 40410000, message);

// --- decimal helpers: money to cents, quantities to 9 decimals ------------------

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round((value + Math.sign(value) * Number.EPSILON * Math.abs(value)) * f) / f;
}
const money = (v: number) => round(v, 2);
const units = (v: number) => round(v, 9);

/** A decimal string without exponent or trailing zeros, as Alpaca sends numbers. */
export function decimalString(value: number, decimals = 9): string {
  const text = round(value, decimals).toFixed(decimals).replace(/\.?0+$/, '');
  return text === '-0' || text === '' ? '0' : text;
}
const moneyString = (v: number) => decimalString(v, 2);

function priceDecimals(asset: SimAsset, price: number): number {
  if (asset.assetClass === 'crypto') {
    if (asset.priceIncrement && asset.priceIncrement > 0) {
      return Math.max(0, Math.min(9, Math.ceil(-Math.log10(asset.priceIncrement) - 1e-9)));
    }
    return price >= 1 ? 2 : 9;
  }
  return price >= 1 ? 2 : 4;
}
const roundPrice = (asset: SimAsset, price: number) => round(price, priceDecimals(asset, price));

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const isWhole = (n: number) => Math.abs(n - Math.round(n)) < QTY_EPSILON;

const sessionFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'America/New_York',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});
/** The New York date of an instant: trading sessions roll over at New York midnight. */
export function sessionKey(at: number): string {
  return sessionFormat.format(new Date(at));
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

/** Parses an Alpaca decimal (string or number); undefined when absent, 422 when malformed. */
function parseDecimal(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let n = NaN;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) n = Number(value);
  if (!Number.isFinite(n)) throw invalid(`invalid ${field}`);
  return n;
}

function positive(value: unknown, field: string): number | undefined {
  const n = parseDecimal(value, field);
  if (n !== undefined && !(n > 0)) throw invalid(`${field} must be > 0`);
  return n;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export class Broker extends EventEmitter {
  readonly accountId = randomUUID();
  readonly accountNumber = `PA${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
  readonly createdAt: number;
  private readonly market: MarketView;
  private readonly clock: SimClock;
  private readonly startingCash: number;
  private readonly slippage: number;
  private readonly liquidityPerTick: number | undefined;
  private readonly maxClosedOrders: number;
  private readonly sweepMs: number;
  private multiplier: number;
  private shorting: boolean;
  private fractionalTrading = true;
  private suspendTrade = false;

  private cash = 0;
  private lastEquity = 0;
  private session = '';
  private recentSessions: string[] = [];
  private dayTrades: string[] = [];
  private readonly orders = new Map<string, SimOrder>();
  private readonly byClientOrderId = new Map<string, SimOrder>();
  private readonly open = new Set<SimOrder>();
  private readonly openBySymbol = new Map<string, Set<SimOrder>>();
  private closed: SimOrder[] = [];
  private closedHead = 0;
  private readonly positions = new Map<string, SimPosition>();
  private readonly lastdayPrices = new Map<string, number>();
  private readonly budgets = new Map<string, LiquidityBudget>();
  private timer?: NodeJS.Timeout;
  private readonly onTick = (symbol: string, quote: SimQuote) => this.handleTick(symbol, quote);

  constructor(options: BrokerOptions) {
    super();
    this.market = options.market;
    this.clock = options.clock;
    this.startingCash = options.startingCash ?? 100_000;
    this.slippage = (options.slippageBps ?? 5) / 10_000;
    this.liquidityPerTick = options.liquidityPerTick && options.liquidityPerTick > 0 ? options.liquidityPerTick : undefined;
    this.multiplier = options.multiplier === 1 ? 1 : 2;
    this.maxClosedOrders = Math.max(1, options.maxClosedOrders ?? DEFAULT_MAX_CLOSED_ORDERS);
    this.shorting = options.shorting ?? true;
    this.sweepMs = options.sweepMs ?? 1000;
    this.createdAt = this.clock.now();
    // Many stream sockets may listen at once; each removes itself on close.
    this.setMaxListeners(0);
    this.reset();
  }

  start(): void {
    if (this.timer) return;
    this.market.on('tick', this.onTick);
    this.timer = setInterval(() => this.sweep(), this.sweepMs);
    this.timer.unref();
  }

  stop(): void {
    this.market.off('tick', this.onTick);
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A fresh account: starting cash, no orders, no positions. */
  reset(): void {
    this.cash = this.startingCash;
    this.lastEquity = this.startingCash;
    this.orders.clear();
    this.byClientOrderId.clear();
    this.open.clear();
    this.openBySymbol.clear();
    this.closed = [];
    this.closedHead = 0;
    this.positions.clear();
    this.budgets.clear();
    this.dayTrades = [];
    this.session = sessionKey(this.clock.now());
    this.recentSessions = [this.session];
    this.lastdayPrices.clear();
    for (const asset of this.market.assets()) {
      const price = this.currentPrice(asset.symbol);
      if (price !== undefined) this.lastdayPrices.set(asset.symbol, price);
    }
  }

  // --- account ------------------------------------------------------------

  private valuation() {
    let longValue = 0;
    let shortValue = 0;
    let initialMargin = 0;
    let maintenanceMargin = 0;
    for (const p of this.positions.values()) {
      const value = p.qty * (this.currentPrice(p.asset.symbol) ?? p.avgEntryPrice);
      if (value >= 0) longValue += value;
      else shortValue += value;
      // Crypto is not marginable: it needs its full value; stocks need 1/multiplier (Reg-T).
      const initialRate = p.asset.assetClass === 'crypto' ? 1 : 1 / this.multiplier;
      initialMargin += Math.abs(value) * initialRate;
      maintenanceMargin += Math.abs(value) * (p.asset.assetClass === 'crypto' ? 1 : 0.3);
    }
    const equity = this.cash + longValue + shortValue;
    return { longValue, shortValue, equity, initialMargin, maintenanceMargin };
  }

  /** Buying power (stocks) and non-marginable buying power (crypto), less what open orders reserve. */
  private buyingPower(except?: SimOrder) {
    const v = this.valuation();
    let stockReserved = 0;
    let cryptoReserved = 0;
    for (const o of this.open) {
      if (o === except) continue;
      const reserved = this.reservation(o);
      if (o.asset.assetClass === 'crypto') cryptoReserved += reserved;
      else stockReserved += reserved;
    }
    const regT = Math.max(0, (v.equity - v.initialMargin) * this.multiplier);
    const nonMarginable = Math.max(0, Math.min(this.cash, v.equity - v.initialMargin));
    return {
      ...v,
      regT,
      buyingPower: Math.max(0, regT - stockReserved - cryptoReserved),
      nonMarginable: Math.max(0, nonMarginable - cryptoReserved),
    };
  }

  /** The notional an open order may add to the account's exposure. */
  private reservation(o: SimOrder): number {
    if (o.exitOnly || (!WORKING.has(o.status) && o.status !== 'held')) return 0;
    if (o.notional !== null) return o.side === 'sell' ? 0 : Math.max(0, o.notional - o.filledValue);
    const remaining = (o.qty ?? 0) - o.filledQty;
    const opening = this.openingQty(o.asset, o.side, remaining);
    if (opening <= 0) return 0;
    return opening * this.referencePrice(o);
  }

  /** Part of a quantity that opens or extends exposure rather than closing a position. */
  private openingQty(asset: SimAsset, side: OrderSide, qty: number): number {
    const held = this.positions.get(asset.symbol)?.qty ?? 0;
    if (side === 'buy') return held < 0 ? Math.max(0, qty + held) : qty;
    return held > 0 ? Math.max(0, qty - held) : qty;
  }

  private referencePrice(o: SimOrder): number {
    if (o.type === 'limit' || o.type === 'stop_limit') return o.limitPrice ?? 0;
    const q = this.market.quote(o.asset.symbol);
    const touch = q ? (o.side === 'buy' ? q.ask : q.bid) : 0;
    const base = o.type === 'stop' && o.stopPrice !== null ? Math.max(o.stopPrice, touch) : touch;
    return base * (o.side === 'buy' ? 1 + this.slippage : 1);
  }

  getAccount(): Record<string, unknown> {
    const bp = this.buyingPower();
    const daytradeCount = this.daytradeCount();
    return {
      id: this.accountId,
      account_number: this.accountNumber,
      status: 'ACTIVE',
      crypto_status: 'ACTIVE',
      currency: 'USD',
      cash: moneyString(this.cash),
      buying_power: moneyString(bp.buyingPower),
      regt_buying_power: moneyString(bp.buyingPower),
      daytrading_buying_power: moneyString(bp.buyingPower),
      effective_buying_power: moneyString(bp.buyingPower),
      non_marginable_buying_power: moneyString(bp.nonMarginable),
      options_buying_power: moneyString(bp.nonMarginable),
      bod_dtbp: '0',
      accrued_fees: '0',
      pending_transfer_in: '0',
      pending_transfer_out: '0',
      pending_reg_taf_fees: '0',
      portfolio_value: moneyString(bp.equity),
      equity: moneyString(bp.equity),
      last_equity: moneyString(this.lastEquity),
      long_market_value: moneyString(bp.longValue),
      short_market_value: moneyString(bp.shortValue),
      position_market_value: moneyString(bp.longValue - bp.shortValue),
      initial_margin: moneyString(bp.initialMargin),
      maintenance_margin: moneyString(bp.maintenanceMargin),
      last_maintenance_margin: moneyString(bp.maintenanceMargin),
      sma: moneyString(Math.max(0, bp.equity - bp.initialMargin)),
      multiplier: String(this.multiplier),
      intraday_adjustments: '0',
      daytrade_count: daytradeCount,
      pattern_day_trader: daytradeCount >= 4 && bp.equity < 25_000,
      shorting_enabled: this.shorting && this.multiplier > 1,
      trading_blocked: false,
      transfers_blocked: false,
      account_blocked: false,
      trade_suspended_by_user: this.suspendTrade,
      options_approved_level: 0,
      options_trading_level: 0,
      balance_asof: this.session,
      created_at: new Date(this.createdAt).toISOString(),
    };
  }

  getConfigurations(): Record<string, unknown> {
    return {
      dtbp_check: 'entry',
      pdt_check: 'entry',
      trade_confirm_email: 'none',
      suspend_trade: this.suspendTrade,
      no_shorting: !this.shorting,
      fractional_trading: this.fractionalTrading,
      max_margin_multiplier: String(this.multiplier),
      max_options_trading_level: 0,
      ptp_no_exception_entry: false,
      disable_overnight_trading: false,
    };
  }

  /** PATCH /v2/account/configurations: the settings the simulator honours. */
  configure(body: unknown): Record<string, unknown> {
    const update = record(body) ?? {};
    const flag = (name: string): boolean | undefined => {
      const v = update[name];
      if (v === undefined) return undefined;
      if (typeof v !== 'boolean') throw invalid(`${name} must be a boolean`);
      return v;
    };
    const noShorting = flag('no_shorting');
    const suspend = flag('suspend_trade');
    const fractional = flag('fractional_trading');
    if (update.max_margin_multiplier !== undefined) {
      const m = String(update.max_margin_multiplier);
      if (m !== '1' && m !== '2') throw invalid('max_margin_multiplier must be "1" or "2"');
      this.multiplier = Number(m);
    }
    if (noShorting !== undefined) this.shorting = !noShorting;
    if (suspend !== undefined) this.suspendTrade = suspend;
    if (fractional !== undefined) this.fractionalTrading = fractional;
    return this.getConfigurations();
  }

  private daytradeCount(): number {
    const window = new Set(this.recentSessions.slice(-5));
    return this.dayTrades.filter((s) => window.has(s)).length;
  }

  // --- positions ----------------------------------------------------------

  private currentPrice(symbol: string): number | undefined {
    const trade = this.market.lastTrade(symbol);
    if (trade && trade.price > 0) return trade.price;
    const q = this.market.quote(symbol);
    return q ? (q.bid + q.ask) / 2 : undefined;
  }

  /** Quantity of a position that open closing orders do not already hold. */
  private qtyAvailable(p: SimPosition): number {
    return Math.max(0, units(Math.abs(p.qty) - this.heldQty(p)));
  }

  private heldQty(p: SimPosition): number {
    const closingSide: OrderSide = p.qty > 0 ? 'sell' : 'buy';
    const groups = new Map<SimOrder, number>();
    for (const o of this.open) {
      if (o.asset.symbol !== p.asset.symbol || o.side !== closingSide || o.qty === null) continue;
      if (o.status === 'held') continue;
      // Sibling exits (OCO pair, bracket legs) sell the same shares: count the group once.
      const group = o.parent ?? o;
      const remaining = o.qty - o.filledQty;
      groups.set(group, Math.max(groups.get(group) ?? 0, remaining));
    }
    let held = 0;
    for (const q of groups.values()) held += q;
    return held;
  }

  private positionJson(p: SimPosition): Record<string, unknown> {
    const price = this.currentPrice(p.asset.symbol) ?? p.avgEntryPrice;
    const lastday = this.lastdayPrices.get(p.asset.symbol) ?? price;
    const marketValue = p.qty * price;
    const costBasis = p.qty * p.avgEntryPrice;
    const unrealized = marketValue - costBasis;
    const openedToday = p.openedSession === this.session;
    // A position opened today gains intraday from its entry, an older one from yesterday's close.
    const intradayBase = openedToday ? p.avgEntryPrice : lastday;
    const intraday = p.qty * (price - intradayBase);
    const intradayBasis = Math.abs(p.qty * intradayBase);
    return {
      asset_id: p.asset.id,
      symbol: positionSymbol(p.asset),
      exchange: p.asset.exchange,
      asset_class: p.asset.assetClass,
      asset_marginable: p.asset.assetClass !== 'crypto',
      avg_entry_price: decimalString(p.avgEntryPrice),
      qty: decimalString(p.qty),
      qty_available: decimalString(this.qtyAvailable(p) * Math.sign(p.qty)),
      side: p.qty > 0 ? 'long' : 'short',
      market_value: moneyString(marketValue),
      cost_basis: moneyString(costBasis),
      unrealized_pl: moneyString(unrealized),
      unrealized_plpc: decimalString(costBasis ? unrealized / Math.abs(costBasis) : 0, 10),
      unrealized_intraday_pl: moneyString(intraday),
      unrealized_intraday_plpc: decimalString(intradayBasis ? intraday / intradayBasis : 0, 10),
      current_price: decimalString(price),
      lastday_price: decimalString(lastday),
      change_today: decimalString(lastday ? (price - lastday) / lastday : 0, 10),
    };
  }

  getPositions(): Record<string, unknown>[] {
    return [...this.positions.values()]
      .sort((a, b) => a.asset.symbol.localeCompare(b.asset.symbol))
      .map((p) => this.positionJson(p));
  }

  getPosition(symbolOrId: string): Record<string, unknown> {
    return this.positionJson(this.findPosition(symbolOrId));
  }

  private findPosition(symbolOrId: string): SimPosition {
    const asset = resolveAsset(this.market, symbolOrId);
    const p = asset && this.positions.get(asset.symbol);
    if (!p) throw notFound('position does not exist');
    return p;
  }

  /** DELETE /v2/positions/{symbol}: a market order closing all, `qty` or `percentage` of it. */
  closePosition(symbolOrId: string, options: { qty?: string | null; percentage?: string | null } = {}): OrderJson {
    const p = this.findPosition(symbolOrId);
    const held = Math.abs(p.qty);
    let qty = held;
    if (options.qty !== undefined && options.qty !== null && options.qty !== '') {
      if (options.percentage !== undefined && options.percentage !== null && options.percentage !== '') {
        throw invalid('only one of qty or percentage may be specified');
      }
      qty = positive(options.qty, 'qty') ?? held;
    } else if (options.percentage !== undefined && options.percentage !== null && options.percentage !== '') {
      const pct = positive(options.percentage, 'percentage') ?? 100;
      if (pct > 100) throw invalid('percentage must be <= 100');
      qty = units((held * pct) / 100);
      // Whole shares only when the asset cannot trade fractions.
      if (!p.asset.fractionable) qty = Math.floor(qty);
    }
    if (qty > held + QTY_EPSILON) throw forbidden(`insufficient qty available for order (requested: ${decimalString(qty)}, available: ${decimalString(held)})`);
    if (!(qty > 0)) throw invalid('qty must be > 0');
    return this.submitOrder({
      symbol: p.asset.symbol,
      qty: decimalString(qty),
      side: p.qty > 0 ? 'sell' : 'buy',
      type: 'market',
      time_in_force: p.asset.assetClass === 'crypto' ? 'gtc' : 'day',
    });
  }

  /** DELETE /v2/positions: one closing order per position (207 multi-status entries). */
  closeAllPositions(cancelOrders: boolean): Array<{ symbol: string; status: number; body?: OrderJson }> {
    if (cancelOrders) this.cancelAllOrders();
    return [...this.positions.values()].map((p) => {
      try {
        return { symbol: positionSymbol(p.asset), status: 200, body: this.closePosition(p.asset.symbol) };
      } catch (err) {
        return { symbol: positionSymbol(p.asset), status: err instanceof SimHttpError ? err.status : 500 };
      }
    });
  }

  // --- orders: submission -------------------------------------------------

  /** POST /v2/orders with Alpaca's snake_case body; returns the accepted order or throws SimHttpError. */
  submitOrder(body: unknown): OrderJson {
    const o = this.buildOrder(body);
    this.accept(o);
    const ack = this.orderJson(o);
    this.processOrder(o);
    return ack;
  }

  private buildOrder(body: unknown): SimOrder {
    const input = record(body);
    if (!input) throw invalid('request body must be an order object');
    if (this.suspendTrade) throw forbidden('trading is suspended for this account');

    const symbol = typeof input.symbol === 'string' ? input.symbol : '';
    if (!symbol) throw invalid('symbol is required');
    const asset = resolveAsset(this.market, symbol);
    if (!asset) throw invalid(`asset "${symbol}" not found`);
    const crypto = asset.assetClass === 'crypto';

    const side = input.side;
    if (side !== 'buy' && side !== 'sell') throw invalid('invalid side (expected buy or sell)');
    const type = String(input.type ?? '');
    if (!ORDER_TYPES.has(type)) throw invalid(`invalid order type "${type}"`);
    const tif = String(input.time_in_force ?? '');
    if (!TIFS.has(tif)) throw invalid(`invalid time_in_force "${tif}"`);
    const rawClass = input.order_class === undefined || input.order_class === null ? '' : String(input.order_class);
    if (!['', 'simple', 'bracket', 'oco', 'oto'].includes(rawClass)) throw invalid(`invalid order_class "${rawClass}"`);
    const orderClass = (rawClass || 'simple') as OrderClass;

    const qty = positive(input.qty, 'qty');
    const notional = positive(input.notional, 'notional');
    if (qty !== undefined && notional !== undefined) throw invalid('only one of qty or notional may be specified');
    if (qty === undefined && notional === undefined) throw invalid('qty or notional is required');

    const limitPrice = positive(input.limit_price, 'limit_price');
    const stopPrice = positive(input.stop_price, 'stop_price');
    const trailPrice = positive(input.trail_price, 'trail_price');
    const trailPercent = positive(input.trail_percent, 'trail_percent');
    // An OCO's limit price comes from its take_profit.
    if ((type === 'limit' || type === 'stop_limit') && limitPrice === undefined && orderClass !== 'oco') {
      throw invalid('limit_price is required for limit orders');
    }
    if ((type === 'stop' || type === 'stop_limit') && stopPrice === undefined) throw invalid('stop_price is required for stop orders');
    if (type === 'market' && (limitPrice !== undefined || stopPrice !== undefined)) {
      throw invalid('market orders take neither limit_price nor stop_price');
    }
    if (type === 'trailing_stop') {
      if ((trailPrice === undefined) === (trailPercent === undefined)) throw invalid('trailing_stop orders require exactly one of trail_price or trail_percent');
      if (trailPercent !== undefined && trailPercent >= 100) throw invalid('trail_percent must be < 100');
      if (tif !== 'day' && tif !== 'gtc') throw invalid('trailing_stop orders must be day or gtc');
    }

    const fractional = notional !== undefined || (qty !== undefined && !isWhole(qty));
    if (fractional) {
      if (!asset.fractionable || !this.fractionalTrading) throw invalid(`requested asset ${asset.symbol} is not fractionable`);
      if (!crypto && type !== 'market' && type !== 'limit') throw invalid('fractional orders must be market or limit orders');
      if (!crypto && tif !== 'day') throw invalid('fractional orders must be day orders');
    }
    if (notional !== undefined && type !== 'market') throw invalid('notional orders must be market orders');

    if (crypto) {
      if (tif !== 'gtc' && tif !== 'ioc') throw invalid('invalid crypto time_in_force (expected gtc or ioc)');
      if (type !== 'market' && type !== 'limit' && type !== 'stop_limit') throw invalid(`invalid order type for crypto order: ${type}`);
      if (orderClass !== 'simple') throw invalid('crypto orders must be simple orders');
    }

    const extendedHours = input.extended_hours === true;
    if (extendedHours && (type !== 'limit' || tif !== 'day')) throw invalid('extended hours order must be DAY limit orders');

    let clientOrderId: string = randomUUID();
    if (input.client_order_id !== undefined && input.client_order_id !== null && input.client_order_id !== '') {
      if (typeof input.client_order_id !== 'string') throw invalid('client_order_id must be a string');
      clientOrderId = input.client_order_id;
    }
    this.checkClientOrderId(clientOrderId);

    const now = this.clock.now();
    const held = this.positions.get(asset.symbol)?.qty ?? 0;
    const positionIntent = side === 'buy' ? (held < 0 ? 'buy_to_close' : 'buy_to_open') : held > 0 ? 'sell_to_close' : 'sell_to_open';
    const o = this.newOrder({
      asset,
      side,
      type: type as OrderType,
      timeInForce: tif as TimeInForce,
      orderClass,
      qty: qty ?? null,
      notional: notional ?? null,
      limitPrice: limitPrice ?? null,
      stopPrice: type === 'trailing_stop' ? null : stopPrice ?? null,
      trailPrice: trailPrice ?? null,
      trailPercent: trailPercent ?? null,
      extendedHours,
      positionIntent,
      clientOrderId,
      now,
    });
    if (o.type === 'trailing_stop') this.initTrail(o);

    if (orderClass !== 'simple') this.attachLegs(o, input);
    this.checkFunds(o);
    return o;
  }

  private checkClientOrderId(clientOrderId: string): void {
    if (clientOrderId.length > 128) throw invalid('client_order_id must be no more than 128 characters');
    if (this.byClientOrderId.has(clientOrderId)) throw invalid('client_order_id must be unique');
  }

  private newOrder(
    f: Pick<SimOrder, 'asset' | 'side' | 'type' | 'timeInForce' | 'orderClass' | 'qty' | 'notional' | 'limitPrice' | 'stopPrice' | 'positionIntent'> &
      Partial<Pick<SimOrder, 'trailPrice' | 'trailPercent' | 'extendedHours' | 'clientOrderId'>> & { now: number },
  ): SimOrder {
    return {
      id: randomUUID(),
      clientOrderId: f.clientOrderId ?? randomUUID(),
      asset: f.asset,
      side: f.side,
      type: f.type,
      timeInForce: f.timeInForce,
      orderClass: f.orderClass,
      qty: f.qty === null ? null : units(f.qty),
      notional: f.notional === null ? null : money(f.notional),
      limitPrice: f.limitPrice,
      stopPrice: f.stopPrice,
      trailPrice: f.trailPrice ?? null,
      trailPercent: f.trailPercent ?? null,
      hwm: null,
      extendedHours: f.extendedHours ?? false,
      positionIntent: f.positionIntent,
      status: 'new',
      filledQty: 0,
      filledValue: 0,
      createdAt: f.now,
      updatedAt: f.now,
      submittedAt: f.now,
      filledAt: null,
      canceledAt: null,
      expiredAt: null,
      failedAt: null,
      replacedAt: null,
      replacedBy: null,
      replaces: null,
      expiresAt: null,
      notBefore: null,
      triggered: false,
      exitOnly: false,
      legs: null,
      parent: null,
      retired: false,
      dayTradeCounted: false,
    };
  }

  /** Bracket, OCO and OTO: validates take_profit/stop_loss and builds the exit legs. */
  private attachLegs(o: SimOrder, input: Record<string, unknown>): void {
    const takeProfit = record(input.take_profit);
    const stopLoss = record(input.stop_loss);
    const tpLimit = takeProfit ? positive(takeProfit.limit_price, 'take_profit.limit_price') : undefined;
    const slStop = stopLoss ? positive(stopLoss.stop_price, 'stop_loss.stop_price') : undefined;
    const slLimit = stopLoss ? positive(stopLoss.limit_price, 'stop_loss.limit_price') : undefined;
    if (takeProfit && tpLimit === undefined) throw invalid('take_profit.limit_price is required');
    if (stopLoss && slStop === undefined) throw invalid('stop_loss.stop_price is required');
    if (o.qty === null || !isWhole(o.qty)) throw invalid(`${o.orderClass} orders require a whole-share qty`);
    if (o.timeInForce !== 'day' && o.timeInForce !== 'gtc') throw invalid(`${o.orderClass} orders must be day or gtc`);
    const buy = o.side === 'buy';

    if (o.orderClass === 'bracket') {
      if (tpLimit === undefined || slStop === undefined) throw invalid('bracket orders require take_profit and stop_loss');
      if (o.type !== 'market' && o.type !== 'limit') throw invalid('bracket orders must be market or limit orders');
    } else if (o.orderClass === 'oto') {
      if ((tpLimit === undefined) === (slStop === undefined)) throw invalid('oto orders require exactly one of take_profit or stop_loss');
      if (o.type !== 'market' && o.type !== 'limit') throw invalid('oto orders must be market or limit orders');
    } else {
      if (tpLimit === undefined || slStop === undefined) throw invalid('oco orders require take_profit and stop_loss');
      if (o.type !== 'limit') throw invalid('oco orders must be limit orders');
      const held = this.positions.get(o.asset.symbol)?.qty ?? 0;
      if (buy ? held >= 0 : held <= 0) throw invalid('oco orders must exit an open position');
    }

    // The exit leg's side is the opposite of the entry; an OCO's own side already is the exit.
    const exitSide: OrderSide = o.orderClass === 'oco' ? o.side : buy ? 'sell' : 'buy';
    const exitIsSell = exitSide === 'sell';
    if (o.orderClass !== 'oco') {
      const q = this.market.quote(o.asset.symbol);
      const base = o.limitPrice ?? (q ? (buy ? q.ask : q.bid) : undefined);
      if (base !== undefined) {
        if (tpLimit !== undefined && (exitIsSell ? tpLimit < base + 0.01 : tpLimit > base - 0.01)) {
          throw invalid(`take_profit.limit_price must be ${exitIsSell ? '>=' : '<='} base_price ${exitIsSell ? '+' : '-'} 0.01`);
        }
        if (slStop !== undefined && (exitIsSell ? slStop > base - 0.01 : slStop < base + 0.01)) {
          throw invalid(`stop_loss.stop_price must be ${exitIsSell ? '<=' : '>='} base_price ${exitIsSell ? '-' : '+'} 0.01`);
        }
      }
    }
    if (tpLimit !== undefined && slStop !== undefined && (exitIsSell ? tpLimit <= slStop : tpLimit >= slStop)) {
      throw invalid(`take_profit.limit_price must be ${exitIsSell ? '>' : '<'} stop_loss.stop_price`);
    }

    const now = o.createdAt;
    const intent = exitIsSell ? 'sell_to_close' : 'buy_to_close';
    const legOf = (fields: { type: OrderType; limitPrice: number | null; stopPrice: number | null }): SimOrder => {
      const leg = this.newOrder({
        asset: o.asset,
        side: exitSide,
        timeInForce: o.timeInForce,
        orderClass: o.orderClass,
        qty: o.qty,
        notional: null,
        positionIntent: intent,
        now,
        ...fields,
      });
      leg.parent = o;
      leg.exitOnly = true;
      leg.status = o.orderClass === 'oco' ? 'new' : 'held';
      return leg;
    };
    const stopLeg = () =>
      legOf({ type: slLimit !== undefined ? 'stop_limit' : 'stop', limitPrice: slLimit ?? null, stopPrice: slStop ?? null });
    if (o.orderClass === 'oco') {
      // Alpaca's OCO is the take-profit limit order carrying the stop-loss as its one leg.
      o.limitPrice = tpLimit ?? null;
      o.exitOnly = true;
      o.positionIntent = intent;
      o.legs = [stopLeg()];
    } else {
      o.legs = [];
      if (tpLimit !== undefined) o.legs.push(legOf({ type: 'limit', limitPrice: tpLimit, stopPrice: null }));
      if (slStop !== undefined) o.legs.push(stopLeg());
    }
  }

  /** 403s: held quantity for closing or crypto sells, buying power for opening exposure. */
  private checkFunds(o: SimOrder, except?: SimOrder): void {
    const held = this.positions.get(o.asset.symbol);
    const heldQty = held?.qty ?? 0;
    const crypto = o.asset.assetClass === 'crypto';
    const closingSide: OrderSide = heldQty > 0 ? 'sell' : 'buy';
    const closes = held !== undefined && o.side === closingSide;

    if (o.qty !== null) {
      const requested = o.qty - o.filledQty;
      // Closing orders (and crypto sells, which can never short) are limited to the unheld quantity;
      // Alpaca will not flip a long into a short, or a short into a long, with one order.
      if (closes || o.exitOnly || (crypto && o.side === 'sell')) {
        const available = closes ? this.qtyAvailable(held) + (except ? this.heldBy(except) : 0) : 0;
        if (requested > available + QTY_EPSILON) {
          throw forbidden(`insufficient qty available for order (requested: ${decimalString(requested)}, available: ${decimalString(available)})`);
        }
      }
      if (o.side === 'sell' && !crypto && !closes) {
        if (!this.shorting || this.multiplier < 2) throw forbidden('account is not allowed to short');
        if (!isWhole(requested)) throw forbidden('fractional orders cannot be sold short');
      }
    } else if (o.side === 'sell') {
      // A notional sell trims a long position; it can never open a short.
      const value = heldQty > 0 ? heldQty * (this.currentPrice(o.asset.symbol) ?? 0) : 0;
      if (heldQty <= 0) throw forbidden(crypto ? 'insufficient qty available for order' : 'fractional orders cannot be sold short');
      if ((o.notional ?? 0) > value + 0.005) throw forbidden('insufficient qty available for order');
    }

    const cost = this.reservation(o);
    if (cost <= 0) return;
    const bp = this.buyingPower(except);
    const limit = crypto ? bp.nonMarginable : bp.buyingPower;
    if (cost > limit + 0.005) {
      throw forbidden(crypto ? 'insufficient balance for USD' : 'insufficient buying power');
    }
  }

  private heldBy(o: SimOrder): number {
    return o.qty === null ? 0 : Math.max(0, o.qty - o.filledQty);
  }

  /** Registers an accepted order: status by market hours, expiry, events. */
  private accept(o: SimOrder): void {
    const now = this.clock.now();
    this.register(o);
    for (const leg of o.legs ?? []) this.register(leg);
    this.schedule(o, now);
    for (const leg of o.legs ?? []) {
      leg.expiresAt = o.expiresAt;
    }
    if (o.status === 'new') this.emitUpdate('new', o);
    if (o.orderClass === 'oco') for (const leg of o.legs ?? []) this.emitUpdate('new', leg);
  }

  private register(o: SimOrder): void {
    this.orders.set(o.id, o);
    this.byClientOrderId.set(o.clientOrderId, o);
    this.open.add(o);
    let bySymbol = this.openBySymbol.get(o.asset.symbol);
    if (!bySymbol) this.openBySymbol.set(o.asset.symbol, (bySymbol = new Set()));
    bySymbol.add(o);
  }

  /** Removes an order from the open book (it has reached a terminal status). */
  private closeOut(o: SimOrder): void {
    this.open.delete(o);
    const bySymbol = this.openBySymbol.get(o.asset.symbol);
    bySymbol?.delete(o);
    if (bySymbol && bySymbol.size === 0) this.openBySymbol.delete(o.asset.symbol);
  }

  /** Sets expiry, earliest execution and accepted/new status from the trading calendar. */
  private schedule(o: SimOrder, now: number): void {
    if (o.asset.assetClass === 'crypto') return;
    if (!this.isNyseMode(now)) return;
    const { nextOpen, nextClose } = this.clock.nextOpenClose(now);
    const open = this.clock.isMarketOpen(now);
    if (o.timeInForce === 'day') o.expiresAt = o.extendedHours ? nextClose + 4 * 60 * MINUTE : nextClose;
    if (o.timeInForce === 'opg') o.notBefore = open ? nextOpen : now;
    // Market-on-close: executes in the session's last minute.
    if (o.timeInForce === 'cls') o.notBefore = nextClose - MINUTE;
    if (!open && !o.extendedHours && o.status === 'new') o.status = 'accepted';
    if (o.timeInForce === 'opg' && open) o.status = 'accepted';
  }

  /** True when the clock follows exchange hours rather than the always-open rehearsal mode. */
  private isNyseMode(now: number): boolean {
    const { nextOpen, nextClose } = this.clock.nextOpenClose(now);
    // The always-open policy reports both instants a day away; real sessions close before reopening.
    return nextOpen !== nextClose;
  }

  // --- orders: execution --------------------------------------------------

  private handleTick(symbol: string, quote: SimQuote): void {
    if (!this.lastdayPrices.has(symbol)) {
      const price = this.currentPrice(symbol);
      if (price !== undefined) this.lastdayPrices.set(symbol, price);
    }
    const bySymbol = this.openBySymbol.get(symbol);
    if (!bySymbol) return;
    for (const o of [...bySymbol]) {
      if (this.open.has(o)) this.processOrder(o, quote);
    }
  }

  /** Periodic checks: the session roll, expiries, the open (queued orders) and the close (cls). */
  sweep(): void {
    const now = this.clock.now();
    const key = sessionKey(now);
    if (key !== this.session) this.rollSession(key);
    for (const o of [...this.open]) {
      if (!this.open.has(o)) continue;
      if (o.expiresAt !== null && now >= o.expiresAt && o.status !== 'held') {
        this.finish(o, 'expired', 'expired');
        continue;
      }
      if (o.status === 'accepted' || (o.timeInForce === 'cls' && o.notBefore !== null && now >= o.notBefore)) {
        this.processOrder(o);
      }
    }
  }

  private rollSession(key: string): void {
    this.lastEquity = this.valuation().equity;
    this.session = key;
    this.recentSessions.push(key);
    if (this.recentSessions.length > 5) this.recentSessions.shift();
    const window = new Set(this.recentSessions);
    this.dayTrades = this.dayTrades.filter((s) => window.has(s));
    for (const asset of this.market.assets()) {
      const price = this.currentPrice(asset.symbol);
      if (price !== undefined) this.lastdayPrices.set(asset.symbol, price);
    }
  }

  private canExecute(o: SimOrder, now: number): boolean {
    if (!WORKING.has(o.status)) return false;
    if (o.notBefore !== null && now < o.notBefore) return false;
    if (o.asset.assetClass === 'crypto' || o.extendedHours) return true;
    if (o.timeInForce === 'cls' && o.notBefore !== null) return true;
    return this.clock.isMarketOpen(now);
  }

  /** One execution opportunity for an order against a quote (the current one by default). */
  private processOrder(o: SimOrder, quote?: SimQuote): void {
    const now = this.clock.now();
    if (!this.canExecute(o, now)) return;
    const q = quote ?? this.market.quote(o.asset.symbol);
    if (!q) return;
    if (o.status === 'accepted') {
      o.status = 'new';
      o.updatedAt = now;
      this.emitUpdate('new', o);
    }
    const buy = o.side === 'buy';
    const touch = buy ? q.ask : q.bid;
    if (!(touch > 0)) return;
    const singlePass = SINGLE_PASS.has(o.timeInForce);

    if (o.type === 'trailing_stop') this.updateTrail(o, touch);
    if ((o.type === 'stop' || o.type === 'stop_limit' || o.type === 'trailing_stop') && !o.triggered) {
      const stop = o.stopPrice ?? 0;
      if (buy ? touch < stop : touch > stop) {
        if (singlePass) this.finish(o, 'canceled', 'canceled');
        return;
      }
      o.triggered = true;
    }

    let price: number;
    if (o.type === 'limit' || o.type === 'stop_limit') {
      const limit = o.limitPrice ?? 0;
      if (buy ? touch > limit : touch < limit) {
        if (singlePass) this.finish(o, 'canceled', 'canceled');
        return;
      }
      price = buy ? Math.min(limit, touch) : Math.max(limit, touch);
    } else {
      price = buy ? touch * (1 + this.slippage) : touch * (1 - this.slippage);
    }
    price = roundPrice(o.asset, price);

    const budget = this.budget(o.asset.symbol, q);
    const available = buy ? budget.buy : budget.sell;
    let wanted: number;
    if (o.notional !== null) wanted = units((o.notional - o.filledValue) / price);
    else wanted = units((o.qty ?? 0) - o.filledQty);
    let fillQty = units(Math.min(wanted, available));
    if (o.notional === null && o.qty !== null && isWhole(o.qty)) fillQty = Math.floor(fillQty + QTY_EPSILON);

    if (o.timeInForce === 'fok' && fillQty < wanted - QTY_EPSILON) {
      this.finish(o, 'canceled', 'canceled');
      return;
    }
    if (fillQty > QTY_EPSILON) {
      if (!this.fundsAtFill(o, fillQty, price)) {
        if (o.filledQty > 0) this.finish(o, 'canceled', 'canceled');
        else this.finish(o, 'rejected', 'rejected');
        return;
      }
      if (buy) budget.buy = units(budget.buy - fillQty);
      else budget.sell = units(budget.sell - fillQty);
      this.fill(o, fillQty, price, now);
    }
    if (singlePass && this.open.has(o)) this.finish(o, 'canceled', 'canceled');
  }

  /** The displayed size (or the configured liquidity) left on each side at this quote. */
  private budget(symbol: string, q: SimQuote): LiquidityBudget {
    let b = this.budgets.get(symbol);
    if (!b || b.t !== q.t) {
      const size = (displayed: number) =>
        this.liquidityPerTick ?? (Number.isFinite(displayed) && displayed > 0 ? displayed : Number.POSITIVE_INFINITY);
      b = { t: q.t, buy: size(q.askSize), sell: size(q.bidSize) };
      this.budgets.set(symbol, b);
    }
    return b;
  }

  /** Re-checks money at execution: queued or triggered orders can outgrow buying power. */
  private fundsAtFill(o: SimOrder, qty: number, price: number): boolean {
    const opening = this.openingQty(o.asset, o.side, qty);
    if (opening <= QTY_EPSILON || o.exitOnly) return true;
    if (o.asset.assetClass === 'crypto' && o.side === 'sell') return false;
    const bp = this.buyingPower(o);
    const limit = o.asset.assetClass === 'crypto' ? bp.nonMarginable : bp.buyingPower;
    return opening * price <= limit + 0.005;
  }

  private initTrail(o: SimOrder): void {
    const q = this.market.quote(o.asset.symbol);
    if (q) this.updateTrail(o, o.side === 'buy' ? q.ask : q.bid);
  }

  /** Sell trails the high-water mark down; buy trails the low-water mark up. */
  private updateTrail(o: SimOrder, touch: number): void {
    if (o.triggered) return;
    const buy = o.side === 'buy';
    if (o.hwm === null || (buy ? touch < o.hwm : touch > o.hwm)) o.hwm = touch;
    const offset = o.trailPrice ?? (o.hwm * (o.trailPercent ?? 0)) / 100;
    o.stopPrice = roundPrice(o.asset, buy ? o.hwm + offset : o.hwm - offset);
  }

  private fill(o: SimOrder, qty: number, price: number, now: number): void {
    const signed = o.side === 'buy' ? qty : -qty;
    this.cash = money(this.cash - signed * price);
    const countsDayTrade = this.applyToPosition(o.asset, signed, price);
    if (countsDayTrade && !o.dayTradeCounted && o.asset.assetClass !== 'crypto') {
      o.dayTradeCounted = true;
      this.dayTrades.push(this.session);
    }
    o.filledQty = units(o.filledQty + qty);
    o.filledValue += qty * price;
    o.updatedAt = now;
    const done = o.notional !== null ? o.notional - o.filledValue < 0.005 : o.filledQty >= (o.qty ?? 0) - QTY_EPSILON;
    o.status = done ? 'filled' : 'partially_filled';
    if (done) o.filledAt = now;
    const positionQty = this.positions.get(o.asset.symbol)?.qty ?? 0;
    if (done) this.closeOut(o);
    this.emitUpdate(done ? 'fill' : 'partial_fill', o, {
      execution_id: randomUUID(),
      price: decimalString(price),
      qty: decimalString(qty),
      position_qty: decimalString(positionQty),
    });
    this.afterFill(o, done);
    if (done) this.retire(o);
  }

  /** Updates the position; returns true when it closed exposure opened in this session (a day trade). */
  private applyToPosition(asset: SimAsset, signed: number, price: number): boolean {
    const p = this.positions.get(asset.symbol);
    if (!p) {
      this.positions.set(asset.symbol, { asset, qty: units(signed), avgEntryPrice: price, openedSession: this.session });
      return false;
    }
    const sameDirection = Math.sign(p.qty) === Math.sign(signed);
    if (sameDirection) {
      const total = units(p.qty + signed);
      p.avgEntryPrice = (Math.abs(p.qty) * p.avgEntryPrice + Math.abs(signed) * price) / Math.abs(total);
      p.qty = total;
      p.openedSession = this.session;
      return false;
    }
    const dayTrade = p.openedSession === this.session;
    const remaining = units(p.qty + signed);
    if (Math.abs(remaining) < QTY_EPSILON) this.positions.delete(asset.symbol);
    else if (Math.sign(remaining) === Math.sign(p.qty)) p.qty = remaining;
    else {
      // Crossed through flat: the rest opens a new position at this price.
      p.qty = remaining;
      p.avgEntryPrice = price;
      p.openedSession = this.session;
    }
    return dayTrade;
  }

  /** Bracket/OTO legs go live when the entry fills; a filled exit cancels or shrinks its sibling. */
  private afterFill(o: SimOrder, done: boolean): void {
    if (o.legs && o.orderClass !== 'oco' && done) {
      for (const leg of o.legs) {
        if (leg.status !== 'held') continue;
        leg.status = 'new';
        leg.updatedAt = o.updatedAt;
        leg.submittedAt = o.updatedAt;
        this.emitUpdate('new', leg);
      }
    }
    const siblings = this.siblings(o);
    for (const s of siblings) {
      if (!this.open.has(s)) continue;
      if (done) this.finish(s, 'canceled', 'canceled');
      else if (s.qty !== null && o.qty !== null) s.qty = units(s.filledQty + (o.qty - o.filledQty));
    }
  }

  /** The other exits of the same position: OCO parent and leg, or the two legs of a bracket. */
  private siblings(o: SimOrder): SimOrder[] {
    if (o.parent) {
      const root = o.parent;
      const others = (root.legs ?? []).filter((l) => l !== o);
      return root.orderClass === 'oco' ? [root, ...others] : others;
    }
    return o.orderClass === 'oco' ? o.legs ?? [] : [];
  }

  /** Moves an open order to a terminal status and announces it. */
  private finish(o: SimOrder, status: 'canceled' | 'expired' | 'rejected', event: string): void {
    if (!this.open.has(o)) return;
    const now = this.clock.now();
    o.status = status;
    o.updatedAt = now;
    if (status === 'canceled') o.canceledAt = now;
    if (status === 'expired') o.expiredAt = now;
    if (status === 'rejected') o.failedAt = now;
    this.closeOut(o);
    this.emitUpdate(event, o);
    // An entry that dies unfilled takes its held exits with it; a dead exit takes its sibling.
    if (o.legs && o.orderClass !== 'oco') {
      for (const leg of o.legs) if (leg.status === 'held' || o.filledQty === 0) this.finish(leg, status === 'rejected' ? 'canceled' : status, status === 'rejected' ? 'canceled' : event);
    }
    if (status !== 'expired') for (const s of this.siblings(o)) if (s.parent || o.parent) this.finish(s, 'canceled', 'canceled');
    this.retire(o);
  }

  /** Keeps memory bounded: once a whole order group is closed it joins the closed-order queue. */
  private retire(o: SimOrder): void {
    const root = o.parent ?? o;
    if (root.retired || this.open.has(root) || (root.legs ?? []).some((l) => this.open.has(l))) return;
    root.retired = true;
    this.closed.push(root);
    while (this.closed.length - this.closedHead > this.maxClosedOrders) {
      const evicted = this.closed[this.closedHead++];
      for (const x of [evicted, ...(evicted.legs ?? [])]) {
        this.orders.delete(x.id);
        if (this.byClientOrderId.get(x.clientOrderId) === x) this.byClientOrderId.delete(x.clientOrderId);
      }
    }
    if (this.closedHead > 1024 && this.closedHead * 2 > this.closed.length) {
      this.closed = this.closed.slice(this.closedHead);
      this.closedHead = 0;
    }
  }

  private emitUpdate(event: string, o: SimOrder, extra: Record<string, string> = {}): void {
    const update: TradeUpdate = {
      event,
      timestamp: new Date(this.clock.now()).toISOString(),
      order: this.orderJson(o),
      ...extra,
    };
    this.emit('trade_update', update);
  }

  // --- orders: queries, cancel, replace -----------------------------------

  private orderJson(o: SimOrder, nested = true): OrderJson {
    const filledAvg = o.filledQty > 0 ? decimalString(o.filledValue / o.filledQty) : null;
    const qty = o.qty !== null ? o.qty : o.status === 'filled' ? o.filledQty : null;
    const price = (v: number | null) => (v === null ? null : decimalString(v));
    const json: OrderJson = {
      id: o.id,
      client_order_id: o.clientOrderId,
      created_at: new Date(o.createdAt).toISOString(),
      updated_at: iso(o.updatedAt),
      submitted_at: iso(o.submittedAt),
      filled_at: iso(o.filledAt),
      expired_at: iso(o.expiredAt),
      canceled_at: iso(o.canceledAt),
      failed_at: iso(o.failedAt),
      replaced_at: iso(o.replacedAt),
      replaced_by: o.replacedBy,
      replaces: o.replaces,
      asset_id: o.asset.id,
      symbol: o.asset.symbol,
      asset_class: o.asset.assetClass,
      notional: o.notional === null ? null : moneyString(o.notional),
      qty: qty === null ? null : decimalString(qty),
      filled_qty: decimalString(o.filledQty),
      filled_avg_price: filledAvg,
      order_class: o.orderClass,
      order_type: o.type,
      type: o.type,
      side: o.side,
      position_intent: o.positionIntent,
      time_in_force: o.timeInForce,
      limit_price: price(o.limitPrice),
      stop_price: price(o.stopPrice),
      status: o.status,
      extended_hours: o.extendedHours,
      legs: nested && o.legs ? o.legs.map((l) => this.orderJson(l, false)) : null,
      trail_percent: price(o.trailPercent),
      trail_price: price(o.trailPrice),
      hwm: price(o.hwm),
      subtag: null,
      source: null,
    };
    if (o.expiresAt !== null) json.expires_at = new Date(o.expiresAt).toISOString();
    return json;
  }

  private findOrder(id: string): SimOrder {
    const o = this.orders.get(id);
    if (!o) throw notFound('order not found');
    return o;
  }

  getOrder(id: string, nested = true): OrderJson {
    return this.orderJson(this.findOrder(id), nested);
  }

  getOrderByClientOrderId(clientOrderId: string): OrderJson {
    const o = this.byClientOrderId.get(clientOrderId);
    if (!o) throw notFound('order not found');
    return this.orderJson(o);
  }

  listOrders(query: ListOrdersQuery = {}): OrderJson[] {
    const status = query.status ?? 'open';
    if (!['open', 'closed', 'all'].includes(status)) throw invalid('invalid status (expected open, closed or all)');
    // Alpaca caps the page at 500 rather than refusing a larger limit.
    const limit = Math.min(500, query.limit ?? 50);
    if (!Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
    const direction = query.direction ?? 'desc';
    if (direction !== 'asc' && direction !== 'desc') throw invalid('direction must be asc or desc');
    const after = query.after ? Date.parse(query.after) : undefined;
    const until = query.until ? Date.parse(query.until) : undefined;
    if (Number.isNaN(after) || Number.isNaN(until)) throw invalid('after and until must be RFC-3339 timestamps');
    const symbols = query.symbols?.length
      ? new Set(query.symbols.map((s) => resolveAsset(this.market, s)?.symbol ?? s.toUpperCase()))
      : undefined;
    const nested = query.nested === true;

    const picked: SimOrder[] = [];
    for (const o of this.orders.values()) {
      if (nested && o.parent) continue;
      const isOpen = !TERMINAL.has(o.status);
      if (status === 'open' && !isOpen) continue;
      if (status === 'closed' && isOpen) continue;
      if (symbols && !symbols.has(o.asset.symbol)) continue;
      if (query.side && o.side !== query.side) continue;
      if (after !== undefined && !(o.submittedAt > after)) continue;
      if (until !== undefined && !(o.submittedAt < until)) continue;
      picked.push(o);
    }
    picked.sort((a, b) => (direction === 'asc' ? a.submittedAt - b.submittedAt : b.submittedAt - a.submittedAt));
    return picked.slice(0, limit).map((o) => this.orderJson(o, nested));
  }

  /** DELETE /v2/orders/{id}: 404 unknown, 422 once it can no longer be canceled. */
  cancelOrder(id: string): void {
    const o = this.findOrder(id);
    if (!this.open.has(o)) throw new SimHttpError(422, 42210000, 'order is not cancelable');
    // Canceling one exit of a bracket cancels the group; the entry cannot be canceled once filled.
    this.finish(o, 'canceled', 'canceled');
  }

  /** DELETE /v2/orders: every open order, as 207 multi-status entries. */
  cancelAllOrders(): Array<{ id: string; status: number; body: OrderJson }> {
    const out: Array<{ id: string; status: number; body: OrderJson }> = [];
    for (const o of [...this.open]) {
      if (!this.open.has(o) || (o.parent && this.open.has(o.parent))) continue;
      this.finish(o, 'canceled', 'canceled');
      out.push({ id: o.id, status: 200, body: this.orderJson(o) });
    }
    return out;
  }

  /** PATCH /v2/orders/{id}: a new order replaces the old one, which ends as `replaced`. */
  replaceOrder(id: string, body: unknown): OrderJson {
    const old = this.findOrder(id);
    if (!this.open.has(old)) throw new SimHttpError(422, 42210000, 'order is not replaceable');
    if (old.status === 'partially_filled' || old.filledQty > 0) throw new SimHttpError(422, 42210000, 'order is partially filled and cannot be replaced');
    if (old.type === 'market') throw new SimHttpError(422, 42210000, 'market orders cannot be replaced');
    const input = record(body) ?? {};
    const qty = positive(input.qty, 'qty');
    const limitPrice = positive(input.limit_price, 'limit_price');
    const stopPrice = positive(input.stop_price, 'stop_price');
    const trail = positive(input.trail, 'trail');
    const tif = input.time_in_force === undefined ? old.timeInForce : String(input.time_in_force);
    if (!TIFS.has(tif)) throw invalid(`invalid time_in_force "${tif}"`);
    if (limitPrice !== undefined && old.type !== 'limit' && old.type !== 'stop_limit') throw invalid('limit_price is only for limit orders');
    if (stopPrice !== undefined && old.type !== 'stop' && old.type !== 'stop_limit') throw invalid('stop_price is only for stop orders');
    if (trail !== undefined && old.type !== 'trailing_stop') throw invalid('trail is only for trailing_stop orders');
    if (qty !== undefined && old.qty !== null && !isWhole(qty) && !old.asset.fractionable) throw invalid('qty must be a whole number');
    let clientOrderId: string = randomUUID();
    if (input.client_order_id !== undefined && input.client_order_id !== null && input.client_order_id !== '') {
      clientOrderId = String(input.client_order_id);
    }
    this.checkClientOrderId(clientOrderId);

    const now = this.clock.now();
    const next = this.newOrder({
      asset: old.asset,
      side: old.side,
      type: old.type,
      timeInForce: tif as TimeInForce,
      orderClass: old.orderClass,
      qty: qty ?? old.qty,
      notional: old.notional,
      limitPrice: limitPrice ?? old.limitPrice,
      stopPrice: stopPrice ?? old.stopPrice,
      trailPrice: old.trailPrice !== null && trail !== undefined ? trail : old.trailPrice,
      trailPercent: old.trailPercent !== null && trail !== undefined ? trail : old.trailPercent,
      extendedHours: old.extendedHours,
      positionIntent: old.positionIntent,
      clientOrderId,
      now,
    });
    next.status = old.status;
    next.replaces = old.id;
    next.exitOnly = old.exitOnly;
    next.expiresAt = old.expiresAt;
    next.notBefore = old.notBefore;
    next.parent = old.parent;
    next.legs = old.legs;
    if (next.type === 'trailing_stop') {
      next.hwm = old.hwm;
      if (next.hwm !== null) this.updateTrail(next, next.hwm);
    }
    this.checkFunds(next, old);

    old.status = 'replaced';
    old.replacedAt = now;
    old.replacedBy = next.id;
    old.updatedAt = now;
    this.closeOut(old);
    if (old.parent) {
      const legs = old.parent.legs ?? [];
      legs[legs.indexOf(old)] = next;
      old.parent = null;
    }
    for (const leg of next.legs ?? []) leg.parent = next;
    old.legs = null;
    this.register(next);
    this.emitUpdate('replaced', old);
    this.emitUpdate('new', next);
    this.retire(old);
    const ack = this.orderJson(next);
    this.processOrder(next);
    return ack;
  }

  /** Figures for GET /sim/stats and tests. */
  counts(): { orders: number; open: number; positions: number } {
    return { orders: this.orders.size, open: this.open.size, positions: this.positions.size };
  }
}
