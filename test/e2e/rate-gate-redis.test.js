'use strict';
// Budgets shared through a real redis-server started here: two connections (as two Node-RED
// instances would have) on one key against one simulator over real sockets, and Redis failing
// every way it can: unreachable, wrong password, stalled, flushed, killed and restarted empty.
const assert = require('assert');
const Redis = require('ioredis');
const { AlpacaConnection } = require('../../dist/lib/alpaca/connection');
const { RequestBudgetImpl } = require('../../dist/lib/budget/budget');
const { PRIORITY } = require('../../dist/lib/core/priority');
const { freePort } = require('../support/nodered-process');
const { waitFor, sleep } = require('../support/wait');
const { startSim } = require('../support/sim');
const { startRedis, hasRedis } = require('../support/redis');

describe('shared request budget in Redis', function () {
  this.timeout(30000);
  let redis;
  let sim;
  const open = [];
  const budgets = [];
  const rejections = [];
  const onRejection = (err) => rejections.push(err);

  before(async function () {
    if (!hasRedis()) {
      if (process.env.CI) throw new Error('redis-server is not installed (.ci/run installs it)');
      this.skip();
    }
    redis = await startRedis();
    process.on('unhandledRejection', onRejection);
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    if (redis) await redis.stop();
  });
  beforeEach(async () => {
    sim = await startSim();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await Promise.all(budgets.splice(0).map((b) => b.stop()));
    await sim.stop();
    assert.deepStrictEqual(rejections.map(String), [], 'unhandled rejections');
  });

  function connection(key, extra = {}) {
    const c = new AlpacaConnection({
      mode: 'paper',
      keyId: sim.key,
      secret: sim.secret,
      endpoint: sim.url,
      budgetOptions: { limit: 12, windowMs: 600_000, panicReserve: 0, redis: { url: redis.url, key }, ...extra },
    });
    const user = { id: `user-${open.length}`, onConnectionStatus: () => undefined };
    c.register(user);
    open.push(c);
    return c;
  }

  function budget(options) {
    const b = new RequestBudgetImpl({ windowMs: 600_000, ...options });
    budgets.push(b);
    return b;
  }

  /** Starts `n` calls; returns a counter of those that ran. */
  function burst(b, n) {
    const ran = { count: 0 };
    for (let i = 0; i < n; i++) b.schedule(async () => ran.count++).catch(() => undefined);
    return ran;
  }

  it('two connections on one key stay under the limit together', async function () {
    const a = connection('two-instances');
    const b = connection('two-instances');
    await waitFor(() => a.status.state === 'connected' && b.status.state === 'connected', 5000, 'both connected');
    // The key allows 12 a minute and so does the shared budget; the two connection checks went
    // through the budget and used 2: 10 left for both instances together.
    await sim.faults({ rateLimitPerMinute: 12 });
    const base = await sim.stats();
    let done = 0;
    const calls = [];
    for (let i = 0; i < 8; i++) {
      calls.push(a.reads.clock().then(() => done++));
      calls.push(b.reads.clock().then(() => done++));
    }
    calls.forEach((p) => p.catch(() => undefined));
    await waitFor(() => done === 10, 10000, 'ten calls');
    // The other six wait for the shared window, never for a 429.
    await sleep(500);
    const s = await sim.stats();
    assert.strictEqual(done, 10);
    assert.strictEqual(s.requests - base.requests, 10);
    assert.strictEqual(s.rateLimited, 0);
    assert.ok(a.budget.state.store === 'redis' && a.budget.state.storeOk && b.budget.state.storeOk);
    assert.strictEqual(a.budget.state.queued + b.budget.state.queued, 6);
    assert.strictEqual(a.diagnostics().budgets.trading.queued + b.diagnostics().budgets.trading.queued, 6);
  });

  it('a 429 seen by one instance pauses the other', async function () {
    const one = budget({ limit: 100, windowMs: 1000, redis: { url: redis.url, key: 'pause-broadcast' } });
    const two = budget({ limit: 100, windowMs: 1000, redis: { url: redis.url, key: 'pause-broadcast' } });
    await one.schedule(async () => 1);
    await two.schedule(async () => 2);
    const paused = new Promise((resolve) => two.once('paused', resolve));
    one.observe({ status: 429, retryAfterMs: 800 });
    await sleep(50);
    let ranAt = 0;
    const call = two.schedule(async () => (ranAt = Date.now()));
    const p = await paused;
    assert.match(p.reason, /429.*another instance/);
    await call;
    // Not before the pause ends (a lower bound only).
    assert.ok(ranAt >= p.until - 50, `ran ${p.until - ranAt} ms early`);
  });

  it("the broker's X-RateLimit-Remaining lowers the shared budget for every instance, never counting another instance's requests twice", async function () {
    const a = budget({ limit: 10, redis: { url: redis.url, key: 'lowered' } });
    const b = budget({ limit: 10, redis: { url: redis.url, key: 'lowered' } });
    await waitFor(() => a.state.storeOk && b.state.storeOk, 5000, 'both joined');
    for (let i = 0; i < 3; i++) await a.schedule(async () => i);
    for (let i = 0; i < 3; i++) await b.schedule(async () => i);
    // The broker agrees with the shared count (6 used): nothing to lower, although a has not seen b's.
    a.observe({ status: 200, remaining: 4 });
    await sleep(200);
    assert.strictEqual(a.state.lowered, 0);
    // Another program used 3 more: b's answer says 1 left; both instances get 1 more between them.
    const lowered = new Promise((r) => b.once('lowered', r));
    b.observe({ status: 200, remaining: 1 });
    assert.deepStrictEqual(await lowered, { from: 4, to: 1, remaining: 1 });
    const fromA = burst(a, 3);
    const fromB = burst(b, 3);
    await sleep(500);
    assert.strictEqual(fromA.count + fromB.count, 1);
  });

  it('runs on a local share while Redis is unreachable, says why without its password, and rejoins when Redis comes up', async function () {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}/0?password=hunter2secret`;
    const b = budget({ limit: 10, redis: { url, key: 'late-redis', instances: 2 } });
    const events = [];
    b.on('store', (e) => events.push(e));
    const problems = [];
    b.on('problem', (p) => problems.push(p.message));
    const ran = burst(b, 8);
    await waitFor(() => ran.count === 5, 5000, 'the local share of 5');
    await sleep(200);
    assert.strictEqual(ran.count, 5, 'no more than limit / instances');
    const s = b.state;
    assert.deepStrictEqual([s.storeOk, s.share, s.queued], [false, 5, 3]);
    assert.match(s.storeProblem, /Redis redis:\/\/127\.0\.0\.1:\d+\/0\?password=\*\*\* ?: .*(ECONNREFUSED|closed)/);
    assert.ok(events.some((e) => e.ok === false && e.share === 5));
    assert.ok(problems.length > 0 && problems.every((m) => !m.includes('hunter2secret')));
    assert.ok(!JSON.stringify(s).includes('hunter2secret'));

    const late = await startRedis({ port, password: 'hunter2secret' });
    try {
      await waitFor(() => b.state.storeOk, 8000, 'rejoined');
      assert.ok(events.some((e) => e.ok === true));
      // Its 5 grants were put into the shared log: 5 more at most, within this window.
      await sleep(2000);
      assert.strictEqual(ran.count, 8);
      const other = budget({ limit: 10, redis: { url, key: 'late-redis' } });
      const more = burst(other, 5);
      await sleep(2500);
      assert.strictEqual(more.count, 2, 'the two instances together: 10');
    } finally {
      await Promise.all(budgets.splice(0).map((x) => x.stop()));
      await late.stop();
    }
  });

  it('a wrong password is a problem it reports (masked) while it runs on its local share', async function () {
    const locked = await startRedis({ password: 'right-password' });
    try {
      const url = `redis://:wrong-password@127.0.0.1:${locked.port}`;
      const b = budget({ limit: 10, redis: { url, key: 'wrong-password', instances: 5 } });
      const ran = burst(b, 4);
      await waitFor(() => ran.count === 2, 5000, 'the local share of 2');
      await waitFor(() => /WRONGPASS|NOAUTH|invalid/i.test(b.state.storeProblem || ''), 5000, 'the reason');
      assert.ok(!b.state.storeProblem.includes('wrong-password'), b.state.storeProblem);
      assert.strictEqual(ran.count, 2);
    } finally {
      await Promise.all(budgets.splice(0).map((x) => x.stop()));
      await locked.stop();
    }
  });

  it('a server that accepts the connection but never answers: the local share within seconds, the wait reported', async function () {
    const net = require('net');
    const sockets = [];
    const mute = net.createServer((socket) => sockets.push(socket));
    await new Promise((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const b = budget({ limit: 10, redis: { url: `redis://127.0.0.1:${mute.address().port}`, key: 'mute', instances: 2 } });
      const t0 = Date.now();
      await b.schedule(async () => 1);
      assert.ok(Date.now() - t0 < 8000, `granted after ${Date.now() - t0} ms`);
      assert.strictEqual(b.state.storeOk, false);
      assert.match(b.state.storeProblem, /timed out|no answer/);
    } finally {
      await Promise.all(budgets.splice(0).map((x) => x.stop()));
      sockets.forEach((socket) => socket.destroy());
      await new Promise((r) => mute.close(r));
    }
  });

  /** The names of the grants in a shared window budget's log in Redis. */
  async function grantsIn(url, key) {
    const admin = new Redis(url);
    try {
      return await admin.zrange(`tradeflow:budget:{${key}}:log`, 0, -1);
    } finally {
      admin.disconnect();
    }
  }

  it('a grant asked for while Redis stalled past the command timeout goes back once Redis answers again', async function () {
    const own = await startRedis();
    try {
      const b = budget({ limit: 10, redis: { url: own.url, key: 'stall' } });
      await waitFor(() => b.state.storeOk, 5000, 'joined');
      for (let i = 0; i < 2; i++) await b.schedule(async () => 'sent');
      own.freeze();
      // The question times out (Redis never answered), so the call goes out on the instance's local share.
      assert.strictEqual(await b.schedule(async () => 'sent'), 'sent');
      own.thaw();
      await waitFor(() => b.state.storeOk, 8000, 'rejoined');
      // Redis ran the timed-out question once it woke: that grant was never used and must not count.
      const log = await waitFor(async () => {
        const members = await grantsIn(own.url, 'stall');
        return members.length === 3 && members;
      }, 5000, 'three grants in Redis, one per call sent');
      assert.strictEqual(new Set(log).size, 3);
    } finally {
      own.thaw();
      await Promise.all(budgets.splice(0).map((x) => x.stop()));
      await own.stop();
    }
  });

  it('an instance waiting for a token takes one another instance gave back within about a second', async function () {
    const a = budget({ limit: 4, panicReserve: 0, redis: { url: redis.url, key: 'give-back' } });
    const b = budget({ limit: 4, panicReserve: 0, redis: { url: redis.url, key: 'give-back' } });
    await waitFor(() => a.state.storeOk && b.state.storeOk, 5000, 'both joined');
    const held = await a.requestTicket(PRIORITY.read).promise;
    await a.schedule(async () => 'sent');
    for (let i = 0; i < 2; i++) await b.schedule(async () => 'sent');
    assert.strictEqual((await grantsIn(redis.url, 'give-back')).length, 4, 'the shared budget is spent');
    let sent = false;
    const waiting = b.schedule(async () => (sent = true));
    await sleep(300);
    assert.strictEqual(sent, false, 'no token for the fifth call');
    // A's msg went nowhere: its token goes back, and B (told to wait ten minutes) takes it.
    held.refund();
    await waitFor(() => sent, 3000, 'the waiting call to take the token given back');
    await waiting;
  });

  it('Redis flushed while in use: every instance puts its grants back, never more than the limit together', async function () {
    const a = budget({ limit: 10, redis: { url: redis.url, key: 'flushed' } });
    const b = budget({ limit: 10, redis: { url: redis.url, key: 'flushed' } });
    await waitFor(() => a.state.storeOk && b.state.storeOk, 5000, 'both joined');
    const fromA = burst(a, 6);
    await waitFor(() => fromA.count === 6, 5000, 'six from a');
    const admin = new Redis(redis.url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    const fromB = burst(b, 10);
    await sleep(3000);
    assert.strictEqual(fromB.count, 4, 'b got what a had not used');
    assert.ok(a.state.storeOk && b.state.storeOk);
  });

  it('Redis killed and restarted empty: each falls back, then rejoins with its grants, never more than the limit together', async function () {
    const own = await startRedis();
    try {
      const a = budget({ limit: 10, redis: { url: own.url, key: 'restarted', instances: 2 } });
      const b = budget({ limit: 10, redis: { url: own.url, key: 'restarted', instances: 2 } });
      await waitFor(() => a.state.storeOk && b.state.storeOk, 5000, 'both joined');
      const fromA = burst(a, 6);
      await waitFor(() => fromA.count === 6, 5000, 'six from a');
      await own.kill();
      // Down: b knows a took 6 when it last asked Redis... b never asked after a's burst, so it
      // runs on its share of 5, less nothing. What matters is what comes after the restart.
      await waitFor(() => !a.state.storeOk && !b.state.storeOk, 5000, 'both see Redis down');
      const back = await startRedis({ port: own.port });
      try {
        await waitFor(() => a.state.storeOk && b.state.storeOk, 8000, 'both rejoined');
        const fromB = burst(b, 10);
        await sleep(3000);
        assert.strictEqual(fromB.count, 4, 'b got what a had not used');
      } finally {
        await Promise.all(budgets.splice(0).map((x) => x.stop()));
        await back.stop();
      }
    } finally {
      await own.stop();
    }
  });
});
