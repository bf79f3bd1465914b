'use strict';
// Two connections (as two Node-RED instances would have) trading one key share ONE request budget
// through a real redis-server started here, against one simulator over real sockets.
const assert = require('assert');
const { AlpacaConnection } = require('../../dist/lib/alpaca/connection');
const { RequestBudgetImpl } = require('../../dist/lib/budget/budget');
const { startSim, waitFor } = require('../support/sim');
const { startRedis, hasRedis } = require('../support/redis');

describe('shared request budget in Redis', function () {
  this.timeout(30000);
  let redis;
  let sim;
  const open = [];

  before(async function () {
    if (!hasRedis()) {
      if (process.env.CI) throw new Error('redis-server is not installed (.ci/run installs it)');
      this.skip();
    }
    redis = await startRedis();
  });
  after(() => redis && redis.stop());
  beforeEach(async () => {
    sim = await startSim();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await sim.stop();
  });

  function connection(key, extra = {}) {
    const c = new AlpacaConnection({
      mode: 'paper',
      keyId: sim.key,
      secret: sim.secret,
      endpoint: sim.url,
      budgetOptions: { limit: 12, windowMs: 600_000, redis: { url: redis.url, key }, ...extra },
    });
    const user = { id: `user-${open.length}`, onConnectionStatus: () => undefined };
    c.register(user);
    open.push(c);
    return c;
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
    await waitFor(() => done === 10, 10000, 'ten calls');
    // The other six wait for the shared refill (one per minute), never for a 429.
    await new Promise((r) => setTimeout(r, 500));
    const s = await sim.stats();
    assert.strictEqual(done, 10);
    assert.strictEqual(s.requests - base.requests, 10);
    assert.strictEqual(s.rateLimited, 0);
    assert.ok(a.budget.state.store === 'redis' && b.budget.state.store === 'redis');
    const queued = (await a.budget.refresh()).queued + (await b.budget.refresh()).queued;
    assert.strictEqual(queued, 6);
    calls.forEach((p) => p.catch(() => undefined));
  });

  it('a 429 seen by one instance pauses the other', async function () {
    const one = new RequestBudgetImpl({ limit: 100, windowMs: 1000, redis: { url: redis.url, key: 'pause-broadcast' } });
    const two = new RequestBudgetImpl({ limit: 100, windowMs: 1000, redis: { url: redis.url, key: 'pause-broadcast' } });
    try {
      await one.schedule(async () => 1);
      await two.schedule(async () => 2);
      const paused = new Promise((resolve) => two.once('paused', resolve));
      const resumed = new Promise((resolve) => two.once('resumed', resolve));
      one.observe({ status: 429, retryAfterMs: 800 });
      const p = await paused;
      assert.match(p.reason, /another instance/);
      assert.strictEqual(p.status, 429);
      const started = Date.now();
      let ranAt = 0;
      const call = two.schedule(async () => (ranAt = Date.now()));
      await resumed;
      await call;
      // Not before the pause ends (a lower bound only).
      assert.ok(ranAt >= p.until - 50, `ran ${p.until - ranAt} ms early (${ranAt - started} ms after asking)`);
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it('fails fast with a clear error when Redis is unreachable, never revealing its password', async function () {
    const budget = new RequestBudgetImpl({ limit: 5, windowMs: 1000, redis: { url: 'redis://:hunter2secret@127.0.0.1:1/0', key: 'dead' } });
    const problems = [];
    budget.on('problem', (p) => problems.push(p.message));
    try {
      await assert.rejects(budget.schedule(async () => 1), (err) => {
        assert.strictEqual(err.kind, 'network');
        assert.match(err.message, /Redis redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 unreachable/);
        assert.ok(!err.message.includes('hunter2secret'));
        return true;
      });
      assert.ok(problems.every((m) => !m.includes('hunter2secret')));
      assert.strictEqual(budget.state.storeOk, false);
    } finally {
      await budget.stop();
    }
  });
});
