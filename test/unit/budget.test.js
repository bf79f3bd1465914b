'use strict';
const assert = require('assert');
const { RequestBudgetImpl } = require('../../dist/lib/budget/budget');
const { budgetProblem, redisUrlProblem, sharedBudgetKey, defaultPanicReserve } = require('../../dist/lib/budget/settings');
const { SlidingWindow, TokenBucket } = require('../../dist/lib/budget/shapes');
const { InstanceShare } = require('../../dist/lib/budget/share');
const { PRIORITY, gatePriority, isPanic } = require('../../dist/lib/core/priority');
const { maskUrl } = require('../../dist/lib/core/urls');
const { busiest } = require('../support/sim');
const { sleep } = require('../support/wait');

describe('request budget settings and priorities', function () {
  it('checks its settings; a Redis URL is refused when malformed and never echoed with its password', function () {
    assert.match(budgetProblem({ limit: 0 }), /whole number/);
    assert.match(budgetProblem({ windowMs: 1 }), /window/);
    assert.match(budgetProblem({ shape: 'leaky' }), /shape/);
    assert.match(budgetProblem({ limit: 10, panicReserve: 10 }), /panic reserve/);
    assert.strictEqual(budgetProblem({ limit: 180, windowMs: 60000 }), undefined);
    assert.match(budgetProblem({ redis: { url: '', key: 'k' } }), /needs a Redis URL/);
    assert.match(budgetProblem({ redis: { url: 'http://x', key: 'k' } }), /redis:\/\//);
    assert.match(budgetProblem({ redis: { url: 'redis://host:6379', key: 'k', instances: 0 } }), /instances/);
    assert.strictEqual(budgetProblem({ redis: { url: 'redis://:pw@host:6379/2?family=6', key: 'k' } }), undefined);
    for (const url of ['redis://', 'not a url', 'redis://host/abc?password=pw123456', 'redis://host:6379/0?password=pw123456&retryStrategy=1', 'redis://host:6379/0?password=pw123456#x']) {
      const problem = redisUrlProblem(url);
      assert.ok(problem, url);
      assert.ok(!problem.includes('pw123456'), problem);
    }
    assert.throws(() => new RequestBudgetImpl({ limit: -1 }));
    assert.strictEqual(maskUrl('redis://:pw123456@host:6379/2'), 'redis://:***@host:6379/2');
    assert.strictEqual(maskUrl('redis://host:6379/2?password=pw123456&db=1'), 'redis://host:6379/2?password=***&db=1');
    const key = sharedBudgetKey('PKSECRETKEYID', 'live');
    assert.ok(!key.includes('PKSECRETKEYID') && key.startsWith('account:live:'));
    assert.deepStrictEqual([1, 2, 10, 180, 10000].map(defaultPanicReserve), [0, 1, 2, 9, 500]);
  });

  it('loads ioredis only for a shared budget', function () {
    const { execFileSync } = require('child_process');
    const probe = (options) =>
      execFileSync(process.execPath, ['-e', `
        const { RequestBudgetImpl } = require('./dist/lib/budget/budget');
        const b = new RequestBudgetImpl(${JSON.stringify(options)});
        b.schedule(async () => 1).catch(() => undefined);
        const loaded = Object.keys(require.cache).some((f) => f.includes('/node_modules/ioredis/'));
        b.stop().then(() => { process.stdout.write(String(loaded)); process.exit(0); });
      `], { cwd: require('path').resolve(__dirname, '..', '..'), encoding: 'utf8' });
    assert.strictEqual(probe({ limit: 5 }), 'false');
    assert.strictEqual(probe({ limit: 5, redis: { url: 'redis://127.0.0.1:1', key: 'probe' } }), 'true');
  });

  it('names every priority; the rate gate maps 0..9 into a band above background and below panic', function () {
    assert.ok(PRIORITY.background < PRIORITY.read && PRIORITY.read < PRIORITY.order && PRIORITY.order < PRIORITY.reconcile && PRIORITY.reconcile < PRIORITY.panic);
    const band = Array.from({ length: 10 }, (_, l) => gatePriority(l));
    for (let l = 1; l < 10; l++) assert.ok(band[l] > band[l - 1]);
    assert.ok(band[0] > PRIORITY.background && band[9] < PRIORITY.panic);
    assert.ok(band.every((p) => !isPanic(p)) && isPanic(PRIORITY.panic));
    assert.strictEqual(gatePriority(42), band[9]);
    assert.strictEqual(gatePriority(-3), band[0]);
  });
});

describe('budget shapes (injected clock)', function () {
  it('sliding window: never more than `limit` in any span, whatever the arrival pattern', function () {
    const w = new SlidingWindow(7, 1000);
    const granted = [];
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let now = 0; now < 20000; now += Math.floor(rand() * 40)) {
      if (w.take(now, 0)) granted.push(now);
    }
    assert.strictEqual(busiest(granted, 1000), 7);
    assert.ok(granted.length >= 7 * 19, `granted ${granted.length}`);
  });

  it('sliding window: says when the next token is free, keeps `keep` back, and takes refunds', function () {
    const w = new SlidingWindow(3, 1000);
    assert.ok(w.take(0, 0) && w.take(100, 0));
    assert.strictEqual(w.take(200, 1), false, 'the last token is kept');
    assert.strictEqual(w.freeAt(200, 1), 1000, 'when the entry of t=0 leaves');
    assert.ok(w.take(200, 0), 'without keep it goes');
    assert.strictEqual(w.freeAt(300, 0), 1000);
    w.refund(100);
    assert.strictEqual(w.left(300), 1);
    assert.strictEqual(w.freeAt(300, 3), Infinity);
  });

  it('sliding window: after saturate, one token at the end of the pause, the rest evenly over one span', function () {
    const w = new SlidingWindow(4, 1000);
    w.saturate(0, 500);
    assert.strictEqual(w.left(499), 0);
    const freed = [500, 750, 1000, 1250].map((t) => w.left(t));
    assert.deepStrictEqual(freed, [1, 2, 3, 4]);
  });

  it('token bucket: a burst of `limit`, then the refill; saturate leaves one token at the end of the pause', function () {
    const b = new TokenBucket(5, 500, 0);
    for (let i = 0; i < 5; i++) assert.ok(b.take(0, 0));
    assert.strictEqual(b.take(0, 0), false);
    assert.strictEqual(b.freeAt(0, 0), 100);
    assert.ok(b.take(100, 0));
    b.saturate(100, 1000);
    assert.ok(b.take(1000, 0), 'the promised retry');
    assert.strictEqual(b.take(1000, 0), false);
    assert.strictEqual(b.freeAt(1000, 0), 1100);
  });
});

