'use strict';
// A Redis URL is a secret: shown anywhere (status, log, errors) only masked, and a malformed one
// is a configuration error (red status, every request refused), never a silent local budget.
const assert = require('assert');
const { helper, packNodes, collect, statuses } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { account } = require('../support/fixtures');
const gateNode = require('../../dist/alpaca-rate-gate.js').default;
const orderNode = require('../../dist/alpaca-order.js').default;
const { freePort } = require('../support/nodered-process');

const SECRET = 'hunter2-redis-secret';
const nodes = [...packNodes, gateNode, orderNode];

const ACCOUNT = account({ budgetLimit: 180, budgetWindow: 60, budgetShared: true, budgetKey: 'masked' });

/** The credentials store of a flow whose account (and gate) hold `redisUrl`. */
const creds = (redisUrl, ids = ['acct']) => Object.fromEntries(ids.map((id) => [id, redisUrl === undefined ? {} : { redisUrl }]));

function orderFlow() {
  return [
    ACCOUNT,
    { id: 'f1', type: 'tab', label: 'redis url' },
    { id: 'order', type: 'alpaca-order', z: 'f1', account: 'acct', action: 'submit', wires: [['placed'], [], []] },
    { id: 'placed', type: 'helper', z: 'f1' },
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

/** Every text the runtime logged, and every status, warning and error the nodes showed. */
function everythingShown(ids) {
  const texts = helper.log().getCalls().map((c) => JSON.stringify(c.args));
  for (const id of ids) {
    const n = helper.getNode(id);
    if (!n) continue;
    for (const m of ['status', 'warn', 'error', 'log']) if (n[m].getCalls) texts.push(...n[m].getCalls().map((c) => JSON.stringify(c.args, (_k, v) => (v instanceof Error ? v.message : v))));
  }
  return texts.join('\n');
}

describe('Redis URLs of shared budgets (security)', function () {
  this.timeout(20000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  for (const [what, url] of [
    ['not a URL', `redis://:${SECRET}@bad host:6379`],
    ['a path that is no database', `redis://127.0.0.1:6379/not-a-db?password=${SECRET}`],
    ['an unknown parameter', `redis://127.0.0.1:6379/0?password=${SECRET}&sentinelPassword=x`],
    ['no URL at all', undefined],
  ]) {
    it(`an account sharing its budget with ${what} refuses to connect: red status, orders refused unsent, no secret shown`, async function () {
      await helper.load(nodes, orderFlow(), creds(url));
      const caught = collect(helper.getNode('caught'));
      const placed = collect(helper.getNode('placed'));
      helper.getNode('order').receive({ payload: { symbol: 'AAPL', side: 'buy', qty: 1 } });
      await waitFor(() => caught.length === 1, 5000, 'the order refused');
      assert.strictEqual(placed.length, 0);
      assert.match(caught[0].error.message, /request budget: .*(Redis URL|sharing the budget needs)/);
      assert.strictEqual(helper.getNode('acct').connection.status.state, 'refused');
      assert.strictEqual(helper.getNode('acct').connection.endpoint, undefined, 'no simulator was started, no request sent');
      assert.ok(statuses(helper.getNode('order')).some((s) => s.fill === 'red'));
      assert.ok(!everythingShown(['acct', 'order']).includes(SECRET));
    });
  }

  it('a standalone gate sharing with a malformed URL is refused: red status, msgs refused, no secret shown', async function () {
    await helper.load(nodes, [
      { id: 'f1', type: 'tab', label: 'gate' },
      {
        id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: '', queueSize: 100, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output',
        categories: [{ name: 'api', limit: 10, window: 60, shape: 'window' }], category: '', shared: true, sharedKey: 'x', wires: [['out'], []],
      },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ], creds(`redis://127.0.0.1:6379/0?password=${SECRET}&tls=nope`, ['gate']));
    const caught = collect(helper.getNode('caught'));
    const out = collect(helper.getNode('out'));
    helper.getNode('gate').receive({ payload: 1 });
    await waitFor(() => caught.length === 1, 3000, 'refused');
    assert.strictEqual(out.length, 0);
    assert.match(caught[0].error.message, /misconfigured: .*unknown parameter "tls"/);
    assert.ok(statuses(helper.getNode('gate')).some((s) => s.fill === 'red'));
    assert.ok(!everythingShown(['gate']).includes(SECRET));
  });

  it('an unreachable Redis with ?password= in its URL: the account and the gate say so, masked', async function () {
    const port = await freePort();
    await helper.load(nodes, [
      ...orderFlow(),
      {
        id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: 'acct', queueSize: 100, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output',
        categories: [], category: '', wires: [['order'], []],
      },
    ], creds(`redis://127.0.0.1:${port}/0?password=${SECRET}`));
    const placed = collect(helper.getNode('placed'));
    helper.getNode('gate').receive({ payload: { symbol: 'AAPL', side: 'buy', qty: 1 } });
    await waitFor(() => placed.length === 1, 8000, 'the order, on the local share');
    await waitFor(() => statuses(helper.getNode('gate')).some((s) => /Redis down: local share/.test(s.text || '')), 3000, 'the gate status');
    const shown = everythingShown(['acct', 'gate', 'order']);
    assert.match(shown, /password=\*\*\*/);
    assert.ok(!shown.includes(SECRET));
  });
});
