'use strict';
// The per-account guard with a fake clock and a scripted connection (this is a unit test of the
// plain module; the end-to-end tests use the real connection and simulator).
const assert = require('assert');
const { EventEmitter } = require('events');
const { BreakerGuard, isApiFailure } = require('../../dist/lib/breaker/guard');
const { parseSettings } = require('../../dist/lib/breaker/settings');
const { stateChangeAlert } = require('../../dist/lib/breaker/alert');
const { breakerStatus } = require('../../dist/lib/node-red/status');

const MIN = 60_000;

function fakeConnection() {
  const c = {
    status: { state: 'connected', text: 'connected', since: 0 },
    equity: 100000,
    failAccount: false,
    positionsList: [],
    open: [],
    calls: { account: 0, cancelAll: 0, closeAll: 0 },
    events: new EventEmitter(),
    listeners: new Set(),
    users: new Set(),
    register(u) { c.users.add(u.id); },
    deregister(u) { c.users.delete(u.id); return Promise.resolve(); },
    reads: {
      async account() {
        c.calls.account++;
        if (c.failAccount) throw new Error('500 internal server error');
        const exposure = c.positionsList.reduce((s, p) => s + p.marketValue, 0);
        return { equity: c.equity, longMarketValue: exposure, shortMarketValue: 0 };
      },
      async positions() { return c.positionsList; },
      async openOrders() { return c.open; },
      async clock() { return { timestamp: '', isOpen: true, nextOpen: '2099-01-01T14:30:00Z', nextClose: '2099-01-01T21:00:00Z' }; },
      async latestPrice() { return 200; },
    },
    orders: {
      async tripAction(action) {
        if (action === 'cancelAll') { c.calls.cancelAll++; return [{ id: 'o1', status: 200, ok: true }, { id: 'o2', status: 200, ok: true }]; }
        c.calls.closeAll++;
        return [];
      },
    },
    onRequest(l) { c.events.on('request', l); return () => c.events.off('request', l); },
    tradeUpdates: { status: { state: 'connected', since: 0 }, subscribe: (l) => { c.listeners.add(l); return () => c.listeners.delete(l); } },
    update(u) { for (const l of c.listeners) l(u); },
  };
  return c;
}

function memoryStore(initial) {
  const s = { value: initial, saves: 0 };
  s.load = async () => s.value;
  s.save = async (r) => { s.saves++; s.value = JSON.parse(JSON.stringify(r)); };
  return s;
}

function setup({ def = {}, store = memoryStore(), connection = fakeConnection() } = {}) {
  const clock = { t: Date.parse('2025-03-03T15:00:00Z') };
  const real = { t: 1_000_000 };
  const guard = new BreakerGuard({
    accountName: 'Sim', connection, store,
    now: () => clock.t, realNow: () => real.t, timers: false,
  });
  guard.attach({ id: 'b1', name: 'guard', settings: parseSettings({ pollOpen: 10, pollFlat: 10, staleSeconds: 60, ...def }) });
  const changes = [];
  const actions = [];
  guard.on('change', (c) => changes.push(c));
  guard.on('actions', (a) => actions.push(a));
  return { guard, clock, real, store, connection, changes, actions };
}

/** A submit of a market order, as the gateway asks the guard about it. */
const order = (side, qty, symbol = 'AAPL') => ({
  change: { action: 'submit', clientOrderId: `c-${side}-${qty}`, order: { symbol, assetKind: 'stock', side, qty, type: 'market', timeInForce: 'day', orderClass: 'simple', extendedHours: false } },
  origin: { name: 'test' },
  dryRun: false,
});

