'use strict';
// One msg, one order; one key, one order (also across a redeploy); a 429 storm on 20 orders: all
// placed after the reset, none twice. A real Node-RED runtime (test helper), the official SDK
// and the simulator over real sockets.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { helper, packNodes, collect } = require('../support/nodered');
const { waitFor, sleep } = require('../support/wait');
const { startSim, accountSim } = require('../support/sim');
const { account } = require('../support/fixtures');

const orderNode = require('../../dist/alpaca-order.js').default;
const functionNode = require('@node-red/nodes/core/function/10-function.js');
const changeNode = require('@node-red/nodes/core/function/15-change.js');
const nodes = [...packNodes, orderNode, functionNode, changeNode];

function flow(acct, orderExtra = {}, upstream = []) {
  return [
    acct,
    { id: 'f1', type: 'tab', label: 'journal' },
    ...upstream,
    { id: 'order', type: 'alpaca-order', z: 'f1', account: 'acct', action: 'submit', symbol: '', side: '', qty: '', keyProperty: '', maxWait: '', ...orderExtra, wires: [['out'], [], []] },
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'catcher', type: 'catch', z: 'f1', scope: ['order'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

describe('alpaca-order: one msg one order, one key one order, 429s', function () {
  this.timeout(90000);
  before(() => helper.startServer());
  after(() => {
    helper.settings({});
    return helper.stopServer();
  });
  afterEach(() => helper.unload());

  it('a function node sending 300 identical "buy 1 AAPL" msgs in one run places 300 orders', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 1000, marketHours: 'always', faults: { rateLimitPerMinute: 100000 } } });
    const burst = {
      id: 'burst', type: 'function', z: 'f1', name: 'slice', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [],
      func: "for (let i = 0; i < 300; i++) node.send({ payload: { symbol: 'AAPL', side: 'buy', qty: 1 } });\nreturn null;",
      wires: [['order']],
    };
    await helper.load(nodes, flow(account({ budgetLimit: 2000, budgetWindow: 60 }), {}, [burst]));
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const sim = await accountSim(helper.getNode('acct'), 10000);
    const before = (await sim.stats()).orders;
    helper.getNode('burst').receive({ payload: 'go' });
    await waitFor(() => out.length + caught.length >= 300, 60000, '300 answers');
    assert.strictEqual(caught.length, 0, JSON.stringify(caught.slice(0, 2).map((m) => m.error.message)));
    assert.strictEqual(new Set(out.map((m) => m._msgid)).size, 1, 'the msgs of one function run share _msgid');
    assert.ok(out.every((m) => m.outcome === 'placed'));
    assert.strictEqual(new Set(out.map((m) => m.clientOrderId)).size, 300);
    assert.strictEqual((await sim.stats()).orders - before, 300);
  });

  it('the same key five times places one order; the repeats, also after a redeploy, send nothing', async function () {
    const sim = await startSim({ seed: 4 });
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-journal-e2e-'));
    try {
      helper.settings({ userDir });
      const keyFlow = () => flow(account({ endpoint: sim.url }), { keyProperty: 'signalId' });
      await helper.load(nodes, keyFlow());
      const signal = { signalId: 'tv-alert-1001', payload: { symbol: 'AAPL', side: 'buy', qty: 1 } };
      const sendAndWait = async (n) => {
        const out = collect(helper.getNode('out'));
        const caught = collect(helper.getNode('caught'));
        for (let i = 0; i < n; i++) helper.getNode('order').receive(JSON.parse(JSON.stringify(signal)));
        await waitFor(() => out.length + caught.length >= n, 15000, `${n} answers`);
        assert.strictEqual(caught.length, 0, JSON.stringify(caught.map((m) => m.error.message)));
        return out;
      };
      const before = await sim.stats();
      const first = await sendAndWait(2);
      assert.deepStrictEqual(first.map((m) => m.outcome).sort(), ['duplicate', 'placed']);
      // A full redeploy: a new account node and connection, the journal read back from the user directory.
      await helper.setFlows(keyFlow(), 'full');
      const later = await sendAndWait(3);
      assert.deepStrictEqual(later.map((m) => m.outcome), ['duplicate', 'duplicate', 'duplicate']);
      for (const m of later) assert.deepStrictEqual(m.attempts.map((a) => a.step), ['lookup'], 'read back, no POST');
      const mine = (await sim.orders()).filter((o) => o.client_order_id === first[0].clientOrderId);
      assert.strictEqual(mine.length, 1);
      const after = await sim.stats();
      assert.strictEqual(after.orders - before.orders, 1);
      assert.ok(fs.readdirSync(path.join(userDir, 'alpaca-journal')).some((f) => f.startsWith('account-')), 'the journal is in the user directory');
      const journal = fs.readFileSync(path.join(userDir, 'alpaca-journal', 'account-acct.jsonl'), 'utf8');
      assert.ok(journal.includes(`"id":"${first[0].clientOrderId}"`), 'the key\'s client order id is remembered');
      assert.doesNotMatch(journal, /tv-alert-1001/, 'a reported entry keeps no copy of its msg');
      assert.doesNotMatch(journal, new RegExp(`${sim.secret}|SIMULATOR`), 'no credential in the journal');
    } finally {
      helper.settings({});
      await sim.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it('a 429 on 20 orders: each is sent again after the reset, within its max wait: all 20 placed, none twice', async function () {
    helper.settings({ alpacaSimulator: { seed: 5, tickMs: 1000, marketHours: 'always' } });
    const twenty = {
      id: 'twenty', type: 'function', z: 'f1', name: '20 orders', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [],
      func: "for (let i = 0; i < 20; i++) node.send({ topic: 'o' + i, payload: { symbol: 'AAPL', side: 'buy', qty: 1 } });\nreturn null;",
      wires: [['order']],
    };
    await helper.load(nodes, flow(account({ budgetLimit: 600, budgetWindow: 60 }), { maxWait: '30' }, [twenty]));
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const acct = helper.getNode('acct');
    await waitFor(() => acct.connection.status.state === 'connected', 10000, 'connected');
    const sim = await accountSim(acct);
    // Alpaca's limit is much lower than the account's budget thinks (another program uses the key).
    await sim.faults({ rateLimitPerMinute: 4, lockoutMs: 1500 });
    const before = await sim.stats();
    helper.getNode('twenty').receive({ payload: 'go' });
    await waitFor(async () => (await sim.stats()).rateLimited > before.rateLimited, 15000, 'a 429');
    await sleep(2000);
    // The limit resets: the waiting orders go out again, each with its own client order id.
    await sim.faults({ rateLimitPerMinute: 100000, lockoutMs: 0 });
    await waitFor(() => out.length + caught.length >= 20, 40000, '20 answers');
    assert.strictEqual(caught.length, 0, JSON.stringify(caught.slice(0, 2).map((m) => m.error.message)));
    assert.ok(out.every((m) => m.outcome === 'placed'));
    const retried = out.filter((m) => m.attempts.some((a) => a.status === 429));
    assert.ok(retried.length >= 1, 'orders were answered 429 first');
    for (const m of retried) {
      assert.ok(m.attempts.every((a) => a.step === 'submit'), JSON.stringify(m.attempts));
      assert.strictEqual(m.attempts[m.attempts.length - 1].status, 200);
    }
    const after = await sim.stats();
    assert.strictEqual(after.orders - before.orders, 20);
    const listed429 = out.reduce((n, m) => n + m.attempts.filter((a) => a.status === 429).length, 0);
    assert.strictEqual(listed429, after.rateLimited - before.rateLimited, 'every 429 the simulator sent is listed in msg.attempts');
    const ids = (await sim.orders()).map((o) => o.client_order_id);
    assert.strictEqual(ids.length, 20);
    assert.deepStrictEqual(new Set(ids), new Set(out.map((m) => m.clientOrderId)), 'each placed once, with its own id');
  });
});
