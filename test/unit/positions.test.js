'use strict';
const assert = require('assert');
const { resolveRequest } = require('../../dist/lib/positions/request');
const { InputError } = require('../../dist/lib/core/errors');

describe('positions: resolving the action from dialog and msg', function () {
  const dialog = (over = {}) => ({ action: 'account', symbol: '', qty: '', percentage: '', cancelOrders: false, ...over });

  it('uses the dialog action and ignores msg.topic unless the dialog leaves it to the msg', function () {
    assert.strictEqual(resolveRequest(dialog(), { topic: 'positions' }).request.action, 'account');
    assert.strictEqual(resolveRequest(dialog({ action: 'msg' }), { topic: 'positions' }).request.action, 'positions');
  });

  it('takes the symbol from msg.payload.symbol or a string payload, upper-cased', function () {
    assert.strictEqual(resolveRequest(dialog({ action: 'position' }), { payload: { symbol: 'aapl' } }).request.symbol, 'AAPL');
    assert.strictEqual(resolveRequest(dialog({ action: 'position' }), { payload: 'btc/usd' }).request.symbol, 'BTC/USD');
  });

  it('lets the dialog win over the msg and warns', function () {
    const r = resolveRequest(dialog({ action: 'close', symbol: 'MSFT' }), { payload: { symbol: 'AAPL' } });
    assert.strictEqual(r.request.symbol, 'MSFT');
    assert.strictEqual(r.warnings.length, 1);
    assert.match(r.warnings[0], /symbol ignored/);
  });

  it('reads close amounts from the msg when the dialog leaves them open', function () {
    assert.deepStrictEqual(
      resolveRequest(dialog({ action: 'close' }), { payload: { symbol: 'AAPL', percentage: '50' } }).request,
      { action: 'close', symbol: 'AAPL', percentage: 50, cancelOrders: false },
    );
    assert.strictEqual(resolveRequest(dialog({ action: 'closeAll' }), { payload: { cancelOrders: true } }).request.cancelOrders, true);
  });

  const bad = [
    ['msg action that is not an action', dialog({ action: 'msg' }), { topic: 'buy' }, 'msg.topic'],
    ['msg action missing', dialog({ action: 'msg' }), {}, 'msg.topic'],
    ['unknown dialog action', dialog({ action: 'explode' }), {}, 'action'],
    ['position without symbol', dialog({ action: 'position' }), { payload: {} }, 'symbol'],
    ['close without symbol', dialog({ action: 'close' }), { payload: 42 }, 'symbol'],
    ['symbol with spaces', dialog({ action: 'position' }), { payload: { symbol: 'AA PL' } }, 'symbol'],
    ['symbol as a number', dialog({ action: 'position' }), { payload: { symbol: 7 } }, 'symbol'],
    ['negative qty', dialog({ action: 'close' }), { payload: { symbol: 'AAPL', qty: -5 } }, 'qty'],
    ['zero qty', dialog({ action: 'close' }), { payload: { symbol: 'AAPL', qty: 0 } }, 'qty'],
    ['NaN qty', dialog({ action: 'close' }), { payload: { symbol: 'AAPL', qty: 'lots' } }, 'qty'],
    ['qty and percentage', dialog({ action: 'close' }), { payload: { symbol: 'AAPL', qty: 1, percentage: 10 } }, 'qty'],
    ['percentage over 100', dialog({ action: 'close' }), { payload: { symbol: 'AAPL', percentage: 150 } }, 'percentage'],
    ['cancelOrders not boolean', dialog({ action: 'closeAll' }), { payload: { cancelOrders: 'yes' } }, 'cancelOrders'],
  ];
  for (const [what, settings, msg, field] of bad) {
    it(`refuses ${what}, naming ${field}`, function () {
      assert.throws(() => resolveRequest(settings, msg), (err) => err instanceof InputError && err.field === field);
    });
  }
});
