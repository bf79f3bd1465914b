'use strict';
const assert = require('assert');
const { RateGate, parsePriority, parseFeedback, categoryProblems, PRESETS } = require('../../dist/lib/gate/gate');
const { gateStatus } = require('../../dist/lib/node-red/status');

/** A lane budget whose grants the test hands out one by one. */
function manualBudget() {
  const waiting = [];
  return {
    waiting,
    state: { tokens: 0, limit: 1, storeOk: true, store: 'local' },
    grant: (o) => new Promise((resolve, reject) => waiting.push({ resolve, reject, priority: o.priority })),
    give() {
      waiting.shift().resolve();
      return new Promise((r) => setImmediate(r));
    },
    fail(message) {
      waiting.shift().reject(new Error(message));
      return new Promise((r) => setImmediate(r));
    },
  };
}

function gateWith(options, budget = manualBudget()) {
  const released = [];
  const dropped = [];
  const gate = new RateGate(
    { queueSize: 10, fullPolicy: 'reject-newest', maxWaitMs: 0, credit: false, retryMs: 10, ...options },
    new Map([['main', budget]]),
    { release: (item) => released.push(item.msg), drop: (item, reason, detail) => dropped.push({ msg: item.msg, reason, detail }) },
  );
  return { gate, budget, released, dropped };
}

