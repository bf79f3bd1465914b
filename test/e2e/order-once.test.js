'use strict';
// alpaca-order: exactly once (duplicate msgs, injected failures reconciled by client order id,
// 429), broker rejections to Catch, cancel and replace. Real Node-RED, SDK and simulator.
const assert = require('assert');
const { helper, start, orderStatus } = require('../support/orders');
const { waitFor } = require('../support/wait');

describe('alpaca-order: exactly once, failures, cancel and replace', function () {
  this.timeout(60000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('a msg delivered twice with the same key places ONE order; the second delivery reports it without sending anything', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderType: 'limit', limitPrice: '50', qty: '1', keyProperty: 'signalId' }]);
    const before = await t.control.stats();
    const msg = { _msgid: 'redelivered-1', signalId: 'signal-1', payload: 'tick' };
    const first = await t.send(0, { ...msg });
    const second = await t.send(0, { ...msg });
    assert.strictEqual(first.outcome, 'placed');
    assert.strictEqual(second.outcome, 'duplicate');
    assert.strictEqual(second.payload.id, first.payload.id);
    assert.strictEqual(second.clientOrderId, first.clientOrderId);
    assert.deepStrictEqual(second.attempts.map((a) => [a.step, a.status]), [['lookup', 200]], 'read back, not sent again');
    const after = await t.control.stats();
    assert.strictEqual(after.orders - before.orders, 1);
    const open = await t.sdk.trading.orders.getAllOrders({ status: 'open' });
    assert.strictEqual(open.length, 1);
    // Another key is another order; so is a msg with the same _msgid and another key.
    const third = await t.send(0, { _msgid: 'redelivered-1', signalId: 'signal-2', payload: 'tick' });
    assert.notStrictEqual(third.payload.id, first.payload.id);
    assert.strictEqual((await t.control.stats()).orders - before.orders, 2);
    // A msg without the key is refused before anything is sent.
    const e = await t.send(0, { payload: 'tick' }, 'error');
    assert.match(e.error.message, /msg.signalId is empty/);
    assert.strictEqual((await t.control.stats()).orders - before.orders, 2);
  });

  it('a 500 after the order was placed (errorAfterRate) is reconciled: placed once, reported as placed', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderType: 'limit', limitPrice: '50', qty: '1' }]);
    const before = await t.control.stats();
    await t.control.faults({ errorAfterRate: 1 });
    const answer = t.send(0, {});
    // The POST took effect and answered 500: lift the fault so the lookups can get through.
    await waitFor(async () => (await t.control.stats()).errorsInjected > before.errorsInjected, 10000, 'the injected 500');
    await t.control.faults({ errorAfterRate: 0 });
    const m = await answer;
    assert.strictEqual(m.outcome, 'placed');
    assert.strictEqual(m.reconciled, true);
    assert.strictEqual(m.attempts[0].step, 'submit');
    assert.strictEqual(m.attempts[0].status, 500);
    assert.strictEqual(m.attempts[m.attempts.length - 1].step, 'lookup');
    assert.strictEqual(m.payload.clientOrderId, m.clientOrderId);
    assert.strictEqual((await t.control.stats()).orders - before.orders, 1);
    assert.strictEqual((await t.sdk.trading.orders.getAllOrders({ status: 'open' })).length, 1);
  });

  it('a connection reset after the order was placed (resetAfterRate) is reconciled the same way', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderType: 'limit', limitPrice: '50', qty: '2' }]);
    const before = await t.control.stats();
    await t.control.faults({ resetAfterRate: 1 });
    const answer = t.send(0, {});
    await waitFor(async () => (await t.control.stats()).errorsInjected > before.errorsInjected, 10000, 'the injected reset');
    await t.control.faults({ resetAfterRate: 0 });
    const m = await answer;
    assert.strictEqual(m.outcome, 'placed');
    assert.strictEqual(m.reconciled, true);
    assert.strictEqual(m.attempts[0].ok, false);
    assert.strictEqual(m.attempts[0].status, undefined);
    assert.strictEqual((await t.control.stats()).orders - before.orders, 1);
  });

  it('a 500 before anything happened (errorRate) is reported as not placed, after a lookup', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderType: 'limit', limitPrice: '50', qty: '1' }]);
    const before = await t.control.stats();
    await t.control.faults({ errorRate: 1 });
    const answer = t.send(0, {}, 'error');
    await waitFor(async () => (await t.control.stats()).errorsInjected > before.errorsInjected, 10000, 'the injected 500');
    await t.control.faults({ errorRate: 0 });
    const e = await answer;
    assert.strictEqual(e.outcome, 'not_placed');
    assert.match(e.error.message, /not placed/);
    assert.ok(e.attempts.some((a) => a.step === 'lookup' && a.status === 404), JSON.stringify(e.attempts));
    assert.strictEqual((await t.control.stats()).orders, before.orders);
    assert.strictEqual((await t.sdk.trading.orders.getAllOrders({ status: 'all' })).length, 0);
  });

  it('when even the lookups fail the outcome is unknown; sending the same msg again still places one order', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', orderType: 'limit', limitPrice: '50', qty: '1' }], {}, { alpacaOrders: { lookupDelaysMs: [0, 200] } });
    const before = await t.control.stats();
    await t.control.faults({ errorAfterRate: 1 });
    const msg = { _msgid: 'unlucky-msg', payload: { clientOrderId: 'unlucky-order-1' } };
    const e = await t.send(0, { ...msg }, 'error');
    await t.control.faults({ errorAfterRate: 0 });
    assert.strictEqual(e.outcome, 'unknown');
    assert.match(e.error.message, /UNKNOWN/);
    // Every request is listed: two lookups, each a GET the SDK tried three times (500, 500, 500).
    assert.deepStrictEqual(e.attempts.map((a) => [a.step, a.status]), [['submit', 500], ...Array(6).fill(['lookup', 500])], JSON.stringify(e.attempts));
    assert.strictEqual(helper.getNode('order0').status.lastCall.args[0].fill, 'red');
    const again = await t.send(0, { ...msg });
    assert.strictEqual(again.outcome, 'duplicate');
    assert.strictEqual((await t.control.stats()).orders - before.orders, 1);
  });

  it('a 429 on submit (not executed) is sent again once the limit resets, with the same client order id: placed once', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', qty: '1' }], {}, { alpacaOrders: { rateLimitRetryMs: 15000 } });
    await t.control.faults({ rateLimitPerMinute: 1, lockoutMs: 1000 });
    // Spend the one token with the connection's own key.
    await fetch(`${t.control.url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'SIMULATOR', 'APCA-API-SECRET-KEY': 'x' } });
    const before = await t.control.stats();
    const answer = t.send(0, {});
    await waitFor(async () => (await t.control.stats()).rateLimited > before.rateLimited, 10000, 'the 429');
    await t.control.faults({ rateLimitPerMinute: 200 }); // the limit resets
    const m = await answer;
    const after = await t.control.stats();
    assert.strictEqual(m.outcome, 'placed');
    assert.deepStrictEqual(m.attempts.map((a) => [a.step, a.ok ? 'ok' : a.status]), [['submit', 429], ['submit', 'ok']]);
    assert.strictEqual(after.rateLimited - before.rateLimited, 1);
    assert.strictEqual(after.orders - before.orders, 1);
    const mine = (await t.sdk.trading.orders.getAllOrders({ status: 'all' })).filter((o) => o.clientOrderId === m.clientOrderId);
    assert.strictEqual(mine.length, 1);
  });

  it('a 429 whose limit resets later than the order may wait is reported as not placed, with the reset time', async function () {
    const t = await start([{ symbol: 'AAPL', side: 'buy', qty: '1' }], {}, { alpacaOrders: { rateLimitRetryMs: 500 } });
    await t.control.faults({ rateLimitPerMinute: 1 });
    await fetch(`${t.control.url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'SIMULATOR', 'APCA-API-SECRET-KEY': 'x' } });
    const before = await t.control.stats();
    const e = await t.send(0, {}, 'error');
    const after = await t.control.stats();
    assert.strictEqual(e.outcome, 'not_placed');
    assert.match(e.error.message, /rate limited/);
    assert.strictEqual(e.error.code, 42910000);
    assert.ok(e.rateLimit.resetAt && !Number.isNaN(Date.parse(e.rateLimit.resetAt)), JSON.stringify(e.rateLimit));
    assert.ok(e.rateLimit.retryAfterMs > 0);
    assert.strictEqual(after.requests - before.requests, 1, 'one POST, not re-sent');
    assert.strictEqual(after.orders, before.orders);
  });

  it("broker rejections reach Catch with Alpaca's code and message", async function () {
    const t = await start([{ action: 'msg' }]);
    let e = await t.send(0, { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: 100000 } }, 'error');
    assert.strictEqual(e.error.code, 40310000);
    assert.match(e.error.message, /insufficient buying power/);
    assert.strictEqual(e.outcome, 'not_placed');
    e = await t.send(0, { topic: 'submit', payload: { symbol: 'ZZZZ', side: 'buy', qty: 1 } }, 'error');
    assert.strictEqual(e.error.code, 40010001);
    assert.match(e.error.message, /not found/);
    // Single-leg options go to the broker as they are; the simulator has no options.
    e = await t.send(0, { topic: 'submit', payload: { symbol: 'AAPL250117C00150000', side: 'buy', qty: 1, type: 'limit', limitPrice: 2.5 } }, 'error');
    assert.strictEqual(e.error.code, 40010001);
    assert.strictEqual(helper.getNode('order0').status.lastCall.args[0].fill, 'red');
  });

  it('cancels by order id and by client order id; cancel all; an order canceled twice is reported as such', async function () {
    const t = await start([{ action: 'msg' }]);
    const put = (p) => t.send(0, { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', type: 'limit', limitPrice: 10, qty: 1, ...p } });
    const a = await put({});
    const b = await put({ clientOrderId: 'my-own-id-b' });
    const c = await put({});
    const d = await put({});
    assert.strictEqual(b.payload.clientOrderId, 'my-own-id-b');
    let m = await t.send(0, { topic: 'cancel', payload: a.payload });
    assert.strictEqual(m.outcome, 'canceled');
    assert.strictEqual(m.payload.id, a.payload.id);
    assert.ok(['canceled', 'pending_cancel'].includes(m.payload.status));
    m = await t.send(0, { topic: 'cancel', payload: { clientOrderId: 'my-own-id-b' } });
    assert.strictEqual(m.payload.id, b.payload.id);
    await orderStatus(t.sdk, b.payload.id, ['canceled']);
    m = await t.send(0, { topic: 'cancel', payload: a.payload.id });
    assert.strictEqual(m.outcome, 'already_canceled');
    const e = await t.send(0, { topic: 'cancel', payload: { orderId: '00000000-0000-0000-0000-000000000000' } }, 'error');
    assert.strictEqual(e.error.code, 40410000);
    m = await t.send(0, { topic: 'cancelAll' });
    assert.strictEqual(m.payload.length, 2);
    assert.deepStrictEqual(m.payload.map((x) => x.id).sort(), [c.payload.id, d.payload.id].sort());
    await orderStatus(t.sdk, d.payload.id, ['canceled']);
  });

  it('replaces qty, limit, stop, trail and time in force; a replayed replace finds its replacement', async function () {
    const t = await start([{ action: 'msg' }, { action: 'replace', limitPrice: '12', qty: '3', keyProperty: 'signalId' }]);
    await t.control.price('AAPL', 100);
    const limit = await t.send(0, { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', type: 'limit', limitPrice: 10, qty: 1 } });
    const replaceMsg = { signalId: 'replace-once', payload: limit.payload };
    const r = await t.send(1, { ...replaceMsg });
    assert.strictEqual(r.outcome, 'placed');
    assert.strictEqual(r.payload.limitPrice, 12);
    assert.strictEqual(r.payload.qty, 3);
    assert.strictEqual(r.replaces, limit.payload.id);
    await orderStatus(t.sdk, limit.payload.id, ['replaced']);
    const again = await t.send(1, { ...replaceMsg });
    assert.strictEqual(again.outcome, 'duplicate');
    assert.strictEqual(again.payload.id, r.payload.id);

    const stop = await t.send(0, { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', type: 'stop', stopPrice: 150, qty: 1 } });
    const s2 = await t.send(0, { topic: 'replace', payload: { orderId: stop.payload.id, stopPrice: 140, timeInForce: 'gtc' } });
    assert.strictEqual(s2.payload.stopPrice, 140);
    assert.strictEqual(s2.payload.timeInForce, 'gtc');
    const trail = await t.send(0, { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', type: 'trailing_stop', trailPrice: 5, qty: 1 } });
    const t2 = await t.send(0, { topic: 'replace', payload: { id: trail.payload.id, trail: 7 } });
    assert.strictEqual(t2.payload.trailPrice, 7);
    // Not replaceable any more: Alpaca's 422 reaches Catch.
    const e = await t.send(0, { topic: 'replace', payload: { orderId: limit.payload.id, limitPrice: 11 } }, 'error');
    assert.strictEqual(e.error.code, 42210000);
  });
});
