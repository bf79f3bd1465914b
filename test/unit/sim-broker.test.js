'use strict';
// The paper broker on a scripted price path: fills, triggers, partial fills, order classes,
// account arithmetic and Alpaca's validation errors.
const assert = require('assert');
const { EventEmitter } = require('events');
const { Broker } = require('../../dist/lib/sim/broker');
const { Clock } = require('../../dist/lib/sim/clock');
const { SimHttpError } = require('../../dist/lib/sim/types');

const ASSETS = [
  { id: '11111111-1111-4111-8111-111111111111', symbol: 'AAPL', name: 'Apple', assetClass: 'us_equity', exchange: 'NASDAQ', fractionable: true, basePrice: 100 },
  { id: '22222222-2222-4222-8222-222222222222', symbol: 'WHOLE', name: 'Whole shares only', assetClass: 'us_equity', exchange: 'NYSE', fractionable: false, basePrice: 50 },
  { id: '33333333-3333-4333-8333-333333333333', symbol: 'BTC/USD', name: 'Bitcoin', assetClass: 'crypto', exchange: 'CRYPTO', fractionable: true, basePrice: 50000, minOrderSize: 0.0001 },
];

/** A stand-in for the market module: quotes move only when the test says so. */
class ScriptedMarket extends EventEmitter {
  constructor() {
    super();
    this.quotes = new Map();
    this.trades = new Map();
    this.seq = 0;
    for (const a of ASSETS) this.set(a.symbol, a.basePrice - 0.01, a.basePrice + 0.01, 1000, false);
  }
  asset(s) { return ASSETS.find((a) => a.symbol === s || a.id === s); }
  assets() { return ASSETS; }
  quote(s) { return this.quotes.get(s); }
  lastTrade(s) { return this.trades.get(s); }
  setPrice(s, p) { this.set(s, p - 0.01, p + 0.01); }
  set(symbol, bid, ask, size = 1000, emit = true) {
    const t = ++this.seq;
    const quote = { symbol, bid, ask, bidSize: size, askSize: size, t };
    const trade = { symbol, price: Math.round(((bid + ask) / 2) * 100) / 100, size: 1, id: t, t };
    this.quotes.set(symbol, quote);
    this.trades.set(symbol, trade);
    if (emit) this.emit('tick', symbol, quote, trade);
  }
}

function setup(options = {}, clock = new Clock({ marketHours: 'always' })) {
  const market = new ScriptedMarket();
  const broker = new Broker({ market, clock, startingCash: 100000, slippageBps: 5, ...options });
  const updates = [];
  broker.on('trade_update', (u) => updates.push(u));
  broker.start();
  return { market, broker, clock, updates, events: (id) => updates.filter((u) => u.order.id === id).map((u) => u.event) };
}

function expectError(fn, status, pattern, code) {
  let caught;
  assert.throws(fn, (err) => {
    assert.ok(err instanceof SimHttpError, `expected SimHttpError, got ${err}`);
    assert.strictEqual(err.status, status, err.message);
    if (pattern) assert.match(err.message, pattern);
    if (code !== undefined) assert.strictEqual(err.code, code);
    caught = err;
    return true;
  });
  return caught;
}

const num = (s) => Number(s);

