'use strict';
const assert = require('assert');
const { RequestBudgetImpl, clampPriority, budgetProblem, sharedBudgetKey } = require('../../dist/lib/budget/budget');
const { maskUrl } = require('../../dist/lib/core/urls');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('request budget (local)', function () {
  this.timeout(10000);
  const budgets = [];
  const make = (o) => {
    const b = new RequestBudgetImpl(o);
    budgets.push(b);
    return b;
  };
  afterEach(async () => Promise.all(budgets.splice(0).map((b) => b.stop())));

  it('checks its settings and maps priorities', function () {
    assert.match(budgetProblem({ limit: 0 }), /whole number/);
    assert.match(budgetProblem({ windowMs: 1 }), /window/);
    assert.match(budgetProblem({ redis: { url: 'http://x', key: 'k' } }), /redis:\/\//);
    assert.strictEqual(budgetProblem({ limit: 180, windowMs: 60000 }), undefined);
    assert.throws(() => new RequestBudgetImpl({ limit: -1 }));
    assert.strictEqual(clampPriority(undefined), 5);
    assert.strictEqual(clampPriority(42), 9);
    assert.strictEqual(clampPriority(-3), 0);
    assert.strictEqual(maskUrl('redis://:pw123456@host:6379/2'), 'redis://:***@host:6379/2');
    assert.strictEqual(maskUrl('redis://host:6379/2?password=pw123456&db=1'), 'redis://host:6379/2?password=***&db=1');
    const key = sharedBudgetKey('PKSECRETKEYID', 'live');
    assert.ok(!key.includes('PKSECRETKEYID') && key.startsWith('account:live:'));
  });

  it('lets a burst of `limit` through, then never faster than the refill (token bucket)', async function () {
    const b = make({ limit: 5, windowMs: 500 }); // one token per 100 ms
    const t0 = Date.now();
    const starts = [];
    await Promise.all(Array.from({ length: 12 }, () => b.schedule(async () => starts.push(Date.now() - t0))));
    assert.strictEqual(starts.length, 12);
    // Call k (k >= 5) needs k - 4 refilled tokens: at least (k - 4) * 100 ms.
    for (let k = 5; k < 12; k++) assert.ok(starts[k] >= (k - 4) * 100 - 15, `call ${k} at ${starts[k]} ms`);
  });

  it('window shape: never more than `limit` in any window', async function () {
    const b = make({ limit: 2, windowMs: 300, shape: 'window' });
    const t0 = Date.now();
    const starts = [];
    await Promise.all(Array.from({ length: 6 }, () => b.schedule(async () => starts.push(Date.now() - t0))));
    for (let k = 2; k < 6; k++) assert.ok(starts[k] - starts[k - 2] >= 300, `calls ${k - 2} and ${k}: ${starts[k] - starts[k - 2]} ms apart`);
  });

  it('a 429 pauses the budget and the call is retried after Retry-After, once', async function () {
    const b = make({ limit: 50, windowMs: 1000 });
    const events = [];
    b.on('paused', (p) => events.push(['paused', p.status, p.until]));
    b.on('resumed', () => events.push(['resumed']));
    let calls = 0;
    const t0 = Date.now();
    const result = await b.schedule(async () => {
      calls++;
      if (calls === 1) throw Object.assign(new Error('rate limit'), { status: 429, retryAfterMs: 400 });
      return Date.now() - t0;
    });
    assert.strictEqual(calls, 2);
    assert.ok(result >= 390, `retried after ${result} ms`);
    assert.strictEqual(events[0][0], 'paused');
    assert.strictEqual(events[0][1], 429);
    await b.refresh();
    assert.strictEqual(b.state.rateLimited, 1);
  });

  it('gives up after max429Retries and passes the 429 on', async function () {
    const b = make({ limit: 50, windowMs: 1000, max429Retries: 1 });
    let calls = 0;
    await assert.rejects(
      b.schedule(async () => {
        calls++;
        throw Object.assign(new Error('still limited'), { status: 429, retryAfterMs: 50 });
      }),
      /still limited/,
    );
    assert.strictEqual(calls, 2);
  });

  it('X-RateLimit-Remaining below the local count lowers it; above it changes nothing', async function () {
    const b = make({ limit: 100, windowMs: 3_600_000 });
    await b.schedule(async () => undefined);
    b.observe({ status: 200, remaining: 500 });
    await sleep(50);
    assert.strictEqual((await b.refresh()).tokens, 99);
    const lowered = new Promise((r) => b.once('lowered', r));
    b.observe({ status: 200, remaining: 3 });
    const l = await lowered;
    assert.deepStrictEqual([l.from, l.to], [99, 3]);
    assert.strictEqual((await b.refresh()).tokens, 3);
  });

  it('a granted credit pays for the next call instead of a second token', async function () {
    const b = make({ limit: 10, windowMs: 3_600_000 });
    await b.grant({ credit: true });
    await b.schedule(async () => undefined);
    assert.strictEqual((await b.refresh()).tokens, 9);
    await b.grant({ credit: false });
    await b.schedule(async () => undefined);
    assert.strictEqual((await b.refresh()).tokens, 7);
  });

  it('higher priority runs first when tokens are scarce', async function () {
    const b = make({ limit: 1, windowMs: 300, maxConcurrent: 1 });
    const order = [];
    const all = [b.schedule(async () => order.push('first'))];
    all.push(b.schedule(async () => order.push('low'), { priority: 1 }));
    all.push(b.schedule(async () => order.push('high'), { priority: 9 }));
    await Promise.all(all);
    assert.deepStrictEqual(order, ['first', 'high', 'low']);
  });

  it('drops the least important waiting call when too many wait, and says so', async function () {
    const b = make({ limit: 1, windowMs: 3_600_000, maxQueued: 1 });
    await b.schedule(async () => undefined);
    const dropped = new Promise((r) => b.once('dropped', r));
    const low = b.schedule(async () => 'low', { priority: 1 });
    const high = b.schedule(async () => 'high', { priority: 8 });
    high.catch(() => undefined);
    await assert.rejects(low, (err) => err.kind === 'rate_limit');
    assert.strictEqual((await dropped).priority, 1);
  });

  it('keeps its count across stop and restart (a redeploy is no free burst)', async function () {
    const b = make({ limit: 3, windowMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await b.schedule(async () => undefined);
    await b.stop();
    b.observe({ status: 200 });
    const waiting = b.schedule(async () => 'ran').then(() => 'ran', (err) => err);
    await sleep(150);
    assert.strictEqual((await b.refresh()).tokens, 0);
    assert.strictEqual(b.state.queued, 1);
    await b.stop();
    assert.match(String((await waiting).message), /stopped/);
  });
});
