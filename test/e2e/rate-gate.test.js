'use strict';
// The rate gate in a real Node-RED runtime, in front of a real order node placing orders on the
// built-in simulator over real sockets.
const assert = require('assert');
const { helper, packNodes, collect, statuses } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { accountSim, busiest, requestTimes } = require('../support/sim');
const { account } = require('../support/fixtures');

const gateNode = require('../../dist/alpaca-rate-gate.js').default;
const orderNode = require('../../dist/alpaca-order.js').default;

const nodes = [...packNodes, gateNode, orderNode];

/** One market order per msg, with its own client order id. */
const buy = (clientOrderId) => ({ payload: { symbol: 'AAPL', side: 'buy', qty: 1, clientOrderId } });

const accountDef = (budget = {}) => account({ budgetLimit: 180, budgetWindow: 60, ...budget });

function gateDef(extra = {}) {
  return {
    id: 'gate',
    type: 'alpaca-rate-gate',
    z: 'f1',
    account: 'acct',
    queueSize: 1000,
    fullPolicy: 'drop-lowest',
    maxWait: 0,
    priority: 5,
    report: 'output',
    categories: [],
    category: '',
    shared: false,
    sharedKey: '',
    wires: [['poster'], ['dropped']],
    ...extra,
  };
}

function orderFlow(budget, gate = {}) {
  return [
    accountDef(budget),
    { id: 'f1', type: 'tab', label: 'gate' },
    gateDef(gate),
    { id: 'poster', type: 'alpaca-order', z: 'f1', account: 'acct', action: 'submit', wires: [['out'], [], []] },
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'dropped', type: 'helper', z: 'f1' },
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

/** Starts the account's simulator and sets its faults; returns its control API. */
async function simWith(faults) {
  const acct = helper.getNode('acct');
  // The gate registered with the connection; the simulator starts with it.
  const sim = await accountSim(acct, 5000);
  await waitFor(() => acct.connection.status.state === 'connected', 5000, 'connected');
  await sim.faults(faults);
  return sim;
}

describe('alpaca-rate-gate on the simulator', function () {
  this.timeout(60000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it("serves the preset categories to the dialog from the runtime's one table", async function () {
    await helper.load(nodes, [accountDef({}), { id: 'f1', type: 'tab', label: 'gate' }, gateDef({ wires: [[], []] })]);
    const res = await helper.request().get('/alpaca-rate-gate/presets').expect(200);
    const orders = res.body.tradestation.categories.find((c) => c.name === 'orders');
    assert.deepStrictEqual([orders.limit, orders.window, orders.shape], [250, 300, 'window']);
    assert.deepStrictEqual(res.body.ibkr.categories[0], { name: 'messages', limit: 50, window: 1, shape: 'window' });
  });

  it('drains a burst of 300 orders through the default budget without a single 429 from the strict simulator', async function () {
    // Simulator: Alpaca's 200 a minute, counted in a sliding window (the strictest). Budget: the
    // account's default, 180 in any 60 s; the gate's default max wait. 300 orders: about 170 go
    // at once (the connection check and the panic reserve take the rest), the others when the
    // first ones leave the window, a minute later. Nothing may expire, fail or meet a 429.
    this.timeout(120000);
    await helper.load(nodes, orderFlow({ budgetLimit: '', budgetWindow: '' }, { maxWait: '' }));
    const sim = await simWith({});
    const faults = await sim.faults();
    assert.deepStrictEqual([faults.rateLimitPerMinute, faults.rateLimitAlgorithm], [200, 'sliding']);
    const out = collect(helper.getNode('out'));
    const dropped = collect(helper.getNode('dropped'));
    const caught = collect(helper.getNode('caught'));
    const gate = helper.getNode('gate');
    const t0 = Date.now();
    for (let i = 0; i < 300; i++) gate.receive(buy(`burst-${i}`));
    await waitFor(() => out.length + caught.length + dropped.length >= 300, 90000, '300 orders');

    assert.strictEqual(caught.length, 0, JSON.stringify(caught.map((m) => m.error && m.error.message).slice(0, 3)));
    assert.strictEqual(dropped.length, 0);
    assert.strictEqual(out.length, 300);
    const s = await sim.stats();
    assert.strictEqual(s.rateLimited, 0, 'the simulator answered 429');
    assert.strictEqual(s.orders, 300);
    const ids = new Set(out.map((m) => m.payload.clientOrderId));
    assert.strictEqual(ids.size, 300);
    // Measured at the simulator: never more than the budget's 180 trading requests in any 60 s.
    const log = await requestTimes(sim.url, t0 - 60000);
    assert.ok(busiest(log, 60000) <= 180, `busiest 60 s: ${busiest(log, 60000)} requests`);
    // The ticket the gate took for an order was spent by that order, not charged twice: the
    // first window carried about 170 orders, not half of them.
    const firstWindow = out.filter((m) => m.rateGate.waitedMs < 30000).length;
    assert.ok(firstWindow >= 165 && firstWindow <= 171, `${firstWindow} orders in the first window`);
    assert.ok(out.every((m) => typeof m.rateGate.waitedMs === 'number'));
  });

  it('pauses on the first 429 (another program used the key) and resumes with nothing lost or duplicated', async function () {
    // Simulator: 3000 a minute with a 1 s lockout, as a token bucket: what another program takes
    // comes back within seconds (in a sliding window it would block the key for a whole minute,
    // which proves nothing more). Our budget: 2400 per 60 s, but it does not know that another
    // program has just used up the key's limit. After the pause it sends at its steady rate
    // (40/s), under the bucket's 50/s.
    await helper.load(nodes, orderFlow({ budgetLimit: 2400, budgetWindow: 60 }));
    const sim = await simWith({ rateLimitPerMinute: 3000, lockoutMs: 1000, rateLimitAlgorithm: 'bucket' });
    const budget = helper.getNode('acct').connection.budget;
    const events = [];
    budget.on('paused', (p) => events.push({ type: 'paused', ...p }));
    budget.on('resumed', (p) => events.push({ type: 'resumed', ...p }));
    // Another program on the same key (the built-in simulator's key) drains the limit.
    const headers = { 'APCA-API-KEY-ID': 'SIMULATOR', 'APCA-API-SECRET-KEY': 'x' };
    let limited = false;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (!limited) {
          const res = await fetch(`${sim.url}/v2/clock`, { headers });
          await res.text();
          if (res.status === 429) limited = true;
        }
      }),
    );
    const before = await sim.stats();

    const out = collect(helper.getNode('out'));
    const dropped = collect(helper.getNode('dropped'));
    const caught = collect(helper.getNode('caught'));
    const gate = helper.getNode('gate');
    for (let i = 0; i < 300; i++) gate.receive(buy(`lock-${i}`));
    await waitFor(() => out.length + caught.length + dropped.length >= 300, 50000, '300 orders');

    assert.strictEqual(caught.length, 0, JSON.stringify(caught.map((m) => m.error && m.error.message).slice(0, 3)));
    assert.strictEqual(dropped.length, 0);
    assert.strictEqual(out.length, 300);
    const after = await sim.stats();
    assert.ok(after.rateLimited > before.rateLimited, 'the burst met a 429');
    assert.strictEqual(after.orders, 300, 'each order posted once');
    const orders = await sim.orders();
    const ids = orders.map((o) => o.client_order_id).filter((id) => id.startsWith('lock-'));
    assert.strictEqual(ids.length, 300);
    assert.strictEqual(new Set(ids).size, 300);
    assert.ok(events.length >= 2 && events[0].type === 'paused', JSON.stringify(events));
    assert.strictEqual(events[0].status, 429);
    assert.ok(events.some((e) => e.type === 'resumed'));
    assert.ok(
      statuses(gate).some((s) => /paused until \d\d:\d\d:\d\d/.test(s.text || '') && s.fill === 'yellow'),
      'the gate showed the pause',
    );
  });

  it('lets higher priority through first: cancels and closes overtake waiting entries', async function () {
    await helper.load(nodes, [
      accountDef({ budgetLimit: 2, budgetWindow: 1 }),
      { id: 'f1', type: 'tab', label: 'gate' },
      gateDef({ wires: [['out'], ['dropped']] }),
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'dropped', type: 'helper', z: 'f1' },
    ]);
    const out = collect(helper.getNode('out'));
    const gate = helper.getNode('gate');
    // Two per second, one of them kept for panic actions: after the first msg the budget is spent
    // and the next six all wait; then they are released best first.
    gate.receive({ payload: 'first' });
    await waitFor(() => out.length === 1, 5000, 'the first msg');
    gate.receive({ payload: 'entry-1', priority: 2 });
    gate.receive({ payload: 'entry-2' });
    gate.receive({ payload: 'close', priority: 'high' });
    gate.receive({ payload: 'cancel', priority: 9 });
    gate.receive({ payload: 'entry-3', priority: 'low' });
    gate.receive({ payload: 'entry-4', priority: '5' });
    await waitFor(() => out.length === 7, 15000, 'six released');
    assert.deepStrictEqual(
      out.slice(1).map((m) => m.payload),
      ['cancel', 'close', 'entry-2', 'entry-4', 'entry-1', 'entry-3'],
    );
    assert.deepStrictEqual(
      out.slice(1).map((m) => m.rateGate.priority),
      [9, 8, 5, 5, 2, 2],
    );
  });

  it("waits for the account's market-data budget when the dialog says so, leaving the trading budget alone", async function () {
    await helper.load(nodes, [
      accountDef({ dataBudget: 'custom', dataBudgetLimit: 3, dataBudgetWindow: 3600 }),
      { id: 'f1', type: 'tab', label: 'gate' },
      gateDef({ budget: 'data', wires: [['out'], ['dropped']] }),
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'dropped', type: 'helper', z: 'f1' },
    ]);
    const out = collect(helper.getNode('out'));
    const gate = helper.getNode('gate');
    const connection = helper.getNode('acct').connection;
    await waitFor(() => connection.status.state === 'connected', 5000, 'connected');
    const trading = connection.budget.state.tokens;
    for (let i = 0; i < 5; i++) gate.receive({ payload: i });
    await waitFor(() => out.length === 3, 5000, 'three released');
    await waitFor(() => statuses(gate).some((s) => /0\/3 tokens · queue 2/.test(s.text || '')), 5000, 'two waiting');
    assert.strictEqual(connection.dataBudget.state.tokens, 0);
    assert.strictEqual(connection.budget.state.tokens, trading);
  });

  it('a backfill of 100 market-data requests during an order burst delays no order', async function () {
    // Both budgets at their defaults (180 in any 60 s each). 150 orders and 100 market-data
    // reads at once: were the reads spending the trading budget, about 80 orders would wait a
    // minute.
    await helper.load(nodes, orderFlow({ budgetLimit: '', budgetWindow: '' }, { maxWait: '' }));
    const sim = await simWith({});
    const connection = helper.getNode('acct').connection;
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const gate = helper.getNode('gate');
    const t0 = Date.now();
    const backfill = Promise.all(Array.from({ length: 100 }, () => connection.reads.latestPrice('AAPL')));
    for (let i = 0; i < 150; i++) gate.receive(buy(`with-data-${i}`));
    const prices = await backfill;
    await waitFor(() => out.length + caught.length >= 150, 20000, '150 orders');
    assert.strictEqual(caught.length, 0, JSON.stringify(caught.map((m) => m.error && m.error.message).slice(0, 3)));
    assert.ok(prices.every((p) => p > 0));
    assert.deepStrictEqual(out.filter((m) => m.rateGate.waitedMs > 0).map((m) => m.rateGate.waitedMs), [], 'no order waited');
    assert.strictEqual((await requestTimes(sim.url, t0, 'data')).length, 100);
    assert.strictEqual((await sim.stats()).rateLimited, 0);
    assert.strictEqual(connection.dataBudget.state.tokens, 80);
  });

  it('reports a bad msg.priority to a Catch node and queues nothing', async function () {
    await helper.load(nodes, [
      accountDef(),
      { id: 'f1', type: 'tab', label: 'gate' },
      gateDef({ wires: [['out'], []] }),
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ]);
    const caught = collect(helper.getNode('caught'));
    const out = collect(helper.getNode('out'));
    helper.getNode('gate').receive({ payload: 'x', priority: 'urgent!!' });
    await waitFor(() => caught.length === 1, 5000, 'the error');
    assert.match(caught[0].error.message, /msg\.priority must be/);
    assert.strictEqual(out.length, 0);
  });
});

