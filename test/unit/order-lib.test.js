'use strict';
// The plain modules behind alpaca-order: validation, dialog/msg resolution, client order ids,
// and the final-state watcher (driven by a hand-made feed: it is the feed's interface, not ours).
const assert = require('assert');
const { validateOrder, validateReplace, validateRef, decimals } = require('../../dist/lib/orders/validate');
const { parseSymbol, parseSymbolList, MAX_SYMBOLS_PER_MSG } = require('../../dist/lib/core/symbols');
const { positiveAmount: amount, show, refuseForbiddenKeys } = require('../../dist/lib/core/values');
const { resolveOrder, resolveKey, resolveMaxWaitMs } = require('../../dist/lib/orders/resolve');
const { newClientOrderId, keyedClientOrderId } = require('../../dist/lib/orders/client-order-id');
const { OrderWatcher } = require('../../dist/lib/orders/wait');
const { toOrderDetails, toPostOrder, isAmbiguous } = require('../../dist/lib/alpaca/orders');
const { BrokerError } = require('../../dist/lib/core/errors');

const field = (fn, name) => assert.throws(fn, (e) => e.name === 'InputError' && e.field === name);

describe('order validation', function () {
  it('classifies symbols: ticker, crypto pair, OCC option', function () {
    assert.deepStrictEqual(parseSymbol('symbol', ' brk.b '), { symbol: 'BRK.B', assetKind: 'stock' });
    assert.deepStrictEqual(parseSymbol('symbol', 'btc/usd'), { symbol: 'BTC/USD', assetKind: 'crypto' });
    assert.deepStrictEqual(parseSymbol('symbol', '1inch/usd'), { symbol: '1INCH/USD', assetKind: 'crypto' });
    assert.deepStrictEqual(parseSymbol('symbol', 'AAPL250117C00150000'), { symbol: 'AAPL250117C00150000', assetKind: 'option' });
    field(() => parseSymbol('symbol', 'AAPL MSFT'), 'symbol');
    field(() => parseSymbol('symbol', 'BTC/USD', ['stock']), 'symbol');
  });

  it('reads symbol lists in linear time, capped, without duplicates', function () {
    assert.deepStrictEqual(parseSymbolList('symbols', 'aapl, msft;AAPL', ['stock']), ['AAPL', 'MSFT']);
    assert.deepStrictEqual(parseSymbolList('symbols', ['*'], ['stock'], true), ['*']);
    field(() => parseSymbolList('symbols', Array.from({ length: MAX_SYMBOLS_PER_MSG + 1 }, (_, i) => `S${i}`), ['stock']), 'symbols');
    field(() => parseSymbolList('symbols', 'A,'.repeat(100000), ['stock']), 'symbols');
    // Distinct symbols up to the cap are all kept.
    const many = Array.from({ length: MAX_SYMBOLS_PER_MSG }, (_, i) => `S${i}`);
    assert.strictEqual(parseSymbolList('symbols', many, ['stock']).length, MAX_SYMBOLS_PER_MSG);
  });

  it('refuses prototype keys and inherited properties; echoes of bad values are cut short', function () {
    field(() => refuseForbiddenKeys(JSON.parse('{"symbol":"AAPL","__proto__":{"qty":5}}'), 'msg.payload'), 'msg.payload.__proto__');
    field(() => refuseForbiddenKeys({ a: [{ constructor: 1 }] }, 'msg.payload'), 'msg.payload.a[0].constructor');
    field(() => refuseForbiddenKeys(Object.create({ symbol: 'AAPL' }), 'msg.payload'), 'msg.payload');
    assert.doesNotThrow(() => refuseForbiddenKeys({ symbol: 'AAPL', takeProfit: { limitPrice: 1 } }, 'msg.payload'));
    assert.ok(show('x'.repeat(5_000_000)).length <= 200);
  });

  it('parses amounts strictly and counts decimals', function () {
    assert.strictEqual(amount('qty', ' 2.5 '), 2.5);
    assert.strictEqual(amount('qty', ''), undefined);
    field(() => amount('qty', '1,5'), 'qty');
    field(() => amount('qty', true), 'qty');
    field(() => amount('qty', 0), 'qty');
    assert.strictEqual(decimals(1e-7), 7);
    assert.strictEqual(decimals(150.25), 2);
  });

  it('fills in defaults: market, simple, day (crypto gtc), oco -> limit', function () {
    const o = validateOrder({ symbol: 'aapl', side: 'BUY', qty: '3' });
    assert.deepStrictEqual(o, { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'market', timeInForce: 'day', orderClass: 'simple', extendedHours: false, qty: 3 });
    assert.strictEqual(validateOrder({ symbol: 'ETH/USD', side: 'buy', notional: 10 }).timeInForce, 'gtc');
    const oco = validateOrder({ symbol: 'AAPL', side: 'sell', qty: 1, orderClass: 'oco', takeProfitLimitPrice: 110, stopLossStopPrice: 90 });
    assert.strictEqual(oco.type, 'limit');
    assert.deepStrictEqual(oco.takeProfit, { limitPrice: 110 });
  });

  it('enforces bracket exit sides for buys and sells', function () {
    const ok = validateOrder({ symbol: 'AAPL', side: 'sell', qty: 1, orderClass: 'bracket', takeProfitLimitPrice: 90, stopLossStopPrice: 110, stopLossLimitPrice: 111 });
    assert.deepStrictEqual(ok.stopLoss, { stopPrice: 110, limitPrice: 111 });
    field(() => validateOrder({ symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 100, orderClass: 'bracket', takeProfitLimitPrice: 99, stopLossStopPrice: 90 }), 'takeProfit.limitPrice');
    field(() => validateOrder({ symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 100, orderClass: 'bracket', takeProfitLimitPrice: 110, stopLossStopPrice: 101 }), 'stopLoss.stopPrice');
  });

  it('options: whole contracts, day or gtc, no trailing stops', function () {
    const sym = 'SPY250620P00500000';
    assert.strictEqual(validateOrder({ symbol: sym, side: 'buy', qty: 2, type: 'limit', limitPrice: 1.25 }).assetKind, 'option');
    field(() => validateOrder({ symbol: sym, side: 'buy', qty: 1, timeInForce: 'ioc' }), 'timeInForce');
    field(() => validateOrder({ symbol: sym, side: 'buy', notional: 100 }), 'notional');
    field(() => validateOrder({ symbol: sym, side: 'sell', qty: 1, type: 'trailing_stop', trailPercent: 5 }), 'type');
  });

  it('replace needs one whole-qty or price change; a ref needs an id', function () {
    assert.deepStrictEqual(validateReplace({ limitPrice: '10.5', timeInForce: 'GTC' }), { limitPrice: 10.5, timeInForce: 'gtc' });
    field(() => validateReplace({}), 'qty');
    assert.deepStrictEqual(validateRef('  abc-1 ', undefined), { orderId: 'abc-1' });
    assert.deepStrictEqual(validateRef(undefined, 'mine'), { clientOrderId: 'mine' });
    field(() => validateRef(undefined, ''), 'orderId');
  });
});

