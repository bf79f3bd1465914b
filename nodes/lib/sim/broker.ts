// The simulator's paper broker: takes orders in, times them by the exchange calendar (queued while
// closed, day orders expiring at the close, gtc after 90 days, opg/cls at the auctions), lets the
// matching engine fill them against the market's quotes, books fills on the paper account and
// announces every change as an Alpaca trade_updates `data` object.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { ActivityLog, type ActivityJson } from './account/activities';
import { Funds } from './account/funds';
import { EquityHistory, type PortfolioHistoryJson } from './account/history';
import { DEFAULT_CRYPTO_FEES, PaperAccount, type CryptoFees, type SimPosition } from './account/paper-account';
import { positionSymbol, resolveAsset } from './assets';
import { newYorkDate, newYorkTime, nyseSession, sessionAfter } from './calendar';
import { decimalString, moneyString, QTY_EPSILON, isWhole, units } from './decimal';
import { forbidden, invalid, isUuid, notFound, positive, record, unprocessable } from './input';
import { orderJson, type OrderJson, type TradeUpdate } from './json';
import { MatchingEngine, marketCollar } from './matching';
import { DEFAULT_MAX_CLOSED_ORDERS, OrderBook, type ListOrdersQuery } from './orders/book';
import { buildOrder, checkMinimums, checkSubPenny, checkWashTrade, clientOrderIdOf } from './orders/build';
import { SINGLE_PASS, TIFS, WORKING, newOrder, type SimOrder, type TimeInForce } from './orders/order';
import { Watchlists } from './watchlists';
import { SimHttpError, type MarketView, type SimClock, type SimQuote } from './types';

// The trading stream takes the event type from here.
export type { TradeUpdate } from './json';

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
  /** Crypto fee rates as fractions (default Alpaca's entry tier: maker 0.0015, taker 0.0025). */
  cryptoFees?: Partial<CryptoFees>;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Alpaca cancels gtc orders 90 days after they were placed. */
const GTC_DAYS = 90;

export class Broker extends EventEmitter {
  readonly createdAt: number;
  readonly watchlists: Watchlists;
  private readonly market: MarketView;
  private readonly clock: SimClock;
  private readonly sweepMs: number;
  private readonly account: PaperAccount;
  private readonly book: OrderBook;
  private readonly funds: Funds;
  private readonly engine: MatchingEngine;
  private readonly activities = new ActivityLog();
  private readonly history: EquityHistory;
  private timer?: NodeJS.Timeout;
  private readonly onTick = (symbol: string, quote: SimQuote) => this.handleTick(symbol, quote);

  constructor(options: BrokerOptions) {
    super();
    this.market = options.market;
    this.clock = options.clock;
    const slippage = (options.slippageBps ?? 5) / 10_000;
    this.sweepMs = options.sweepMs ?? 1000;
    this.account = new PaperAccount(this.market, options.startingCash ?? 100_000, { ...DEFAULT_CRYPTO_FEES, ...options.cryptoFees }, options);
    this.book = new OrderBook(Math.max(1, options.maxClosedOrders ?? DEFAULT_MAX_CLOSED_ORDERS));
    this.funds = new Funds(this.account, this.book, this.market, slippage);
    this.engine = new MatchingEngine(slippage, options.liquidityPerTick && options.liquidityPerTick > 0 ? options.liquidityPerTick : undefined);
    this.history = new EquityHistory(this.clock);
    this.watchlists = new Watchlists(this.market, this.clock, this.account.id);
    this.createdAt = this.clock.now();
    // Many stream sockets may listen at once; each removes itself on close.
    this.setMaxListeners(0);
    this.reset();
  }

