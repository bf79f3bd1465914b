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
  { id: '33333333-3333-4333-8333-333333333333', symbol: 'BTC/USD', name: 'Bitcoin', assetClass: 'crypto', exchange: 'CRYPTO', fractionable: true, basePrice: 50000 },
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

function expectError(fn, status, pattern) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof SimHttpError, `expected SimHttpError, got ${err}`);
    assert.strictEqual(err.status, status, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
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
    expectError(() => broker.submitOrder({ symbol: 'AAPL', qty: '0.5', side: 'sell', type: 'market', time_in_force: 'day' }), 403, /fractional/);
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
    broker.submitOrder({ symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'limit', limit_price: '100', time_in_force: 'gtc' });
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