describe('rate gate (plain module)', function () {
  it('parses msg.priority', function () {
    assert.strictEqual(parsePriority(undefined, 5), 5);
    assert.strictEqual(parsePriority('', 4), 4);
    assert.strictEqual(parsePriority('high', 5), 8);
    assert.strictEqual(parsePriority(' LOW ', 5), 2);
    assert.strictEqual(parsePriority('7', 5), 7);
    assert.strictEqual(parsePriority(0, 5), 0);
    for (const bad of [10, -1, 2.5, 'soon', {}, true]) assert.throws(() => parsePriority(bad, 5), /msg\.priority/);
  });

  it('reads rate-limit headers in their usual forms', function () {
    const now = 1_700_000_000_000;
    assert.deepStrictEqual(parseFeedback(429, { 'Retry-After': '30', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Limit': '200' }, now), {
      status: 429, limit: 200, remaining: 0, resetAt: undefined, retryAfterMs: 30000,
    });
    assert.strictEqual(parseFeedback(200, { 'x-ratelimit-reset': '1700000060' }, now).resetAt, 1_700_000_060_000);
    assert.strictEqual(parseFeedback(200, { 'RateLimit-Reset': '5' }, now).resetAt, now + 5000);
    assert.strictEqual(parseFeedback(200, { 'x-ratelimit-reset': String(now + 7000) }, now).resetAt, now + 7000);
    assert.strictEqual(parseFeedback('429', { 'retry-after': new Date(now + 12000).toUTCString() }, now).retryAfterMs, 12000);
    assert.strictEqual(parseFeedback(200, { 'ratelimit-remaining': ['4'] }, now).remaining, 4);
    assert.throws(() => parseFeedback('ok', {}), /HTTP status/);
  });

  it('validates category tables; every preset is valid', function () {
    assert.deepStrictEqual(categoryProblems([{ name: 'a', limit: 1, window: 1, shape: 'bucket' }]), []);
    assert.match(categoryProblems([])[0], /at least one/);
    const p = categoryProblems([{ name: 'a b', limit: 1.5, window: 0, shape: 'x' }, { name: 'c', limit: 1, window: 1, shape: 'window' }, { name: 'c', limit: 1, window: 1, shape: 'window' }]);
    assert.strictEqual(p.length, 5, p.join('\n'));
    for (const [name, preset] of Object.entries(PRESETS)) assert.deepStrictEqual(categoryProblems(preset.categories), [], name);
    const ts = Object.fromEntries(PRESETS.tradestation.categories.map((c) => [c.name, c]));
    assert.deepStrictEqual([ts.accounts.limit, ts.accounts.window, ts.orders.limit, ts['quote-snapshot'].limit], [250, 300, 250, 30]);
    assert.deepStrictEqual([PRESETS.ibkr.categories[0].limit, PRESETS.ibkr.categories[0].window], [50, 1]);
  });

  it('releases the best waiting msg on each grant, one grant request at a time', async function () {
    const { gate, budget, released } = gateWith({});
    gate.push('a', 5, 'main');
    gate.push('b', 2, 'main');
    gate.push('c', 9, 'main');
    gate.push('d', 5, 'main');
    assert.strictEqual(budget.waiting.length, 1);
    assert.strictEqual(budget.waiting[0].priority, 5); // asked for 'a' before the others came
    for (let i = 0; i < 4; i++) await budget.give();
    assert.deepStrictEqual(released, ['c', 'a', 'd', 'b']);
    assert.strictEqual(gate.depth, 0);
    assert.strictEqual(budget.waiting.length, 0);
  });

  it('full queue: reject-newest, drop-oldest, drop-lowest (newest of equals; never a more important one)', function () {
    const run = (policy, items) => {
      const { gate, dropped } = gateWith({ queueSize: 2, fullPolicy: policy });
      for (const [msg, p] of items) gate.push(msg, p, 'main');
      return { dropped: dropped.map((d) => d.msg), reasons: dropped.map((d) => d.reason), depth: gate.depth };
    };
    assert.deepStrictEqual(run('reject-newest', [['a', 5], ['b', 5], ['c', 9]]).dropped, ['c']);
    assert.deepStrictEqual(run('drop-oldest', [['a', 5], ['b', 5], ['c', 1]]).dropped, ['a']);
    assert.deepStrictEqual(run('drop-lowest', [['a', 1], ['b', 1], ['c', 5]]).dropped, ['b']);
    assert.deepStrictEqual(run('drop-lowest', [['a', 5], ['b', 5], ['c', 5]]).dropped, ['c']);
    assert.deepStrictEqual(run('drop-lowest', [['a', 5], ['b', 3], ['c', 1]]).dropped, ['c']);
    const r = run('drop-oldest', [['a', 5], ['b', 5], ['c', 5], ['d', 5]]);
    assert.deepStrictEqual(r.reasons, ['queue-full', 'queue-full']);
    assert.strictEqual(r.depth, 2);
  });

  it('expires msgs older than max wait, even while no grant comes', async function () {
    const { gate, budget, released, dropped } = gateWith({ maxWaitMs: 80 });
    gate.push('old', 5, 'main');
    await new Promise((r) => setTimeout(r, 40));
    gate.push('young', 5, 'main');
    await new Promise((r) => setTimeout(r, 60));
    assert.deepStrictEqual(dropped.map((d) => [d.msg, d.reason]), [['old', 'expired']]);
    await budget.give();
    assert.deepStrictEqual(released, ['young']);
    assert.match(dropped[0].detail, /longer than the 0.08 s allowed/);
    gate.close();
  });

  it('reports a msg as unavailable when the budget cannot grant, then tries again', async function () {
    const { gate, budget, released, dropped } = gateWith({});
    gate.push('a', 5, 'main');
    gate.push('b', 5, 'main');
    await budget.fail('Redis down');
    assert.deepStrictEqual(dropped.map((d) => [d.msg, d.reason, d.detail]), [['a', 'unavailable', 'Redis down']]);
    await new Promise((r) => setTimeout(r, 30));
    await budget.give();
    assert.deepStrictEqual(released, ['b']);
  });

  it('close hands back what still waits and releases nothing after', async function () {
    const { gate, budget, released } = gateWith({});
    gate.push('a', 5, 'main');
    gate.push('b', 5, 'main');
    assert.deepStrictEqual(gate.close().map((i) => i.msg), ['a', 'b']);
    await budget.give();
    assert.deepStrictEqual(released, []);
    assert.throws(() => gate.push('c', 5, 'main'), /closed/);
  });

  it('writes a short status', function () {
    assert.deepStrictEqual(gateStatus({ tokens: 12, limit: 180, storeOk: true }, 3), { fill: 'blue', shape: 'dot', text: '12/180 tokens · queue 3' });
    assert.deepStrictEqual(gateStatus({ tokens: -4, limit: 180, storeOk: true }, 0, 'orders', 2), { fill: 'green', shape: 'dot', text: 'orders 0/180 tokens · queue 0 · 2 dropped' });
    const paused = gateStatus({ tokens: 0, limit: 1, storeOk: true, pausedUntil: Date.now() + 5000 }, 2);
    assert.strictEqual(paused.fill, 'yellow');
    assert.match(paused.text, /^paused until \d\d:\d\d:\d\d · queue 2$/);
    assert.deepStrictEqual(gateStatus({ tokens: 0, limit: 1, storeOk: false }, 1), { fill: 'red', shape: 'ring', text: 'Redis unreachable · queue 1' });
  });
});
