'use strict';
// Panic actions overtake everything: with the trading budget spent and 200 orders waiting in a
// rate gate, a breaker halt's cancel-all reaches the simulator at once, on the tokens the budget
// keeps for it. Real Node-RED runtime, real SDK, the built-in simulator over real sockets; the
// time is measured at the simulator's request log.
const assert = require('assert');
const { helper, packNodes, collect, useRuntime } = require('../support/nodered');
const { waitFor, sleep } = require('../support/wait');
const { accountSim } = require('../support/sim');
const { account } = require('../support/fixtures');
const breakerNode = require('../../dist/alpaca-breaker.js').default;
const gateNode = require('../../dist/alpaca-rate-gate.js').default;
const orderNode = require('../../dist/alpaca-order.js').default;

// 20 requests per 10 minutes: a bucket would refill one token every 30 s, a window none for 10 minutes.
const BUDGET = { budgetLimit: 20, budgetWindow: 600 };
const QUIET = {
  rollingOn: false, dailyOn: false, drawdownOn: false, errorsOn: false, rejectsOn: false, rateOn: false, streamOn: false, concOn: false,
  notionalOn: false, cancelOnTrip: true, flattenOnTrip: false, pollOpen: '60', pollFlat: '60', staleSeconds: '600',
};

function flow() {
  return [
    account(BUDGET),
    { id: 'f1', type: 'tab', label: 'panic' },
    { id: 'brk', type: 'alpaca-breaker', z: 'f1', name: 'guard', account: 'acct', ...QUIET, wires: [[], ['alerts']] },
    { id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output', categories: [], category: '', wires: [['order'], ['dropped']] },
    { id: 'order', type: 'alpaca-order', z: 'f1', account: 'acct', action: 'submit', wires: [['placed'], [], []] },
    { id: 'placed', type: 'helper', z: 'f1' },
    { id: 'dropped', type: 'helper', z: 'f1' },
    { id: 'alerts', type: 'helper', z: 'f1' },
  ];
}

describe('panic actions overtake a full rate gate', function () {
  this.timeout(60000);
  useRuntime();

  it("with 200 orders waiting and the budget spent, a breaker halt's cancel-all reaches the simulator within 2 s", async function () {
    await helper.load([...packNodes, breakerNode, gateNode, orderNode], flow());
    const placed = collect(helper.getNode('placed'));
    const sim = await accountSim(helper.getNode('acct'));
    await waitFor(async () => (await helper.request().get('/alpaca-breaker/brk/state')).body.state === 'ACTIVE', 8000, 'the breaker');
    const openOrders = async () => (await sim.orders('open')).length;

    // Limit orders far below the market: they stay open until canceled.
    const gate = helper.getNode('gate');
    for (let i = 0; i < 230; i++) gate.receive({ payload: { symbol: 'AAPL', side: 'buy', qty: 1, type: 'limit', limitPrice: 1, clientOrderId: `queued-${i}` } });
    // The budget is spent (all but its panic reserve): the orders that got a token are open, the rest wait.
    let seen = -1;
    await waitFor(async () => {
      const now = placed.length;
      const settled = now > 0 && now === seen;
      seen = now;
      if (!settled) await sleep(700);
      return settled;
    }, 15000, 'the budget spent');
    const open = await openOrders();
    assert.strictEqual(open, placed.length);
    const waiting = 230 - open;
    assert.ok(waiting >= 200, `${waiting} orders waiting in the gate`);

    const haltedAt = Date.now();
    helper.getNode('brk').receive({ halt: 'panic test' });
    const first = await waitFor(async () => (await sim.requests(haltedAt)).find((r) => r.api === 'trading'), 5000, 'a trading request after the halt');
    const ms = first.t - haltedAt;
    assert.ok(ms < 2000, `the cancel-all reached the simulator ${ms} ms after the halt`);
    assert.strictEqual(first.limited, false);
    await waitFor(async () => (await openOrders()) === 0, 5000, 'every open order canceled');
    assert.strictEqual(placed.length, open, 'no queued order went out');
  });
});
