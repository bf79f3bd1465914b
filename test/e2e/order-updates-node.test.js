'use strict';
// alpaca-order-updates in a real Node-RED runtime with the official SDK and the simulator over
// real sockets: live updates and filters, gap fill of fills missed while the stream was down,
// and no lost or duplicated update while orders keep filling through repeated drops.
const assert = require('assert');
const { helper, packNodes, record } = require('../support/nodered');
const { waitFor, sleep } = require('../support/wait');
const { accountSim } = require('../support/sim');
const { ACCOUNT } = require('../support/fixtures');

const streamNode = require('../../dist/alpaca-stream.js').default;
const orderUpdatesNode = require('../../dist/alpaca-order-updates.js').default;
const NODES = [...packNodes, streamNode, orderUpdatesNode];

function flow(nodes) {
  const out = [ACCOUNT, { id: 'tab', type: 'tab', label: 'order updates test' }];
  for (const n of nodes) {
    out.push(
      { type: 'alpaca-order-updates', z: 'tab', account: 'acct', symbols: '', events: [], watchdog: 60, alertAfter: 2, pollAfter: 30, wires: [[`${n.id}-data`], [`${n.id}-conn`]], ...n },
      { id: `${n.id}-data`, type: 'helper', z: 'tab' },
      { id: `${n.id}-conn`, type: 'helper', z: 'tab' },
    );
  }
  return out;
}

async function setup() {
  const account = helper.getNode('acct');
  const sim = await accountSim(account);
  // Another program trading on the same simulated account (its own key, as a second bot would).
  const sdk = sim.sdk('OTHERBOT');
  await waitFor(() => account.connection.tradeUpdates.status.state === 'connected', 8000, 'trade updates connected');
  return { account, sim, sdk };
}

const key = (m) => `${m.payload.order.id}|${m.event}|${m.payload.executionId || m.payload.order.updatedAt}`;

