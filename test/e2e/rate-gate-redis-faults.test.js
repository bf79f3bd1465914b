'use strict';
// Two real Node-RED processes trading one key through rate gates, their account budget shared in
// a real redis-server, and Redis failing every way it can: down at start, killed (SIGKILL) in the
// middle of a burst, flushed and restarted empty, a wrong password, a host that never answers.
// Each time: no crash, no unhandled rejection, orders keep flowing within the local share, and
// the simulator never sees more than the limit from both together in any 60 s.
const assert = require('assert');
const Redis = require('ioredis');
const { startNodeRed, freePort } = require('../support/nodered-process');
const { commsClient } = require('../support/flows');
const { sleep } = require('../support/wait');
const { startRedis, hasRedis } = require('../support/redis');
const { startSim, busiest, requestTimes } = require('../support/sim');

const LIMIT = 40;
const SECRET = 'faults-secret-value';

/** One instance's flow: GET /burst?n=&gap= sends n orders, gap ms apart, through a gate; GET /done counts them. */
function flow(name, scenario, redisUrl, simUrl) {
  const tab = `${name}-tab`;
  return [
    { id: tab, type: 'tab', label: name },
    {
      id: 'acct', type: 'alpaca-account', name: `${name} ${scenario}`, mode: 'paper', feed: 'iex', endpoint: simUrl, liveAck: false,
      budgetLimit: LIMIT, budgetWindow: 60, budgetShared: true, budgetKey: scenario, budgetInstances: 2,
      credentials: { keyId: `PK${scenario.toUpperCase()}`, secret: SECRET, redisUrl },
    },
    { id: 'burst-in', type: 'http in', z: tab, url: '/burst', method: 'get', wires: [['burst-fan']] },
    {
      id: 'burst-fan', type: 'function', z: tab, outputs: 2,
      func: `const n = Number(msg.req.query.n); const gap = Number(msg.req.query.gap);
for (let i = 0; i < n; i++) setTimeout(() => node.send([{ payload: { symbol: 'AAPL', side: 'buy', qty: 1, clientOrderId: '${name}-${scenario}-' + i } }, null]), i * gap);
return [null, { ...msg, payload: 'started' }];`,
      wires: [['gate'], ['burst-res']],
    },
    { id: 'burst-res', type: 'http response', z: tab, wires: [] },
    { id: 'gate', type: 'alpaca-rate-gate', z: tab, account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 120, priority: 5, report: 'output', categories: [], category: '', wires: [['order'], ['count-dropped']] },
    { id: 'order', type: 'alpaca-order', z: tab, account: 'acct', action: 'submit', wires: [['count-ok'], [], []] },
    { id: 'catcher', type: 'catch', z: tab, scope: ['order'], uncaught: false, wires: [['count-failed']] },
    ...['ok', 'failed', 'dropped'].map((what) => ({
      id: `count-${what}`, type: 'function', z: tab, outputs: 1,
      func: `global.set('${what}', (global.get('${what}') || 0) + 1);${what === 'failed' ? "global.set('lastError', msg.error && msg.error.message);" : ''}\nreturn null;`,
      wires: [[]],
    })),
    { id: 'done-in', type: 'http in', z: tab, url: '/done', method: 'get', wires: [['done-report']] },
    {
      id: 'done-report', type: 'function', z: tab, outputs: 1,
      func: "msg.payload = { ok: global.get('ok') || 0, failed: global.get('failed') || 0, dropped: global.get('dropped') || 0, lastError: global.get('lastError') };\nglobal.set('ok', 0); global.set('failed', 0); global.set('dropped', 0); global.set('lastError', undefined);\nreturn msg;",
      wires: [['done-res']],
    },
    { id: 'done-res', type: 'http response', z: tab, wires: [] },
  ];
}