describe('an instance of a shared budget while Redis is away (injected clock)', function () {
  it('allows itself its share, less what the others had taken when Redis was last reached, until that has left the window', function () {
    const mine = new InstanceShare(10, 5, 0, 1000);
    // Redis said 8 in use after this instance's one grant: the others hold 7.
    mine.granted(0, 'me:0', 8);
    const taken = [];
    for (let t = 100; t < 3000; t += 100) if (typeof mine.take(t, false) === 'string') taken.push(t);
    // Until t=1000 only 2 more (1 + 7 + 2 = 10); then its share of 5 in any window.
    assert.deepStrictEqual(taken.filter((t) => t < 1000), [100, 200]);
    assert.strictEqual(busiest([0, ...taken], 1000), 5);
    assert.ok(mine.recent(2900).every((g) => /^[0-9a-f]{8}:\d+$/.test(g.tag) || g.tag === 'me:0'), 'every grant named for Redis');
  });

  it('keeps its share of the panic reserve for panic actions', function () {
    const mine = new InstanceShare(20, 10, 4, 1000);
    let n = 0;
    while (typeof mine.take(0, false) === 'string') n++;
    assert.strictEqual(n, 8, 'share 10, 2 of them kept');
    assert.strictEqual(typeof mine.take(0, true), 'string');
    assert.strictEqual(mine.left(0, false), 1);
  });
});