describe('order resolution (dialog vs msg)', function () {
  const settings = { action: 'submit', symbol: 'AAPL', side: '', orderType: 'limit', limitPrice: '', qty: '2', notional: '' };

  it('takes msg values only where the dialog is empty, warning when they differ', function () {
    const r = resolveOrder(settings, { payload: { symbol: 'MSFT', side: 'sell', limit_price: '12.5', qty: 2 } });
    assert.strictEqual(r.resolved.order.symbol, 'AAPL');
    assert.strictEqual(r.resolved.order.side, 'sell');
    assert.strictEqual(r.resolved.order.limitPrice, 12.5);
    assert.deepStrictEqual(r.warnings, ['msg.payload.symbol (MSFT) ignored: the node\'s symbol is set to AAPL']);
  });

  it('the dialog qty keeps a msg from switching to notional', function () {
    const r = resolveOrder({ ...settings, orderType: 'market' }, { payload: { side: 'buy', notional: 500 } });
    assert.strictEqual(r.resolved.order.qty, 2);
    assert.strictEqual(r.resolved.order.notional, undefined);
    assert.match(r.warnings[0], /notional/);
  });

  it('reads the action from msg.topic and the order id from payload.id or a string', function () {
    assert.deepStrictEqual(resolveOrder({ action: 'msg' }, { topic: 'cancel', payload: 'abc-123' }).resolved, { action: 'cancel', ref: { orderId: 'abc-123' } });
    const rep = resolveOrder({ action: 'replace', limitPrice: '9' }, { payload: { id: 'abc-123', limitPrice: 8, status: 'new' } });
    assert.deepStrictEqual(rep.resolved.changes, { limitPrice: 9 });
    assert.strictEqual(rep.warnings.length, 1);
    field(() => resolveOrder({ action: 'msg' }, { topic: 'sell' }), 'msg.topic');
  });

  it('refuses unknown payload fields on submit, naming them', function () {
    field(() => resolveOrder({ action: 'submit' }, { payload: { symbol: 'AAPL', side: 'buy', qty: 1, limt_price: 5 } }), 'msg.payload.limt_price');
  });
});

