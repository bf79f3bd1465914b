'use strict';
// The circuit breaker in a real Node-RED runtime (node-red-node-test-helper) in front of a real
// order node, on the built-in simulator: the flow, the dialog's state, the account's simulator,
// and a way to send an order msg and learn whether it reached the simulator or was blocked.
const { helper, packNodes, collect, answer } = require('./nodered');
const { waitFor } = require('./wait');
const { accountSim } = require('./sim');
const { ACCOUNT } = require('./fixtures');
const breakerNode = require('../../dist/alpaca-breaker.js').default;
const orderNode = require('../../dist/alpaca-order.js').default;

/** Only the rules a test names: the others stay out of its way. */
const QUIET = { dailyOn: false, drawdownOn: false, errorsOn: false, concOn: false, cancelOnTrip: false, pollOpen: '1', pollFlat: '1', staleSeconds: '30' };

/** breaker "guard" -> order node, alerts and errors collected; `breaker` overrides QUIET. */
function flow(breaker = {}, extra = []) {
  return [
    ACCOUNT,
    { id: 'f1', type: 'tab', label: 'test' },
    { id: 'brk', type: 'alpaca-breaker', z: 'f1', name: 'guard', account: 'acct', ...QUIET, ...breaker, wires: [['sender'], ['alerts']] },
    { id: 'sender', type: 'alpaca-order', z: 'f1', account: 'acct', action: 'submit', wires: [['placed'], [], []] },
    { id: 'placed', type: 'helper', z: 'f1' },
    { id: 'alerts', type: 'helper', z: 'f1' },
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
    ...extra,
  ];
}

const nodes = () => [...packNodes, breakerNode, orderNode];
/** The dialog's state panel: the record and `live` figures. */
const state = async (id = 'brk') => (await helper.request().get(`/alpaca-breaker/${id}/state`).expect(200)).body;

/** The simulator of the flow's account: its control API and the SDK under another key. */
const sim = () => accountSim(helper.getNode('acct'));
/** The account's equity as the simulator values it, read by another program. */
const equityNow = async () => Number((await (await sim()).sdk().trading.account.getAccount()).equity);
/** Waits until the breaker has seen the account's current equity. */
async function breakerSees(equity) {
  await waitFor(async () => (await state()).live.equity === equity, 8000, `the breaker to see equity ${equity}`);
}

// Everything reaching the helper nodes, collected once per deployment (Node-RED's input
// listeners do not support removing a listener).
let seen;
function watch() {
  seen = { placed: collect(helper.getNode('placed')), caught: collect(helper.getNode('caught')), alerts: collect(helper.getNode('alerts')) };
  return seen;
}

/** Sends msg into a breaker; resolves with 'passed' (placed at the simulator) or 'blocked' (caught), and the msg. */
function send(msg, id = 'brk') {
  return answer(id, msg, { passed: seen.placed, blocked: seen.caught }, 10000);
}
const order = (side, qty, symbol = 'AAPL') => ({ payload: { symbol, side, qty, type: 'market' } });

module.exports = { helper, collect, flow, nodes, state, sim, equityNow, breakerSees, watch, send, order, QUIET };
