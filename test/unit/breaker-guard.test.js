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

/** A market feed of one kind, as the connection shares it: records subscriptions, delivers what the test sends. */
function fakeFeed(kind) {
  const f = {
    kind,
    status: { kind, state: 'connected', text: 'connected', since: 0 },
    subscribers: new Map(),
    wanted: new Map(),
    attach(sub) { f.subscribers.set(sub.id, sub); sub.onStatus(f.status); },
    detach(id) { f.subscribers.delete(id); f.wanted.delete(id); },
    subscribe() {},
    unsubscribe() {},
    replace(id, w) { f.wanted.set(id, w); },
    subscriptionsOf(id) { return f.wanted.get(id) || {}; },
    setState(state) { f.status = { kind, state, text: state, since: 0 }; for (const sub of f.subscribers.values()) sub.onStatus(f.status); },
    trade(symbol, price, time) {
      for (const sub of f.subscribers.values()) sub.onEvent({ channel: 'trades', symbol, payload: { symbol, price, size: 100, time, timestamp: new Date(time).toISOString() } });
    },
    quote(symbol, bid, ask, time) {
      for (const sub of f.subscribers.values()) sub.onEvent({ channel: 'quotes', symbol, payload: { symbol, bid, ask, time, timestamp: new Date(time).toISOString() } });
    },
  };
  return f;
}

