'use strict';
// alpaca-order in a real Node-RED runtime, the official SDK and the simulator over real sockets:
// every order type and class fills or rests as the market model says.
const assert = require('assert');
const { helper, start, orderStatus } = require('../support/orders');
const { waitFor } = require('../support/wait');

describe('alpaca-order: order types and classes on the simulator', function () {
  this.timeout(60000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('places a market buy that fills; plain numbers in payload, Alpaca raw fields in msg.alpaca', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderType: 'market', qty: '3' }]);
    await t.control.price('AAPL', 100);
    const m = await t.send(0, { payload: 'go' });
    assert.strictEqual(m.outcome, 'placed');
    assert.strictEqual(m.reconciled, false);
    assert.strictEqual(m.payload.symbol, 'AAPL');
    assert.strictEqual(m.payload.qty, 3);
    assert.strictEqual(typeof m.payload.filledQty, 'number');
    assert.strictEqual(m.alpaca.qty, '3');
    assert.strictEqual(m.alpaca.symbol, 'AAPL');
    assert.strictEqual(m.alpaca.client_order_id, m.clientOrderId);
    assert.match(m.clientOrderId, /^nr-[0-9a-f-]{36}$/, 'a fresh id: the msg has no key');
    const filled = await orderStatus(t.sdk, m.payload.id, ['filled']);
    assert.ok(Math.abs(Number(filled.filledAvgPrice) - 100) < 1, String(filled.filledAvgPrice));
    const pos = await t.sdk.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' });
    assert.strictEqual(Number(pos.qty), 3);
  });

  it('limit orders rest until the price reaches them, then fill (wait for final state: output 2)', async function () {
    const t = await start([{ symbol: 'MSFT', side: 'buy', orderType: 'limit', qty: '2', limitPrice: '95', waitForFinal: true, timeout: 30 }]);
    await t.control.price('MSFT', 100);
    const m = await t.send(0, {});
    assert.strictEqual(m.payload.status, 'new');
    assert.strictEqual(m.payload.limitPrice, 95);
    await orderStatus(t.sdk, m.payload.id, ['new']);
    assert.strictEqual(t.rec[0].filled.length, 0);
    await t.control.price('MSFT', 94);
    const f = await t.next(0, 'filled', 1);
    assert.strictEqual(f.payload.status, 'filled');
    assert.strictEqual(f.payload.filledQty, 2);
    assert.ok(f.payload.filledAvgPrice <= 95);
    assert.strictEqual(f.final, true);
    assert.strictEqual(f.timedOut, false);
    assert.strictEqual(f.alpaca.status, 'filled');
    assert.strictEqual(t.rec[0].ended.length, 0);
  });

  it('stop and stop_limit buys trigger above the market; trailing stops follow the high', async function () {
    const t = await start([{ action: 'msg' }]);
    await t.control.price('NVDA', 100);
    const stop = await t.send(0, { topic: 'submit', payload: { symbol: 'NVDA', side: 'buy', type: 'stop', qty: 1, stopPrice: 105 } });
    const stopLimit = await t.send(0, { topic: 'submit', payload: { symbol: 'NVDA', side: 'buy', type: 'stop_limit', qty: 1, stopPrice: 110, limitPrice: 111 } });
    await orderStatus(t.sdk, stop.payload.id, ['new']);
    await orderStatus(t.sdk, stopLimit.payload.id, ['new']);
    await t.control.price('NVDA', 106);
    await orderStatus(t.sdk, stop.payload.id, ['filled']);
    assert.strictEqual((await t.sdk.trading.orders.getOrderByOrderID({ orderId: stopLimit.payload.id })).status, 'new');
    await t.control.price('NVDA', 110.5);
    await orderStatus(t.sdk, stopLimit.payload.id, ['filled']);

    // A long of 2 NVDA now: trail it by 5 % and by $3.
    const pct = await t.send(0, { topic: 'submit', payload: { symbol: 'NVDA', side: 'sell', type: 'trailing_stop', qty: 1, trail_percent: 5, time_in_force: 'gtc' } });
    const usd = await t.send(0, { topic: 'submit', payload: { symbol: 'NVDA', side: 'sell', type: 'trailing_stop', qty: 1, trailPrice: 3 } });
    assert.strictEqual(pct.payload.trailPercent, 5);
    assert.strictEqual(usd.payload.trailPrice, 3);
    await t.control.price('NVDA', 120);
    await t.control.price('NVDA', 116);
    await orderStatus(t.sdk, usd.payload.id, ['filled']);
    assert.strictEqual((await t.sdk.trading.orders.getOrderByOrderID({ orderId: pct.payload.id })).status, 'new');
    await t.control.price('NVDA', 113);
    await orderStatus(t.sdk, pct.payload.id, ['filled']);
  });

  it('ioc and fok end at once when they cannot fill; gtc, opg, cls and extended hours are accepted', async function () {
    const t = await start([
      { action: 'msg', waitForFinal: true, timeout: 20 },
    ]);
    await t.control.price('AMZN', 100);
    await t.send(0, { topic: 'submit', payload: { symbol: 'AMZN', side: 'buy', type: 'limit', qty: 1, limitPrice: 90, timeInForce: 'ioc' } });
    const ioc = await t.next(0, 'ended', 1);
    assert.strictEqual(ioc.payload.status, 'canceled');
    assert.strictEqual(ioc.payload.timeInForce, 'ioc');
    await t.send(0, { topic: 'submit', payload: { symbol: 'AMZN', side: 'buy', type: 'limit', qty: 1, limitPrice: 90, timeInForce: 'fok' } });
    const fok = await t.next(0, 'ended', 2);
    assert.strictEqual(fok.payload.status, 'canceled');
    for (const [tif, extra] of [['gtc', {}], ['opg', {}], ['cls', {}], ['day', { extendedHours: true }]]) {
      const m = await t.send(0, { topic: 'submit', payload: { symbol: 'AMZN', side: 'buy', type: 'limit', qty: 1, limitPrice: 80, timeInForce: tif, ...extra } });
      assert.strictEqual(m.payload.timeInForce, tif);
      if (extra.extendedHours) assert.strictEqual(m.payload.extendedHours, true);
    }
  });

  it('crypto by notional and fractional qty; fractional stock by notional', async function () {
    const t = await start([{ action: 'msg', waitForFinal: true, timeout: 20 }]);
    await t.send(0, { topic: 'submit', payload: { symbol: 'btc/usd', side: 'buy', notional: 500 } });
    const a = await t.next(0, 'filled', 1);
    assert.strictEqual(a.payload.symbol, 'BTC/USD');
    assert.strictEqual(a.payload.timeInForce, 'gtc');
    assert.ok(a.payload.filledQty > 0 && a.payload.filledQty < 1, String(a.payload.filledQty));
    await t.send(0, { topic: 'submit', payload: { symbol: 'ETH/USD', side: 'buy', qty: 0.125, type: 'market', timeInForce: 'ioc' } });
    const b = await t.next(0, 'filled', 2);
    assert.strictEqual(b.payload.filledQty, 0.125);
    await t.send(0, { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', notional: 250.5 } });
    const c = await t.next(0, 'filled', 3);
    assert.strictEqual(c.payload.notional, 250.5);
    assert.ok(c.payload.filledQty > 0);
  });

  it('bracket: the entry fills, the take-profit leg fills and cancels the stop-loss leg', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderClass: 'bracket', qty: '5', takeProfitLimitPrice: '110', stopLossStopPrice: '90' }]);
    await t.control.price('AAPL', 100);
    const m = await t.send(0, {});
    assert.strictEqual(m.payload.orderClass, 'bracket');
    assert.strictEqual(m.payload.legs.length, 2);
    const entry = await orderStatus(t.sdk, m.payload.id, ['filled']);
    assert.strictEqual(entry.legs.length, 2);
    const tp = m.payload.legs.find((l) => l.type === 'limit');
    const sl = m.payload.legs.find((l) => l.type === 'stop');
    assert.strictEqual(tp.limitPrice, 110);
    assert.strictEqual(sl.stopPrice, 90);
    await orderStatus(t.sdk, tp.id, ['new']);
    await t.control.price('AAPL', 111);
    await orderStatus(t.sdk, tp.id, ['filled']);
    await orderStatus(t.sdk, sl.id, ['canceled']);
    const positions = await t.sdk.trading.positions.getAllOpenPositions();
    assert.strictEqual(positions.length, 0);
  });

  it('oco exits a position (stop-loss side triggers); oto attaches one exit', async function () {
    const t = await start([{ action: 'msg' }]);
    await t.control.price('TSLA', 200);
    const buy = await t.send(0, { topic: 'submit', payload: { symbol: 'TSLA', side: 'buy', qty: 4 } });
    await orderStatus(t.sdk, buy.payload.id, ['filled']);
    const oco = await t.send(0, { topic: 'submit', payload: { symbol: 'TSLA', side: 'sell', qty: 4, orderClass: 'oco', takeProfit: { limitPrice: 220 }, stopLoss: { stopPrice: 180 } } });
    assert.strictEqual(oco.payload.orderClass, 'oco');
    assert.strictEqual(oco.payload.type, 'limit');
    await t.control.price('TSLA', 179);
    const stopLeg = oco.payload.legs[0];
    await orderStatus(t.sdk, stopLeg.id, ['filled']);
    await orderStatus(t.sdk, oco.payload.id, ['canceled']);

    const oto = await t.send(0, { topic: 'submit', payload: { symbol: 'TSLA', side: 'buy', qty: 2, order_class: 'oto', stop_loss: { stop_price: 170 } } });
    assert.strictEqual(oto.payload.legs.length, 1);
    await orderStatus(t.sdk, oto.payload.id, ['filled']);
    await orderStatus(t.sdk, oto.payload.legs[0].id, ['new']);
    await t.control.price('TSLA', 169);
    await orderStatus(t.sdk, oto.payload.legs[0].id, ['filled']);
  });

  it('a day order outside NYSE hours is accepted and queued for the open (Alpaca does not reject it)', async function () {
    // The simulator's clock starts on the next Saturday noon, New York time.
    const now = Date.now();
    const saturday = new Date(now + ((6 - new Date(now).getUTCDay() + 7) % 7 || 7) * 86400000);
    saturday.setUTCHours(16, 0, 0, 0);
    const t = await start([{ symbol: 'AAPL', side: 'buy', qty: '1', waitForFinal: true, timeout: 1 }], { marketHours: 'nyse', startAt: saturday.toISOString() });
    assert.strictEqual((await t.sdk.trading.clock.legacyClock()).isOpen, false);
    const m = await t.send(0, {});
    assert.strictEqual(m.payload.status, 'accepted');
    const ended = await t.next(0, 'ended', 1);
    assert.strictEqual(ended.timedOut, true);
    assert.strictEqual(ended.final, false);
    assert.strictEqual(ended.payload.status, 'accepted');
    await waitFor(() => helper.getNode('order0').status.lastCall.args[0].text.startsWith('timed out'), 5000, 'status');
  });
});