describe('request budget (local)', function () {
  this.timeout(10000);
  const budgets = [];
  const make = (o) => {
    const b = new RequestBudgetImpl(o);
    budgets.push(b);
    return b;
  };
  afterEach(async () => Promise.all(budgets.splice(0).map((b) => b.stop())));

  it('default shape: never more than `limit` in any window, not even across a window boundary', async function () {
    const b = make({ limit: 3, windowMs: 300 });
    assert.strictEqual(b.state.shape, 'window');
    const t0 = Date.now();
    const starts = [];
    await Promise.all(Array.from({ length: 10 }, () => b.schedule(async () => starts.push(Date.now() - t0))));
    assert.strictEqual(busiest(starts, 300), 3, JSON.stringify(starts));
    for (let k = 3; k < 10; k++) assert.ok(starts[k] - starts[k - 3] >= 300, `calls ${k - 3} and ${k}: ${starts[k] - starts[k - 3]} ms apart`);
  });

  it('token bucket shape: a burst of `limit`, then never faster than the refill', async function () {
    const b = make({ limit: 5, windowMs: 500, shape: 'bucket' }); // one token per 100 ms
    const t0 = Date.now();
    const starts = [];
    await Promise.all(Array.from({ length: 12 }, () => b.schedule(async () => starts.push(Date.now() - t0))));
    assert.ok(starts[4] < 50, 'the burst');
    for (let k = 5; k < 12; k++) assert.ok(starts[k] >= (k - 4) * 100 - 15, `call ${k} at ${starts[k]} ms`);
  });

  it('fast path: with a token free and nothing waiting ahead, the call starts before schedule() returns', async function () {
    const b = make({ limit: 2, windowMs: 60_000 });
    let started = false;
    const p = b.schedule(async () => (started = true));
    assert.strictEqual(started, true);
    await p;
    const ticket = b.tryTicket(gatePriority(5));
    assert.ok(ticket, 'a ticket on the spot');
    ticket.spend();
    assert.strictEqual(b.tryTicket(gatePriority(5)), undefined, 'no token left');
    let late = false;
    const waiting = b.schedule(async () => (late = true), { maxWaitMs: 50 });
    assert.strictEqual(late, false);
    await assert.rejects(waiting, /waited .* longer than the 0.1 s allowed/);
  });

  it('keeps the last tokens for panic actions: new work never takes them, a panic call overtakes every waiter', async function () {
    const b = make({ limit: 5, windowMs: 60_000, panicReserve: 2 });
    const ran = [];
    for (let i = 0; i < 3; i++) await b.schedule(async () => ran.push(`order-${i}`), { priority: PRIORITY.order });
    const waiting = Array.from({ length: 20 }, (_, i) => b.schedule(async () => ran.push(`queued-${i}`), { priority: PRIORITY.order }));
    waiting.forEach((p) => p.catch(() => undefined));
    assert.strictEqual(b.tryTicket(gatePriority(9)), undefined, 'the highest gate priority cannot take the reserve');
    await sleep(20);
    assert.strictEqual(ran.length, 3);
    assert.strictEqual(b.state.queued, 20);
    let started = false;
    const cancelAll = b.schedule(async () => (started = true), { priority: PRIORITY.panic });
    assert.strictEqual(started, true, 'the panic call went at once, past 20 waiting orders');
    await cancelAll;
    await b.schedule(async () => ran.push('second panic'), { priority: PRIORITY.panic });
    assert.deepStrictEqual(ran.slice(3), ['second panic']);
    assert.strictEqual(b.state.tokens, 0);
  });

  it('a ticket carried with a msg pays for the request that msg leads to, and only for that one', async function () {
    const b = make({ limit: 10, windowMs: 3_600_000 });
    const other = make({ limit: 10, windowMs: 3_600_000 });
    const ticket = b.tryTicket(gatePriority(5));
    assert.strictEqual(b.state.tokens, 9);
    // A poll started outside the msg's work takes a token of its own.
    await b.schedule(async () => 'poll');
    assert.strictEqual(b.state.tokens, 8);
    await ticket.carry(async () => {
      await sleep(5); // the msg travels through other nodes first
      await other.schedule(async () => 'another budget'); // not this ticket's budget
      await b.schedule(async () => 'the order'); // spends the ticket
      await b.schedule(async () => 'a second request'); // takes a token
    });
    assert.strictEqual(b.state.tokens, 7);
    assert.strictEqual(other.state.tokens, 9);
  });

  it('a ticket nobody uses within its lifetime goes back to the budget', async function () {
    const b = make({ limit: 1, windowMs: 3_600_000, ticketTtlMs: 100 });
    const ticket = b.tryTicket(gatePriority(5));
    assert.ok(ticket);
    assert.strictEqual(b.state.tokens, 0);
    const next = b.requestTicket(gatePriority(5));
    const t = await next.promise;
    assert.strictEqual(b.state.tokens, 0, 'the refunded token went to the waiting request');
    t.refund();
    assert.strictEqual(b.state.tokens, 1);
    await ticket.carry(() => b.schedule(async () => undefined));
    assert.strictEqual(b.state.tokens, 0, 'the expired ticket did not pay');
  });

  it('a 429 pauses the budget, the call is retried after Retry-After, and tokens then come back at the steady rate', async function () {
    const b = make({ limit: 10, windowMs: 1000 });
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
    assert.strictEqual(b.state.rateLimited, 1);
    // Not ten at once after the pause: about one per 100 ms.
    const starts = [];
    await Promise.all(Array.from({ length: 4 }, () => b.schedule(async () => starts.push(Date.now() - t0))));
    assert.ok(starts[3] - result >= 250, `four calls within ${starts[3] - result} ms of the retry`);
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

  it('caps a pause (Retry-After of a day) at maxPauseMs', async function () {
    const b = make({ limit: 5, windowMs: 1000, maxPauseMs: 2000 });
    const t0 = Date.now();
    b.observe({ status: 429, retryAfterMs: 86_400_000 });
    assert.ok(b.state.pausedUntil <= t0 + 2100, `paused until +${b.state.pausedUntil - t0} ms`);
    assert.match(b.state.pauseReason, /429/);
  });

  it('X-RateLimit-Remaining below the local count lowers it; above it changes nothing', async function () {
    const b = make({ limit: 100, windowMs: 3_600_000 });
    await b.schedule(async () => undefined);
    b.observe({ status: 200, remaining: 500 });
    assert.strictEqual(b.state.tokens, 99);
    const lowered = new Promise((r) => b.once('lowered', r));
    b.observe({ status: 200, remaining: 3 });
    const l = await lowered;
    assert.deepStrictEqual([l.from, l.to], [99, 3]);
    assert.strictEqual(b.state.tokens, 3);
  });

  it('higher priority runs first when tokens are scarce', async function () {
    const b = make({ limit: 1, windowMs: 300, maxConcurrent: 1 });
    const order = [];
    const all = [b.schedule(async () => order.push('first'))];
    all.push(b.schedule(async () => order.push('low'), { priority: PRIORITY.background }));
    all.push(b.schedule(async () => order.push('high'), { priority: PRIORITY.order }));
    await Promise.all(all);
    assert.deepStrictEqual(order, ['first', 'high', 'low']);
  });

  it('drops the least important waiting call when too many wait, and says so', async function () {
    const b = make({ limit: 1, windowMs: 3_600_000, maxQueued: 1 });
    await b.schedule(async () => undefined);
    const dropped = new Promise((r) => b.once('dropped', r));
    const low = b.schedule(async () => 'low', { priority: PRIORITY.background });
    const high = b.schedule(async () => 'high', { priority: PRIORITY.order });
    high.catch(() => undefined);
    await assert.rejects(low, (err) => err.kind === 'rate_limit' && /more than 1 calls waiting/.test(err.message));
    assert.strictEqual((await dropped).priority, PRIORITY.background);
  });

  it('a call waiting longer than its max wait is refused unsent, saying how long it waited and why', async function () {
    const b = make({ limit: 1, windowMs: 3_600_000, maxWaitMs: 150 });
    await b.schedule(async () => undefined);
    let sent = false;
    await assert.rejects(
      b.schedule(async () => (sent = true)),
      (err) => err.kind === 'rate_limit' && /waited 0\.\d s for a token, longer than the 0\.2 s allowed \(1 requests per 3600 s in use\); the request was not sent/.test(err.message),
    );
    assert.strictEqual(sent, false);
    assert.strictEqual(b.state.queued, 0);
  });

  it('keeps its count across stop and restart (a redeploy is no free burst)', async function () {
    const b = make({ limit: 3, windowMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await b.schedule(async () => undefined);
    await b.stop();
    b.observe({ status: 200 });
    const waiting = b.schedule(async () => 'ran').then(() => 'ran', (err) => err);
    await sleep(150);
    assert.strictEqual(b.state.tokens, 0);
    assert.strictEqual(b.state.queued, 1);
    await b.stop();
    assert.match(String((await waiting).message), /stopped/);
  });
});
