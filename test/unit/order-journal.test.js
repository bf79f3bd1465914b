'use strict';
// The order journal and what stands on it, without Node-RED or a broker: the file (torn lines,
// compaction), the journal's entries across a reload, retention, the msg copy it may keep,
// recovery against a hand-made executor (it is the executor's interface, not ours), the report
// desk, the gateway's one-order-per-key rule and the rate gate's held msgs.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { JournalFile, msgEcho, fileSafe } = require('../../dist/lib/core/journal-file');
const { HeldMsgs } = require('../../dist/lib/core/held-msgs');
const { OrderJournal } = require('../../dist/lib/orders/journal');
const { newClientOrderId, isFreshClientOrderId } = require('../../dist/lib/orders/client-order-id');
const { reconcile, ReportDesk } = require('../../dist/lib/orders/recovery');
const { OrderGateway } = require('../../dist/lib/orders/gateway');
const { BrokerError } = require('../../dist/lib/core/errors');
const { BrokerClock } = require('../../dist/lib/core/broker-clock');

const ORDER = { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'market', timeInForce: 'day', orderClass: 'simple', extendedHours: false, qty: 1 };
const origin = { nodeId: 'node1', name: 'order node "n"' };

function tmpFile(name = 'journal.jsonl') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-journal-unit-'));
  return { dir, file: path.join(dir, 'alpaca-journal', name), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const order = (clientOrderId, status = 'new') => ({ order: { id: `id-${clientOrderId}`, clientOrderId, status, symbol: 'AAPL' }, raw: { id: `id-${clientOrderId}`, client_order_id: clientOrderId } });

/** An executor that knows `orders` (client order id -> order) and records what it was asked. */
function fakeExecutor(orders = new Map(), late = new Map(), complete = true) {
  const calls = [];
  let listings = 0;
  return {
    calls,
    orders,
    async submit(o, clientOrderId, options = {}) {
      calls.push(['submit', clientOrderId]);
      if (options.beforeSend) await options.beforeSend();
      const placed = order(clientOrderId);
      orders.set(clientOrderId, placed);
      return { outcome: 'placed', reconciled: false, clientOrderId, attempts: [{ step: 'submit', ok: true, status: 200 }], ...placed };
    },
    async fetch(ref, attempts = []) {
      calls.push(['fetch', ref.clientOrderId || ref.orderId]);
      attempts.push({ step: 'lookup' });
      const found = orders.get(ref.clientOrderId);
      if (!found) throw new BrokerError('not found', 'not_found', 404);
      return found;
    },
    async recentOrders(since, attempts = []) {
      calls.push(['list']);
      attempts.push({ step: 'list' });
      // Orders still on their way appear from the second listing on.
      if (listings++ === 1) for (const [k, v] of late) orders.set(k, v);
      return { orders: [...orders.values()], complete };
    },
  };
}

describe('journal file', function () {
  it('skips a torn last line and damaged lines, counting them; never throws', function () {
    const t = tmpFile();
    try {
      fs.mkdirSync(path.dirname(t.file), { recursive: true });
      fs.writeFileSync(t.file, '{"r":"ask","n":1}\nnot json\n[1,2]\n{"r":"ask","n":2}\n{"r":"ask","n":');
      const loaded = new JournalFile(t.file).load();
      assert.deepStrictEqual(loaded.records.map((r) => r.n), [1, 2]);
      assert.strictEqual(loaded.skipped, 3);
      assert.match(loaded.problem, /3 damaged or truncated line/);
    } finally {
      t.cleanup();
    }
  });

  it('appends records one per line and compacts atomically to just the records given', function () {
    const t = tmpFile();
    try {
      const f = new JournalFile(t.file);
      f.load();
      f.append({ a: 1 });
      f.append({ a: 2 });
      assert.strictEqual(fs.readFileSync(t.file, 'utf8'), '{"a":1}\n{"a":2}\n');
      f.compact([{ b: 1 }]);
      f.append({ b: 2 });
      assert.strictEqual(fs.readFileSync(t.file, 'utf8'), '{"b":1}\n{"b":2}\n');
      assert.strictEqual(fs.statSync(t.file).mode & 0o777, 0o600);
      assert.ok(!fs.existsSync(`${t.file}.compacting`));
      return f.flush();
    } finally {
      t.cleanup();
    }
  });

  it('keeps of a msg only a JSON-safe, capped copy: no req/res, no secret-looking keys, no internals', function () {
    const cyclic = { a: 1 };
    cyclic.self = cyclic;
    const echo = msgEcho({
      _msgid: 'm1',
      _session: { id: 'ws' },
      topic: 't',
      req: { socket: {} },
      res: { end() {} },
      payload: { symbol: 'AAPL', passphrase: 'hunter2', nested: { apiKey: 'k', ok: true }, big: 10n, when: new Date(0), buf: Buffer.from('x'), cyclic },
      token: 'abc',
    });
    assert.deepStrictEqual(echo, { _msgid: 'm1', topic: 't', payload: { symbol: 'AAPL', nested: { ok: true }, when: '1970-01-01T00:00:00.000Z', cyclic: { a: 1 } } });
    const big = msgEcho({ _msgid: 'm2', topic: 'x', payload: 'y'.repeat(20000) });
    assert.deepStrictEqual(big, { truncated: true, _msgid: 'm2', topic: 'x' });
    assert.strictEqual(fileSafe('../../etc/passwd'), '______etc_passwd');
  });
});

describe('order journal', function () {
  it('an entry asked, sent and answered but not reported is unfinished after a reload; a reported one is not, and keeps only what duplicate detection needs', function () {
    const t = tmpFile();
    try {
      const j = new OrderJournal({ file: t.file });
      j.ask({ id: 'a', action: 'submit', at: 1, origin: 'x', summary: 'buy 1 AAPL', order: ORDER });
      j.ask({ id: 'b', action: 'submit', at: 2, origin: 'x', summary: 'buy 1 AAPL' });
      j.ask({ id: 'c', action: 'submit', at: 3, origin: 'x', summary: 'buy 1 AAPL', order: ORDER, msg: { payload: { symbol: 'AAPL', note: 'x'.repeat(2000) } } });
      j.sent('b');
      j.sent('c');
      j.answer('c', 'placed', 'id-c');
      j.reported('c');
      assert.deepStrictEqual([j.get('c').msg, j.get('c').order], [undefined, undefined], 'a reported entry keeps no copy of its msg or order');
      j.close();
      const again = new OrderJournal({ file: t.file });
      assert.deepStrictEqual(again.unfinished.map((e) => [e.id, e.stage]), [['a', 'held'], ['b', 'sent']]);
      assert.deepStrictEqual(again.unfinished[0].order, ORDER);
      assert.strictEqual(again.get('c').outcome, 'placed');
      assert.strictEqual(again.get('c').orderId, 'id-c');
      assert.strictEqual(again.get('c').msg, undefined);
      assert.ok(fs.statSync(t.file).size < 1000, `the compacted file holds no msg copy of a reported entry: ${fs.statSync(t.file).size} bytes`);
      assert.strictEqual(again.backlog, 2);
      assert.strictEqual(again.loadProblem, undefined);
    } finally {
      t.cleanup();
    }
  });

  it('keeps a reported entry 10 minutes, and for the retention period only when its client order id can come again (a key, an id of the user\'s)', function () {
    const t = tmpFile();
    let now = Date.parse('2026-01-01T00:00:00Z');
    try {
      const j = new OrderJournal({ file: t.file, now: () => now });
      const fresh = newClientOrderId();
      const entries = [
        [fresh, 'submit', 'placed'],
        ['k-sig1-0123456789abcdef', 'submit', 'placed'],
        ['users-own', 'replace', 'duplicate'],
        ['refused', 'submit', 'not_placed'],
        ['cancel-1', 'cancel', 'ok'],
      ];
      for (const [id, action, outcome] of entries) {
        j.ask({ id, action, at: now, origin: 'x', summary: 's', msg: { payload: 'p' } });
        j.answer(id, outcome, outcome === 'placed' ? `o-${id}` : undefined);
        j.reported(id);
      }
      const ids = entries.map(([id]) => id);
      assert.deepStrictEqual(ids.filter((id) => j.get(id)), ids, 'all kept at first');
      assert.strictEqual(isFreshClientOrderId(fresh), true);
      assert.strictEqual(isFreshClientOrderId(`${fresh}x`), false);
      j.close();
      now += 11 * 60_000;
      const again = new OrderJournal({ file: t.file, now: () => now });
      assert.deepStrictEqual(ids.filter((id) => again.get(id)), ['k-sig1-0123456789abcdef', 'users-own'], 'after 10 minutes (compacted at load)');
      assert.strictEqual(again.uncleanSince, undefined, 'closed cleanly');
    } finally {
      t.cleanup();
    }
  });

  it('an unclean stop (never closed) is told at the next start, from its last record, until swept; a second stop before the sweep keeps the earlier time', function () {
    const t = tmpFile();
    let now = Date.parse('2026-01-01T10:00:00Z');
    try {
      const j = new OrderJournal({ file: t.file, now: () => now });
      j.ask({ id: newClientOrderId(), action: 'submit', at: now, origin: 'x', summary: 's' });
      const lastAt = now + 5000;
      j.ask({ id: 'b', action: 'submit', at: lastAt, origin: 'x', summary: 's' });
      // Killed: no close. Hours later the power is back.
      now += 4 * 3600_000;
      const second = new OrderJournal({ file: t.file, now: () => now });
      assert.strictEqual(second.uncleanSince, lastAt);
      // Killed again before it looked: the earlier time still counts.
      now += 60_000;
      const third = new OrderJournal({ file: t.file, now: () => now });
      assert.strictEqual(third.uncleanSince, lastAt);
      third.swept();
      assert.strictEqual(third.uncleanSince, undefined);
      third.close();
      assert.strictEqual(new OrderJournal({ file: t.file, now: () => now }).uncleanSince, undefined, 'swept and closed');
    } finally {
      t.cleanup();
    }
  });

  it('an order of ours goes out without waiting for the disk; anything else waits until its record is on disk', async function () {
    const t = tmpFile();
    try {
      const j = new OrderJournal({ file: t.file });
      const fresh = newClientOrderId();
      for (const id of [fresh, 'k-sig-0123456789abcdef', 'users-own']) j.ask({ id, action: 'submit', at: 1, origin: 'x', summary: 's' });
      j.ask({ id: 'cancel-1', action: 'cancel', at: 1, origin: 'x', summary: 's' });
      const releases = [];
      j.store.flush = () => new Promise((resolve) => releases.push(resolve)); // a disk that takes its time
      const gone = async (id) => Promise.race([j.sent(id).then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]);
      assert.deepStrictEqual([await gone(fresh), await gone('k-sig-0123456789abcdef'), await gone('users-own'), await gone('cancel-1')], [true, true, false, false]);
      // The ones that did not wait still had their sync started, once they had gone.
      assert.strictEqual(releases.length, 4);
      for (const release of releases) release();
      j.close();
    } finally {
      t.cleanup();
    }
  });

  it('a truncated file is reported and the rest used; the torn line does not swallow the next record', function () {
    const t = tmpFile();
    try {
      const j = new OrderJournal({ file: t.file });
      j.ask({ id: 'a', action: 'submit', at: 1, origin: 'x', summary: 's' });
      j.close();
      fs.appendFileSync(t.file, '{"r":"ask","e":{"id":"b","act');
      const j2 = new OrderJournal({ file: t.file });
      assert.match(j2.loadProblem, /1 damaged or truncated line/);
      assert.deepStrictEqual(j2.unfinished.map((e) => e.id), ['a']);
      j2.ask({ id: 'c', action: 'submit', at: 2, origin: 'x', summary: 's' });
      j2.close();
      const j3 = new OrderJournal({ file: t.file });
      assert.strictEqual(j3.loadProblem, undefined);
      assert.deepStrictEqual(j3.unfinished.map((e) => e.id), ['a', 'c']);
    } finally {
      t.cleanup();
    }
  });

  it('keeps reported entries for the retention period only, and the trade-updates cursor', function () {
    const t = tmpFile();
    let now = Date.parse('2026-01-01T00:00:00Z');
    try {
      const j = new OrderJournal({ file: t.file, retentionDays: 1, now: () => now });
      j.ask({ id: 'old', action: 'submit', at: now, origin: 'x', summary: 's' });
      j.answer('old', 'placed', 'o1', true);
      now += 2 * 86_400_000;
      j.ask({ id: 'new', action: 'submit', at: now, origin: 'x', summary: 's' });
      j.answer('new', 'placed', 'o2', true);
      j.saveCursor({ at: 12345 });
      j.close();
      const again = new OrderJournal({ file: t.file, retentionDays: 1, now: () => now });
      assert.strictEqual(again.get('old'), undefined, 'older than the retention');
      assert.strictEqual(again.get('new').orderId, 'o2');
      assert.deepStrictEqual(again.cursor, { at: 12345 });
      assert.strictEqual(fs.readFileSync(t.file, 'utf8').trim().split('\n').length, 2, 'compacted at load');
    } finally {
      t.cleanup();
    }
  });

  it('refuses new requests when it cannot write, and after close', function () {
    const t = tmpFile();
    try {
      const j = new OrderJournal({ file: t.file });
      const problems = [];
      j.on('problem', (p) => problems.push(p));
      fs.rmSync(path.dirname(t.file), { recursive: true });
      fs.writeFileSync(path.dirname(t.file), 'a file where the folder was');
      j.close();
      const broken = new OrderJournal({ file: t.file });
      assert.match(broken.loadProblem, /cannot be used/);
      assert.throws(() => broken.ask({ id: 'x', action: 'submit', at: 1, origin: 'x', summary: 's' }), /cannot be used/);
      assert.throws(() => j.ask({ id: 'y', action: 'submit', at: 1, origin: 'x', summary: 's' }), /closing/);
    } finally {
      t.cleanup();
    }
  });
});

describe('recovery after a restart', function () {
  const entry = (id, stage, extra = {}) => ({ id, action: 'submit', at: Date.now(), origin: 'o', nodeId: 'n', summary: `buy 1 AAPL (${id})`, stage, order: ORDER, ...extra });

  it('held: not placed without asking; sent: found in a listing (also the second); absent from two whole listings: not placed', async function () {
    const ex = fakeExecutor(new Map([['found', order('found', 'filled')]]), new Map([['late', order('late')]]));
    const reports = await reconcile([entry('held', 'held'), entry('found', 'sent'), entry('late', 'sent'), entry('gone', 'sent')], ex, { sleep: async () => undefined });
    const by = Object.fromEntries(reports.map((r) => [r.entry.id, r]));
    assert.strictEqual(by.held.outcome, 'not_placed');
    assert.match(by.held.detail, /never sent/);
    assert.strictEqual(by.found.outcome, 'placed');
    assert.strictEqual(by.found.found.order.status, 'filled');
    assert.strictEqual(by.late.outcome, 'placed');
    assert.strictEqual(by.gone.outcome, 'not_placed');
    assert.deepStrictEqual(ex.calls, [['list'], ['list']], 'two listings settle everything');
    assert.ok(reports.every((r) => r.cause === 'restart'));
  });

  it('a listing cut short by its page limit: what it did not show is looked up one by one', async function () {
    const ex = fakeExecutor(new Map([['found', order('found')], ['older', order('older')]]), new Map(), false);
    const listed = ex.recentOrders;
    ex.recentOrders = async (since, attempts) => {
      const l = await listed(since, attempts);
      return { ...l, orders: l.orders.filter((o) => o.order.clientOrderId !== 'older') };
    };
    const reports = await reconcile([entry('found', 'sent'), entry('older', 'sent'), entry('gone', 'sent')], ex, { sleep: async () => undefined });
    const by = Object.fromEntries(reports.map((r) => [r.entry.id, r.outcome]));
    assert.deepStrictEqual(by, { found: 'placed', older: 'placed', gone: 'not_placed' });
    assert.deepStrictEqual(ex.calls, [['list'], ['list'], ['fetch', 'older'], ['fetch', 'gone']]);
  });

  it('after an unclean stop the listing also brings orders of ours the journal does not know, and only those', async function () {
    const full = (clientOrderId, createdAt) => ({ order: { id: `id-${clientOrderId}`, clientOrderId, status: 'filled', symbol: 'AAPL', side: 'buy', qty: 2, type: 'market', createdAt, replaces: null }, raw: {} });
    const lost = newClientOrderId();
    const known = newClientOrderId();
    const at = new Date().toISOString();
    const ex = fakeExecutor(new Map([[lost, full(lost, at)], [known, full(known, at)], ['k-sig-0123456789abcdef', full('k-sig-0123456789abcdef', at)], ['manual-1', full('manual-1', at)], ['sent-one', full('sent-one', at)]]));
    const attempts = [];
    const sweep = { since: Date.now() - 60_000, known: (id) => id === known || id === 'sent-one' };
    // Held, but its "sent" mark may be what the power failure lost: looked up like a sent one.
    const heldButGone = newClientOrderId();
    const heldNever = newClientOrderId();
    ex.orders.set(heldButGone, full(heldButGone, at));
    const entries = [entry('sent-one', 'sent'), entry(heldButGone, 'held'), entry(heldNever, 'held'), entry('users-held', 'held')];
    sweep.known = (id) => id === known || entries.some((e) => e.id === id);
    const reports = await reconcile(entries, ex, { sleep: async () => undefined }, { sweep, attempts });
    const by = Object.fromEntries(reports.map((r) => [r.entry.id, r]));
    assert.deepStrictEqual([by[heldButGone].outcome, by[heldNever].outcome, by['users-held'].outcome], ['placed', 'not_placed', 'not_placed']);
    assert.match(by['users-held'].detail, /never sent/, 'an id of the user\'s waited for the disk: held means never sent');
    assert.match(by[heldNever].detail, /never sent/);
    for (const id of [heldButGone, heldNever, 'users-held']) delete by[id];
    assert.deepStrictEqual(Object.keys(by).sort(), [lost, 'k-sig-0123456789abcdef', 'sent-one'].sort(), 'not the known one, not a foreign id');
    assert.strictEqual(by[lost].outcome, 'placed');
    assert.strictEqual(by[lost].entry.nodeId, undefined, 'no node to report to: the account does');
    assert.strictEqual(by[lost].entry.summary, 'buy 2 AAPL @ market');
    assert.match(by[lost].detail, /not in the order journal/);
    assert.deepStrictEqual(ex.calls, [['list'], ['list']]);
    assert.strictEqual(attempts.length, 2, 'every request counted');
    // Only the sweep: the same two listings, nothing to settle.
    const alone = await reconcile([], fakeExecutor(new Map([[lost, full(lost, at)]])), { sleep: async () => undefined }, { sweep: { since: 0, known: () => false } });
    assert.deepStrictEqual(alone.map((r) => r.entry.id), [lost]);
  });

  it('a lookup that fails (not a 404) fails the whole run, to be tried again', async function () {
    const ex = fakeExecutor(new Map(), new Map(), false);
    ex.fetch = async () => {
      throw new BrokerError('cannot reach the broker', 'network');
    };
    await assert.rejects(reconcile([entry('x', 'sent')], ex, { sleep: async () => undefined }), /cannot reach/);
  });

  it('the desk holds reports until the flows run, then hands them to the node or calls them orphans', function () {
    const desk = new ReportDesk();
    const got = [];
    const orphans = [];
    desk.on('orphan', (r) => orphans.push(r.entry.id));
    desk.claim('n1', (r) => got.push(r.entry.id));
    desk.deliver({ entry: { id: 'a', nodeId: 'n1' } });
    desk.deliver({ entry: { id: 'b', nodeId: 'gone' } });
    assert.deepStrictEqual(got, []);
    desk.start();
    assert.deepStrictEqual(got, ['a']);
    assert.deepStrictEqual(orphans, ['b']);
  });
});

describe('broker clock (the journal\'s)', function () {
  // A wall clock and a monotonic clock the test moves: the wall clock can step, the monotonic one only runs.
  const clocks = () => {
    const c = { wall: 1_000_000, mono: 500 };
    return { c, clock: new BrokerClock(() => c.wall, () => c.mono) };
  };

  it('is the wall clock until the broker answers, then the Date header\'s time run on by the monotonic clock', function () {
    const { c, clock } = clocks();
    assert.strictEqual(clock.now(), 1_000_000);
    clock.observe(undefined);
    clock.observe(NaN);
    assert.strictEqual(clock.now(), 1_000_000, 'an answer without a Date header says nothing');
    // The machine's clock is an hour behind (a Raspberry Pi after a power failure): the broker's time counts.
    clock.observe(1_000_000 + 3_600_000);
    assert.strictEqual(clock.now(), 4_600_000);
    c.mono += 250;
    assert.strictEqual(clock.now(), 4_600_250);
    assert.strictEqual(clock.toWall(4_630_250), 1_030_000, 'a reset 30 s ahead on its clock is 30 s ahead on ours');
    // NTP then sets the wall clock: the broker's time does not jump with it.
    c.wall += 3_600_000;
    assert.strictEqual(clock.now(), 4_600_250);
    assert.strictEqual(clock.toWall(4_630_250), 4_630_000);
  });

  it('keeps the latest lower bound a Date header gives (rounded down to its second), and takes a step back of over 2 s', function () {
    const { c, clock } = clocks();
    clock.observe(2_000_000);
    c.mono += 400;
    // The same second again, 400 ms later: an older bound, ignored.
    clock.observe(2_000_000);
    assert.strictEqual(clock.now(), 2_000_400);
    // 300 ms on, the next second already: the first header was 700 ms old when it came, a tighter bound.
    c.mono += 300;
    clock.observe(2_001_000);
    assert.strictEqual(clock.now(), 2_001_000);
    // Our monotonic clock ran fast (or the broker's stepped back): 1.5 s is within the tolerance, 5 s is not.
    clock.observe(2_001_000 - 1500);
    assert.strictEqual(clock.now(), 2_001_000);
    clock.observe(2_001_000 - 5000);
    assert.strictEqual(clock.now(), 1_996_000);
  });
});

describe('order gateway with a journal', function () {
  it('journals a request before the executor sees it, at the journal\'s time; the same client order id again is read back, never sent', async function () {
    const ex = fakeExecutor();
    let now = 1_700_000_000_000;
    const journal = new OrderJournal({ now: () => now++ });
    const gateway = new OrderGateway(ex, { journal });
    const first = gateway.submit(ORDER, 'key-1', origin, { ticket: {} });
    // Synchronously journaled, before anything was sent.
    assert.strictEqual(journal.get('key-1').stage, 'held');
    assert.strictEqual(journal.get('key-1').at, 1_700_000_000_000);
    assert.deepStrictEqual(ex.calls, []);
    // Meanwhile the same id again: it waits for the first and is a duplicate.
    const second = gateway.submit(ORDER, 'key-1', origin);
    const [a, b] = await Promise.all([first, second]);
    assert.strictEqual(a.outcome, 'placed');
    assert.strictEqual(b.outcome, 'duplicate');
    assert.strictEqual(b.order.id, a.order.id);
    assert.deepStrictEqual(ex.calls, [['submit', 'key-1'], ['fetch', 'key-1']]);
    assert.strictEqual(journal.get('key-1').stage, 'sent');
    assert.strictEqual(journal.get('key-1').reportedAt, undefined, 'the node reports it');
    gateway.reported({ id: 'key-1' });
    assert.ok(journal.get('key-1').reportedAt);
    // Two distinct ids are two orders.
    await gateway.submit(ORDER, 'key-2', origin);
    assert.strictEqual(ex.calls.filter((c) => c[0] === 'submit').length, 2);
  });

  it("a restart's unfinished entries are settled once; a request with such an id waits for that", async function () {
    const t = tmpFile();
    try {
      const j = new OrderJournal({ file: t.file });
      j.ask({ id: 'was-sent', action: 'submit', at: Date.now(), nodeId: 'n1', origin: 'o', summary: 's', order: ORDER });
      j.sent('was-sent');
      j.close();
      const ex = fakeExecutor(new Map([['was-sent', order('was-sent')]]));
      const journal = new OrderJournal({ file: t.file });
      const gateway = new OrderGateway(ex, { journal, recovery: { sleep: async () => undefined } });
      const reports = [];
      gateway.reports.claim('n1', (r) => reports.push(r));
      gateway.reports.start();
      const again = gateway.submit(ORDER, 'was-sent', origin);
      await gateway.recover();
      assert.deepStrictEqual(reports.map((r) => [r.entry.id, r.outcome]), [['was-sent', 'placed']]);
      gateway.settledReport(reports[0]);
      assert.strictEqual((await again).outcome, 'duplicate');
      assert.ok(!ex.calls.some((c) => c[0] === 'submit'), 'never sent again');
      gateway.close();
      assert.strictEqual(new OrderJournal({ file: t.file }).unfinished.length, 0);
    } finally {
      t.cleanup();
    }
  });
});

describe('held msgs (the rate gate)', function () {
  it('what waited when the process stopped is there after it; what left is not', function () {
    const t = tmpFile('gate.jsonl');
    try {
      const held = new HeldMsgs(new JournalFile(t.file));
      const a = held.hold({ _msgid: 'a', payload: 1, req: {} }, { priority: 5 });
      held.hold({ _msgid: 'b', payload: 2 }, { priority: 9 });
      held.release(a);
      held.close();
      const next = new HeldMsgs(new JournalFile(t.file));
      assert.deepStrictEqual(next.leftovers.map((h) => [h.msg._msgid, h.msg.payload, h.info.priority]), [['b', 2, 9]]);
      next.release(next.leftovers[0].key);
      next.close();
      assert.strictEqual(new HeldMsgs(new JournalFile(t.file)).leftovers.length, 0);
    } finally {
      t.cleanup();
    }
  });
});
