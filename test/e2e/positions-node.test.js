'use strict';
// A real Node-RED runtime, the real nodes, the official SDK and the built-in simulator over
// real sockets. Nothing of ours is mocked.
const assert = require('assert');
const { helper, packNodes } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { startSim, accountSim } = require('../support/sim');
const { ACCOUNT } = require('../support/fixtures');

function flow(positions) {
  return [
    ACCOUNT,
    { id: 'f1', type: 'tab', label: 'test' },
    ...positions.map((p, i) => ({
      id: p.id || `pos${i}`,
      type: 'alpaca-positions',
      z: 'f1',
      account: 'acct',
      action: 'account',
      symbol: '',
      qty: '',
      percentage: '',
      cancelOrders: false,
      wires: [[`out${i}`]],
      ...p,
    })),
    ...positions.map((p, i) => ({ id: `out${i}`, type: 'helper', z: 'f1' })),
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

/** Sends msg into node `id` and resolves with the next msg at `out` or the next caught error. */
function ask(id, msg) {
  const node = helper.getNode(id);
  const index = id.replace('pos', '');
  return new Promise((resolve, reject) => {
    const out = helper.getNode(`out${index}`);
    const caught = helper.getNode('caught');
    const timer = setTimeout(() => reject(new Error(`no answer from ${id}`)), 8000);
    const done = (kind) => (m) => {
      clearTimeout(timer);
      out.removeAllListeners('input');
      caught.removeAllListeners('input');
      resolve({ kind, msg: m });
    };
    out.once('input', done('output'));
    caught.once('input', done('error'));
    node.receive(msg);
  });
}

describe('alpaca-positions node on the simulator', function () {
  this.timeout(30000);
  before(() => {
    helper.settings({ alpacaSimulator: { marketHours: 'always' } });
    return helper.startServer();
  });
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('returns the account snapshot with plain numbers', async function () {
    await helper.load([...packNodes], flow([{ action: 'account' }]));
    const r = await ask('pos0', { payload: null });
    assert.strictEqual(r.kind, 'output', JSON.stringify(r.msg.error));
    const a = r.msg.payload;
    assert.strictEqual(typeof a.equity, 'number');
    assert.strictEqual(a.equity, 100000);
    assert.strictEqual(a.cash, 100000);
    assert.strictEqual(a.status, 'ACTIVE');
    assert.strictEqual(r.msg.action, 'account');
  });

  it('lists positions, closes part of one and then all of them', async function () {
    await helper.load([...packNodes], flow([{ action: 'msg' }]));
    // Build positions with the raw SDK on the same simulator, as another program would.
    const sdk = (await accountSim(helper.getNode('acct'), 5000)).sdk();
    await sdk.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy', timeInForce: 'day' });
    await sdk.trading.orders.market({ symbol: 'BTC/USD', qty: 0.5, side: 'buy', timeInForce: 'gtc' });
    await waitFor(async () => (await sdk.trading.positions.getAllOpenPositions()).length === 2, 8000, 'two positions');

    let r = await ask('pos0', { topic: 'positions' });
    assert.strictEqual(r.kind, 'output');
    // Alpaca reports crypto positions without the slash (BTCUSD).
    assert.deepStrictEqual(r.msg.payload.map((p) => p.symbol.replace('/', '')).sort(), ['AAPL', 'BTCUSD']);
    const aapl = r.msg.payload.find((p) => p.symbol === 'AAPL');
    assert.strictEqual(aapl.qty, 10);
    assert.strictEqual(aapl.side, 'long');

    r = await ask('pos0', { topic: 'position', payload: 'AAPL' });
    assert.strictEqual(r.msg.payload.qty, 10);

    r = await ask('pos0', { topic: 'close', payload: { symbol: 'AAPL', qty: 4 } });
    assert.strictEqual(r.kind, 'output', JSON.stringify(r.msg.error));
    assert.strictEqual(r.msg.payload.side, 'sell');
    assert.strictEqual(r.msg.payload.qty, 4);
    await waitFor(async () => Number((await sdk.trading.positions.getOpenPosition({ symbolOrAssetId: 'AAPL' })).qty) === 6, 8000, 'AAPL at 6');

    r = await ask('pos0', { topic: 'closeAll', payload: { cancelOrders: true } });
    assert.strictEqual(r.kind, 'output');
    assert.strictEqual(r.msg.payload.length, 2);
    assert.ok(r.msg.payload.every((x) => x.ok), JSON.stringify(r.msg.payload));
    await waitFor(async () => (await sdk.trading.positions.getAllOpenPositions()).length === 0, 8000, 'no positions');

    r = await ask('pos0', { topic: 'orders' });
    assert.ok(Array.isArray(r.msg.payload));
    r = await ask('pos0', { topic: 'clock' });
    assert.strictEqual(typeof r.msg.payload.isOpen, 'boolean');
  });

  it("reports the broker's refusal to a Catch node with Alpaca's code, and turns red", async function () {
    await helper.load([...packNodes], flow([{ action: 'position', symbol: 'MSFT' }]));
    const r = await ask('pos0', {});
    assert.strictEqual(r.kind, 'error');
    assert.match(r.msg.error.message, /404/);
    assert.strictEqual(typeof r.msg.error.code, 'number');
    const node = helper.getNode('pos0');
    const last = node.status.lastCall.args[0];
    assert.strictEqual(last.fill, 'red');
  });

  const badInputs = [
    ['unknown action in msg.topic', { action: 'msg' }, { topic: 'sell-everything' }],
    ['no symbol for position', { action: 'position' }, { payload: {} }],
    ['malformed symbol', { action: 'close' }, { payload: { symbol: 'AAPL; DROP' } }],
    ['negative quantity', { action: 'close' }, { payload: { symbol: 'AAPL', qty: -1 } }],
    ['percentage over 100', { action: 'close' }, { payload: { symbol: 'AAPL', percentage: 101 } }],
    ['qty and percentage together', { action: 'close' }, { payload: { symbol: 'AAPL', qty: 1, percentage: 5 } }],
    ['cancelOrders as text', { action: 'closeAll' }, { payload: { cancelOrders: 'true' } }],
  ];
  it('refuses malformed msgs with a Catch-able error and sends nothing to the broker', async function () {
    await helper.load([...packNodes], flow(badInputs.map(([, settings]) => settings)));
    const account = helper.getNode('acct');
    // Let the connection settle (its start-up account check is one request).
    await waitFor(() => account.connection.status.state === 'connected', 8000, 'connected');
    const sim = await accountSim(account, 5000);
    const before = await sim.stats();
    for (let i = 0; i < badInputs.length; i++) {
      const [what, , msg] = badInputs[i];
      const r = await ask(`pos${i}`, msg);
      assert.strictEqual(r.kind, 'error', `${what}: expected an error`);
      assert.ok(r.msg.error.message.length > 10, what);
      assert.strictEqual(helper.getNode(`pos${i}`).status.lastCall.args[0].fill, 'red', what);
    }
    const after = await sim.stats();
    assert.strictEqual(after.requests, before.requests, 'no request reached the simulator');
    assert.strictEqual(after.orders, before.orders);
  });

  it('shares one connection and one simulator between nodes, and shows the state on each', async function () {
    await helper.load([...packNodes], flow([{ action: 'account' }, { action: 'positions' }, { action: 'clock' }]));
    const account = helper.getNode('acct');
    assert.strictEqual(account.connection.diagnostics().users, 3);
    await waitFor(() => account.connection.status.state === 'connected', 8000, 'connected');
    for (const id of ['pos0', 'pos1', 'pos2']) {
      const s = helper.getNode(id).status.lastCall.args[0];
      assert.strictEqual(s.fill, 'green', id);
      assert.match(s.text, /connected · sim/);
    }
    // Two listeners of the trade updates, one trading stream: the simulator sees a single stream connection.
    const sim = await accountSim(account, 5000);
    const a = account.connection.tradeUpdates.subscribe(() => undefined);
    const b = account.connection.tradeUpdates.subscribe(() => undefined);
    await waitFor(async () => (await sim.stats()).streamConnections === 1, 5000, 'one stream');
    assert.strictEqual(account.connection.diagnostics().streams.trading.holders, 1);
    a();
    b();
    await waitFor(async () => (await sim.stats()).streamConnections === 0, 5000, 'stream closed by the last listener leaving');
  });

  it('refuses to start live trading without the acknowledgement: red status, error, no request', async function () {
    const live = { ...ACCOUNT, mode: 'live', liveAck: false };
    await helper.load([...packNodes], [live, ...flow([{ action: 'account' }]).slice(1)], { acct: { keyId: 'AKLIVEKEY', secret: 'live-secret-123' } });
    const s = helper.getNode('pos0').status.lastCall.args[0];
    assert.strictEqual(s.fill, 'red');
    assert.match(s.text, /live trading refused/);
    const r = await ask('pos0', {});
    assert.strictEqual(r.kind, 'error');
    assert.match(r.msg.error.message, /live trading refused/);
    assert.ok(!r.msg.error.message.includes('live-secret-123'));
  });

  it('reports bad keys as auth failed (standalone simulator that checks keys)', async function () {
    const sim = await startSim({ key: 'GOODKEY', secret: 'good-secret' });
    try {
      const acct = { ...ACCOUNT, mode: 'paper', endpoint: sim.url };
      await helper.load([...packNodes], [acct, ...flow([{ action: 'account' }]).slice(1)], { acct: { keyId: 'BADKEY', secret: 'bad-secret-456' } });
      const r = await ask('pos0', {});
      assert.strictEqual(r.kind, 'error');
      assert.match(r.msg.error.message, /401/);
      assert.ok(!r.msg.error.message.includes('bad-secret-456'));
      await waitFor(() => helper.getNode('acct').connection.status.state === 'auth_failed', 5000, 'auth_failed');
      assert.strictEqual(helper.getNode('pos0').status.lastCall.args[0].fill, 'red');
    } finally {
      await helper.unload();
      await sim.stop();
    }
  });

  it('Test connection endpoint reports the account, or the exact error', async function () {
    await helper.load([...packNodes], flow([{ action: 'account' }]));
    let res = await helper.request().post('/alpaca-account/test').send({ mode: 'sim' }).expect(200);
    assert.strictEqual(res.body.ok, true, JSON.stringify(res.body));
    assert.strictEqual(res.body.account.status, 'ACTIVE');
    assert.strictEqual(res.body.account.equity, 100000);

    res = await helper.request().post('/alpaca-account/test').send({ mode: 'paper', endpoint: 'http://127.0.0.1:9' }).expect(200);
    assert.strictEqual(res.body.ok, false);
    assert.match(res.body.error, /key id and secret are required/);

    res = await helper.request().post('/alpaca-account/test').send({ mode: 'paper', endpoint: 'http://127.0.0.1:9', keyId: 'K', secret: 'S-secret' }).expect(200);
    assert.strictEqual(res.body.ok, false);
    assert.match(res.body.error, /cannot reach the broker/);
    assert.ok(!JSON.stringify(res.body).includes('S-secret'));
  });
});
