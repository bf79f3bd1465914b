'use strict';
// Every example flow in examples/ runs in a real Node-RED process (started like `npm start`, with
// the dev-dependency node packages the examples use: dashboard, telegram, email) on the built-in
// simulator, and does what its comment node promises.
//
// The promise is machine-readable: each example's comment node lists, in its `info`, lines like
//
//   - Expect: debug "account" receives payload.equity > 0
//   - Expect: debug "orders" receives payload.status = "filled" after inject "buy" within 30 s
//   - Expect: dashboard "equity chart" receives payload is number
//   - Expect: http GET /demo/account returns status = "ACTIVE"
//
// (full grammar in test/support/flows.js and the README, section "Examples"). Debug messages are read over the editor's
// /comms websocket, dashboard widget messages over Dashboard 2's socket.io path, "after inject"
// clicks the inject node through the admin API as the editor's button does. Every example must
// declare at least one Expect line.
const assert = require('assert');
const { startNodeRed } = require('../support/nodered-process');
const { commsClient, dashboardClient, examples, parseExpectations, checkExpectation, errorDebugNodes } = require('../support/flows');
const { sleep } = require('../support/wait');

const all = examples();

describe('example flows (examples/*.json) in a real Node-RED', function () {
  this.timeout(120000);
  let red;
  let comms;
  let dashboard;

  before(async function () {
    // npm start's settings, with the simulator's clock set to a Sunday 03:00 in New York: every
    // example must show what it promises with the stock market closed, as a newcomer may try it.
    // The TradingView example's passphrase comes from the environment, as its comment says.
    red = await startNodeRed({
      flows: [],
      settings: { alpacaSimulator: { seed: 1, startAt: '2026-11-29T08:00:00Z' } },
      env: { TRADINGVIEW_PASSPHRASE: 'example-passphrase' },
    });
  });

  after(async function () {
    if (red) await red.stop();
  });

  afterEach(async function () {
    if (comms) await comms.close();
    if (dashboard) await dashboard.close();
    comms = dashboard = undefined;
  });

  it('has examples, each with a tab, a comment node, only simulator accounts and no credentials', function () {
    assert.ok(all.length > 0, 'no examples in examples/');
    for (const { name, flow } of all) {
      assert.ok(flow.some((n) => n.type === 'tab'), `${name}: no tab`);
      assert.ok(flow.some((n) => n.type === 'comment' && n.info), `${name}: no comment node explaining it`);
      assert.ok(flow.some((n) => /^alpaca-/.test(n.type) && n.type !== 'alpaca-account'), `${name}: uses no node of the pack`);
      // Zero credentials: every account is the built-in simulator.
      const notSim = flow.filter((n) => n.type === 'alpaca-account' && n.mode !== 'sim').map((n) => n.name || n.id);
      assert.deepStrictEqual(notSim, [], `${name}: accounts not in mode "sim"`);
      assert.ok(flow.every((n) => !n.credentials), `${name}: carries credentials`);
      assert.ok(parseExpectations(flow).length > 0, `${name}: its comment node declares no "Expect:" line`);
    }
  });

  for (const { name, flow } of all) {
    it(`${name}: deploys with every node type known, logs no error, and does what its comment says`, async function () {
      const expectations = parseExpectations(flow);
      const installed = await red.installedTypes();
      const missing = [...new Set(flow.map((n) => n.type))].filter((t) => t !== 'tab' && t !== 'group' && !t.startsWith('subflow') && !installed.has(t));
      assert.deepStrictEqual(missing, [], `${name} uses node types Node-RED does not have`);

      comms = await commsClient(red.base);
      const base = flow.find((n) => n.type === 'ui-base');
      const mark = await red.deploy(flow);
      if (base) dashboard = await dashboardClient(red.base, base.path || '/dashboard');

      const log = () => red.log(mark);
      assert.doesNotMatch(log(), /Waiting for missing types/);
      for (const exp of expectations) {
        await checkExpectation(exp, { red, comms, dashboard, flow }).catch((err) => {
          throw new Error(`${name}: ${err.message}\n--- Node-RED log since deploy ---\n${log()}`);
        });
      }
      // Every button of the example works too: click each inject node once, let the flow settle.
      for (const inject of flow.filter((n) => n.type === 'inject')) await red.inject(inject.id);
      await sleep(1500);
      assert.deepStrictEqual(red.errors(mark), [], `${name} logged errors:\n${log()}`);
      // Errors handled by a Catch node are not logged: read them where the example shows them.
      const expected = new Set(expectations.filter((e) => e.source === 'debug').map((e) => e.name));
      const errorSinks = new Set(errorDebugNodes(flow).filter((n) => !expected.has(n.name)).map((n) => n.id));
      const caught = comms.debug.filter((d) => errorSinks.has(d.id));
      assert.deepStrictEqual(caught.map((d) => d.value), [], `${name}: errors reached its Catch nodes`);
      // Leave the runtime empty for the next example.
      await red.deploy([]);
    });
  }
});
