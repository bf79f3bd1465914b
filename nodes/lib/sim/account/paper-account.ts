// The paper account's money and holdings: cash, positions, margin settings, day trades and the
// session roll, with the account and position JSON Alpaca serves. Crypto fills pay Alpaca's fee
// in the asset received (a buy of BTC/USD books qty x (1 - fee) BTC; a sell gets USD less the fee).
import { randomUUID } from 'node:crypto';
import { positionSymbol } from '../assets';
import { decimalString, money, moneyString, QTY_EPSILON, units } from '../decimal';
import { invalid, record } from '../input';
import type { OrderSide } from '../orders/order';
import type { MarketView, SimAsset } from '../types';

export interface SimPosition {
  asset: SimAsset;
  /** Signed: negative for a short. */
  qty: number;
  avgEntryPrice: number;
  /** Session key of the last time the position was opened or added to (for day trades). */
  openedSession: string;
}

/** Crypto fee rates as fractions of the fill (0.0015 = 0.15%). */
export interface CryptoFees {
  /** A resting order that fills later (adds liquidity). */
  maker: number;
  /** An order that fills on arrival (takes liquidity). */
  taker: number;
}

/** Alpaca's entry tier (under $100k of 30-day crypto volume). */
export const DEFAULT_CRYPTO_FEES: CryptoFees = { maker: 0.0015, taker: 0.0025 };

/** What a fill did to the account. */
export interface FillBooking {
  /** The position's signed quantity after the fill. */
  positionQty: number;
  /** The fill closed exposure opened in this session. */
  dayTrade: boolean;
  /** The crypto fee: in the asset bought, or in USD for a sell. */
  fee?: { qty: number; usd: number };
}

export interface BuyingPower {
  longValue: number;
  shortValue: number;
  equity: number;
  initialMargin: number;
  maintenanceMargin: number;
  /** Stocks: Reg-T buying power less what open orders reserve. */
  buyingPower: number;
  /** Crypto: cash not needed as margin, less what open crypto orders reserve. */
  nonMarginable: number;
}

