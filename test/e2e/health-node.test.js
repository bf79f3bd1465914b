'use strict';
// The health node in a real Node-RED with the real connection, breaker and simulator: 200 while an
// order can go out, 503 once the breaker is HALTED, degraded while a stream reconnects.
const assert = require('assert');
const { helper, packNodes, collect } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { accountSim } = require('../support/sim');
const { ACCOUNT } = require('../support/fixtures');
const breakerNode = require('../../dist/alpaca-breaker.js').default;
const healthNode = require('../../dist/alpaca-health.js').default;
const updatesNode = require('../../dist/alpaca-order-updates.js').default;

const FLOW = [
  ACCOUNT,
  { id: 'f1', type: 'tab', label: 'health' },
  { id: 'brk', type: 'alpaca-breaker', z: 'f1', name: 'guard', account: 'acct', rollingOn: false, dailyOn: false, drawdownOn: false, cancelOnTrip: false, wires: [[], []] },
  { id: 'updates', type: 'alpaca-order-updates', z: 'f1', account: 'acct', wires: [[], []] },
  { id: 'health', type: 'alpaca-health', z: 'f1', account: 'acct', format: 'json', wires: [['out']] },
  { id: 'metrics', type: 'alpaca-health', z: 'f1', account: '', format: 'prometheus', wires: [['out']] },
  { id: 'out', type: 'helper', z: 'f1' },
];

describe('alpaca-health node', function () {
  this.timeout(30000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  async function ask(id) {
    const out = collect(helper.getNode('out'));
    helper.getNode(id).receive({ payload: 'check' });
    return waitFor(() => out[0], 5000, 'the health');
  }

  it('answers 200 while trading is possible, 503 with the reason once the breaker is HALTED; Prometheus says the same', async function () {
    await helper.load([...packNodes, breakerNode, healthNode, updatesNode], FLOW);
    const account = helper.getNode('acct');
    await waitFor(async () => {
      const h = (await ask('health')).payload;
      return h.status === 'ok' && h.streams.trading && h.breaker;
    }, 10000, 'an ok health with the trading stream and the breaker');
    let msg = await ask('health');
    assert.strictEqual(msg.statusCode, 200);
    assert.strictEqual(msg.payload.breaker.state, 'ACTIVE');
    assert.strictEqual(msg.payload.budgets.trading.limit, 180);
    assert.strictEqual(helper.getNode('health').status.lastCall.args[0].fill, 'green');

    await helper.request().post('/alpaca-breaker/brk/halt').send({ reason: 'monitor test' }).expect(200);
    msg = await ask('health');
    assert.strictEqual(msg.statusCode, 503);
    assert.strictEqual(msg.payload.status, 'down');
    assert.match(msg.payload.reasons.join('\n'), /circuit breaker HALTED: halted by hand: monitor test/);
    assert.strictEqual(helper.getNode('health').status.lastCall.args[0].fill, 'red');
    const metrics = await ask('metrics');
    assert.strictEqual(metrics.statusCode, 503);
    assert.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.payload, /^alpaca_trading_up\{account="Sim",mode="sim"\} 0$/m);
    assert.match(metrics.payload, /^alpaca_breaker_state\{account="Sim",mode="sim",state="HALTED"\} 1$/m);

    await helper.request().post('/alpaca-breaker/brk/reset').send({ confirm: 'RESET BREAKER' }).expect(200);
    // The trading stream drops and its slot stays taken for a while: degraded, still 200.
    const sim = await accountSim(account);
    await sim.faults({ staleSlotMs: 3000 });
    await sim.faults({ dropStreams: true });
    msg = await waitFor(async () => {
      const m = await ask('health');
      return m.payload.status === 'degraded' && m;
    }, 5000, 'degraded while the stream reconnects');
    assert.strictEqual(msg.statusCode, 200);
    assert.match(msg.payload.reasons.join('\n'), /trading stream (reconnecting|connecting)/);
    const before = msg.payload.recoveryRequests.trading;
    // Back: the gap fill after the reconnect is counted on the health.
    msg = await waitFor(async () => {
      const m = await ask('health');
      return m.payload.status === 'ok' && m.payload.recoveryRequests.trading > before && m;
    }, 10000, 'the gap fill counted');
    assert.strictEqual(msg.payload.recoveryRequests.orders, 0);
  });
});