describe('client order ids and the idempotency key', function () {
  it('a msg without a key gets a fresh id every time, whatever its _msgid', function () {
    const a = newClientOrderId();
    assert.match(a, /^nr-[0-9a-f-]{36}$/);
    assert.notStrictEqual(newClientOrderId(), a);
  });

  it('a key gives the same id in the same node, another id in another node or for a replace', function () {
    const a = keyedClientOrderId('node1', 'submit', 'TV-alert 42');
    assert.strictEqual(keyedClientOrderId('node1', 'submit', 'TV-alert 42'), a);
    assert.notStrictEqual(keyedClientOrderId('node2', 'submit', 'TV-alert 42'), a);
    assert.notStrictEqual(keyedClientOrderId('node1', 'replace', 'TV-alert 42'), a);
    assert.notStrictEqual(keyedClientOrderId('node1', 'submit', 'TV-alert 43'), a);
    assert.ok(a.length <= 128 && /^k-TValert42-[0-9a-f]{16}$/.test(a), a);
    // Pinned: an upgrade that changed the id would place again what an earlier version placed.
    assert.strictEqual(a, 'k-TValert42-1c970caf1ecccb62');
  });

  it('reads the key from the msg property the dialog names; a named key missing is refused', function () {
    assert.strictEqual(resolveKey({ keyProperty: '' }, { signalId: 'x' }), undefined);
    assert.deepStrictEqual(resolveKey({ keyProperty: 'signalId' }, { signalId: ' s-1 ' }), { property: 'signalId', key: 's-1' });
    assert.deepStrictEqual(resolveKey({ keyProperty: 'msg.payload.alert.id' }, { payload: { alert: { id: 7 } } }), { property: 'payload.alert.id', key: '7' });
    field(() => resolveKey({ keyProperty: 'signalId' }, { payload: {} }), 'msg.signalId');
    field(() => resolveKey({ keyProperty: 'signalId' }, { signalId: { a: 1 } }), 'msg.signalId');
    field(() => resolveKey({ keyProperty: 'signalId' }, { signalId: 'x'.repeat(1001) }), 'msg.signalId');
    field(() => resolveKey({ keyProperty: '__proto__.x' }, {}), 'keyProperty');
    field(() => resolveKey({ keyProperty: 'a[0]' }, {}), 'keyProperty');
    // Inherited properties are not the msg's.
    field(() => resolveKey({ keyProperty: 'toString' }, {}), 'msg.toString');
  });

  it("max wait: the dialog's seconds, else msg.maxWait, else the account's default", function () {
    const warnings = [];
    assert.strictEqual(resolveMaxWaitMs({ maxWait: '' }, {}, warnings), undefined);
    assert.strictEqual(resolveMaxWaitMs({ maxWait: '' }, { maxWait: 5 }, warnings), 5000);
    assert.strictEqual(resolveMaxWaitMs({ maxWait: '0' }, {}, warnings), 0);
    assert.deepStrictEqual(warnings, []);
    assert.strictEqual(resolveMaxWaitMs({ maxWait: 30 }, { maxWait: 5 }, warnings), 30000);
    assert.match(warnings[0], /msg.maxWait \(5\) ignored/);
    field(() => resolveMaxWaitMs({ maxWait: '' }, { maxWait: -1 }, []), 'msg.maxWait');
    field(() => resolveMaxWaitMs({ maxWait: 'soon' }, {}, []), 'maxWait');
  });
});