describe('alpaca-order-updates node on the simulator', function () {
  this.timeout(40000);
  before(() => helper.startServer());
  after(() => {
    helper.settings({});
    return helper.stopServer();
  });
  afterEach(() => helper.unload());

  it('emits every update with the order, filtered by symbol and event', async function () {
    helper.settings({ alpacaSimulator: { seed: 5, tickMs: 50, marketHours: 'always' } });
    await helper.load(NODES, flow([{ id: 'all' }, { id: 'msftFills', symbols: 'MSFT', events: ['fill'] }]));
    const got = record(['all-data', 'msftFills-data', 'all-conn']);
    const { sim, sdk } = await setup();
    const aapl = await sdk.trading.orders.market({ symbol: 'AAPL', qty: 2, side: 'buy', clientOrderId: 'ou-aapl' });
    const msft = await sdk.trading.orders.market({ symbol: 'MSFT', qty: 1, side: 'buy', clientOrderId: 'ou-msft' });
    await waitFor(() => got['msftFills-data'].length === 1 && got['all-data'].filter((m) => m.event === 'fill').length === 2, 8000, 'fills');
    const aaplEvents = got['all-data'].filter((m) => m.payload.order.id === aapl.id).map((m) => m.event);
    assert.deepStrictEqual(aaplEvents, ['new', 'fill']);
    const fill = got['msftFills-data'][0];
    assert.strictEqual(fill.topic, 'MSFT');
    assert.strictEqual(fill.event, 'fill');
    assert.strictEqual(fill.payload.order.id, msft.id);
    assert.strictEqual(fill.payload.order.clientOrderId, 'ou-msft');
    assert.strictEqual(fill.payload.order.status, 'filled');
    assert.strictEqual(fill.payload.order.filledQty, 1);
    assert.strictEqual(typeof fill.payload.price, 'number');
    assert.strictEqual(fill.payload.qty, 1);
    assert.strictEqual(fill.payload.time, Date.parse(fill.payload.timestamp));
    assert.strictEqual(fill.recovered, undefined);
    assert.strictEqual(got['all-conn'][0].payload.event, 'connected');
    assert.strictEqual((await sim.stats()).streamConnections, 1, 'both nodes share one trading socket');
  });

  it('recovers fills missed while the stream was down: once, in order, marked recovered', async function () {
    helper.settings({ alpacaSimulator: { seed: 5, tickMs: 50, marketHours: 'always' }, alpacaStreams: { initialReconnectMs: 1500, reconnectJitter: 0 } });
    await helper.load(NODES, flow([{ id: 'ou' }]));
    const got = record(['ou-data', 'ou-conn']);
    const { sim, sdk } = await setup();
    const before = await sdk.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });
    await waitFor(() => got['ou-data'].some((m) => m.payload.order.id === before.id && m.event === 'fill'), 8000, 'live fill');

    await sim.faults({ dropStreams: true });
    await waitFor(() => got['ou-conn'].some((m) => m.event === 'disconnected'), 5000, 'disconnected');
    const missed = [];
    for (const symbol of ['MSFT', 'TSLA', 'SPY']) missed.push(await sdk.trading.orders.market({ symbol, qty: 1, side: 'buy' }));
    await waitFor(async () => (await Promise.all(missed.map((o) => sdk.trading.orders.getOrderByOrderID({ orderId: o.id })))).every((o) => o.status === 'filled'), 8000, 'fills while down');
    await waitFor(() => got['ou-conn'].some((m) => m.event === 'recovered'), 10000, 'gap fill');

    const recovered = got['ou-data'].filter((m) => m.recovered);
    assert.deepStrictEqual(recovered.map((m) => m.payload.order.id), missed.map((o) => o.id), 'each missed order once, in order');
    assert.ok(recovered.every((m) => m.event === 'fill' && m.payload.recovered === true && m.payload.qty === 1 && m.payload.price > 0));
    assert.strictEqual(got['ou-conn'].find((m) => m.event === 'recovered').payload.count, 3);
    const keys = got['ou-data'].map(key);
    assert.strictEqual(new Set(keys).size, keys.length, 'no duplicates');
    // Live again afterwards.
    const after = await sdk.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'sell' });
    await waitFor(() => got['ou-data'].some((m) => m.payload.order.id === after.id && m.event === 'fill' && !m.recovered), 8000, 'live fill after');
  });

  it('loses and duplicates nothing while orders keep filling through repeated drops', async function () {
    helper.settings({ alpacaSimulator: { seed: 5, tickMs: 20, marketHours: 'always' }, alpacaStreams: { initialReconnectMs: 100, reconnectJitter: 0 } });
    await helper.load(NODES, flow([{ id: 'ou' }]));
    const got = record(['ou-data', 'ou-conn']);
    const { sim, sdk } = await setup();
    const orders = [];
    // Drops every 300 ms while the orders go in.
    let drops = 0;
    let trading = true;
    const dropping = (async () => {
      while (trading) {
        await sleep(300);
        if (!trading) break;
        drops++;
        await sim.faults({ dropStreams: true });
      }
    })();
    try {
      for (let i = 0; i < 40; i++) {
        orders.push(await sdk.trading.orders.market({ symbol: i % 2 ? 'AAPL' : 'MSFT', qty: 1, side: 'buy' }));
        await sleep(40);
      }
    } finally {
      trading = false;
      await dropping;
    }
    assert.ok(drops >= 4, `dropped ${drops} times`);
    const fills = () => new Set(got['ou-data'].filter((m) => m.event === 'fill').map((m) => m.payload.order.id));
    await waitFor(() => orders.every((o) => fills().has(o.id)), 20000, 'a fill for every order');
    const perOrder = new Map();
    for (const m of got['ou-data'].filter((x) => x.event === 'fill')) perOrder.set(m.payload.order.id, (perOrder.get(m.payload.order.id) || 0) + 1);
    for (const o of orders) assert.strictEqual(perOrder.get(o.id), 1, `exactly one fill for ${o.id}`);
    const keys = got['ou-data'].map(key);
    assert.strictEqual(new Set(keys).size, keys.length, 'no duplicated update');
    assert.ok(got['ou-conn'].filter((m) => m.event === 'reconnected').length >= 2, 'it did reconnect');
    // Recovery costs what it must: one listing per gap fill that ran (requests asked while one
    // ran are merged into the next), every request counted for the account's diagnostics.
    const r = helper.getNode('acct').connection.diagnostics().feeds.trading.recovery;
    assert.ok(r.gapFills >= 2 && r.requests > 0, JSON.stringify(r));
    assert.ok(r.requests <= 2 + (r.gapFills - r.coalesced) + r.probes + r.polls, JSON.stringify(r));
  });

  it('watchdog: fills the silent socket did not deliver are recovered over REST and the socket is reopened', async function () {
    helper.settings({ alpacaSimulator: { seed: 5, tickMs: 50, marketHours: 'always' }, alpacaStreams: { initialReconnectMs: 50, reconnectJitter: 0 } });
    await helper.load(NODES, flow([{ id: 'ou', watchdog: 0.5 }]));
    const got = record(['ou-data', 'ou-conn']);
    const { sim, sdk } = await setup();
    const totalBefore = (await sim.stats()).streamConnectionsTotal;
    await sim.faults({ silentStreams: true });
    const order = await sdk.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });
    await waitFor(() => got['ou-data'].some((m) => m.payload.order.id === order.id && m.event === 'fill'), 10000, 'the fill, recovered');
    const fills = got['ou-data'].filter((m) => m.payload.order.id === order.id);
    assert.deepStrictEqual(fills.map((m) => [m.event, m.recovered]), [['fill', true]], 'the silent socket lost new and fill; REST recovered the fill once');
    await waitFor(() => got['ou-conn'].some((m) => m.event === 'stale'), 5000, 'stale event');
    await waitFor(async () => (await sim.stats()).streamConnectionsTotal > totalBefore, 5000, 'forced reconnect');
    await sim.faults({ silentStreams: false });
    // Live again: a fill arrives over the socket, not recovered. A fill that lands while a last
    // watchdog reconnect is still under way comes recovered instead, so allow a few orders.
    let live = false;
    for (let i = 0; i < 5 && !live; i++) {
      const next = await sdk.trading.orders.market({ symbol: 'AAPL', qty: 1, side: i % 2 ? 'buy' : 'sell' });
      const fill = () => got['ou-data'].find((m) => m.payload.order.id === next.id && m.event === 'fill');
      await waitFor(fill, 8000, 'the next fill');
      live = !fill().recovered;
    }
    assert.ok(live, 'fills arrive live over the reopened socket');
  });
});
