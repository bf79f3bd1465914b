'use strict';
// The simulator's trading REST API through the official SDK, and every raw body checked against
// Alpaca's OpenAPI spec (test/support/openapi.js).
const assert = require('assert');
const { ApiError } = require('@alpacahq/alpaca-trade-api');
const { startSim, waitFor } = require('../support/sim');
const { assertConforms, validateResponse } = require('../support/openapi');

/** Alpaca's Error schema {code, message}, for statuses the spec leaves undocumented. */
function assertError(res, status, code, pattern) {
  assert.strictEqual(res.status, status, JSON.stringify(res.body));
  assert.strictEqual(typeof res.body.message, 'string');
  assert.strictEqual(res.body.code, code);
  if (pattern) assert.match(res.body.message, pattern);
}

/**
 * Conformance with one documented exception: the spec's Exchange enums lack CRYPTO, which real
 * Alpaca sends for crypto assets; only that exact problem is tolerated, and only on crypto items.
 */
function assertConformsCrypto(method, path, status, body) {
  const problems = validateResponse('trading', method, path, status, body).filter((p) => {
    const m = /^\/(?:(\d+)\/)?exchange must be equal to one of the allowed values$/.exec(p.replace(/^.*? \d{3}: /, ''));
    if (!m) return true;
    const item = m[1] === undefined ? body : body[Number(m[1])];
    return !(item && (item.class === 'crypto' || item.asset_class === 'crypto') && item.exchange === 'CRYPTO');
  });
  assert.deepStrictEqual(problems, []);
}

