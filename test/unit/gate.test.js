'use strict';
const assert = require('assert');
const { RateGate, parsePriority, parseFeedback, categoryProblems, PRESETS } = require('../../dist/lib/gate/gate');
const { gateStatus } = require('../../dist/lib/node-red/status');
const { gatePriority } = require('../../dist/lib/core/priority');
const { sleep } = require('../support/wait');

/** A lane budget whose tickets the test hands out one by one (`free` are granted on the spot). */
function manualBudget(free = 0) {
  const waiting = [];
  const tickets = { spent: 0, refunded: 0 };
  const ticket = () => ({ spend: () => tickets.spent++, refund: () => tickets.refunded++, carry: (f) => f() });
  const budget = {
    waiting,
    tickets,
    free,
    state: { tokens: 0, limit: 1, storeOk: true, store: 'local' },
    tryTicket: () => (budget.free > 0 ? (budget.free--, ticket()) : undefined),
    requestTicket(priority) {
      const entry = { priority, cancelled: false };
      const promise = new Promise((resolve, reject) => Object.assign(entry, { resolve, reject }));
      waiting.push(entry);
      const cancel = () => {
        entry.cancelled = true;
        if (waiting.includes(entry)) waiting.splice(waiting.indexOf(entry), 1);
        entry.reject(new Error('withdrawn'));
      };
      return { promise, raise: (p) => (entry.priority = p), cancel };
    },
    give() {
      waiting.shift().resolve(ticket());
      return new Promise((r) => setImmediate(r));
    },
    fail(message) {
      waiting.shift().reject(new Error(message));
      return new Promise((r) => setImmediate(r));
    },
  };
  return budget;
}

function gateWith(options, budget = manualBudget()) {
  const released = [];
  const dropped = [];
  const gate = new RateGate(
    { queueSize: 10, fullPolicy: 'reject-newest', maxWaitMs: 0, retryMs: 10, ...options },
    new Map([['main', budget]]),
    { release: (item, waited, ticket) => released.push(item.msg) && ticket, drop: (item, reason, detail) => dropped.push({ msg: item.msg, reason, detail }) },
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
    assert.strictEqual(parsePriority('highest', 5), 9);
    for (const bad of [10, -1, 2.5, 'soon', {}, true, '__proto__', 'constructor', 'toString', ' 1e0', '0x5']) assert.throws(() => parsePriority(bad, 5), /msg\.priority/);
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

  it('releases the best waiting msg on each ticket, asking for one ticket at a time, raised for a better msg', async function () {
    const { gate, budget, released } = gateWith({});
    gate.push('a', 5, 'main');
    gate.push('b', 2, 'main');
    gate.push('c', 9, 'main');
    gate.push('d', 5, 'main');
    assert.strictEqual(budget.waiting.length, 1);
    assert.strictEqual(budget.waiting[0].priority, gatePriority(9), 'asked for a at 5, raised when c (9) came');
    for (let i = 0; i < 4; i++) await budget.give();
    assert.deepStrictEqual(released, ['c', 'a', 'd', 'b']);
    assert.strictEqual(gate.depth, 0);
    assert.strictEqual(budget.waiting.length, 0);
  });

  it('fast path: a msg that finds its lane empty and a token free is released inside push()', function () {
    const { gate, budget, released } = gateWith({}, manualBudget(2));
    gate.push('a', 5, 'main');
    assert.deepStrictEqual(released, ['a']);
    gate.push('b', 5, 'main');
    gate.push('c', 5, 'main');
    assert.deepStrictEqual(released, ['a', 'b']);
    assert.strictEqual(gate.depth, 1);
    assert.strictEqual(budget.waiting.length, 1);
  });

  it('withdraws its ticket request when nothing waits any more, and gives back a ticket that came too late', async function () {
    const { gate, budget, dropped } = gateWith({ maxWaitMs: 30 });
    gate.push('a', 5, 'main');
    const request = budget.waiting[0];
    await sleep(60);
    assert.deepStrictEqual(dropped.map((d) => d.reason), ['expired']);
    assert.strictEqual(request.cancelled, true);
    gate.push('b', 5, 'main');
    // The ticket is granted, and the gate closes before it arrives.
    const arrived = budget.give();
    gate.close();
    await arrived;
    assert.strictEqual(budget.tickets.refunded, 1);
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
    await sleep(40);
    gate.push('young', 5, 'main');
    await sleep(60);
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
    await budget.fail('budget stopped');
    assert.deepStrictEqual(dropped.map((d) => [d.msg, d.reason, d.detail]), [['a', 'unavailable', 'budget stopped']]);
    await sleep(30);
    await budget.give();
    assert.deepStrictEqual(released, ['b']);
  });

  it('close hands back what still waits and releases nothing after', async function () {
    const { gate, budget, released } = gateWith({});
    gate.push('a', 5, 'main');
    gate.push('b', 5, 'main');
    assert.deepStrictEqual(gate.close().map((i) => i.msg), ['a', 'b']);
    assert.strictEqual(budget.waiting.length, 0, 'its ticket request withdrawn');
    assert.deepStrictEqual(released, []);
    assert.throws(() => gate.push('c', 5, 'main'), /closed/);
  });

  it('writes a short status', function () {
    assert.deepStrictEqual(gateStatus({ tokens: 12, limit: 180, storeOk: true }, 3), { fill: 'blue', shape: 'dot', text: '12/180 tokens · queue 3' });
    assert.deepStrictEqual(gateStatus({ tokens: -4, limit: 180, storeOk: true }, 0, 'orders', 2), { fill: 'green', shape: 'dot', text: 'orders 0/180 tokens · queue 0 · 2 dropped' });
    const paused = gateStatus({ tokens: 0, limit: 1, storeOk: true, pausedUntil: Date.now() + 5000 }, 2);
    assert.strictEqual(paused.fill, 'yellow');
    assert.match(paused.text, /^paused until \d\d:\d\d:\d\d · queue 2$/);
    assert.deepStrictEqual(gateStatus({ tokens: 40, limit: 180, storeOk: false, share: 90 }, 1), { fill: 'yellow', shape: 'ring', text: 'Redis down: local share 40/90 · queue 1' });
  });
});
