'use strict';
// Two real Node-RED processes trading one key share one request budget through a real
// redis-server: together they stay under the key's limit (each alone would overrun it).
const assert = require('assert');
const { startNodeRed } = require('../support/nodered-process');
const { waitFor, sleep } = require('../support/wait');
const { startRedis, hasRedis } = require('../support/redis');
const { startSim } = require('../support/sim');

const KEY = 'PKSHARED';
const SECRET = 'shared-secret-value';
const CALLS_EACH = 20;

function flow(url, redisUrl) {
  return [
    { id: 'burst-tab', type: 'tab', label: 'burst' },
    {
      id: 'shared-acct', type: 'alpaca-account', name: 'shared key', mode: 'paper', feed: 'iex', endpoint: url, liveAck: false,
      budgetLimit: 30, budgetWindow: 600, budgetShared: true, budgetKey: 'two-runtimes',
      credentials: { keyId: KEY, secret: SECRET, redisUrl },
    },
    { id: 'burst-in', type: 'http in', z: 'burst-tab', url: '/burst', method: 'get', wires: [['burst-fan']] },
    {
      id: 'burst-fan', type: 'function', z: 'burst-tab', outputs: 2,
      func: `for (let i = 0; i < ${CALLS_EACH}; i++) node.send([{ payload: i }, null]);\nreturn [null, { ...msg, payload: 'started' }];`,
      wires: [['burst-clock'], ['burst-res']],
    },
    { id: 'burst-res', type: 'http response', z: 'burst-tab', wires: [] },
    { id: 'burst-clock', type: 'alpaca-positions', z: 'burst-tab', account: 'shared-acct', action: 'clock', symbol: '', qty: '', percentage: '', cancelOrders: false, wires: [['burst-count']] },
    { id: 'burst-count', type: 'function', z: 'burst-tab', func: "global.set('done', (global.get('done') || 0) + 1);\nreturn null;", outputs: 1, wires: [[]] },
    { id: 'done-in', type: 'http in', z: 'burst-tab', url: '/done', method: 'get', wires: [['done-report']] },
    { id: 'done-report', type: 'function', z: 'burst-tab', func: "msg.payload = { done: global.get('done') || 0 };\nreturn msg;", outputs: 1, wires: [['done-res']] },
    { id: 'done-res', type: 'http response', z: 'burst-tab', wires: [] },
  ];
}

describe('two Node-RED runtimes on one key share one Redis budget', function () {
  this.timeout(120000);
  let redis;
  let sim;
  const runtimes = [];

  before(async function () {
    if (!hasRedis()) {
      if (process.env.CI) throw new Error('redis-server is not installed (.ci/run installs it)');
      this.skip();
    }
    redis = await startRedis();
    sim = await startSim({ key: KEY, secret: SECRET, tickMs: 1000 });
  });

  after(async function () {
    await Promise.all(runtimes.map((r) => r.stop()));
    if (sim) await sim.stop();
    if (redis) await redis.stop();
  });

  it('stay under the limit together: no 429, and no more requests than the shared budget', async function () {
    // The key allows 30 a minute; the shared budget allows 30 per 10 minutes, for both runtimes.
    await sim.faults({ rateLimitPerMinute: 30 });
    for (let i = 0; i < 2; i++) {
      const red = await startNodeRed({ settings: {} });
      runtimes.push(red);
      await red.deploy(flow(sim.url, redis.url));
    }
    const before = await sim.stats();
    await Promise.all(runtimes.map((r) => fetch(`${r.base}/burst`).then((res) => res.text())));
    const each = () => Promise.all(runtimes.map(async (r) => (await (await fetch(`${r.base}/done`)).json()).done));
    const done = async () => (await each()).reduce((a, b) => a + b, 0);
    // Both connection checks and the calls draw on the same 30 tokens, 2 of them kept for panic
    // actions: 26 calls go out.
    await waitFor(async () => (await done()) >= 26, 20000, 'the shared budget to be spent', 50).catch(async (err) => {
      const seen = (await sim.requests(0)).map((q) => `${q.method} ${q.path}${q.limited ? ' 429' : ''}`);
      throw new Error(`${err.message}\ncalls answered per runtime: ${await each()}\nthe key saw: ${seen.join(', ')}\n${runtimes.map((r) => r.log()).join('\n')}`);
    });
    await sleep(1500);
    const total = await done();
    assert.ok(total >= 26 && total <= 28, `calls answered: ${total}`);
    const after = await sim.stats();
    assert.strictEqual(after.rateLimited - before.rateLimited, 0, 'no 429 from the broker');
    assert.ok(after.requests <= 31, `requests the key saw: ${after.requests}`);
    for (const r of runtimes) assert.deepStrictEqual(r.errors(), [], r.log());
  });
});
