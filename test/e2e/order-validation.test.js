'use strict';
// alpaca-order refuses bad input before anything is sent: each row is a node setting and a msg;
// each must end in a Catch-able error naming the field, a red status, and ZERO requests.
const assert = require('assert');
const { helper, start } = require('../support/orders');

const P = (payload) => ({ topic: 'submit', payload });
const base = { symbol: 'AAPL', side: 'buy', qty: 1 };

// [what, dialog settings, msg, the field the error must name]
const BAD = [
  ['missing symbol', {}, P({ side: 'buy', qty: 1 }), 'symbol'],
  ['malformed symbol', {}, P({ ...base, symbol: 'AAPL; DROP' }), 'symbol'],
  ['symbol not text', {}, P({ ...base, symbol: 42 }), 'symbol'],
  ['missing side', {}, P({ symbol: 'AAPL', qty: 1 }), 'side'],
  ['unknown side', {}, P({ ...base, side: 'short' }), 'side'],
  ['unknown order type', {}, P({ ...base, type: 'iceberg' }), 'type'],
  ['unknown time in force', {}, P({ ...base, timeInForce: 'forever' }), 'timeInForce'],
  ['unknown order class', {}, P({ ...base, orderClass: 'ladder' }), 'orderClass'],
  ['multi-leg options', {}, P({ ...base, orderClass: 'mleg' }), 'orderClass'],
  ['zero qty', {}, P({ ...base, qty: 0 }), 'qty'],
  ['negative qty', {}, P({ ...base, qty: -5 }), 'qty'],
  ['NaN qty', {}, P({ ...base, qty: NaN }), 'qty'],
  ['qty as words', {}, P({ ...base, qty: 'ten' }), 'qty'],
  ['no qty or notional', {}, P({ symbol: 'AAPL', side: 'buy' }), 'qty'],
  ['qty and notional', {}, P({ ...base, notional: 100 }), 'notional'],
  ['negative notional', {}, P({ symbol: 'AAPL', side: 'buy', notional: -100 }), 'notional'],
  ['limit without limit price', {}, P({ ...base, type: 'limit' }), 'limitPrice'],
  ['NaN limit price', {}, P({ ...base, type: 'limit', limitPrice: 'NaN' }), 'limitPrice'],
  ['Infinity stop price', {}, P({ ...base, type: 'stop', stopPrice: Infinity }), 'stopPrice'],
  ['stop without stop price', {}, P({ ...base, type: 'stop' }), 'stopPrice'],
  ['stop_limit without limit price', {}, P({ ...base, type: 'stop_limit', stopPrice: 100 }), 'limitPrice'],
  ['market with a limit price', {}, P({ ...base, type: 'market', limitPrice: 100 }), 'limitPrice'],
  ['trailing stop without trail', {}, P({ ...base, side: 'sell', type: 'trailing_stop' }), 'trailPercent'],
  ['trailing stop with both trails', {}, P({ ...base, type: 'trailing_stop', trailPercent: 2, trailPrice: 1 }), 'trailPrice'],
  ['trail percent of 100', {}, P({ ...base, type: 'trailing_stop', trailPercent: 100 }), 'trailPercent'],
  ['sub-penny stock price', {}, P({ ...base, type: 'limit', limitPrice: 100.123 }), 'limitPrice'],
  ['notional limit order', {}, P({ symbol: 'AAPL', side: 'buy', notional: 100, type: 'limit', limitPrice: 100 }), 'notional'],
  ['fractional stop order', {}, P({ ...base, qty: 0.5, type: 'stop', stopPrice: 100 }), 'qty'],
  ['crypto with day', {}, P({ symbol: 'BTC/USD', side: 'buy', qty: 0.1, timeInForce: 'day' }), 'timeInForce'],
  ['crypto stop order', {}, P({ symbol: 'BTC/USD', side: 'buy', qty: 0.1, type: 'stop', stopPrice: 100 }), 'type'],
  ['crypto bracket', {}, P({ symbol: 'BTC/USD', side: 'buy', qty: 1, orderClass: 'bracket', takeProfit: { limitPrice: 2 }, stopLoss: { stopPrice: 1 } }), 'orderClass'],
  ['bracket without legs', {}, P({ ...base, orderClass: 'bracket' }), 'takeProfit.limitPrice'],
  ['bracket without stop loss', {}, P({ ...base, orderClass: 'bracket', takeProfit: { limitPrice: 110 } }), 'stopLoss.stopPrice'],
  ['bracket exits inverted', {}, P({ ...base, orderClass: 'bracket', takeProfit: { limitPrice: 90 }, stopLoss: { stopPrice: 110 } }), 'takeProfit.limitPrice'],
  ['bracket with fractional qty', {}, P({ ...base, qty: 1.5, orderClass: 'bracket', takeProfit: { limitPrice: 110 }, stopLoss: { stopPrice: 90 } }), 'qty'],
  ['oto with both exits', {}, P({ ...base, orderClass: 'oto', takeProfit: { limitPrice: 110 }, stopLoss: { stopPrice: 90 } }), 'takeProfit.limitPrice'],
  ['exits on a simple order', {}, P({ ...base, takeProfit: { limitPrice: 110 } }), 'orderClass'],
  ['take profit not an object', {}, P({ ...base, orderClass: 'oto', takeProfit: 110 }), 'takeProfit'],
  ['extended hours market order', {}, P({ ...base, extendedHours: true }), 'extendedHours'],
  ['extended hours not boolean', {}, P({ ...base, type: 'limit', limitPrice: 10, extendedHours: 'yes' }), 'extendedHours'],
  ['opg stop order', {}, P({ ...base, type: 'stop', stopPrice: 100, timeInForce: 'opg' }), 'timeInForce'],
  ['fractional option', {}, P({ symbol: 'AAPL250117C00150000', side: 'buy', qty: 0.5, type: 'limit', limitPrice: 1 }), 'qty'],
  ['client order id too long', {}, P({ ...base, clientOrderId: 'x'.repeat(129) }), 'clientOrderId'],
  ['typo in a field name', {}, P({ ...base, limitprice: 100 }), 'limitprice'],
  ['snake and camel disagree', {}, P({ ...base, type: 'limit', limitPrice: 100, limit_price: 101 }), 'limitPrice'],
  ['unknown action in msg.topic', {}, { topic: 'buy-everything', payload: base }, 'msg.topic'],
  ['dialog qty with msg nothing else', { action: 'submit', qty: '1' }, { payload: { symbol: 'AAPL' } }, 'side'],
  ['cancel without an order', { action: 'cancel' }, { payload: {} }, 'orderId'],
  ['cancel with a malformed id', { action: 'cancel' }, { payload: { orderId: 'not an id!' } }, 'orderId'],
  ['replace with nothing to change', { action: 'replace' }, { payload: { orderId: 'abc-123' } }, 'qty'],
  ['replace with fractional qty', { action: 'replace' }, { payload: { orderId: 'abc-123', qty: 1.5 } }, 'qty'],
  ['replace with NaN limit', { action: 'replace' }, { payload: { orderId: 'abc-123', limitPrice: NaN } }, 'limitPrice'],
];