describe('sim broker (unit)', () => {
  let ctx;
  afterEach(() => ctx && ctx.broker.stop());

  it('fills a market buy at the ask plus slippage and books cash, position and equity', () => {
    ctx = setup();
    const { broker, events } = ctx;
    const ack = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day' });
    assert.strictEqual(ack.status, 'new');
    const order = broker.getOrder(ack.id);
    assert.strictEqual(order.status, 'filled');
    // ask 100.01 * (1 + 5 bps) = 100.060005 -> 100.06
    assert.strictEqual(order.filled_avg_price, '100.06');
    assert.strictEqual(order.filled_qty, '10');
    assert.deepStrictEqual(events(ack.id), ['new', 'fill']);
    const fill = ctx.updates.find((u) => u.event === 'fill');
    assert.strictEqual(fill.price, '100.06');
    assert.strictEqual(fill.qty, '10');
    assert.strictEqual(fill.position_qty, '10');
    assert.ok(fill.execution_id);
    const account = broker.getAccount();
    assert.strictEqual(account.cash, '98999.4');
    // last trade 100 -> market value 1000
    assert.strictEqual(account.long_market_value, '1000');
    assert.strictEqual(account.equity, '99999.4');
    const pos = broker.getPosition('AAPL');
    assert.strictEqual(pos.avg_entry_price, '100.06');
    assert.strictEqual(pos.cost_basis, '1000.6');
    assert.strictEqual(pos.unrealized_pl, '-0.6');
    assert.strictEqual(pos.side, 'long');
  });

  it('round trip: P&L is the price move times qty minus spread and slippage', () => {
    ctx = setup();
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day' });
    market.set('AAPL', 100.99, 101.01);
    const sell = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'sell', type: 'market', time_in_force: 'day' });
    // bid 100.99 * (1 - 5 bps) = 100.939505 -> 100.94
    assert.strictEqual(broker.getOrder(sell.id).filled_avg_price, '100.94');
    const account = broker.getAccount();
    const pnl = num(account.cash) - 100000;
    assert.strictEqual(Math.round(pnl * 100) / 100, Math.round(10 * (100.94 - 100.06) * 100) / 100);
    assert.strictEqual(account.equity, account.cash);
    assert.strictEqual(account.long_market_value, '0');
    assert.deepStrictEqual(broker.getPositions(), []);
    expectError(() => broker.getPosition('AAPL'), 404, /position does not exist/);
  });

  it('fills a buy limit only when the ask reaches it, at the better of limit and ask', () => {
    ctx = setup();
    const { broker, market } = ctx;
    const o = broker.submitOrder({ symbol: 'AAPL', qty: '5', side: 'buy', type: 'limit', limit_price: '99', time_in_force: 'gtc' });
    market.set('AAPL', 99.4, 99.5);
    assert.strictEqual(broker.getOrder(o.id).status, 'new');
    // reserved: buying power drops by qty x limit
    assert.strictEqual(broker.getAccount().buying_power, String(200000 - 5 * 99));
    market.set('AAPL', 98.8, 98.9);
    const filled = broker.getOrder(o.id);
    assert.strictEqual(filled.status, 'filled');
    assert.strictEqual(filled.filled_avg_price, '98.9');
  });

  it('triggers a sell stop when the bid falls through it and fills as a market order', () => {
    ctx = setup();
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'gtc' });
    const stop = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'sell', type: 'stop', stop_price: '95', time_in_force: 'gtc' });
    assert.strictEqual(broker.getPosition('AAPL').qty_available, '0');
    market.set('AAPL', 96, 96.02);
    assert.strictEqual(broker.getOrder(stop.id).status, 'new');
    market.set('AAPL', 94.5, 94.52);
    const o = broker.getOrder(stop.id);
    assert.strictEqual(o.status, 'filled');
    // 94.5 * (1 - 5 bps) = 94.45275 -> 94.45
    assert.strictEqual(o.filled_avg_price, '94.45');
  });

  it('moves a trailing stop with the high-water mark and fires on the pullback', () => {
    ctx = setup();
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'gtc' });
    const trail = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'sell', type: 'trailing_stop', trail_percent: '5', time_in_force: 'gtc' });
    market.set('AAPL', 100, 100.02);
    assert.strictEqual(broker.getOrder(trail.id).stop_price, '95');
    market.set('AAPL', 110, 110.02);
    market.set('AAPL', 105, 105.02);
    let o = broker.getOrder(trail.id);
    assert.strictEqual(o.hwm, '110');
    assert.strictEqual(o.stop_price, '104.5');
    assert.strictEqual(o.status, 'new');
    market.set('AAPL', 104, 104.02);
    o = broker.getOrder(trail.id);
    assert.strictEqual(o.status, 'filled');
    assert.strictEqual(o.filled_avg_price, '103.95');
  });

  it('fills a large order over several ticks, limited by the displayed size', () => {
    ctx = setup();
    const { broker, market, events } = ctx;
    market.set('AAPL', 99.99, 100.01, 100);
    const o = broker.submitOrder({ symbol: 'AAPL', qty: '250', side: 'buy', type: 'market', time_in_force: 'day' });
    assert.strictEqual(broker.getOrder(o.id).filled_qty, '100');
    assert.strictEqual(broker.getOrder(o.id).status, 'partially_filled');
    market.set('AAPL', 100.99, 101.01, 100);
    market.set('AAPL', 101.99, 102.01, 100);
    const done = broker.getOrder(o.id);
    assert.strictEqual(done.status, 'filled');
    assert.strictEqual(done.filled_qty, '250');
    assert.deepStrictEqual(events(o.id), ['new', 'partial_fill', 'partial_fill', 'fill']);
    // fills at 100.06, 101.06 and 102.06 (each ask + slippage, rounded to cents)
    const avg = (100 * 100.06 + 100 * 101.06 + 50 * 102.06) / 250;
    assert.ok(Math.abs(num(done.filled_avg_price) - avg) < 1e-6, `${done.filled_avg_price} vs ${avg}`);
    assert.strictEqual(broker.getPosition('AAPL').qty, '250');
  });

  it('bracket: legs are held until the entry fills, then one exit cancels the other', () => {
    ctx = setup();
    const { broker, market, events } = ctx;
    const parent = broker.submitOrder({
      symbol: 'AAPL', qty: '10', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc',
      order_class: 'bracket', take_profit: { limit_price: '110' }, stop_loss: { stop_price: '95' },
    });
    assert.strictEqual(parent.order_class, 'bracket');
    assert.deepStrictEqual(parent.legs.map((l) => l.status), ['held', 'held']);
    const [tp, sl] = parent.legs;
    assert.strictEqual(tp.type, 'limit');
    assert.strictEqual(sl.type, 'stop');
    market.set('AAPL', 100.4, 100.5);
    assert.strictEqual(broker.getOrder(tp.id).status, 'held');
    market.set('AAPL', 99.97, 99.99);
    assert.strictEqual(broker.getOrder(parent.id).status, 'filled');
    assert.strictEqual(broker.getOrder(tp.id).status, 'new');
    assert.strictEqual(broker.getOrder(sl.id).status, 'new');
    // the two exits sell the same 10 shares: only 10 are held, not 20
    assert.strictEqual(broker.getPosition('AAPL').qty_available, '0');
    market.set('AAPL', 110.5, 110.52);
    assert.strictEqual(broker.getOrder(tp.id).status, 'filled');
    assert.strictEqual(broker.getOrder(tp.id).filled_avg_price, '110.5');
    assert.strictEqual(broker.getOrder(sl.id).status, 'canceled');
    assert.deepStrictEqual(events(sl.id), ['new', 'canceled']);
    assert.deepStrictEqual(broker.getPositions(), []);
    // realised: 10 x (110.5 - 99.99)
    assert.strictEqual(broker.getAccount().cash, String(Math.round((100000 + 10 * (110.5 - 99.99)) * 100) / 100));
  });

  it('oco exits an existing position: the stop leg cancels the take-profit', () => {
    ctx = setup();
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'gtc' });
    const oco = broker.submitOrder({
      symbol: 'AAPL', qty: '10', side: 'sell', type: 'limit', time_in_force: 'gtc',
      order_class: 'oco', take_profit: { limit_price: '110' }, stop_loss: { stop_price: '95' },
    });
    assert.strictEqual(oco.limit_price, '110');
    market.set('AAPL', 94, 94.02);
    assert.strictEqual(broker.getOrder(oco.legs[0].id).status, 'filled');
    assert.strictEqual(broker.getOrder(oco.id).status, 'canceled');
    expectError(
      () => broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'sell', type: 'limit', time_in_force: 'gtc', order_class: 'oco', take_profit: { limit_price: '110' }, stop_loss: { stop_price: '95' } }),
      422,
      /open position/,
    );
  });

  it('ioc fills what is available and cancels the rest; fok is all or nothing', () => {
    ctx = setup();
    const { broker, market } = ctx;
    market.set('AAPL', 99.99, 100.01, 100);
    const ioc = broker.getOrder(broker.submitOrder({ symbol: 'AAPL', qty: '150', side: 'buy', type: 'limit', limit_price: '101', time_in_force: 'ioc' }).id);
    assert.strictEqual(ioc.status, 'canceled');
    assert.strictEqual(ioc.filled_qty, '100');
    market.set('AAPL', 99.99, 100.01, 100);
    const fok = broker.getOrder(broker.submitOrder({ symbol: 'AAPL', qty: '150', side: 'buy', type: 'limit', limit_price: '101', time_in_force: 'fok' }).id);
    assert.strictEqual(fok.status, 'canceled');
    assert.strictEqual(fok.filled_qty, '0');
    const fok2 = broker.getOrder(broker.submitOrder({ symbol: 'AAPL', qty: '50', side: 'buy', type: 'limit', limit_price: '101', time_in_force: 'fok' }).id);
    assert.strictEqual(fok2.status, 'filled');
    assert.strictEqual(broker.getPosition('AAPL').qty, '150');
  });

  it('replaces an open order: old one replaced, new one carries the change and fills', () => {
    ctx = setup();
    const { broker, market, events } = ctx;
    const old = broker.submitOrder({ symbol: 'AAPL', qty: '5', side: 'buy', type: 'limit', limit_price: '90', time_in_force: 'gtc', client_order_id: 'first' });
    const next = broker.replaceOrder(old.id, { limit_price: '95', qty: '7', client_order_id: 'second' });
    assert.strictEqual(next.replaces, old.id);
    assert.strictEqual(next.limit_price, '95');
    assert.strictEqual(next.qty, '7');
    const replaced = broker.getOrder(old.id);
    assert.strictEqual(replaced.status, 'replaced');
    assert.strictEqual(replaced.replaced_by, next.id);
    assert.deepStrictEqual(events(old.id), ['new', 'replaced']);
    assert.strictEqual(broker.getOrderByClientOrderId('second').id, next.id);
    market.set('AAPL', 93.9, 94);
    assert.strictEqual(broker.getOrder(next.id).status, 'filled');
    expectError(() => broker.replaceOrder(next.id, { limit_price: '96' }), 422, /not replaceable/);
  });

  it('cancels open orders; filled ones are not cancelable and unknown ids are 404', () => {
    ctx = setup();
    const { broker, events } = ctx;
    const o = broker.submitOrder({ symbol: 'AAPL', qty: '5', side: 'buy', type: 'limit', limit_price: '90', time_in_force: 'gtc' });
    broker.cancelOrder(o.id);
    assert.strictEqual(broker.getOrder(o.id).status, 'canceled');
    assert.ok(broker.getOrder(o.id).canceled_at);
    assert.deepStrictEqual(events(o.id), ['new', 'canceled']);
    expectError(() => broker.cancelOrder(o.id), 422, /not cancelable/);
    const m = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    expectError(() => broker.cancelOrder(m.id), 422, /not cancelable/);
    expectError(() => broker.cancelOrder('00000000-0000-4000-8000-00000000dead'), 404, /order not found/);
    // reg-T: (equity - 50% initial margin) x 2 = (100000 - 0.06 slippage - 50) x 2
    assert.strictEqual(broker.getAccount().buying_power, '199899.88');
  });

  it('sells short: negative position, cash credited, equity = cash + short market value', () => {
    ctx = setup();
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'sell', type: 'market', time_in_force: 'day' });
    const pos = broker.getPosition('AAPL');
    assert.strictEqual(pos.side, 'short');
    assert.strictEqual(pos.qty, '-10');
    // bid 99.99 * (1 - 5 bps) = 99.940005 -> 99.94
    assert.strictEqual(broker.getAccount().cash, '100999.4');
    market.set('AAPL', 89.99, 90.01);
    const account = broker.getAccount();
    assert.strictEqual(account.short_market_value, '-900');
    assert.strictEqual(account.equity, String(100999.4 - 900));
    assert.strictEqual(broker.getPosition('AAPL').unrealized_pl, '99.4');
    // Alpaca answers a fractional short sell with 422, not 403.
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '0.5', side: 'sell', type: 'market', time_in_force: 'day' }), 422, /fractional orders cannot be sold short/);
  });

  it('rejects orders beyond buying power and sells beyond the held quantity with 403', () => {
    ctx = setup();
    const { broker } = ctx;
    // 200,000 reg-T buying power: 2,100 x 100.06 is more
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '2100', side: 'buy', type: 'market', time_in_force: 'day' }), 403, /insufficient buying power/);
    // crypto is bought with cash only
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', notional: '150000', side: 'buy', type: 'market', time_in_force: 'gtc' }), 403, /insufficient balance/);
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', qty: '1', side: 'sell', type: 'market', time_in_force: 'gtc' }), 403, /insufficient qty available/);
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day' });
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '11', side: 'sell', type: 'market', time_in_force: 'day' }), 403, /insufficient qty available/);
    assert.strictEqual(broker.getPosition('AAPL').qty, '10');
  });

  it('validates orders like Alpaca (422)', () => {
    ctx = setup();
    const { broker } = ctx;
    const base = { symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' };
    const bad = (patch, pattern) => expectError(() => broker.submitOrder({ ...base, ...patch }), 422, pattern);
    bad({ qty: '0' }, /qty must be > 0/);
    bad({ qty: '-3' }, /qty must be > 0/);
    bad({ notional: '100' }, /only one of qty or notional/);
    bad({ type: 'limit' }, /limit_price is required/);
    bad({ type: 'stop' }, /stop_price is required/);
    bad({ type: 'iceberg' }, /invalid order type/);
    bad({ side: 'hold' }, /invalid side/);
    bad({ time_in_force: 'forever' }, /invalid time_in_force/);
    bad({ symbol: 'NOPE' }, /not found/);
    bad({ order_class: 'bracket', type: 'limit', limit_price: '100' }, /take_profit and stop_loss/);
    bad({ symbol: 'WHOLE', qty: '1.5' }, /not fractionable/);
    bad({ qty: '1.5', time_in_force: 'gtc' }, /day orders/);
    bad({ extended_hours: true }, /extended hours/);
    bad({ client_order_id: 'x'.repeat(129) }, /128/);
    assert.strictEqual(broker.counts().orders, 0);
  });

  it('refuses a duplicate client_order_id', () => {
    ctx = setup();
    const { broker } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '50', time_in_force: 'gtc', client_order_id: 'my-order-1' });
    expectError(
      () => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '50', time_in_force: 'gtc', client_order_id: 'my-order-1' }),
      422,
      /^client_order_id must be unique$/,
    );
  });

  it('crypto: gtc/ioc only, fractional and notional allowed, no shorting', () => {
    ctx = setup();
    const { broker } = ctx;
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', qty: '0.1', side: 'buy', type: 'market', time_in_force: 'day' }), 422, /crypto time_in_force/);
    const o = broker.submitOrder({ symbol: 'BTCUSD', notional: '1000', side: 'buy', type: 'market', time_in_force: 'gtc' });
    const filled = broker.getOrder(o.id);
    assert.strictEqual(filled.status, 'filled');
    assert.strictEqual(filled.symbol, 'BTC/USD');
    assert.strictEqual(filled.notional, '1000');
    const qty = num(filled.filled_qty);
    assert.ok(qty > 0.0199 && qty < 0.02, filled.filled_qty);
    assert.strictEqual(num(broker.getAccount().cash), Math.round((100000 - qty * num(filled.filled_avg_price)) * 100) / 100);
    const pos = broker.getPosition('BTCUSD');
    assert.strictEqual(pos.asset_class, 'crypto');
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', qty: String(qty + 0.001), side: 'sell', type: 'market', time_in_force: 'gtc' }), 403, /insufficient qty available/);
  });

  it('closes part of a position by percentage and the rest by qty', () => {
    ctx = setup();
    const { broker } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day' });
    const half = broker.closePosition('AAPL', { percentage: '50' });
    assert.strictEqual(half.side, 'sell');
    assert.strictEqual(half.qty, '5');
    assert.strictEqual(broker.getPosition('AAPL').qty, '5');
    const rest = broker.closeAllPositions(true);
    assert.deepStrictEqual(rest.map((r) => [r.symbol, r.status]), [['AAPL', 200]]);
    assert.deepStrictEqual(broker.getPositions(), []);
  });

  it('keeps at most maxClosedOrders closed orders', () => {
    ctx = setup({ maxClosedOrders: 5 });
    const { broker } = ctx;
    const ids = [];
    for (let i = 0; i < 8; i++) {
      ids.push(broker.submitOrder({ symbol: 'AAPL', qty: '1', side: i % 2 ? 'sell' : 'buy', type: 'market', time_in_force: 'day' }).id);
    }
    const open = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '1', time_in_force: 'gtc' });
    const all = broker.listOrders({ status: 'all', limit: 500 });
    assert.strictEqual(all.length, 6);
    assert.deepStrictEqual(all.map((o) => o.id).sort(), [...ids.slice(3), open.id].sort());
    expectError(() => broker.getOrder(ids[0]), 404);
    assert.strictEqual(broker.counts().orders, 6);
  });

  it('lists orders by status, side, symbols and direction; nested shows legs inside parents', () => {
    ctx = setup();
    const { broker } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    broker.submitOrder({ symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '1000', time_in_force: 'gtc' });
    const bracket = broker.submitOrder({
      symbol: 'AAPL', qty: '2', side: 'buy', type: 'limit', limit_price: '90', time_in_force: 'gtc',
      order_class: 'bracket', take_profit: { limit_price: '120' }, stop_loss: { stop_price: '80' },
    });
    assert.strictEqual(broker.listOrders({ status: 'open' }).length, 4); // two legs listed flat
    const nested = broker.listOrders({ status: 'open', nested: true });
    assert.strictEqual(nested.length, 2);
    assert.strictEqual(nested.find((o) => o.id === bracket.id).legs.length, 2);
    assert.strictEqual(broker.listOrders({ status: 'closed' }).length, 1);
    assert.strictEqual(broker.listOrders({ status: 'all', symbols: ['BTCUSD'] }).length, 1);
    assert.strictEqual(broker.listOrders({ status: 'all', side: 'sell' }).length, 2);
    assert.strictEqual(broker.listOrders({ status: 'all', limit: 1, nested: true }).length, 1);
    const cancelled = broker.cancelAllOrders();
    assert.strictEqual(cancelled.length, 2);
    assert.strictEqual(broker.listOrders({ status: 'open' }).length, 0);
  });

  it('nyse hours: queues a market order while closed, fills at the open, expires day orders at the close', () => {
    // Monday 2025-03-03 08:00 New York (13:00Z): before the open.
    const clock = new Clock({ marketHours: 'nyse', start: Date.parse('2025-03-03T13:00:00Z') });
    ctx = setup({}, clock);
    const { broker, market, events } = ctx;
    const queued = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    assert.strictEqual(queued.status, 'accepted');
    market.set('AAPL', 99.99, 100.01);
    assert.strictEqual(broker.getOrder(queued.id).status, 'accepted');
    clock.advance(2 * 3600000); // 10:00
    broker.sweep();
    assert.strictEqual(broker.getOrder(queued.id).status, 'filled');
    assert.deepStrictEqual(events(queued.id), ['new', 'fill']);
    const day = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '50', time_in_force: 'day' });
    const gtc = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '50', time_in_force: 'gtc' });
    assert.strictEqual(day.expires_at, '2025-03-03T21:00:00.000Z');
    clock.advance(6.5 * 3600000); // 16:30
    broker.sweep();
    assert.strictEqual(broker.getOrder(day.id).status, 'expired');
    assert.ok(broker.getOrder(day.id).expired_at);
    assert.deepStrictEqual(events(day.id), ['new', 'expired']);
    assert.strictEqual(broker.getOrder(gtc.id).status, 'new');
    // crypto trades around the clock
    const btc = broker.submitOrder({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'market', time_in_force: 'gtc' });
    assert.strictEqual(broker.getOrder(btc.id).status, 'filled');
  });

  it('start/stop attach and remove exactly its own market listener; reset empties the account', () => {
    ctx = setup();
    const { broker, market } = ctx;
    const other = () => undefined;
    market.on('tick', other);
    assert.strictEqual(market.listenerCount('tick'), 2);
    broker.stop();
    assert.strictEqual(market.listenerCount('tick'), 1);
    broker.start();
    broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    broker.reset();
    assert.strictEqual(broker.getAccount().cash, '100000');
    assert.deepStrictEqual(broker.getPositions(), []);
    assert.deepStrictEqual(broker.listOrders({ status: 'all' }), []);
  });
});

