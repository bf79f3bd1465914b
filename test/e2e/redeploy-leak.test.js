'use strict';
// Redeploys a flow 100 times and checks that sockets, timers and listeners come back to where
// they started: a bot redeployed all day must not grow.
const assert = require('assert');
const { helper, packNodes } = require('../support/nodered');
const { waitFor, sleep } = require('../support/wait');
const { accountSim } = require('../support/sim');
const { ACCOUNT } = require('../support/fixtures');

function resources() {
  const counts = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] || 0) + 1;
  return counts;
}

function processListeners() {
  return process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0);
}

const FLOW = [
  { id: 'f1', type: 'tab', label: 'leak' },
  ACCOUNT,
  { id: 'pos', type: 'alpaca-positions', z: 'f1', account: 'acct', action: 'account', symbol: '', qty: '', percentage: '', cancelOrders: false, wires: [['out']] },
  { id: 'pos2', type: 'alpaca-positions', z: 'f1', account: 'acct', action: 'positions', symbol: '', qty: '', percentage: '', cancelOrders: false, wires: [['out']] },
  { id: 'out', type: 'helper', z: 'f1' },
];

describe('redeploying 100 times', function () {
  this.timeout(120000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  /** Waits until each deploy's account snapshot has arrived and its trading stream is up. */
  async function exercise() {
    const account = helper.getNode('acct');
    const out = helper.getNode('out');
    const answered = new Promise((resolve) => out.once('input', resolve));
    helper.getNode('pos').receive({ payload: 'go' });
    await answered;
    account.connection.tradeUpdates.subscribe(() => undefined);
    await waitFor(() => account.connection.diagnostics().streams.trading?.state === 'authenticated', 5000, 'trading stream');
    // Deliberately not unsubscribed: the redeploy must close what the connection opened.
    return account;
  }

  it('returns sockets, timers and listeners to their starting counts', async function () {
    await helper.load([...packNodes], FLOW);
    await exercise();
    await helper.setFlows(FLOW, 'full');
    await exercise();
    await sleep(500);
    const baseline = resources();
    const baseListeners = processListeners();

    const simulators = new Set();
    for (let i = 0; i < 100; i++) {
      await helper.setFlows(FLOW, 'full');
      const account = await exercise();
      simulators.add((await accountSim(account)).url);
    }
    assert.strictEqual(simulators.size, 100, 'each deploy ran its own simulator');

    await helper.setFlows(FLOW, 'full');
    await exercise();
    let now;
    await waitFor(() => {
      now = resources();
      return ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].every((k) => (now[k] || 0) <= (baseline[k] || 0));
    }, 10000, 'resources to settle').catch(() => undefined);
    for (const kind of ['TCPSocketWrap', 'TCPServerWrap', 'Timeout']) {
      assert.ok((now[kind] || 0) <= (baseline[kind] || 0), `${kind}: ${now[kind]} now vs ${baseline[kind]} before 100 redeploys`);
    }
    assert.ok(processListeners() <= baseListeners, `process listeners ${processListeners()} vs ${baseListeners}`);
    const account = helper.getNode('acct');
    assert.strictEqual(account.connection.diagnostics().users, 2, 'exactly the two nodes of the flow use the connection');
  });
});