async function expectApiError(promise, status, pattern) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${err && err.name}: ${err && err.message}`);
    assert.strictEqual(err.status, status);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('simulator trading REST API (contract, official SDK)', function () {
  this.timeout(20000);
  let s;
  beforeEach(async () => {
    s = await startSim();
  });
  afterEach(async () => {
    if (s) await s.stop();
    s = undefined;
  });

  const price = async (symbol) => {
    const q = (await s.rest('GET', `/v2/assets/${encodeURIComponent(symbol)}`)).status;
    assert.strictEqual(q, 200);
    const t = s.sim.market.quote(symbol);
    return { bid: t.bid, ask: t.ask };
  };
  const setPrice = (symbol, p) =>
    fetch(`${s.url}/sim/prices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ symbol, price: p }) }).then((r) => r.json());

  it('account, configurations, clock, calendar and assets conform to the spec', async () => {
    const account = await s.alpaca.trading.account.getAccount();
    assert.strictEqual(account.status, 'ACTIVE');
    assert.strictEqual(account.cash, '100000');
    assert.strictEqual(account.equity, '100000');
    assert.strictEqual(account.buyingPower, '200000');
    for (const path of ['/v2/account', '/v2/account/configurations', '/v2/clock', '/v3/clock', '/v2/calendar?start=2025-03-03&end=2025-03-10']) {
      const res = await s.rest('GET', path);
      assert.strictEqual(res.status, 200, path);
      assertConforms('trading', 'GET', path.split('?')[0], 200, res.body);
    }
    const cal = await s.rest('GET', '/v2/calendar?start=2025-03-03&end=2025-03-10');
    assert.deepStrictEqual(cal.body.map((d) => d.date), ['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06', '2025-03-07', '2025-03-10']);

    const clock = await s.alpaca.trading.clock.clock();
    assert.strictEqual(clock.clocks[0].phase, 'core');
    const legacy = await s.alpaca.trading.clock.legacyClock();
    assert.strictEqual(legacy.isOpen, true);
    assert.ok(legacy.nextClose instanceof Date);

    const assets = await s.rest('GET', '/v2/assets');
    assert.ok(assets.body.length >= 2);
    assertConformsCrypto('GET', '/v2/assets', 200, assets.body);
    const stocks = await s.rest('GET', '/v2/assets?asset_class=us_equity');
    assert.ok(stocks.body.every((a) => a.class === 'us_equity'));
    assertConforms('trading', 'GET', '/v2/assets', 200, stocks.body);
    const aapl = await s.alpaca.trading.assets.getV2AssetsSymbolOrAssetId({ symbolOrAssetId: 'AAPL' });
    assert.strictEqual(aapl.symbol, 'AAPL');
    const btc = await s.rest('GET', '/v2/assets/BTC%2FUSD');
    assert.strictEqual(btc.body.symbol, 'BTC/USD');
    assertConformsCrypto('GET', '/v2/assets/BTC%2FUSD', 200, btc.body);
    assert.strictEqual((await s.rest('GET', '/v2/assets/BTCUSD')).body.symbol, 'BTC/USD');
    const missing = await s.rest('GET', '/v2/assets/NOSUCH');
    assertError(missing, 404, 40410000, /not found/);
    assertConforms('trading', 'GET', '/v2/assets/NOSUCH', 404, missing.body);
  });

  it('market order round trip: fill, position, close, account consistent', async () => {
    const clientOrderId = 'contract-market-1';
    const order = await s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy', clientOrderId });
    assert.strictEqual(order.clientOrderId, clientOrderId);
    assert.strictEqual(order.qty, '10');
    const filled = await waitFor(async () => {
      const o = await s.alpaca.trading.orders.getOrderByOrderID({ orderId: order.id });
      return o.status === 'filled' && o;
    }, 5000, 'fill');
    assert.ok(Number(filled.filledAvgPrice) > 0);
    const byClient = await s.alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId });
    assert.strictEqual(byClient.id, order.id);
    for (const path of [`/v2/orders/${order.id}`, `/v2/orders:by_client_order_id?client_order_id=${clientOrderId}`, '/v2/orders?status=all', '/v2/positions', '/v2/positions/AAPL']) {
      const res = await s.rest('GET', path);
      assert.strictEqual(res.status, 200, path);
      assertConforms('trading', 'GET', path.split('?')[0], 200, res.body);
    }
    const positions = await s.alpaca.trading.positions.getAllOpenPositions();
    assert.strictEqual(positions.length, 1);
    assert.strictEqual(positions[0].symbol, 'AAPL');
    assert.strictEqual(positions[0].qty, '10');
    const account = await s.rest('GET', '/v2/account');
    const cash = Number(account.body.cash);
    assert.ok(Math.abs(cash - (100000 - 10 * Number(filled.filledAvgPrice))) < 0.006);
    assert.ok(Math.abs(Number(account.body.equity) - (cash + Number(account.body.long_market_value))) < 0.011);

    const dup = await s.rest('POST', '/v2/orders', { symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', client_order_id: clientOrderId });
    assertError(dup, 422, 40010001, /^client_order_id must be unique$/);
    assertConforms('trading', 'POST', '/v2/orders', 422, dup.body);

    const closing = await s.rest('DELETE', '/v2/positions/AAPL?percentage=50');
    assert.strictEqual(closing.status, 200);
    assertConforms('trading', 'DELETE', '/v2/positions/AAPL', 200, closing.body);
    assert.strictEqual(closing.body.qty, '5');
    await waitFor(async () => (await s.rest('GET', '/v2/positions/AAPL')).body.qty === '5', 5000, 'half closed');
    const all = await s.alpaca.trading.closeAllPositions({ cancelOrders: true });
    assert.strictEqual(all.length, 1);
    assert.strictEqual(all[0].symbol, 'AAPL');
    await waitFor(async () => (await s.rest('GET', '/v2/positions')).body.length === 0, 5000, 'flat');
    const gone = await s.rest('GET', '/v2/positions/AAPL');
    assertError(gone, 404, 40410000, /position does not exist/);
    await expectApiError(s.alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' }), 404);
    const stats = await s.stats();
    assert.strictEqual(stats.orders, 1); // only POST /v2/orders submissions it accepted
  });

  it('limit order: rests, is replaced, fills when the price moves, cannot be canceled after', async () => {
    const { ask } = await price('AAPL');
    const limit = Math.round((ask * 0.9) * 100) / 100;
    const order = await s.alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 3, side: 'buy', limitPrice: limit, timeInForce: 'gtc', clientOrderId: 'contract-limit-1' });
    assert.strictEqual(order.status, 'new');
    assert.strictEqual(order.limitPrice, String(limit));
    const open = await s.alpaca.trading.orders.getAllOrders({ status: 'open' });
    assert.deepStrictEqual(open.map((o) => o.id), [order.id]);
    const closedList = await s.alpaca.trading.orders.getAllOrders({ status: 'closed' });
    assert.strictEqual(closedList.length, 0);

    const newLimit = Math.round((ask * 0.95) * 100) / 100;
    const raw = await s.rest('PATCH', `/v2/orders/${order.id}`, { limit_price: String(newLimit), qty: '4' });
    assert.strictEqual(raw.status, 200, JSON.stringify(raw.body));
    assertConforms('trading', 'PATCH', `/v2/orders/${order.id}`, 200, raw.body);
    assert.strictEqual(raw.body.replaces, order.id);
    const replaced = await s.alpaca.trading.orders.getOrderByOrderID({ orderId: order.id });
    assert.strictEqual(replaced.status, 'replaced');
    assert.strictEqual(replaced.replacedBy, raw.body.id);
    const again = await s.alpaca.trading.orders.patchOrderByOrderId({ orderId: raw.body.id, patchOrderRequest: { qty: '5' } });
    assert.strictEqual(again.qty, '5');

    await setPrice('AAPL', newLimit * 0.98);
    const filled = await waitFor(async () => {
      const o = await s.alpaca.trading.orders.getOrderByOrderID({ orderId: again.id });
      return o.status === 'filled' && o;
    }, 5000, 'limit fill');
    assert.ok(Number(filled.filledAvgPrice) <= newLimit);
    const notCancelable = await s.rest('DELETE', `/v2/orders/${again.id}`);
    assertError(notCancelable, 422, 42210000, /not cancelable/);
    assertConforms('trading', 'DELETE', `/v2/orders/${again.id}`, 422, notCancelable.body);
    await expectApiError(s.alpaca.trading.orders.deleteOrderByOrderID({ orderId: again.id }), 422, /not cancelable/);
  });

  it('cancel one and cancel all, 204 and 207', async () => {
    const a = await s.alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 1, timeInForce: 'gtc' });
    const res = await s.rest('DELETE', `/v2/orders/${a.id}`);
    assert.strictEqual(res.status, 204);
    assert.strictEqual(res.body, undefined);
    assert.strictEqual((await s.alpaca.trading.orders.getOrderByOrderID({ orderId: a.id })).status, 'canceled');
    await s.alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 1, timeInForce: 'gtc' });
    await s.alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 2, side: 'buy', limitPrice: 1, timeInForce: 'gtc' });
    const all = await s.rest('DELETE', '/v2/orders');
    assert.strictEqual(all.status, 207);
    assert.strictEqual(all.body.length, 2);
    assert.ok(all.body.every((r) => r.status === 200));
    assertConforms('trading', 'DELETE', '/v2/orders', 207, all.body);
    const none = await s.alpaca.trading.orders.deleteAllOrders();
    assert.deepStrictEqual(none, []);
    const missing = await s.rest('GET', '/v2/orders/00000000-0000-4000-8000-000000000000');
    assertError(missing, 404, 40410000, /order not found/);
    await expectApiError(s.alpaca.trading.orders.deleteOrderByOrderID({ orderId: '00000000-0000-4000-8000-000000000000' }), 404);
  });

  it('bracket order through the SDK: legs nested, activated after the entry fills', async () => {
    const { ask } = await price('AAPL');
    const order = await s.alpaca.trading.orders.bracket({
      symbol: 'AAPL', qty: 2, side: 'buy', timeInForce: 'gtc',
      takeProfit: { limitPrice: Math.round(ask * 1.2 * 100) / 100 },
      stopLoss: { stopPrice: Math.round(ask * 0.8 * 100) / 100 },
    });
    assert.strictEqual(order.orderClass, 'bracket');
    assert.strictEqual(order.legs.length, 2);
    const nested = await s.rest('GET', '/v2/orders?status=all&nested=true');
    assertConforms('trading', 'GET', '/v2/orders', 200, nested.body);
    await waitFor(async () => {
      const o = await s.rest('GET', `/v2/orders/${order.id}?nested=true`);
      return o.body.status === 'filled' && o.body.legs.every((l) => l.status === 'new');
    }, 5000, 'legs active');
    const legs = (await s.rest('GET', `/v2/orders/${order.id}`)).body.legs;
    assert.deepStrictEqual(legs.map((l) => [l.side, l.type]).sort(), [['sell', 'limit'], ['sell', 'stop']]);
    await setPrice('AAPL', ask * 1.3);
    await waitFor(async () => {
      const o = await s.rest('GET', `/v2/orders/${order.id}`);
      const byType = Object.fromEntries(o.body.legs.map((l) => [l.type, l.status]));
      return byType.limit === 'filled' && byType.stop === 'canceled';
    }, 5000, 'take profit');
    const generic = await s.alpaca.trading.orders.submit({ symbol: 'AAPL', qty: 1, side: 'buy', type: 'stop', stopPrice: Math.round(ask * 2 * 100) / 100, timeInForce: 'day' });
    assert.strictEqual(generic.type, 'stop');
  });

  it('crypto: notional buy, fractional position under BTCUSD and BTC%2FUSD, no shorting', async () => {
    const order = await s.alpaca.trading.orders.market({ symbol: 'BTC/USD', notional: 500, side: 'buy', timeInForce: 'gtc' });
    assert.strictEqual(order.notional, '500');
    await waitFor(async () => (await s.rest('GET', '/v2/positions/BTCUSD')).status === 200, 5000, 'crypto position');
    const a = await s.rest('GET', '/v2/positions/BTCUSD');
    const b = await s.rest('GET', '/v2/positions/BTC%2FUSD');
    assert.strictEqual(a.body.qty, b.body.qty);
    assert.ok(Number(a.body.qty) > 0 && Number(a.body.qty) < 1);
    assertConformsCrypto('GET', '/v2/positions/BTCUSD', 200, a.body);
    const pos = await s.alpaca.trading.positions.getOpenPosition({ symbolOrAssetId: 'BTC/USD' });
    assert.strictEqual(pos.assetClass, 'crypto');
    const day = await s.rest('POST', '/v2/orders', { symbol: 'BTC/USD', qty: '0.01', side: 'buy', type: 'market', time_in_force: 'day' });
    assertError(day, 422, 40010001, /time_in_force/);
    const short = await s.rest('POST', '/v2/orders', { symbol: 'BTC/USD', qty: '5', side: 'sell', type: 'market', time_in_force: 'gtc' });
    assertError(short, 403, 40310000, /insufficient qty available/);
    assertConforms('trading', 'POST', '/v2/orders', 403, short.body);
  });

  it('errors: 422 invalid orders, 403 buying power, typed SDK errors', async () => {
    const cases = [
      [{ symbol: 'AAPL', qty: '0', side: 'buy', type: 'market', time_in_force: 'day' }, /qty must be > 0/],
      [{ symbol: 'AAPL', qty: '1', notional: '10', side: 'buy', type: 'market', time_in_force: 'day' }, /only one of qty or notional/],
      [{ symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', time_in_force: 'day' }, /limit_price is required/],
      [{ symbol: 'NOSUCH', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' }, /not found/],
      [{ symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day', order_class: 'bracket' }, /take_profit and stop_loss/],
    ];
    for (const [body, pattern] of cases) {
      const res = await s.rest('POST', '/v2/orders', body);
      assertError(res, 422, 40010001, pattern);
      assertConforms('trading', 'POST', '/v2/orders', 422, res.body);
    }
    const huge = await s.rest('POST', '/v2/orders', { symbol: 'AAPL', qty: '1000000', side: 'buy', type: 'market', time_in_force: 'day' });
    assertError(huge, 403, 40310000, /insufficient buying power/);
    assertConforms('trading', 'POST', '/v2/orders', 403, huge.body);
    await assert.rejects(s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1000000, side: 'buy' }), (err) => {
      assert.ok(err instanceof ApiError);
      assert.strictEqual(err.status, 403);
      assert.strictEqual(err.code, 40310000);
      assert.match(err.message, /insufficient buying power/);
      return true;
    });
    await expectApiError(s.alpaca.trading.orders.getOrderByClientOrderId({ clientOrderId: 'never-sent' }), 404);
    assert.strictEqual((await s.stats()).orders, 0);
  });

  it('401 with bad keys on every trading endpoint', async () => {
    await s.stop();
    s = await startSim({ key: 'K', secret: 'S' });
    const res = await fetch(`${s.url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'K', 'APCA-API-SECRET-KEY': 'wrong' } });
    assert.strictEqual(res.status, 401);
    const body = await res.json();
    assert.strictEqual(body.code, 40110000);
    assert.strictEqual(typeof body.message, 'string');
    const good = await s.rest('GET', '/v2/account');
    assert.strictEqual(good.status, 200);
  });
});