describe('sim broker: the exchange calendar', () => {
  let ctx;
  afterEach(() => ctx && ctx.broker.stop());
  const nyse = (iso) => new Clock({ marketHours: 'nyse', start: Date.parse(iso) });
  const limitBuy = (extra = {}) => ({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '100.5', time_in_force: 'day', ...extra });

  it('accepts an order on a holiday, fills it at the next open and expires day orders at the 13:00 early close', () => {
    const clock = nyse('2025-11-27T17:00:00Z'); // Thanksgiving, noon New York
    ctx = setup({}, clock);
    const { broker, market, events } = ctx;
    const queued = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    assert.strictEqual(queued.status, 'accepted');
    assert.strictEqual(queued.expires_at, '2025-11-28T18:00:00.000Z', "Friday's 13:00 close");
    clock.advance(Date.parse('2025-11-28T14:30:00Z') - clock.now()); // Friday 09:30
    market.set('AAPL', 99.99, 100.01);
    assert.strictEqual(broker.getOrder(queued.id).status, 'filled');
    assert.deepStrictEqual(events(queued.id), ['new', 'fill']);
    const day = broker.submitOrder(limitBuy({ limit_price: '90' }));
    clock.advance(Date.parse('2025-11-28T18:00:00Z') - clock.now());
    broker.sweep();
    assert.strictEqual(broker.getOrder(day.id).status, 'expired');
  });

  it('extended-hours limit orders trade in the pre- and post-market; others wait for the core session', () => {
    const clock = nyse('2025-03-04T12:00:00Z'); // Tuesday 07:00 New York
    ctx = setup({}, clock);
    const { broker, market } = ctx;
    const regular = broker.submitOrder(limitBuy());
    const extended = broker.submitOrder(limitBuy({ extended_hours: true }));
    assert.strictEqual(regular.status, 'accepted');
    assert.strictEqual(extended.status, 'new');
    assert.strictEqual(extended.expires_at, '2025-03-05T01:00:00.000Z', '20:00 New York');
    market.set('AAPL', 99.99, 100.01);
    assert.strictEqual(broker.getOrder(extended.id).status, 'filled');
    assert.strictEqual(broker.getOrder(regular.id).status, 'accepted');
    clock.advance(Date.parse('2025-03-04T22:00:00Z') - clock.now()); // 17:00, post-market
    broker.sweep();
    assert.strictEqual(broker.getOrder(regular.id).status, 'expired', 'a regular day order ends at 16:00');
    const post = broker.submitOrder(limitBuy({ extended_hours: true }));
    market.set('AAPL', 99.99, 100.01);
    assert.strictEqual(broker.getOrder(post.id).status, 'filled');
    clock.advance(Date.parse('2025-03-05T02:00:00Z') - clock.now()); // 21:00
    const overnight = broker.submitOrder(limitBuy({ extended_hours: true }));
    assert.strictEqual(overnight.status, 'accepted', 'nothing trades overnight');
  });

  it('opg orders take part in the next open, cls orders in the close; both are refused too close to the auction', () => {
    const clock = nyse('2025-03-04T13:00:00Z'); // 08:00 New York
    ctx = setup({}, clock);
    const { broker, market } = ctx;
    const opg = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'opg' });
    const cls = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'cls' });
    assert.strictEqual(opg.status, 'accepted');
    market.set('AAPL', 99.99, 100.01);
    assert.strictEqual(broker.getOrder(opg.id).status, 'accepted');
    clock.advance(Date.parse('2025-03-04T14:30:00Z') - clock.now());
    broker.sweep();
    assert.strictEqual(broker.getOrder(opg.id).status, 'filled');
    assert.strictEqual(broker.getOrder(cls.id).status, 'accepted', 'cls waits for the close');
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'opg' }), 422, /opg/);
    clock.advance(Date.parse('2025-03-04T20:55:00Z') - clock.now()); // 15:55
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'cls' }), 422, /cls/);
    clock.advance(4 * 60_000); // 15:59
    broker.sweep();
    assert.strictEqual(broker.getOrder(cls.id).status, 'filled');
    clock.advance(Date.parse('2025-03-04T22:00:00Z') - clock.now()); // 17:00
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'opg' }), 422, /opg/);
    clock.advance(Date.parse('2025-03-05T00:30:00Z') - clock.now()); // 19:30: for the next open
    assert.strictEqual(broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'opg' }).status, 'accepted');
  });

  it('gtc orders expire 90 days after they were placed, at that session close', () => {
    const clock = nyse('2025-03-04T15:00:00Z');
    ctx = setup({}, clock);
    const { broker, events } = ctx;
    const gtc = broker.submitOrder(limitBuy({ limit_price: '50', time_in_force: 'gtc' }));
    assert.strictEqual(gtc.expires_at, '2025-06-02T20:00:00.000Z', '2 June 2025, 90 days on, 16:00 New York');
    const btc = broker.submitOrder({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'limit', limit_price: '10000', time_in_force: 'gtc' });
    assert.ok(Math.abs(Date.parse(btc.expires_at) - Date.parse(btc.created_at) - 90 * 86400_000) < 1, 'crypto: 90 days to the millisecond');
    clock.advance(Date.parse('2025-06-02T20:00:00Z') - clock.now());
    broker.sweep();
    assert.strictEqual(broker.getOrder(gtc.id).status, 'expired');
    assert.deepStrictEqual(events(gtc.id), ['new', 'expired']);
    assert.strictEqual(broker.getOrder(btc.id).status, 'expired');
  });
});