  get accountId(): string {
    return this.account.id;
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

  /** A fresh account: starting cash, no orders, positions, activities or watchlists. */
  reset(): void {
    const now = this.clock.now();
    this.account.reset(newYorkDate(now));
    this.book.clear();
    this.engine.reset();
    this.activities.clear();
    this.watchlists.clear();
    this.history.clear();
    this.history.record(now, this.account.valuation().equity);
  }

  // --- account ------------------------------------------------------------

  getAccount(): Record<string, unknown> {
    return this.account.accountJson(this.funds.buyingPower(), this.createdAt);
  }

  getConfigurations(): Record<string, unknown> {
    return this.account.configurations();
  }

  configure(body: unknown): Record<string, unknown> {
    return this.account.configure(body);
  }

  /** GET /v2/account/activities[/{activity_type}]. */
  getActivities(query: URLSearchParams, activityType?: string): ActivityJson[] {
    return this.activities.query(query, activityType);
  }

  /** GET /v2/account/portfolio/history. */
  getPortfolioHistory(query: URLSearchParams): PortfolioHistoryJson {
    this.history.record(this.clock.now(), this.account.valuation().equity);
    return this.history.query(query);
  }

  // --- positions ----------------------------------------------------------

  private positionJson(p: SimPosition): Record<string, unknown> {
    return this.account.positionJson(p, this.funds.qtyAvailable(p));
  }

  getPositions(): Record<string, unknown>[] {
    return [...this.account.positions.values()]
      .sort((a, b) => a.asset.symbol.localeCompare(b.asset.symbol))
      .map((p) => this.positionJson(p));
  }

  getPosition(symbolOrId: string): Record<string, unknown> {
    return this.positionJson(this.findPosition(symbolOrId));
  }

  private findPosition(symbolOrId: string): SimPosition {
    const asset = resolveAsset(this.market, symbolOrId);
    const p = asset && this.account.positions.get(asset.symbol);
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
    const body = {
      symbol: p.asset.symbol,
      qty: decimalString(qty),
      side: p.qty > 0 ? 'sell' : 'buy',
      type: 'market',
      time_in_force: p.asset.assetClass === 'crypto' ? 'gtc' : 'day',
    };
    // Liquidating a whole position is allowed below the minimum order value (dust).
    return this.submit(body, qty >= held - QTY_EPSILON);
  }

  /** DELETE /v2/positions: one closing order per position (207 multi-status entries). */
  closeAllPositions(cancelOrders: boolean): Array<{ symbol: string; status: number; body?: OrderJson }> {
    if (cancelOrders) this.cancelAllOrders();
    return [...this.account.positions.values()].map((p) => {
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
    return this.submit(body, false);
  }

  private submit(body: unknown, liquidation: boolean): OrderJson {
    const o = buildOrder(body, {
      market: this.market,
      book: this.book,
      heldQty: (asset) => this.account.heldQty(asset),
      fractionalTrading: this.account.fractionalTrading,
      suspendTrade: this.account.suspendTrade,
      now: this.clock.now(),
    });
    this.price(o);
    if (!liquidation) checkMinimums(o, this.valuationPrice(o));
    this.admit(o);
    this.accept(o);
    const ack = orderJson(o);
    this.processOrder(o);
    return ack;
  }

  /** Prices fixed at submission: a market order's collar, a trailing stop's first stop price. */
  private price(o: SimOrder): void {
    const q = this.market.quote(o.asset.symbol);
    if (!q) return;
    const touch = o.side === 'buy' ? q.ask : q.bid;
    if (o.type === 'market' && touch > 0) o.collar = marketCollar(o.asset, o.side, touch);
    if (o.type === 'trailing_stop') this.engine.updateTrail(o, touch);
  }

  /** What an order is worth per unit for the minimum-value rules: its limit, its stop, else the touch. */
  private valuationPrice(o: SimOrder): number {
    const q = this.market.quote(o.asset.symbol);
    const touch = q ? (o.side === 'buy' ? q.ask : q.bid) : 0;
    return o.limitPrice ?? o.stopPrice ?? touch;
  }

  /** The account-level 403s: wash trades, then money and held quantity. */
  private admit(o: SimOrder, replacing?: SimOrder): void {
    checkWashTrade(o, this.book, replacing);
    this.funds.check(o, replacing);
  }

  /** Registers an accepted order: status by the calendar, expiry, events. */
  private accept(o: SimOrder): void {
    const now = this.clock.now();
    this.book.register(o);
    for (const leg of o.legs ?? []) this.book.register(leg);
    this.schedule(o, now);
    for (const leg of o.legs ?? []) leg.expiresAt = o.expiresAt;
    if (o.status === 'new') this.emitUpdate('new', o);
    if (o.orderClass === 'oco') for (const leg of o.legs ?? []) this.emitUpdate('new', leg);
  }

  /** Sets expiry, earliest execution and accepted/new status from the trading calendar. */
  private schedule(o: SimOrder, now: number): void {
    if (o.timeInForce === 'gtc') o.expiresAt = this.gtcExpiry(o);
    if (o.asset.assetClass !== 'crypto') {
      const session = this.clock.session(now, o.extendedHours);
      if (session && o.timeInForce === 'day') o.expiresAt = o.extendedHours ? session.postClose : session.close;
      if (session && (o.timeInForce === 'opg' || o.timeInForce === 'cls')) {
        this.checkAuctionCutoff(o.timeInForce, now);
        // Market-on-open takes part in the next opening auction, market-on-close in the session's last minute.
        o.notBefore = o.timeInForce === 'opg' ? sessionAfter(now, 'open').open : session.close - MINUTE;
      }
    }
    if (o.status === 'new' && !this.canExecute(o, now)) o.status = 'accepted';
  }

  /** Alpaca refuses opg orders from 9:28 and cls orders from 15:50 (10 minutes before the close) until 19:00. */
  private checkAuctionCutoff(tif: 'opg' | 'cls', now: number): void {
    const today = newYorkTime(now);
    const session = nyseSession(today.date);
    if (!session) return;
    const cutoff = tif === 'opg' ? session.open - 2 * MINUTE : session.close - 10 * MINUTE;
    if (now >= cutoff && today.minute < 19 * 60) {
      throw invalid(tif === 'opg' ? 'opg orders are not accepted from 9:28am to 7:00pm ET' : 'cls orders are not accepted from 10 minutes before the close to 7:00pm ET');
    }
  }

  /** 90 days after placement (its created_at); a stock order lasts until that day's close (or the next session's). */
  private gtcExpiry(o: SimOrder): number {
    const at = o.createdAt + GTC_DAYS * DAY;
    if (o.asset.assetClass === 'crypto') return at;
    return this.clock.session(at)?.close ?? at;
  }

  // --- orders: execution --------------------------------------------------

  private handleTick(symbol: string, quote: SimQuote): void {
    this.account.noteLastdayPrice(symbol);
    for (const o of this.book.openInSymbol(symbol)) {
      if (this.book.isOpen(o)) this.processOrder(o, quote);
    }
  }

  /** Periodic checks: the session roll, expiries, the open (queued orders), the auctions, the equity curve. */
  sweep(): void {
    const now = this.clock.now();
    const key = newYorkDate(now);
    if (key !== this.account.session) this.account.rollSession(key);
    for (const o of this.book.openOrders()) {
      if (!this.book.isOpen(o)) continue;
      if (o.expiresAt !== null && now >= o.expiresAt && o.status !== 'held') {
        this.finish(o, 'expired', 'expired');
        continue;
      }
      if (o.status === 'accepted' || (o.notBefore !== null && now >= o.notBefore)) this.processOrder(o);
    }
    this.history.record(now, this.account.valuation().equity);
  }

  private canExecute(o: SimOrder, now: number): boolean {
    if (!WORKING.has(o.status)) return false;
    if (o.notBefore !== null && now < o.notBefore) return false;
    if (o.asset.assetClass === 'crypto') return true;
    const phase = this.clock.phase(now);
    if (o.extendedHours) return phase !== 'closed';
    // A cls order whose minute has come executes even if the sweep runs a little after the bell.
    if (o.timeInForce === 'cls' && o.notBefore !== null) return true;
    return phase === 'core';
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
    const match = this.engine.match(o, q);
    if (match.kind === 'cancel') return this.finish(o, 'canceled', 'canceled');
    if (match.kind === 'wait') {
      o.rested = true;
      return;
    }
    if (!this.funds.atFill(o, match.qty, match.price)) {
      if (o.filledQty > 0) this.finish(o, 'canceled', 'canceled');
      else this.finish(o, 'rejected', 'rejected');
      return;
    }
    this.engine.take(o, q, match.qty);
    this.fill(o, match.qty, match.price, now);
    if (SINGLE_PASS.has(o.timeInForce) && this.book.isOpen(o)) this.finish(o, 'canceled', 'canceled');
    else o.rested = true;
  }

  private fill(o: SimOrder, qty: number, price: number, now: number): void {
    // A limit order that rested on the book adds liquidity (maker); everything else takes it.
    const maker = o.rested && (o.type === 'limit' || o.type === 'stop_limit');
    const booking = this.account.applyFill(o.asset, o.side, qty, price, maker);
    if (booking.dayTrade && !o.dayTradeCounted && o.asset.assetClass !== 'crypto') {
      o.dayTradeCounted = true;
      this.account.countDayTrade();
    }
    o.filledQty = units(o.filledQty + qty);
    o.filledValue += qty * price;
    o.updatedAt = now;
    const done = o.notional !== null ? o.notional - o.filledValue < 0.005 : o.filledQty >= (o.qty ?? 0) - QTY_EPSILON;
    o.status = done ? 'filled' : 'partially_filled';
    if (done) {
      o.filledAt = now;
      this.book.closeOut(o);
    }
    this.emitUpdate(done ? 'fill' : 'partial_fill', o, {
      execution_id: randomUUID(),
      price: decimalString(price),
      qty: decimalString(qty),
      position_qty: decimalString(booking.positionQty),
    });
    this.activities.add('FILL', now, {
      transaction_time: new Date(now).toISOString(),
      type: done ? 'fill' : 'partial_fill',
      price: decimalString(price),
      qty: decimalString(qty),
      side: o.side,
      symbol: o.asset.symbol,
      leaves_qty: decimalString(o.qty === null ? 0 : Math.max(0, o.qty - o.filledQty)),
      order_id: o.id,
      cum_qty: decimalString(o.filledQty),
      order_status: o.status,
    });
    if (booking.fee) {
      const inCoin = booking.fee.qty > 0;
      this.activities.add('CFEE', now, {
        date: new Date(now).toISOString(),
        created_at: new Date(now).toISOString(),
        symbol: positionSymbol(o.asset),
        qty: decimalString(-booking.fee.qty),
        price: decimalString(price),
        net_amount: moneyString(-booking.fee.usd),
        currency: 'USD',
        status: 'executed',
        description: inCoin ? 'Coin Pair Transaction Fee (Non USD)' : 'Coin Pair Transaction Fee (USD)',
      });
    }
    this.history.record(now, this.account.valuation().equity);
    this.afterFill(o, done);
    if (done) this.book.retire(o);
  }

  /** Bracket/OTO legs go live when the entry fills; a filled exit cancels or shrinks its sibling. */
  private afterFill(o: SimOrder, done: boolean): void {
    if (o.legs && o.orderClass !== 'oco' && done) this.activateLegs(o, null);
    for (const s of this.siblings(o)) {
      if (!this.book.isOpen(s)) continue;
      if (done) this.finish(s, 'canceled', 'canceled');
      else if (s.qty !== null && o.qty !== null) s.qty = units(s.filledQty + (o.qty - o.filledQty));
    }
  }

  /** Sends a bracket/OTO entry's held exits live, resized to `qty` when the entry filled only in part. */
  private activateLegs(entry: SimOrder, qty: number | null): void {
    for (const leg of entry.legs ?? []) {
      if (leg.status !== 'held') continue;
      if (qty !== null) leg.qty = qty;
      leg.status = 'new';
      leg.updatedAt = entry.updatedAt;
      leg.submittedAt = entry.updatedAt;
      this.emitUpdate('new', leg);
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
    if (!this.book.isOpen(o)) return;
    const now = this.clock.now();
    o.status = status;
    o.updatedAt = now;
    if (status === 'canceled') o.canceledAt = now;
    if (status === 'expired') o.expiredAt = now;
    if (status === 'rejected') o.failedAt = now;
    this.book.closeOut(o);
    this.emitUpdate(event, o);
    if (o.legs && o.orderClass !== 'oco') {
      // A partly filled entry that ends keeps its exits, sized to what it bought (as Alpaca does);
      // an entry that ends unfilled takes its held exits with it.
      if (o.filledQty > 0) this.activateLegs(o, units(o.filledQty));
      else for (const leg of o.legs) this.finish(leg, status === 'rejected' ? 'canceled' : status, status === 'rejected' ? 'canceled' : event);
    }
    // A dead exit takes its sibling with it.
    if (status !== 'expired') for (const s of this.siblings(o)) if (s.parent || o.parent) this.finish(s, 'canceled', 'canceled');
    this.book.retire(o);
  }

  private emitUpdate(event: string, o: SimOrder, extra: Record<string, string> = {}): void {
    const update: TradeUpdate = {
      event,
      timestamp: new Date(this.clock.now()).toISOString(),
      order: orderJson(o),
      ...extra,
    };
    this.emit('trade_update', update);
  }

  // --- orders: queries, cancel, replace -----------------------------------

  /** An order by id: 422 when the id is not a UUID (as Alpaca answers), 404 when unknown. */
  private findOrder(id: string): SimOrder {
    if (!isUuid(id)) throw invalid('order_id is missing');
    const o = this.book.get(id);
    if (!o) throw notFound('order not found');
    return o;
  }

  getOrder(id: string, nested = true): OrderJson {
    return orderJson(this.findOrder(id), nested);
  }

  getOrderByClientOrderId(clientOrderId: string): OrderJson {
    const o = this.book.byClientId(clientOrderId);
    if (!o) throw notFound('order not found');
    return orderJson(o);
  }

  listOrders(query: ListOrdersQuery = {}): OrderJson[] {
    return this.book.list(query, this.market).map((o) => orderJson(o, query.nested === true));
  }

  /** DELETE /v2/orders/{id}: 404 unknown, 422 once it can no longer be canceled. */
  cancelOrder(id: string): void {
    const o = this.findOrder(id);
    if (!this.book.isOpen(o)) throw unprocessable('order is not cancelable');
    // Canceling one exit of a bracket cancels the group; the entry cannot be canceled once filled.
    this.finish(o, 'canceled', 'canceled');
  }

  /** DELETE /v2/orders: every open order, as 207 multi-status entries. */
  cancelAllOrders(): Array<{ id: string; status: number; body: OrderJson }> {
    const out: Array<{ id: string; status: number; body: OrderJson }> = [];
    for (const o of this.book.openOrders()) {
      if (!this.book.isOpen(o) || (o.parent && this.book.isOpen(o.parent))) continue;
      this.finish(o, 'canceled', 'canceled');
      out.push({ id: o.id, status: 200, body: orderJson(o) });
    }
    return out;
  }

  /**
   * PATCH /v2/orders/{id}: a new order replaces the old one, which ends as `replaced`. A partly
   * filled order may be replaced: the new `qty` is the order's total, what was filled counts
   * toward it (the replacement carries the filled quantity).
   */
  replaceOrder(id: string, body: unknown): OrderJson {
    const old = this.findOrder(id);
    if (!this.book.isOpen(old)) throw unprocessable('order is not replaceable');
    if (old.type === 'market') throw unprocessable('market orders cannot be replaced');
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
    if (qty !== undefined && qty <= old.filledQty + QTY_EPSILON) throw invalid(`qty must be > filled_qty (${decimalString(old.filledQty)})`);
    checkSubPenny(old.asset, limitPrice, 'limit_price');
    checkSubPenny(old.asset, stopPrice, 'stop_price');
    const clientOrderId = clientOrderIdOf(input, this.book);

    const now = this.clock.now();
    const next = newOrder({
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
    next.filledQty = old.filledQty;
    next.filledValue = old.filledValue;
    next.replaces = old.id;
    next.exitOnly = old.exitOnly;
    next.expiresAt = old.expiresAt;
    next.notBefore = old.notBefore;
    next.parent = old.parent;
    next.legs = old.legs;
    next.rested = old.rested;
    if (next.type === 'trailing_stop') {
      next.hwm = old.hwm;
      if (next.hwm !== null) this.engine.updateTrail(next, next.hwm);
    }
    this.admit(next, old);

    old.status = 'replaced';
    old.replacedAt = now;
    old.replacedBy = next.id;
    old.updatedAt = now;
    this.book.closeOut(old);
    if (old.parent) {
      const legs = old.parent.legs ?? [];
      legs[legs.indexOf(old)] = next;
      old.parent = null;
    }
    for (const leg of next.legs ?? []) leg.parent = next;
    old.legs = null;
    this.book.register(next);
    this.emitUpdate('replaced', old);
    this.emitUpdate('new', next);
    this.book.retire(old);
    const ack = orderJson(next);
    this.processOrder(next);
    return ack;
  }

  /** Figures for GET /sim/stats and tests. */
  counts(): { orders: number; open: number; positions: number } {
    return { orders: this.book.size, open: this.book.openCount, positions: this.account.positions.size };
  }
}