describe('two Node-RED runtimes, one shared budget, Redis failing', function () {
  this.timeout(120000);
  let sim;
  const runtimes = [];
  const names = ['red-a', 'red-b'];

  before(async function () {
    if (!hasRedis()) {
      if (process.env.CI) throw new Error('redis-server is not installed (.ci/run installs it)');
      this.skip();
    }
    // The strict default: a sliding window of LIMIT a minute per key.
    sim = await startSim({ tickMs: 1000 });
    await sim.faults({ rateLimitPerMinute: LIMIT });
    for (let i = 0; i < 2; i++) runtimes.push(await startNodeRed({ settings: {} }));
  });

  after(async function () {
    await Promise.all(runtimes.map((r) => r.stop()));
    if (sim) await sim.stop();
  });

  /** Deploys the scenario's flow to both; returns the log marks. */
  async function deploy(scenario, redisUrl) {
    return Promise.all(runtimes.map((r, i) => r.deploy(flow(names[i], scenario, redisUrl, sim.url))));
  }

  const burst = (n, gap) => Promise.all(runtimes.map((r) => fetch(`${r.base}/burst?n=${n}&gap=${gap}`).then((res) => res.text())));
  const counts = () => Promise.all(runtimes.map(async (r) => (await fetch(`${r.base}/done`)).json()));

  /** What every scenario must show: alive, no unhandled rejection, no 429, never more than LIMIT in any 60 s. */
  async function checkAfter(scenario, marks, since, secrets = []) {
    for (const [i, r] of runtimes.entries()) {
      assert.strictEqual(r.child.exitCode, null, `${names[i]} exited:\n${r.log(marks[i])}`);
      const log = r.log(marks[i]);
      assert.doesNotMatch(log, /Unhandled|Uncaught|MaxRetriesPerRequest/i, `${names[i]}:\n${log}`);
      for (const s of secrets) assert.ok(!log.includes(s), `${names[i]} logged a Redis password:\n${log}`);
    }
    const times = await requestTimes(sim.url, since);
    const limited = (await sim.requests(since)).filter((r) => r.limited).length;
    assert.strictEqual(limited, 0, `${scenario}: the simulator answered 429`);
    assert.ok(busiest(times, 60000) <= LIMIT, `${scenario}: ${busiest(times, 60000)} requests within 60 s`);
    return times;
  }

  /** Empties both runtimes, then stops the given servers whatever happened (no redis-server outlives the test). */
  async function clear(...servers) {
    try {
      await Promise.all(runtimes.map((r) => r.deploy([])));
    } finally {
      await Promise.all(servers.filter(Boolean).map((x) => x.stop()));
    }
  }

  it('Redis down at start: each runs on its share at once, says so, and rejoins when Redis comes up', async function () {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const comms = await Promise.all(runtimes.map((r) => commsClient(r.base)));
    try {
      const since = Date.now();
      const marks = await deploy('downatstart', url);
      await burst(30, 0);
      // Share: 40 / 2 instances = 20 each, 1 of them kept for panic, 1 used by the connection check.
      await sleep(4000);
      const c = await counts();
      assert.ok(c.every((x) => x.ok >= 10 && x.failed === 0), JSON.stringify(c));
      assert.ok(c[0].ok + c[1].ok <= LIMIT - 2, JSON.stringify(c));
      for (const [i, r] of runtimes.entries()) {
        assert.match(r.log(marks[i]), /running on a local share of 20 per window/);
        assert.ok(comms[i].status.some((s) => s.id === 'gate' && /Redis down: local share/.test(s.status.text || '')), `${names[i]} gate status`);
      }
      const late = await startRedis({ port });
      try {
        await Promise.all(runtimes.map((r, i) => r.waitForLog(/shared through Redis again/, marks[i], 10000)));
        await checkAfter('down at start', marks, since);
      } finally {
        await clear(late);
      }
    } finally {
      await Promise.all(comms.map((x) => x.close()));
    }
  });

  it('Redis killed (SIGKILL) in the middle of a burst: orders keep flowing on the local share, never over the limit together', async function () {
    const redis = await startRedis();
    try {
      const since = Date.now();
      const marks = await deploy('killed', redis.url);
      await sleep(2000); // the new epoch's grace
      await burst(30, 150);
      await sleep(1500);
      const killedAt = Date.now();
      await redis.kill();
      await sleep(6000);
      const times = await checkAfter('killed', marks, since);
      assert.ok(times.some((t) => t > killedAt + 100), 'orders went on after Redis was killed');
      const c = await counts();
      assert.ok(c.every((x) => x.failed === 0), JSON.stringify(c));
      for (const [i, r] of runtimes.entries()) assert.match(r.log(marks[i]), /running on a local share/);
    } finally {
      await clear(redis);
    }
  });

  it('Redis flushed and restarted empty in the middle of a burst: grants put back, never over the limit together', async function () {
    const redis = await startRedis();
    let back;
    try {
      const since = Date.now();
      const marks = await deploy('flushed', redis.url);
      await sleep(2000);
      await burst(30, 150);
      await sleep(1500);
      const admin = new Redis(redis.url);
      await admin.flushall();
      admin.disconnect();
      await redis.kill();
      await sleep(500);
      back = await startRedis({ port: redis.port });
      await Promise.all(runtimes.map((r, i) => r.waitForLog(/shared through Redis again/, marks[i], 10000)));
      await sleep(5000);
      await checkAfter('flushed', marks, since);
      const c = await counts();
      assert.ok(c.every((x) => x.failed === 0 && x.ok >= 5), JSON.stringify(c));
    } finally {
      await clear(redis, back);
    }
  });

  it('a wrong Redis password: the local share, a masked reason, never the password in a log', async function () {
    const redis = await startRedis({ password: 'the-right-one' });
    try {
      const since = Date.now();
      const url = `redis://127.0.0.1:${redis.port}/0?password=wrongpass-secret`;
      const marks = await deploy('wrongpass', url);
      await burst(30, 0);
      await sleep(4000);
      const c = await counts();
      assert.ok(c.every((x) => x.ok >= 10 && x.failed === 0), JSON.stringify(c));
      for (const [i, r] of runtimes.entries()) assert.match(r.log(marks[i]), /WRONGPASS|NOAUTH|invalid username-password/i);
      await checkAfter('wrong password', marks, since, ['wrongpass-secret']);
    } finally {
      await clear(redis);
    }
  });

  it('a Redis host that never answers: orders wait no longer than the connect timeout, then flow on the local share', async function () {
    const since = Date.now();
    // TEST-NET-1 (RFC 5737): never routed, so the connection hangs until its timeout.
    const marks = await deploy('blackhole', 'redis://192.0.2.1:6379');
    await burst(30, 0);
    await sleep(6000);
    const c = await counts();
    assert.ok(c.every((x) => x.ok >= 10 && x.failed === 0), JSON.stringify(c));
    await checkAfter('unreachable host', marks, since);
    await clear();
  });
});