describe('sim broker: what Alpaca refuses', () => {
  let ctx;
  afterEach(() => ctx && ctx.broker.stop());

  it('refuses an order that could trade against an open opposite order (wash trade), not legs of one group', () => {
    ctx = setup();
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'gtc' });
    broker.submitOrder({ symbol: 'AAPL', qty: '5', side: 'sell', type: 'limit', limit_price: '110', time_in_force: 'gtc' });
    const wash = /^potential wash trade detected\. use complex orders$/;
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' }), 403, wash, 40310000);
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '110', time_in_force: 'day' }), 403, wash);
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'stop', stop_price: '105', time_in_force: 'day' }), 403, wash);
    const below = broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '109.99', time_in_force: 'day' });
    assert.strictEqual(below.status, 'new', 'a buy below the open sell cannot trade against it');
    broker.cancelAllOrders();
    // A bracket's exits never count against its own entry; a later buy meets the live stop leg.
    const bracket = broker.submitOrder({
      symbol: 'AAPL', qty: '2', side: 'buy', type: 'market', time_in_force: 'gtc',
      order_class: 'bracket', take_profit: { limit_price: '120' }, stop_loss: { stop_price: '90' },
    });
    assert.deepStrictEqual(broker.getOrder(bracket.id).legs.map((l) => l.status), ['new', 'new']);
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '95', time_in_force: 'day' }), 403, wash);
    // Crypto too.
    broker.submitOrder({ symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'market', time_in_force: 'gtc' });
    market.set('BTC/USD', 49999.99, 50000.01);
    broker.submitOrder({ symbol: 'BTC/USD', qty: '0.005', side: 'sell', type: 'limit', limit_price: '60000', time_in_force: 'gtc' });
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', notional: '100', side: 'buy', type: 'market', time_in_force: 'gtc' }), 403, wash);
  });

  it('refuses sub-penny prices with 422: two decimals from $1, four below', () => {
    ctx = setup();
    const { broker } = ctx;
    const base = { symbol: 'AAPL', qty: '20', side: 'buy', type: 'limit', time_in_force: 'gtc' };
    const err = expectError(() => broker.submitOrder({ ...base, limit_price: '94.123' }), 422, /sub-penny/, 42210000);
    assert.strictEqual(err.message, 'invalid limit_price 94.123. sub-penny increment does not fulfill minimum pricing criteria');
    expectError(() => broker.submitOrder({ ...base, limit_price: '0.12345' }), 422, /invalid limit_price 0.12345/);
    expectError(() => broker.submitOrder({ ...base, type: 'stop', stop_price: '101.005' }), 422, /invalid stop_price 101.005/);
    expectError(
      () => broker.submitOrder({ ...base, limit_price: '99', order_class: 'bracket', take_profit: { limit_price: '110.001' }, stop_loss: { stop_price: '95' } }),
      422,
      /take_profit.limit_price 110.001/,
    );
    const ok = broker.submitOrder({ ...base, limit_price: '0.1234', qty: '100' });
    assert.strictEqual(ok.limit_price, '0.1234');
    broker.submitOrder({ ...base, limit_price: 94.1 });
    expectError(() => broker.replaceOrder(ok.id, { limit_price: '0.12341' }), 422, /sub-penny/);
    const crypto = broker.submitOrder({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'limit', limit_price: '40000.5', time_in_force: 'gtc' });
    assert.strictEqual(crypto.status, 'new', 'the rule is for stocks');
  });

  it('refuses orders worth less than $1, crypto buys under $10 and crypto quantities under min_order_size (403)', () => {
    ctx = setup();
    const { broker } = ctx;
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '0.005', side: 'buy', type: 'market', time_in_force: 'day' }), 403, /^cost basis must be >= 1$/, 40310000);
    expectError(() => broker.submitOrder({ symbol: 'AAPL', notional: '0.5', side: 'buy', type: 'market', time_in_force: 'day' }), 403, /^cost basis must be >= 1$/);
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '0.5', time_in_force: 'day' }), 403, /cost basis/);
    broker.submitOrder({ symbol: 'AAPL', notional: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', notional: '9.99', side: 'buy', type: 'market', time_in_force: 'gtc' }), 403, /^cost basis must be >= minimal amount of order 10$/);
    broker.submitOrder({ symbol: 'BTC/USD', qty: '0.001', side: 'buy', type: 'market', time_in_force: 'gtc' });
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', qty: '0.00005', side: 'sell', type: 'market', time_in_force: 'gtc' }), 403, /min_order_size/);
    // A whole position below $1 can still be liquidated.
    const dust = broker.closePosition('AAPL');
    assert.strictEqual(dust.side, 'sell');
  });

  it('answers a non-UUID order id with 422, an unknown one with 404', () => {
    ctx = setup();
    const { broker } = ctx;
    expectError(() => broker.getOrder('not-a-uuid'), 422, /^order_id is missing$/, 40010001);
    expectError(() => broker.cancelOrder('12345'), 422, /order_id is missing/);
    expectError(() => broker.replaceOrder('12345', { qty: '1' }), 422, /order_id is missing/);
    expectError(() => broker.getOrder('00000000-0000-4000-8000-000000000000'), 404, /order not found/);
  });

  it("403 insufficient buying power carries buying_power and cost_basis as strings", () => {
    ctx = setup();
    const err = expectError(() => ctx.broker.submitOrder({ symbol: 'AAPL', qty: '3000', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'day' }), 403, /^insufficient buying power$/);
    assert.deepStrictEqual(err.details, { buying_power: '200000', cost_basis: '300000' });
  });
});