describe('breaker guard (one per account)', function () {
  let g;
  afterEach(async () => { if (g) await g.guard.close(); g = undefined; });

  it('trips on the first equity past 1% within 30 minutes, blocks orders, stores the state and runs the trip action', async function () {
    g = setup();
    await g.guard.start();
    assert.strictEqual(g.guard.state, 'ACTIVE');
    for (const equity of [99700, 99400, 99100]) {
      g.clock.t += 3 * MIN;
      g.connection.equity = equity;
      await g.guard.poll();
      assert.strictEqual(g.guard.state, 'ACTIVE', `still ACTIVE at ${equity}`);
    }
    assert.strictEqual((await g.guard.decide(order('buy', 1))).pass, true);
    g.clock.t += 3 * MIN;
    g.connection.equity = 98990;
    await g.guard.poll();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.strictEqual(g.changes.length, 1);
    const c = g.changes[0];
    assert.strictEqual(c.trip.rule, 'rollingLoss');
    assert.strictEqual(c.origin, 'b1');
    assert.deepStrictEqual(
      { equity: c.record.figures.equity, reference: c.record.figures.reference, loss: c.record.figures.loss, threshold: c.record.figures.threshold, window: c.record.figures.window },
      { equity: 98990, reference: 100000, loss: 1010, threshold: 1, window: '30 min' },
    );
    assert.strictEqual(g.store.value.state, 'HALTED');
    const d = await g.guard.decide(order('sell', 1));
    assert.strictEqual(d.pass, false);
    assert.strictEqual(d.check, 'halted');
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(g.connection.calls.cancelAll, 1);
    assert.deepStrictEqual(g.actions[0].results, [{ action: 'cancelOrders', ok: true, count: 2, failed: 0, error: undefined }]);

    const alert = stateChangeAlert(c, 'Sim', 'b1');
    assert.strictEqual(alert.breaker.state, 'HALTED');
    assert.strictEqual(alert.breaker.local, true);
    assert.match(alert.topic, /HALTED on Sim: loss in 30 min 1.01%/);
    assert.match(alert.payload, /Trading on Sim is HALTED since 2025-03-03 15:12:00 UTC: equity fell 1.01%/);
    assert.deepStrictEqual(breakerStatus(g.guard.record), { fill: 'red', shape: 'ring', text: 'HALTED: loss in 30 min 1.01% · 1 blocked' });
  });

  it('a slow bleed over more than 30 minutes does not trip the window rule', async function () {
    g = setup({ def: { dailyOn: false, drawdownOn: false } });
    await g.guard.start();
    for (let i = 1; i <= 12; i++) {
      g.clock.t += 5 * MIN;
      g.connection.equity = 100000 - i * 100;
      await g.guard.poll();
    }
    assert.strictEqual(g.connection.equity, 98800);
    assert.strictEqual(g.guard.state, 'ACTIVE');
  });

  it('fails closed: three failed account fetches halt it, and so does stale data', async function () {
    g = setup({ def: { errorsOn: false } });
    await g.guard.start();
    g.connection.failAccount = true;
    await g.guard.poll();
    await g.guard.poll();
    assert.strictEqual(g.guard.state, 'ACTIVE');
    await g.guard.poll();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.strictEqual(g.guard.record.rule, 'inputs');
    assert.match(g.guard.record.reason, /last 3 account fetches failed \(500 internal server error\)/);

    const s = setup({ def: { errorsOn: false } });
    await s.guard.start();
    s.real.t += 59_000;
    s.guard.tick();
    assert.strictEqual(s.guard.state, 'ACTIVE');
    s.connection.failAccount = true; // polls in tick() fail from now on
    s.real.t += 2_000;
    s.guard.tick();
    assert.strictEqual(s.guard.state, 'HALTED');
    assert.match(s.guard.record.reason, /no fresh account equity for 61 s/);
    await s.guard.close();
  });

  it('stays HALTED after a restart (a new guard reading the store), and resets only by hand', async function () {
    g = setup();
    await g.guard.start();
    g.guard.halt('test');
    const stored = g.store.value;
    await g.guard.close();

    g = setup({ store: memoryStore(stored) });
    await g.guard.start();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.match(g.guard.record.reason, /halted by hand: test/);
    assert.strictEqual((await g.guard.decide(order('buy', 1))).pass, false);
    assert.strictEqual(g.guard.reset('a person', 'b1'), true);
    assert.strictEqual(g.guard.state, 'ACTIVE');
    assert.strictEqual(g.store.value.state, 'ACTIVE');
    assert.strictEqual((await g.guard.decide(order('buy', 1))).pass, true);
    assert.deepStrictEqual(g.guard.record.history.map((h) => h.state), ['HALTED', 'ACTIVE']);
  });

  it('an order right after resetting a stored halt waits for the first account figures instead of failing', async function () {
    const connection = fakeConnection();
    let release;
    const gate = new Promise((r) => (release = r));
    const account = connection.account;
    connection.account = async () => { await gate; return account(); };
    g = setup({ connection, store: memoryStore({ version: 1, state: 'HALTED', reason: 'x', short: 'x', since: new Date().toISOString(), figures: {}, blocked: 0, history: [] }) });
    const started = g.guard.start();
    await g.guard.whenLoaded();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.strictEqual(g.guard.reset('a person', 'b1'), true);
    const decision = g.guard.decide(order('buy', 1));
    // The account answers a little later.
    setTimeout(release, 50);
    assert.deepStrictEqual(await decision, { pass: true });
    await started;
  });

  it('the rolling window survives a restart: a loss that began before it still trips after it', async function () {
    g = setup({ def: { dailyOn: false, drawdownOn: false } });
    await g.guard.start();
    g.clock.t += MIN;
    g.connection.equity = 99500;
    await g.guard.poll();
    await g.guard.close(); // stores the samples it has
    const stored = g.store.value;
    assert.deepStrictEqual(stored.samples.map((x) => x.equity), [100000, 99500]);

    g = setup({ def: { dailyOn: false, drawdownOn: false }, store: memoryStore(stored) });
    g.clock.t += 2 * MIN;
    g.connection.equity = 98950; // 1.05% below the peak seen before the restart
    await g.guard.start();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.strictEqual(g.guard.record.rule, 'rollingLoss');
  });

  it('orders the broker refuses over REST (403, 422) count as rejections in a row', async function () {
    g = setup({ def: { rejectsCount: 3, concOn: false } });
    await g.guard.start();
    const refused = async () => {
      const request = order('buy', 1);
      assert.strictEqual((await g.guard.decide(request)).pass, true);
      g.guard.settled(request, { ok: false, kind: 'forbidden', status: 403 });
    };
    await refused();
    await refused();
    g.guard.settled(order('buy', 1), { ok: false, kind: 'network' }); // no answer is not a refusal
    assert.strictEqual(g.guard.state, 'ACTIVE');
    await refused();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.strictEqual(g.guard.record.rule, 'rejections');
  });

  it('an unreadable stored state fails closed', async function () {
    g = setup({ store: memoryStore({ state: 'whatever' }) });
    await g.guard.start();
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.match(g.guard.record.reason, /unreadable/);
  });

  it('after a reset every rule measures afresh: the old window peak does not re-trip it', async function () {
    g = setup({ def: { dailyOn: false, drawdownOn: false } });
    await g.guard.start();
    g.clock.t += MIN;
    g.connection.equity = 98800;
    await g.guard.poll();
    assert.strictEqual(g.guard.state, 'HALTED');
    g.guard.reset('a person', 'b1');
    await g.guard.poll();
    g.clock.t += MIN;
    g.connection.equity = 98700; // 0.1% below the equity at the reset
    await g.guard.poll();
    assert.strictEqual(g.guard.state, 'ACTIVE');
  });

  it('a trip only tightens: REDUCING can become HALTED, HALTED never becomes REDUCING', async function () {
    g = setup({ def: { rollingTarget: 'REDUCING', cancelOnTrip: false } });
    await g.guard.start();
    g.clock.t += MIN;
    g.connection.equity = 98900;
    await g.guard.poll();
    assert.strictEqual(g.guard.state, 'REDUCING');
    assert.strictEqual(g.guard.halt('x'), true);
    assert.strictEqual(g.guard.trip({ rule: 'dailyLoss', target: 'REDUCING', reason: 'r', short: 's', figures: {} }), false);
    assert.strictEqual(g.guard.state, 'HALTED');
    assert.deepStrictEqual(g.changes.map((c) => [c.previous, c.record.state]), [['ACTIVE', 'REDUCING'], ['REDUCING', 'HALTED']]);
  });

  it('REDUCING checks each exit against the fresh position less what is already on its way out', async function () {
    g = setup({ def: { concOn: false } });
    g.connection.positionsList = [{ symbol: 'AAPL', side: 'long', qty: 10, currentPrice: 200, marketValue: 2000 }];
    await g.guard.start();
    g.guard.trip({ rule: 'dailyLoss', target: 'REDUCING', reason: 'r', short: 's', figures: {} }, 'b1');
    assert.strictEqual((await g.guard.decide(order('buy', 1))).pass, false);
    assert.strictEqual((await g.guard.decide(order('sell', 6))).pass, true);
    // The 6 just passed are on their way: only 4 more may go.
    const flip = await g.guard.decide(order('sell', 5));
    assert.strictEqual(flip.pass, false);
    assert.match(flip.reason, /at most 4/);
    // Once the broker reports the order (and it shows among the open orders), it is counted once.
    g.connection.update({ event: 'new', timestamp: '', order: { id: 'x1', symbol: 'AAPL', side: 'sell', qty: 6, filledQty: 0 } });
    g.connection.open = [{ id: 'x1', symbol: 'AAPL', side: 'sell', qty: 6, filledQty: 0 }];
    assert.strictEqual((await g.guard.decide(order('sell', 4))).pass, true);
  });

  it('the order rate stops a runaway loop at N a minute; rejections in a row trip; error rate needs its sample', async function () {
    g = setup({ def: { ratePerMinute: 5, concOn: false, errorsMin: 4 } });
    await g.guard.start();
    const results = [];
    for (let i = 0; i < 8; i++) results.push((await g.guard.decide(order('buy', 1))).pass);
    assert.deepStrictEqual(results, [true, true, true, true, true, false, false, false]);
    assert.strictEqual(g.guard.record.rule, 'orderRate');

    const r = setup();
    await r.guard.start();
    for (let i = 0; i < 4; i++) r.connection.update({ event: 'rejected', timestamp: '', order: { id: `r${i}`, symbol: 'AAPL', side: 'buy', qty: 1 } });
    r.connection.update({ event: 'new', timestamp: '', order: { id: 'n', symbol: 'AAPL', side: 'buy', qty: 1 } });
    for (let i = 0; i < 4; i++) r.connection.update({ event: 'rejected', timestamp: '', order: { id: `s${i}`, symbol: 'AAPL', side: 'buy', qty: 1 } });
    assert.strictEqual(r.guard.state, 'ACTIVE', 'a new order in between restarts the count');
    r.connection.update({ event: 'rejected', timestamp: '', order: { id: 's5', symbol: 'AAPL', side: 'buy', qty: 1 } });
    assert.strictEqual(r.guard.record.rule, 'rejections');
    await r.guard.close();

    const e = setup({ def: { errorsMin: 4 } });
    await e.guard.start();
    for (let i = 0; i < 3; i++) e.connection.events.emit('request', { ok: false, status: 500, kind: 'broker' });
    assert.strictEqual(e.guard.state, 'ACTIVE');
    e.connection.events.emit('request', { ok: false, status: 500, kind: 'broker' });
    assert.strictEqual(e.guard.record.rule, 'errorRate');
    await e.guard.close();
    assert.strictEqual(isApiFailure({ ok: false, status: 404, kind: 'not_found' }), false);
    assert.strictEqual(isApiFailure({ ok: false, kind: 'network' }), true);
  });

  it('close releases the connection, its listener and the feed subscription', async function () {
    g = setup();
    await g.guard.start();
    assert.strictEqual(g.connection.users.size, 1);
    assert.strictEqual(g.connection.events.listenerCount('request'), 1);
    assert.strictEqual(g.connection.listeners.size, 1);
    await g.guard.close();
    assert.strictEqual(g.connection.users.size, 0);
    assert.strictEqual(g.connection.events.listenerCount('request'), 0);
    assert.strictEqual(g.connection.listeners.size, 0);
    g = undefined;
  });
});