describe('alpaca-order: bad input is refused before anything is sent', function () {
  this.timeout(60000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it(`refuses ${BAD.length} bad inputs with a Catch-able error naming the field, a red status, and zero requests`, async function () {
    assert.ok(BAD.length >= 30);
    const t = await start(BAD.map(([, settings]) => ({ action: 'msg', ...settings })));
    const before = await t.control.stats();
    for (let i = 0; i < BAD.length; i++) {
      const [what, , msg, field] = BAD[i];
      const e = await t.send(i, msg, 'error');
      assert.ok(e.error.message.includes(field), `${what}: "${e.error.message}" should name ${field}`);
      assert.strictEqual(e.error.source.id, `order${i}`);
      const status = helper.getNode(`order${i}`).status.lastCall.args[0];
      assert.strictEqual(status.fill, 'red', what);
      assert.strictEqual(t.rec[i].accepted.length, 0, what);
    }
    const after = await t.control.stats();
    assert.strictEqual(after.orders, before.orders, 'no order reached the simulator');
    assert.strictEqual(after.requests, before.requests, 'no request reached the simulator');
  });

  it('a dialog field wins over the msg, with a warning; an empty one takes the msg value', async function () {
    const t = await start([{ action: 'submit', symbol: 'AAPL', side: 'buy', orderType: 'limit', limitPrice: '5', qty: '' }]);
    const m = await t.send(0, { payload: { symbol: 'MSFT', qty: 2, side: 'buy' } });
    assert.strictEqual(m.payload.symbol, 'AAPL');
    assert.strictEqual(m.payload.qty, 2);
    assert.strictEqual(m.payload.limitPrice, 5);
    const node = helper.getNode('order0');
    const warnings = node.warn.getCalls().map((c) => String(c.args[0]));
    assert.ok(warnings.some((w) => /msg\.payload\.symbol \(MSFT\) ignored/.test(w)), warnings.join('\n'));
    assert.ok(!warnings.some((w) => /side/.test(w)), 'the same value gives no warning');
  });
});