describe('sim broker: fills, fees and order changes as on Alpaca', () => {
  let ctx;
  afterEach(() => ctx && ctx.broker.stop());

  it('charges crypto fees in the asset received: taker on arrival, maker when resting', () => {
    ctx = setup();
    const { broker, market } = ctx;
    market.set('BTC/USD', 49999.99, 50000.01);
    const buy = broker.getOrder(broker.submitOrder({ symbol: 'BTC/USD', qty: '0.1', side: 'buy', type: 'market', time_in_force: 'gtc' }).id);
    const price = num(buy.filled_avg_price);
    assert.strictEqual(buy.filled_qty, '0.1');
    // Taker 0.25% of the coins bought: 0.1 x 0.9975.
    assert.strictEqual(broker.getPosition('BTCUSD').qty, '0.09975');
    assert.strictEqual(num(broker.getAccount().cash), Math.round((100000 - 0.1 * price) * 100) / 100);
    expectError(() => broker.submitOrder({ symbol: 'BTC/USD', qty: '0.1', side: 'sell', type: 'market', time_in_force: 'gtc' }), 403, /insufficient qty available/);
    const fee = broker.getActivities(new URLSearchParams('activity_types=CFEE'));
    assert.strictEqual(fee.length, 1);
    assert.strictEqual(fee[0].qty, '-0.00025');
    assert.strictEqual(fee[0].symbol, 'BTCUSD');
    // A resting sell that fills later pays the maker rate, in dollars.
    const cashBefore = num(broker.getAccount().cash);
    const sell = broker.submitOrder({ symbol: 'BTC/USD', qty: '0.09975', side: 'sell', type: 'limit', limit_price: '51000', time_in_force: 'gtc' });
    assert.strictEqual(sell.status, 'new');
    market.set('BTC/USD', 51000, 51000.02);
    assert.strictEqual(broker.getOrder(sell.id).status, 'filled');
    const proceeds = 0.09975 * 51000;
    assert.strictEqual(num(broker.getAccount().cash), Math.round((cashBefore + proceeds - Math.round(proceeds * 0.0015 * 100) / 100) * 100) / 100);
    const fees = broker.getActivities(new URLSearchParams('activity_types=CFEE&direction=asc'));
    assert.strictEqual(fees[1].net_amount, String(-Math.round(proceeds * 0.0015 * 100) / 100));
    assert.deepStrictEqual(broker.getPositions(), []);
  });

  it('records a FILL activity per execution, paged by id', () => {
    ctx = setup({ liquidityPerTick: 4 });
    const { broker, market } = ctx;
    const o = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day' });
    market.set('AAPL', 99.99, 100.01);
    market.set('AAPL', 99.99, 100.01);
    const fills = broker.getActivities(new URLSearchParams('direction=asc'));
    assert.deepStrictEqual(fills.map((f) => [f.activity_type, f.type, f.qty, f.cum_qty, f.leaves_qty]), [
      ['FILL', 'partial_fill', '4', '4', '6'],
      ['FILL', 'partial_fill', '4', '8', '2'],
      ['FILL', 'fill', '2', '10', '0'],
    ]);
    assert.ok(fills.every((f) => f.order_id === o.id && /^\d{17}::[0-9a-f-]{36}$/.test(f.id)));
    const page1 = broker.getActivities(new URLSearchParams('page_size=2'));
    assert.deepStrictEqual(page1.map((f) => f.cum_qty), ['10', '8'], 'newest first');
    const page2 = broker.getActivities(new URLSearchParams(`page_size=2&page_token=${encodeURIComponent(page1[1].id)}`));
    assert.deepStrictEqual(page2.map((f) => f.cum_qty), ['4']);
    assert.strictEqual(broker.getActivities(new URLSearchParams('category=non_trade_activity')).length, 0);
    assert.strictEqual(broker.getActivities(new URLSearchParams(), 'FILL').length, 3);
    expectError(() => broker.getActivities(new URLSearchParams('activity_types=NOPE')), 400, /activity type/);
    expectError(() => broker.getActivities(new URLSearchParams('page_size=101')), 400, /page_size/);
    expectError(() => broker.getActivities(new URLSearchParams('category=trade_activity&activity_types=FILL')), 400, /category/);
  });

  it('replaces a partly filled order: the new qty is the total and counts what was filled', () => {
    ctx = setup({ liquidityPerTick: 4 });
    const { broker, market, events } = ctx;
    const o = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'limit', limit_price: '100.5', time_in_force: 'gtc' });
    assert.strictEqual(broker.getOrder(o.id).filled_qty, '4');
    expectError(() => broker.replaceOrder(o.id, { qty: '4' }), 422, /filled_qty/);
    const next = broker.replaceOrder(o.id, { qty: '12', limit_price: '100.6' });
    assert.strictEqual(next.qty, '12');
    assert.strictEqual(next.filled_qty, '4');
    assert.deepStrictEqual(events(o.id), ['new', 'partial_fill', 'replaced']);
    market.set('AAPL', 99.99, 100.01);
    market.set('AAPL', 99.99, 100.01);
    assert.strictEqual(broker.getOrder(next.id).status, 'filled');
    assert.strictEqual(broker.getPosition('AAPL').qty, '12');
  });

  it('cancelling a partly filled bracket entry keeps its exits, resized to the filled quantity', () => {
    ctx = setup({ liquidityPerTick: 3 });
    const { broker } = ctx;
    const entry = broker.submitOrder({
      symbol: 'AAPL', qty: '10', side: 'buy', type: 'limit', limit_price: '100.5', time_in_force: 'gtc',
      order_class: 'bracket', take_profit: { limit_price: '120' }, stop_loss: { stop_price: '90' },
    });
    assert.strictEqual(broker.getOrder(entry.id).filled_qty, '3');
    assert.deepStrictEqual(broker.getOrder(entry.id).legs.map((l) => l.status), ['held', 'held']);
    broker.cancelOrder(entry.id);
    const after = broker.getOrder(entry.id);
    assert.strictEqual(after.status, 'canceled');
    assert.deepStrictEqual(after.legs.map((l) => [l.status, l.qty]), [['new', '3'], ['new', '3']]);
    assert.strictEqual(broker.getPosition('AAPL').qty_available, '0', 'the exits hold the 3 shares');
  });

  it('collars market orders: no fill beyond 2.5% of the touch at submission (4% under $50)', () => {
    ctx = setup({ liquidityPerTick: 4 });
    const { broker, market } = ctx;
    const o = broker.submitOrder({ symbol: 'AAPL', qty: '10', side: 'buy', type: 'market', time_in_force: 'day' });
    assert.strictEqual(broker.getOrder(o.id).filled_qty, '4');
    // ask 100.01 x 1.025 = 102.51: an ask of 103 is beyond the collar.
    market.set('AAPL', 102.98, 103);
    assert.strictEqual(broker.getOrder(o.id).filled_qty, '4');
    market.set('AAPL', 102.4, 102.45);
    const filled = broker.getOrder(o.id);
    assert.strictEqual(filled.filled_qty, '8');
    assert.strictEqual(filled.type, 'market');
    // Slippage stops at the collar: 102.45 x 1.0005 = 102.50 is still inside it.
    market.set('AAPL', 102.49, 102.5);
    const done = broker.getOrder(o.id);
    assert.strictEqual(done.status, 'filled');
    const lastFill = ctx.updates.filter((u) => u.order.id === o.id && u.event === 'fill').pop();
    assert.strictEqual(lastFill.price, '102.51');
  });

  it('keeps an equity curve for the portfolio history', () => {
    const clock = new Clock({ marketHours: 'always', start: Date.parse('2025-03-04T15:00:00Z') });
    ctx = setup({}, clock);
    const { broker, market } = ctx;
    broker.submitOrder({ symbol: 'AAPL', qty: '100', side: 'buy', type: 'market', time_in_force: 'day' });
    for (let i = 0; i < 30; i++) {
      clock.advance(60_000);
      market.set('AAPL', 100 + i / 10, 100.02 + i / 10);
      broker.sweep();
    }
    const h = broker.getPortfolioHistory(new URLSearchParams('period=1D&timeframe=1Min&intraday_reporting=continuous'));
    assert.strictEqual(h.timeframe, '1Min');
    assert.ok(h.timestamp.length >= 30, `${h.timestamp.length} points`);
    assert.ok(h.timestamp.every((t, i) => i === 0 || t - h.timestamp[i - 1] === 60));
    assert.ok(h.equity[h.equity.length - 1] > h.equity[1], 'the curve rises with AAPL');
    assert.strictEqual(h.profit_loss[0], Math.round((h.equity[0] - h.base_value) * 100) / 100);
    const daily = broker.getPortfolioHistory(new URLSearchParams('period=1W&timeframe=1D'));
    assert.strictEqual(daily.timestamp.length, 1);
    assert.strictEqual(daily.timestamp[0], Date.parse('2025-03-04T05:00:00Z') / 1000, 'midnight New York');
    expectError(() => broker.getPortfolioHistory(new URLSearchParams('period=1M&start=2025-01-01T00:00:00Z&end=2025-02-01T00:00:00Z')), 400, /only two/);
    expectError(() => broker.getPortfolioHistory(new URLSearchParams('period=2M&timeframe=5Min')), 400, /30 days/);
    expectError(() => broker.getPortfolioHistory(new URLSearchParams('timeframe=2H')), 400, /timeframe/);
  });
});
