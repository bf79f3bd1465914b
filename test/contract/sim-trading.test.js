'use strict';
// The simulator's trading REST API through the official SDK, and every raw body checked against
// Alpaca's OpenAPI spec (test/support/openapi.js).
const assert = require('assert');
const { ApiError } = require('@alpacahq/alpaca-trade-api');
const { waitFor } = require('../support/wait');
const { startSim } = require('../support/sim');
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

    await s.price('AAPL', newLimit * 0.98);
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
    await s.price('AAPL', ask * 1.3);
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

  it("refuses what Alpaca refuses, with Alpaca's status, code and body", async () => {
    const order = (body) => s.rest('POST', '/v2/orders', { symbol: 'AAPL', side: 'buy', type: 'market', time_in_force: 'day', ...body });
    const conformsPost = (res) => assertConforms('trading', 'POST', '/v2/orders', res.status, res.body);
    const subPenny = await order({ qty: '1', type: 'limit', limit_price: '94.123' });
    assertError(subPenny, 422, 42210000, /^invalid limit_price 94\.123\. sub-penny increment does not fulfill minimum pricing criteria$/);
    conformsPost(subPenny);
    const tiny = await order({ notional: '0.5' });
    assertError(tiny, 403, 40310000, /^cost basis must be >= 1$/);
    conformsPost(tiny);
    const cryptoTiny = await order({ symbol: 'BTC/USD', notional: '5', time_in_force: 'gtc' });
    assertError(cryptoTiny, 403, 40310000, /^cost basis must be >= minimal amount of order 10$/);
    const shortFraction = await s.rest('POST', '/v2/orders', { symbol: 'AAPL', qty: '0.5', side: 'sell', type: 'market', time_in_force: 'day' });
    assertError(shortFraction, 422, 42210000, /fractional orders cannot be sold short/);
    conformsPost(shortFraction);
    const broke = await order({ qty: '5000', type: 'limit', limit_price: '100' });
    assertError(broke, 403, 40310000, /^insufficient buying power$/);
    assert.deepStrictEqual(Object.keys(broke.body).sort(), ['buying_power', 'code', 'cost_basis', 'message']);
    assert.strictEqual(broke.body.buying_power, '200000');
    assert.strictEqual(broke.body.cost_basis, '500000');
    conformsPost(broke);
    assert.strictEqual((await order({ qty: '2', type: 'limit', limit_price: '1' })).status, 200);
    const sell = await s.rest('POST', '/v2/orders', { symbol: 'AAPL', qty: '1', side: 'sell', type: 'market', time_in_force: 'day' });
    assertError(sell, 403, 40310000, /^potential wash trade detected\. use complex orders$/);
    conformsPost(sell);

    for (const path of ['/v2/orders/not-a-uuid', '/v2/orders/123']) {
      assertError(await s.rest('GET', path), 422, 40010001, /^order_id is missing$/);
      assertError(await s.rest('DELETE', path), 422, 40010001, /^order_id is missing$/);
    }
    await expectApiError(s.alpaca.trading.orders.getOrderByOrderID({ orderId: 'nope' }), 422);
    for (const path of ['/v2/account?verbose=1', '/v2/orders?status=open&symbol=AAPL', '/v2/positions?x=1', '/v2/clock?tz=UTC', '/v2/orders/00000000-0000-4000-8000-000000000000?nested=true&expand=1']) {
      assertError(await s.rest('GET', path), 400, 40010001, /^unknown query parameter: /);
    }
    const calendarTypo = await s.rest('GET', '/v2/calendar?from=2025-01-01');
    assertError(calendarTypo, 400, 40010001, /from/);
    assertConforms('trading', 'GET', '/v2/calendar', 400, calendarTypo.body);
    // Every parameter the spec lists is accepted.
    assert.strictEqual((await s.rest('GET', '/v2/orders?status=all&limit=5&direction=asc&nested=false&symbols=AAPL&side=buy&asset_class=us_equity')).status, 200);
  });

  it('writes crypto increments as decimal strings', async () => {
    for (const symbol of ['BTC%2FUSD', 'DOGE%2FUSD', 'SHIB%2FUSD'].slice(0, 2)) {
      const a = (await s.rest('GET', `/v2/assets/${symbol}`)).body;
      for (const k of ['min_order_size', 'min_trade_increment', 'price_increment']) assert.match(a[k], /^(0|[1-9]\d*)(\.\d*[1-9])?$/, `${symbol} ${k}: ${a[k]}`);
    }
  });

  it('account activities: a FILL per execution and the crypto fee (CFEE), filtered and paged', async () => {
    await s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 3, side: 'buy', clientOrderId: 'act-1' });
    await s.alpaca.trading.orders.market({ symbol: 'BTC/USD', notional: 100, side: 'buy', timeInForce: 'gtc' });
    const all = await waitFor(async () => {
      const r = await s.rest('GET', '/v2/account/activities');
      return r.body.length >= 3 && r;
    }, 5000, 'activities');
    assertConforms('trading', 'GET', '/v2/account/activities', 200, all.body);
    assert.deepStrictEqual(all.body.map((a) => a.activity_type).sort(), ['CFEE', 'FILL', 'FILL']);
    const fill = all.body.find((a) => a.activity_type === 'FILL' && a.symbol === 'AAPL');
    assert.strictEqual(fill.qty, '3');
    assert.strictEqual(fill.side, 'buy');
    assert.strictEqual(fill.order_status, 'filled');
    const fee = all.body.find((a) => a.activity_type === 'CFEE');
    assert.strictEqual(fee.symbol, 'BTCUSD');
    assert.ok(Number(fee.qty) < 0, 'paid in BTC');
    // The by-type schema is a oneOf of two schemas that both accept any activity: only that ambiguity is tolerated.
    for (const type of ['FILL', 'CFEE']) {
      const one = await s.rest('GET', `/v2/account/activities/${type}`);
      assert.ok(one.body.length >= 1 && one.body.every((a) => a.activity_type === type));
      const problems = validateResponse('trading', 'GET', `/v2/account/activities/${type}`, 200, one.body).filter((p) => !/^GET \S+ 200: \/\d+ must match exactly one schema in oneOf$/.test(p));
      assert.deepStrictEqual(problems, []);
    }
    const sdk = await s.alpaca.trading.accountActivities.getAccountActivities({ activityTypes: ['FILL'], pageSize: 1, direction: 'asc' });
    assert.strictEqual(sdk.length, 1);
    const next = await s.rest('GET', `/v2/account/activities?activity_types=FILL&page_size=1&direction=asc&page_token=${encodeURIComponent(sdk[0].id)}`);
    assert.strictEqual(next.body.length, 1);
    assert.notStrictEqual(next.body[0].id, sdk[0].id);
    assertError(await s.rest('GET', '/v2/account/activities?activity_types=BOGUS'), 400, 40010001, /activity type/);
    assertError(await s.rest('GET', '/v2/account/activities?page_size=0'), 400, 40010001, /page_size/);
  });

  it('portfolio history: an equity curve of the simulated account', async () => {
    await s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 5, side: 'buy' });
    for (const q of ['', '?period=1D&timeframe=1Min&intraday_reporting=continuous', '?period=1W&timeframe=1D', '?timeframe=15Min&period=5D&pnl_reset=no_reset&cashflow_types=ALL']) {
      const r = await s.rest('GET', `/v2/account/portfolio/history${q}`);
      assert.strictEqual(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
      assertConforms('trading', 'GET', '/v2/account/portfolio/history', 200, r.body);
      assert.strictEqual(r.body.timestamp.length, r.body.equity.length);
    }
    const h = await s.alpaca.trading.portfolioHistory.getAccountPortfolioHistory({ period: '1D', timeframe: '1Min', intradayReporting: 'continuous' });
    assert.strictEqual(h.timeframe, '1Min');
    assert.ok(h.equity.length >= 1 && h.equity.every((e) => e > 99_000 && e < 101_000));
    assertError(await s.rest('GET', '/v2/account/portfolio/history?period=3M&timeframe=1Min'), 400, 40010001, /30 days/);
    assertError(await s.rest('GET', '/v2/account/portfolio/history?period=1D&start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z'), 400, 40010001, /only two/);
    assertError(await s.rest('GET', '/v2/account/portfolio/history?intraday_reporting=sometimes'), 400, 40010001, /intraday_reporting/);
  });

  it('watchlists: create, read, rename, add, remove and delete, by id and by name', async () => {
    const w = s.alpaca.trading.watchlists;
    const created = await w.postWatchlist({ createWatchlistRequest: { name: 'tech', symbols: ['AAPL', 'MSFT'] } });
    assert.deepStrictEqual(created.assets.map((a) => a.symbol), ['AAPL', 'MSFT']);
    const raw = await s.rest('GET', `/v2/watchlists/${created.id}`);
    assertConforms('trading', 'GET', `/v2/watchlists/${created.id}`, 200, raw.body);
    assertConforms('trading', 'GET', '/v2/watchlists', 200, (await s.rest('GET', '/v2/watchlists')).body);
    const added = await s.rest('POST', `/v2/watchlists/${created.id}`, { symbol: 'NVDA' });
    assertConforms('trading', 'POST', `/v2/watchlists/${created.id}`, 200, added.body);
    assert.deepStrictEqual(added.body.assets.map((a) => a.symbol), ['AAPL', 'MSFT', 'NVDA']);
    const removed = await s.rest('DELETE', `/v2/watchlists/${created.id}/MSFT`);
    assertConforms('trading', 'DELETE', `/v2/watchlists/${created.id}/MSFT`, 200, removed.body);
    assert.deepStrictEqual(removed.body.assets.map((a) => a.symbol), ['AAPL', 'NVDA']);
    const renamed = await s.rest('PUT', `/v2/watchlists/${created.id}`, { name: 'ai', symbols: ['NVDA', 'BTC/USD'] });
    assertConforms('trading', 'PUT', `/v2/watchlists/${created.id}`, 200, renamed.body.assets ? { ...renamed.body, assets: renamed.body.assets.filter((a) => a.class !== 'crypto') } : renamed.body);
    const byName = await s.rest('GET', '/v2/watchlists:by_name?name=ai');
    assert.strictEqual(byName.body.id, created.id);
    const crypto = await s.rest('DELETE', `/v2/watchlists/${created.id}/BTC%2FUSD`);
    assert.deepStrictEqual(crypto.body.assets.map((a) => a.symbol), ['NVDA']);
    assert.strictEqual((await s.rest('POST', '/v2/watchlists:by_name?name=ai', { symbol: 'TSLA' })).body.assets.length, 2);
    assertError(await s.rest('POST', '/v2/watchlists', { name: 'ai' }), 422, 40010001, /unique/);
    assertError(await s.rest('POST', '/v2/watchlists', { name: 'x', symbols: ['NOSUCH'] }), 422, 40010001, /NOSUCH/);
    assertError(await s.rest('POST', '/v2/watchlists', { symbols: ['AAPL'] }), 422, 40010001, /name/);
    const gone = await s.rest('DELETE', '/v2/watchlists:by_name?name=ai');
    assert.strictEqual(gone.status, 204);
    const missing = await s.rest('DELETE', `/v2/watchlists/${created.id}`);
    assertError(missing, 404, 40410000, /watchlist not found/);
    assertConforms('trading', 'DELETE', `/v2/watchlists/${created.id}`, 404, missing.body);
    assert.deepStrictEqual(await w.getWatchlists(), []);
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

describe('simulator trading REST API on the NYSE calendar (contract)', function () {
  this.timeout(20000);
  let s;
  before(async () => {
    s = await startSim({ marketHours: 'nyse' });
  });
  after(() => s && s.stop());

  it('serves the NYSE calendar: holidays, 13:00 early closes, extended sessions, settlement dates', async () => {
    const week = await s.rest('GET', '/v2/calendar?start=2025-11-24&end=2025-12-01');
    assertConforms('trading', 'GET', '/v2/calendar', 200, week.body);
    assert.deepStrictEqual(week.body, [
      { date: '2025-11-24', open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: '2025-11-25' },
      { date: '2025-11-25', open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: '2025-11-26' },
      { date: '2025-11-26', open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: '2025-11-28' },
      { date: '2025-11-28', open: '09:30', close: '13:00', session_open: '0400', session_close: '1700', settlement_date: '2025-12-01' },
      { date: '2025-12-01', open: '09:30', close: '16:00', session_open: '0400', session_close: '2000', settlement_date: '2025-12-02' },
    ]);
    const sdk = await s.alpaca.trading.calendar.legacyCalendar({ start: new Date('2026-07-01T00:00:00Z'), end: new Date('2026-07-07T00:00:00Z') });
    assert.deepStrictEqual(sdk.map((d) => d.date instanceof Date ? d.date.toISOString().slice(0, 10) : d.date), ['2026-07-01', '2026-07-02', '2026-07-06', '2026-07-07']);
    const settling = await s.rest('GET', '/v2/calendar?start=2025-11-28&end=2025-11-28&date_type=SETTLEMENT');
    assert.deepStrictEqual(settling.body.map((d) => d.date), ['2025-11-26']);
    const everything = await s.rest('GET', '/v2/calendar');
    assert.strictEqual(everything.body[0].date, '1970-01-02');
    assert.strictEqual(everything.body[everything.body.length - 1].date, '2029-12-31');
    const bad = await s.rest('GET', '/v2/calendar?start=yesterday');
    assertError(bad, 400, 40010001, /start/);
    assertConforms('trading', 'GET', '/v2/calendar', 400, bad.body);
  });

  it('the clocks follow the calendar: phase, next open and close, is_market_day', async () => {
    const at = async (time) => (await s.rest('GET', `/v3/clock?time=${time}`)).body.clocks[0];
    const thanksgiving = await at('2025-11-27T17:00:00Z');
    assert.strictEqual(thanksgiving.is_market_day, false);
    assert.strictEqual(thanksgiving.phase, 'closed');
    assert.strictEqual(thanksgiving.next_market_open, '2025-11-28T14:30:00.000Z');
    assert.strictEqual(thanksgiving.phase_until, '2025-11-28T09:00:00.000Z');
    const early = await at('2025-11-28T17:00:00Z');
    assert.deepStrictEqual([early.phase, early.phase_until, early.next_market_close], ['core', '2025-11-28T18:00:00.000Z', '2025-11-28T18:00:00.000Z']);
    const post = await at('2025-11-28T19:00:00Z');
    assert.deepStrictEqual([post.phase, post.phase_until], ['post', '2025-11-28T22:00:00.000Z']);
    const raw = await s.rest('GET', '/v3/clock?time=2025-11-28T12:00:00Z&markets=NYSE,NASDAQ');
    assertConforms('trading', 'GET', '/v3/clock', 200, raw.body);
    assert.deepStrictEqual(raw.body.clocks.map((c) => [c.market.acronym, c.phase]), [['NYSE', 'pre'], ['NASDAQ', 'pre']]);
    const legacy = await s.alpaca.trading.clock.legacyClock();
    assert.ok(legacy.nextOpen.getTime() !== legacy.nextClose.getTime());
    assert.strictEqual(legacy.isOpen, s.sim.clock.phase() === 'core');
  });

  it('orders placed while the market is closed are accepted and wait for the open', async () => {
    const now = s.sim.clock.now();
    const saturday = new Date(now + ((6 - new Date(now).getUTCDay() + 7) % 7 || 7) * 86400000);
    saturday.setUTCHours(16, 0, 0, 0);
    s.sim.clock.advance(saturday.getTime() - now);
    const res = await s.rest('POST', '/v2/orders', { symbol: 'AAPL', qty: '1', side: 'buy', type: 'market', time_in_force: 'day' });
    assert.strictEqual(res.status, 200);
    assertConforms('trading', 'POST', '/v2/orders', 200, res.body);
    assert.strictEqual(res.body.status, 'accepted');
    const monday = s.sim.clock.nextOpenClose().nextClose;
    assert.strictEqual(res.body.expires_at, new Date(monday).toISOString(), 'a day order lasts until the next close');
  });
});