function fakeConnection() {
  const c = {
    status: { state: 'connected', text: 'connected', since: 0 },
    equity: 100000,
    failAccount: false,
    positionsList: [],
    open: [],
    calls: { account: 0, positions: 0, latestPrice: 0, cancelAll: 0, closeAll: 0 },
    feeds: { stocks: fakeFeed('stocks'), crypto: fakeFeed('crypto') },
    marketFeed(kind) { return c.feeds[kind]; },
    /** Last trades a stream node's subscription brought, by symbol: { price, ageMs }. */
    streamed: new Map(),
    lastTrade(kind, symbol, maxAgeMs) {
      const t = c.streamed.get(symbol);
      return t && t.kind === kind && t.ageMs <= maxAgeMs ? t.price : undefined;
    },
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
      async positions() { c.calls.positions++; return c.positionsList; },
      async openOrders() { return c.open; },
      async clock() { return { timestamp: '', isOpen: true, nextOpen: '2099-01-01T14:30:00Z', nextClose: '2099-01-01T21:00:00Z' }; },
      async latestPrice() { c.calls.latestPrice++; return 200; },
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

describe('breaker guard marking positions to market from the stream', function () {
  let g;
  afterEach(async () => { if (g) await g.guard.close(); g = undefined; });
  const aapl = (qty, price) => ({ symbol: 'AAPL', assetClass: 'us_equity', side: 'long', qty, currentPrice: price, marketValue: qty * price });
  const SUBSCRIBER = 'alpaca-breaker:Sim';

  it('re-values the position on each price and trips on the very print that crosses the line, saying which', async function () {
    g = setup({ def: { dailyOn: false, drawdownOn: false, concOn: false } });
    g.connection.positionsList = [aapl(100, 200)];
    await g.guard.start();
    const feed = g.connection.feeds.stocks;
    assert.deepStrictEqual(feed.wanted.get(SUBSCRIBER), { trades: ['AAPL'], quotes: ['AAPL'] }, 'the held symbol is followed on the shared feed');
    const reads = g.connection.calls.account;
    const t = Date.parse('2025-03-03T15:00:01.250Z');
    feed.trade('AAPL', 199, t);
    assert.strictEqual(g.guard.figures().equity, 99900);
    feed.quote('AAPL', 194.9, 195.1, t + 1);
    assert.strictEqual(g.guard.figures().equity, 99500);
    assert.strictEqual(g.guard.state, 'ACTIVE');
    feed.trade('AAPL', 189.9, t + 2);
    // No await in between: the trip happened on the event itself.
    assert.strictEqual(g.guard.state, 'HALTED');
    const r = g.guard.record;
    assert.strictEqual(r.rule, 'rollingLoss');
    assert.deepStrictEqual(
      [r.figures.source, r.figures.symbol, r.figures.price, r.figures.priceTime, r.figures.equity, r.figures.reference],
      ['stream', 'AAPL', 189.9, '2025-03-03T15:00:01.252Z', 98990, 100000],
    );
    assert.match(r.reason, /equity fell 1\.01% .* at or over the 1% limit, on AAPL at 189\.9 \(trade at 15:00:01\.252 UTC\)$/);
    assert.strictEqual((await g.guard.decide(order('sell', 1))).check, 'halted');
    assert.strictEqual(g.connection.calls.account, reads, 'the stream did it: no account read');
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(g.connection.calls.cancelAll, 1, 'the trip actions started');
  });

  it('while the stream marks every position the poll only reconciles, slowly; an old price or a stream down for 5 s hands the equity to the fast poll at once', async function () {
    g = setup({ def: { pollOpen: 10, pollMarked: 30, staleSeconds: 120 } });
    g.connection.positionsList = [aapl(100, 200)];
    const markings = [];
    g.guard.on('marking', (text) => markings.push(text));
    await g.guard.start();
    const feed = g.connection.feeds.stocks;
    const polls = () => g.connection.calls.account;
    assert.strictEqual(polls(), 1);
    let t = Date.parse('2025-03-03T15:00:00Z');
    // A print every 5 s for 60 s: the marks stay fresh, the poll comes every 30 s.
    for (let i = 0; i < 12; i++) {
      g.real.t += 5_000;
      feed.trade('AAPL', 200 + (i % 2) / 10, (t += 5_000));
      g.guard.tick();
      await new Promise((r) => setImmediate(r));
    }
    assert.strictEqual(polls(), 1 + 2, 'a reconciliation every 30 s, nothing more');
    assert.match(g.guard.markingStatus, /^marked to market at \d\d:\d\d:\d\d$/);
    // The prints stop: once the newest is older than the fast poll's 10 s, the poll takes over at once.
    const before = polls();
    g.real.t += 10_500;
    g.guard.tick();
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(polls(), before + 1);
    assert.match(g.guard.markingStatus, /^AAPL price 11 s old · polled at \d\d:\d\d:\d\d$/);
    g.real.t += 10_000;
    g.guard.tick();
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(polls(), before + 2, 'then every 10 s');
    // Prints again, then the stream drops: no poll while a reconnect may bring it back within 5 s,
    // then a poll at once; the status says why.
    feed.trade('AAPL', 201, t + 5_000);
    g.guard.tick();
    assert.match(g.guard.markingStatus, /^marked to market/);
    const atDrop = polls();
    feed.setState('reconnecting');
    await new Promise((r) => setImmediate(r));
    g.real.t += 4_000;
    g.guard.tick();
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(polls(), atDrop, 'a short drop costs no request');
    assert.match(g.guard.markingStatus, /^marked to market/);
    g.real.t += 1_000;
    g.guard.tick();
    await new Promise((r) => setImmediate(r));
    assert.strictEqual(polls(), atDrop + 1);
    assert.match(g.guard.markingStatus, /^stocks stream down · polled at/);
    assert.ok(markings.some((m) => /^marked to market/.test(m)) && markings.some((m) => /stream down/.test(m)), 'the node hears every change');
  });

  it('a market order on a followed symbol is valued at the stream price, decided without any REST call', async function () {
    g = setup({ def: { concPct: 25 } });
    g.connection.positionsList = [aapl(100, 200)];
    await g.guard.start();
    g.connection.feeds.stocks.trade('AAPL', 210, Date.now());
    const calls = { ...g.connection.calls };
    const verdict = await g.guard.decide(order('buy', 20));
    assert.strictEqual(verdict.pass, true);
    const blocked = await g.guard.decide(order('buy', 100));
    assert.match(blocked.reason, /would make the AAPL position .* \(42,000\.00 of 101,000\.00\)/, 'valued at 210, the stream price');
    assert.deepStrictEqual(g.connection.calls, calls, 'no account, position or price read');
  });

  it('the first order in a symbol a stream node streams is valued at its last trade on the shared socket: no REST read', async function () {
    g = setup({ def: { concPct: 25 } });
    await g.guard.start();
    g.connection.streamed.set('MSFT', { kind: 'stocks', price: 400, ageMs: 1000 });
    const calls = { ...g.connection.calls };
    const blocked = await g.guard.decide(order('buy', 100, 'MSFT'));
    assert.match(blocked.reason, /would make the MSFT position .* \(40,000\.00 of/, 'valued at 400, the streamed trade');
    assert.deepStrictEqual(g.connection.calls, calls, 'no account, position or price read');
    // A last trade older than a REST price may be: read over REST (200 here).
    g.connection.streamed.set('AMD', { kind: 'stocks', price: 400, ageMs: 60_000 });
    assert.strictEqual((await g.guard.decide(order('buy', 100, 'AMD'))).pass, true, 'valued at 200 (20,000.00), the REST price');
    assert.strictEqual(g.connection.calls.latestPrice, calls.latestPrice + 1);
  });

  it('a decision that needs no wait never overtakes one waiting for a REST price', async function () {
    g = setup({ def: { ratePerMinute: 1 } });
    g.connection.positionsList = [aapl(100, 200)];
    await g.guard.start();
    g.connection.feeds.stocks.trade('AAPL', 200, Date.now());
    let release;
    g.connection.reads.latestPrice = () => new Promise((r) => (release = () => r(50)));
    const first = g.guard.decide(order('buy', 1, 'MSFT')); // no price known: waits for REST
    const second = g.guard.decide(order('buy', 1)); // price known, but must not go first
    await new Promise((r) => setImmediate(r));
    release();
    assert.strictEqual((await first).pass, true, 'the first order is the one within the rate');
    assert.strictEqual((await second).check, 'orderRate');
  });

  /** A guard whose first poll sees 10 AAPL, priced by the stream; then a fill sells them all (the poll not told). */
  async function soldOutSincePoll() {
    g = setup({ def: { pollFlat: 60, staleSeconds: 120 } });
    g.connection.positionsList = [aapl(10, 200)];
    await g.guard.start();
    g.connection.feeds.stocks.trade('AAPL', 200, Date.parse('2025-03-03T15:00:01Z'));
    g.connection.positionsList = [];
    g.connection.update({
      event: 'fill', timestamp: '2025-03-03T15:00:02Z', price: 200, qty: 10, positionQty: 0,
      order: { id: 's1', symbol: 'AAPL', side: 'sell', status: 'filled', qty: 10, filledQty: 10 },
    });
  }

  /** `seconds` of real time, the guard's housekeeping running every second. */
  async function passSeconds(seconds) {
    for (let i = 0; i < seconds; i++) {
      g.real.t += 1_000;
      g.guard.tick();
      await new Promise((r) => setImmediate(r));
    }
  }

  it('a fill that closes the last position slows the poll to the flat interval at once', async function () {
    await soldOutSincePoll();
    const polls = g.connection.calls.account;
    await passSeconds(30);
    assert.strictEqual(g.connection.calls.account, polls, 'flat: no poll for 60 s, although the last poll saw a position');
  });

  it('flat by the fills since a poll that saw a position, the next order is decided at once: no account read while the poll is not behind its slowest schedule', async function () {
    await soldOutSincePoll();
    // 30 s flat: past two of the open-positions interval (10 s), within two of the flat one (60 s).
    await passSeconds(30);
    g.connection.feeds.stocks.trade('AAPL', 200, Date.parse('2025-03-03T15:00:31Z'));
    const calls = { ...g.connection.calls };
    assert.strictEqual((await g.guard.decide(order('buy', 1))).pass, true);
    assert.deepStrictEqual(g.connection.calls, calls, 'no account, position or price read');
  });

  it('held positions are current until the poll is behind its slowest schedule (two of 60 s here), not two of the fast poll\'s 10 s', async function () {
    g = setup({ def: { pollFlat: 60, staleSeconds: 300 } });
    g.connection.positionsList = [aapl(10, 200)];
    await g.guard.start();
    const limit = () => {
      const r = order('buy', 1);
      return { ...r, change: { ...r.change, order: { ...r.change.order, type: 'limit', limitPrice: 200 } } };
    };
    const calls = { ...g.connection.calls };
    g.real.t += 25_000;
    assert.strictEqual((await g.guard.decide(limit())).pass, true);
    assert.deepStrictEqual(g.connection.calls, calls, '25 s after the poll: decided on the marks, no read');
    g.real.t += 100_000;
    assert.strictEqual((await g.guard.decide(limit())).pass, true);
    assert.strictEqual(g.connection.calls.account, calls.account + 1, '125 s after it: the positions are read first');
  });

  it('a flat account follows nothing; a fill opens the position and its symbol is followed at once; trading in and out costs no account read', async function () {
    g = setup({ def: { pollFlat: 60, staleSeconds: 120 } });
    await g.guard.start();
    const feed = g.connection.feeds.stocks;
    assert.strictEqual(feed.subscribers.size, 0, 'no market-data socket for a flat account');
    g.connection.update({
      event: 'fill', timestamp: '2025-03-03T15:00:00Z', price: 200, qty: 10, positionQty: 10,
      order: { id: 'f1', symbol: 'AAPL', side: 'buy', status: 'filled', qty: 10, filledQty: 10 },
    });
    assert.deepStrictEqual(feed.wanted.get(SUBSCRIBER), { trades: ['AAPL'], quotes: ['AAPL'] });
    feed.trade('AAPL', 190, Date.parse('2025-03-03T15:00:01Z'));
    assert.strictEqual(g.guard.figures().equity, 99900, 'the filled position is marked before the next poll');
    // Trading in and out: the fills say the positions, the stream prices them; no account read.
    const polls = g.connection.calls.account;
    for (let i = 0; i < 10; i++) {
      g.real.t += 2_000;
      const sell = i % 2 === 0;
      g.connection.update({
        event: 'fill', timestamp: `2025-03-03T15:00:${String(2 + 2 * i).padStart(2, '0')}Z`, price: 190, qty: 10, positionQty: sell ? 0 : 10,
        order: { id: `f${i + 2}`, symbol: 'AAPL', side: sell ? 'sell' : 'buy', status: 'filled', qty: 10, filledQty: 10 },
      });
      feed.trade('AAPL', 190, Date.parse('2025-03-03T15:00:01Z') + 2_000 * (i + 1));
      g.guard.tick();
      await new Promise((r) => setImmediate(r));
    }
    assert.strictEqual(g.connection.calls.account, polls, 'ten fills in 20 s, flat half the time: the regular 30 s reconciliation is not due yet');
    assert.strictEqual(g.connection.calls.latestPrice, 0, 'the symbol just traded is still priced by the stream');
    assert.deepStrictEqual(feed.wanted.get(SUBSCRIBER), { trades: ['AAPL'], quotes: ['AAPL'] }, 'followed while flat');
    await g.guard.close();
    assert.strictEqual(feed.subscribers.size, 0, 'close lets go of the feed');
    g = undefined;
  });
});