export class PaperAccount {
  readonly id = randomUUID();
  readonly accountNumber = `PA${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
  cash = 0;
  lastEquity = 0;
  multiplier: number;
  shorting: boolean;
  fractionalTrading = true;
  suspendTrade = false;
  /** New York date of the current trading session (YYYY-MM-DD). */
  session = '';
  readonly positions = new Map<string, SimPosition>();
  private recentSessions: string[] = [];
  private dayTrades: string[] = [];
  private readonly lastdayPrices = new Map<string, number>();

  constructor(
    private readonly market: MarketView,
    private readonly startingCash: number,
    readonly cryptoFees: CryptoFees,
    options: { multiplier?: number; shorting?: boolean },
  ) {
    this.multiplier = options.multiplier === 1 ? 1 : 2;
    this.shorting = options.shorting ?? true;
  }

  /** A fresh account: starting cash, no positions. */
  reset(session: string): void {
    this.cash = this.startingCash;
    this.lastEquity = this.startingCash;
    this.positions.clear();
    this.dayTrades = [];
    this.session = session;
    this.recentSessions = [session];
    this.lastdayPrices.clear();
    for (const asset of this.market.assets()) this.noteLastdayPrice(asset.symbol, true);
  }

  /** Remembers a symbol's price as yesterday's close the first time it is seen (or always when `force`). */
  noteLastdayPrice(symbol: string, force = false): void {
    if (!force && this.lastdayPrices.has(symbol)) return;
    const price = this.currentPrice(symbol);
    if (price !== undefined) this.lastdayPrices.set(symbol, price);
  }

  currentPrice(symbol: string): number | undefined {
    const trade = this.market.lastTrade(symbol);
    if (trade && trade.price > 0) return trade.price;
    const q = this.market.quote(symbol);
    return q ? (q.bid + q.ask) / 2 : undefined;
  }

  heldQty(asset: SimAsset): number {
    return this.positions.get(asset.symbol)?.qty ?? 0;
  }

  /** Part of a quantity that opens or extends exposure rather than closing a position. */
  openingQty(asset: SimAsset, side: OrderSide, qty: number): number {
    const held = this.heldQty(asset);
    if (side === 'buy') return held < 0 ? Math.max(0, qty + held) : qty;
    return held > 0 ? Math.max(0, qty - held) : qty;
  }

  valuation(): Omit<BuyingPower, 'buyingPower' | 'nonMarginable'> {
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

  /** Buying power less what open orders reserve (stock and crypto reservations apart). */
  buyingPower(reserved: { stock: number; crypto: number }): BuyingPower {
    const v = this.valuation();
    const regT = Math.max(0, (v.equity - v.initialMargin) * this.multiplier);
    const nonMarginable = Math.max(0, Math.min(this.cash, v.equity - v.initialMargin));
    return {
      ...v,
      buyingPower: Math.max(0, regT - reserved.stock - reserved.crypto),
      nonMarginable: Math.max(0, nonMarginable - reserved.crypto),
    };
  }

  /** Books one execution: cash, position and (crypto) the fee in the asset received. */
  applyFill(asset: SimAsset, side: OrderSide, qty: number, price: number, maker: boolean): FillBooking {
    const value = qty * price;
    if (asset.assetClass !== 'crypto') {
      const signed = side === 'buy' ? qty : -qty;
      this.cash = money(this.cash - signed * price);
      const dayTrade = this.applyToPosition(asset, signed, price);
      return { positionQty: this.heldQty(asset), dayTrade };
    }
    const rate = maker ? this.cryptoFees.maker : this.cryptoFees.taker;
    if (side === 'buy') {
      const feeQty = units(qty * rate);
      this.cash = money(this.cash - value);
      // The fee leaves fewer coins for the same money: the entry price carries it.
      const received = units(qty - feeQty);
      this.applyToPosition(asset, received, received > 0 ? value / received : price);
      return { positionQty: this.heldQty(asset), dayTrade: false, fee: { qty: feeQty, usd: 0 } };
    }
    const feeUsd = money(value * rate);
    this.cash = money(this.cash + value - feeUsd);
    this.applyToPosition(asset, -qty, price);
    return { positionQty: this.heldQty(asset), dayTrade: false, fee: { qty: 0, usd: feeUsd } };
  }

  /** Updates the position; returns true when it closed exposure opened in this session (a day trade). */
  private applyToPosition(asset: SimAsset, signed: number, price: number): boolean {
    const p = this.positions.get(asset.symbol);
    if (!p) {
      if (Math.abs(signed) >= QTY_EPSILON) this.positions.set(asset.symbol, { asset, qty: units(signed), avgEntryPrice: price, openedSession: this.session });
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

  countDayTrade(): void {
    this.dayTrades.push(this.session);
  }

  daytradeCount(): number {
    const window = new Set(this.recentSessions.slice(-5));
    return this.dayTrades.filter((s) => window.has(s)).length;
  }

  /** A new trading day: yesterday's equity and prices become the reference for today's change. */
  rollSession(key: string): void {
    this.lastEquity = this.valuation().equity;
    this.session = key;
    this.recentSessions.push(key);
    if (this.recentSessions.length > 5) this.recentSessions.shift();
    const window = new Set(this.recentSessions);
    this.dayTrades = this.dayTrades.filter((s) => window.has(s));
    for (const asset of this.market.assets()) this.noteLastdayPrice(asset.symbol, true);
  }

  accountJson(bp: BuyingPower, createdAt: number): Record<string, unknown> {
    const daytradeCount = this.daytradeCount();
    return {
      id: this.id,
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
      created_at: new Date(createdAt).toISOString(),
    };
  }

  positionJson(p: SimPosition, qtyAvailable: number): Record<string, unknown> {
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
      qty_available: decimalString(qtyAvailable * Math.sign(p.qty)),
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

  configurations(): Record<string, unknown> {
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
    return this.configurations();
  }
}