describe('Alpaca order mapping', function () {
  it('maps Alpaca JSON to plain numbers, legs included, and builds the wire request', function () {
    const d = toOrderDetails({ id: 'x', client_order_id: 'c', symbol: 'AAPL', qty: '5', trail_percent: '2.5', extended_hours: true, legs: [{ id: 'l', limit_price: '110', qty: '5' }] });
    assert.strictEqual(d.qty, 5);
    assert.strictEqual(d.trailPercent, 2.5);
    assert.strictEqual(d.extendedHours, true);
    assert.strictEqual(d.legs[0].limitPrice, 110);
    const req = toPostOrder({ symbol: 'AAPL', side: 'buy', type: 'limit', timeInForce: 'day', orderClass: 'bracket', qty: 5, limitPrice: 100, takeProfit: { limitPrice: 110 }, stopLoss: { stopPrice: 90 }, extendedHours: false }, 'cid');
    assert.deepStrictEqual([req.qty, req.limitPrice, req.orderClass, req.clientOrderId, req.takeProfit.limitPrice], ['5', '100', 'bracket', 'cid', '110']);
    assert.strictEqual(isAmbiguous(new BrokerError('x', 'network')), true);
    assert.strictEqual(isAmbiguous(new BrokerError('x', 'broker', 503)), true);
    assert.strictEqual(isAmbiguous(new BrokerError('x', 'forbidden', 403)), false);
  });
});

describe('final-state watcher', function () {
  function feed() {
    const listeners = new Set();
    return {
      listeners,
      subscribe(l) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      emit(u) {
        for (const l of [...listeners]) l(u);
      },
    };
  }
  const ack = (status = 'new') => ({ order: { id: 'o1', clientOrderId: 'c1', status, symbol: 'AAPL', legs: null }, raw: { id: 'o1' } });
  const update = (event, status) => ({ event, timestamp: 't', order: { id: 'o1', clientOrderId: 'c1', status } });

  it('catches an event that arrives before the acknowledgement and confirms over REST', async function () {
    const f = feed();
    const watcher = new OrderWatcher(f);
    const w = watcher.watch('c1');
    f.emit(update('fill', 'filled'));
    const final = await w.wait(ack(), 5000, async () => ({ order: { ...ack().order, status: 'filled' }, raw: { status: 'filled' } }));
    assert.strictEqual(final.final, true);
    assert.strictEqual(final.source, 'stream');
    assert.strictEqual(final.raw.status, 'filled');
    assert.strictEqual(watcher.size, 0);
    watcher.close();
    assert.strictEqual(f.listeners.size, 0);
  });

  it('times out with the last known state, merged when the REST read fails', async function () {
    const f = feed();
    const watcher = new OrderWatcher(f);
    const w = watcher.watch('c1');
    f.emit(update('partial_fill', 'partially_filled'));
    f.emit({ ...update('fill', 'filled'), order: { id: 'other', clientOrderId: 'c2', status: 'filled' } });
    const final = await w.wait(ack(), 30, async () => {
      throw new Error('down');
    });
    assert.strictEqual(final.timedOut, true);
    assert.strictEqual(final.order.status, 'partially_filled');
    watcher.close();
  });

  it('a close ends pending waits with an error', async function () {
    const f = feed();
    const watcher = new OrderWatcher(f);
    const pending = watcher.watch('c1').wait(ack(), 60000, async () => ack());
    watcher.close();
    await assert.rejects(pending, /closed/);
  });
});