describe('alpaca-rate-gate standalone (any API)', function () {
  this.timeout(30000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  function standalone(gate, extra = []) {
    return [
      { id: 'f1', type: 'tab', label: 'gate' },
      gateDef({ account: '', categories: [{ name: 'orders', limit: 2, window: 3600, shape: 'window' }, { name: 'quotes', limit: 100, window: 3600, shape: 'bucket' }], category: 'orders', wires: [['out'], ['dropped']], ...gate }),
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'dropped', type: 'helper', z: 'f1' },
      { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
      ...extra,
    ];
  }

  it('expires a msg that waited longer than max wait instead of sending it late', async function () {
    await helper.load(nodes, standalone({ maxWait: 0.3 }));
    const out = collect(helper.getNode('out'));
    const dropped = collect(helper.getNode('dropped'));
    const gate = helper.getNode('gate');
    for (let i = 0; i < 4; i++) gate.receive({ payload: i });
    await waitFor(() => dropped.length === 2, 5000, 'two expired');
    assert.deepStrictEqual(out.map((m) => m.payload), [0, 1]);
    assert.deepStrictEqual(dropped.map((m) => m.payload), [2, 3]);
    assert.ok(dropped.every((m) => m.rateGate.dropped === 'expired' && m.rateGate.waitedMs >= 300 && m.rateGate.category === 'orders'));
  });

  for (const [policy, expectDropped, expectQueued] of [
    ['reject-newest', ['q3', 'q4'], 'queue 3'],
    ['drop-oldest', ['q0', 'q1'], 'queue 3'],
    ['drop-lowest', ['q1', 'q4'], 'queue 3'],
  ]) {
    it(`full queue, policy ${policy}: each drop reported with its msg`, async function () {
      await helper.load(nodes, standalone({ queueSize: 3, fullPolicy: policy }));
      const out = collect(helper.getNode('out'));
      const dropped = collect(helper.getNode('dropped'));
      const gate = helper.getNode('gate');
      gate.receive({ payload: 'a' });
      gate.receive({ payload: 'b' });
      await waitFor(() => out.length === 2, 5000, 'two granted');
      // priorities: q0 5, q1 1, q2 5, q3 7, q4 1
      [5, 1, 5, 7, 1].forEach((priority, i) => gate.receive({ payload: `q${i}`, priority }));
      await waitFor(() => dropped.length === 2, 5000, 'two dropped');
      assert.deepStrictEqual(dropped.map((m) => m.payload), expectDropped);
      assert.ok(dropped.every((m) => m.rateGate.dropped === 'queue-full'));
      await waitFor(() => statuses(gate).some((s) => (s.text || '').includes(expectQueued)), 5000, expectQueued);
    });
  }

  it('reports drops as Catch-able errors when the second output is not wired', async function () {
    await helper.load(nodes, standalone({ queueSize: 1, fullPolicy: 'reject-newest', wires: [['out'], []] }));
    const caught = collect(helper.getNode('caught'));
    const gate = helper.getNode('gate');
    // a and b take the two tokens, c waits: the queue of one is full for d and e.
    for (const p of ['a', 'b', 'c', 'd', 'e']) gate.receive({ payload: p });
    await waitFor(() => caught.length === 2, 5000, 'the errors');
    assert.deepStrictEqual(caught.map((m) => m.payload), ['d', 'e']);
    assert.ok(caught.every((m) => /queue full/.test(m.error.message) && m.rateGate.dropped === 'queue-full'));
  });

  it('keeps categories apart and rejects an unknown one', async function () {
    await helper.load(nodes, standalone({}));
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const gate = helper.getNode('gate');
    for (let i = 0; i < 3; i++) gate.receive({ payload: `o${i}` });
    for (let i = 0; i < 5; i++) gate.receive({ payload: `q${i}`, category: 'quotes' });
    gate.receive({ payload: 'typo', category: 'quotess' });
    await waitFor(() => out.length === 7 && caught.length === 1, 5000, 'seven granted, one error');
    assert.ok(!out.some((m) => m.payload === 'o2'), 'orders allows 2');
    assert.strictEqual(out.filter((m) => m.rateGate.category === 'quotes').length, 5);
    assert.match(caught[0].error.message, /not one of: orders, quotes/);
  });

  it('takes feedback by msg: a 429 from an http request node, marked msg.rateFeedback, pauses the category until Retry-After', async function () {
    await helper.load(nodes, standalone({ category: 'quotes' }));
    const out = collect(helper.getNode('out'));
    const gate = helper.getNode('gate');
    // What an http request node outputs after a 429, marked as feedback by the flow.
    gate.receive({ statusCode: 429, headers: { 'retry-after': '1' }, responseUrl: 'https://api.example.com/x', payload: '', rateFeedback: true });
    gate.receive({ payload: 'after-429' });
    await waitFor(() => out.length === 1, 5000, 'released after the pause');
    assert.strictEqual(out[0].payload, 'after-429');
    assert.ok(out[0].rateGate.waitedMs >= 900, `waited ${out[0].rateGate.waitedMs} ms`);
    assert.ok(statuses(gate).some((s) => /paused until \d\d:\d\d:\d\d · queue 1/.test(s.text || '') && s.fill === 'yellow'));
  });

  it('takes feedback by msg: X-RateLimit-Remaining below its count lowers the count', async function () {
    await helper.load(nodes, standalone({ category: 'quotes' }));
    const out = collect(helper.getNode('out'));
    const gate = helper.getNode('gate');
    // The API says 2 left (another program uses the key): only 2 of 4 go.
    gate.receive({ rateFeedback: { status: 200, headers: { 'X-RateLimit-Remaining': '2' } } });
    await waitFor(() => statuses(gate).some((s) => /quotes 2\/100 tokens/.test(s.text || '')), 5000, 'two tokens');
    for (let i = 0; i < 4; i++) gate.receive({ payload: `r${i}` });
    await waitFor(() => out.length === 2, 5000, 'two released');
    await waitFor(() => statuses(gate).some((s) => /queue 2/.test(s.text || '')), 5000, 'two waiting');
    assert.deepStrictEqual(out.map((m) => m.payload), ['r0', 'r1']);
  });

  it('refuses a bad category table with a red status and errors', async function () {
    await helper.load(nodes, standalone({ categories: [{ name: 'x', limit: 0, window: 1, shape: 'bucket' }], category: '' }));
    const caught = collect(helper.getNode('caught'));
    const gate = helper.getNode('gate');
    gate.receive({ payload: 1 });
    await waitFor(() => caught.length === 1, 5000, 'the error');
    assert.match(caught[0].error.message, /misconfigured: .*requests must be/);
    assert.ok(statuses(gate).some((s) => s.fill === 'red'));
  });
});
