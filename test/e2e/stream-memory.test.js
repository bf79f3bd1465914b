'use strict';
// 1,000 forced reconnects (the simulator's dropStreams fault, over its control API) while a
// market stream node and an order-updates node are streaming: heap, listener counts and the
// feeds' internal tables must come back to their baseline. Small reconnect delays come from
// settings.js's alpacaStreams, so the whole file runs in seconds.
const assert = require('assert');
const v8 = require('v8');
const vm = require('vm');
const { helper, packNodes, forgetHistory } = require('../support/nodered');
const { waitFor } = require('../support/wait');

const streamNode = require('../../dist/alpaca-stream.js').default;
const orderUpdatesNode = require('../../dist/alpaca-order-updates.js').default;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const RECONNECTS = Number(process.env.STREAM_RECONNECTS || 1000);

function flow() {
  return [
    // Each reconnect costs one gap-fill request: a budget large enough for 1,000 of them in seconds.
    { id: 'acct', type: 'alpaca-account', name: 'sim', mode: 'sim', feed: 'iex', endpoint: '', liveAck: false, budgetLimit: 100000, budgetWindow: 60 },
    { id: 'tab', type: 'tab', label: 'memory' },
    { id: 's', type: 'alpaca-stream', z: 'tab', account: 'acct', kind: 'stocks', symbols: 'AAPL, MSFT', channels: ['trades', 'quotes', 'bars'], output: 'all', watchdog: 60, alertAfter: 2, pollAfter: 30, wires: [['s-data'], ['s-conn']] },
    { id: 'ou', type: 'alpaca-order-updates', z: 'tab', account: 'acct', symbols: '', events: [], wires: [['ou-data'], ['ou-conn']] },
    { id: 's-data', type: 'helper', z: 'tab' },
    { id: 's-conn', type: 'helper', z: 'tab' },
    { id: 'ou-data', type: 'helper', z: 'tab' },
    { id: 'ou-conn', type: 'helper', z: 'tab' },
  ];
}

function listenerCounts(connection, sim) {
  const counts = {};
  const d = connection.diagnostics();
  for (const [kind, stream] of Object.entries(d.streams)) {
    for (const [name, count] of Object.entries(stream.listeners)) counts[`${kind}:${name}`] = count;
  }
  for (const name of ['trade', 'quote', 'bar', 'updatedBar', 'dailyBar', 'tick']) counts[`market:${name}`] = sim.market.listenerCount(name);
  counts['broker:trade_update'] = sim.broker.listenerCount('trade_update');
  counts['connection:request'] = d.requestListeners;
  return counts;
}

function heapUsed() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('stream memory across 1,000 reconnects', function () {
  this.timeout(180000);
  before(() => helper.startServer());
  after(() => {
    helper.settings({});
    return helper.stopServer();
  });
  afterEach(() => helper.unload());

  it('keeps heap, listeners and feed tables flat', async function () {
    helper.settings({
      alpacaSimulator: { seed: 9, tickMs: 20, marketHours: 'always' },
      alpacaStreams: { initialReconnectMs: 1, maxReconnectMs: 5, reconnectJitter: 0 },
    });
    await helper.load([...packNodes, streamNode, orderUpdatesNode], flow());
    const account = helper.getNode('acct');
    const connection = account.connection;
    await waitFor(() => connection.sim, 8000, 'simulator');
    const sim = connection.sim;
    const post = (body) => fetch(`${sim.url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    await post({ rateLimitPerMinute: 1000000 });
    let data = 0;
    let reconnected = { s: 0, ou: 0 };
    helper.getNode('s-data').on('input', () => data++);
    helper.getNode('s-conn').on('input', (m) => m.event === 'recovered' && reconnected.s++);
    helper.getNode('ou-conn').on('input', (m) => m.event === 'recovered' && reconnected.ou++);
    const feed = connection.marketFeed('stocks');
    const trades = connection.tradeUpdates;
    await waitFor(() => feed.status.state === 'connected' && trades.status.state === 'connected' && data > 0, 8000, 'both streams up');

    const cycle = async (n) => {
      for (let i = 0; i < n; i++) {
        forgetHistory();
        const want = { s: reconnected.s + 1, ou: reconnected.ou + 1 };
        const result = await post({ dropStreams: true });
        assert.strictEqual(result.dropped, 2, `iteration ${i}: two sockets dropped`);
        const t0 = Date.now();
        await waitFor(() => reconnected.s >= want.s && reconnected.ou >= want.ou, 10000, `reconnect ${i}`, 1);
        if (process.env.DEBUG_STREAM) console.log(i, Date.now() - t0);
      }
    };

    await cycle(50); // warm-up: JIT, pools, lazily built tables
    const baseListeners = listenerCounts(connection, sim);
    const baseHeap = heapUsed();
    const totalBefore = sim.stats.streamConnectionsTotal;
    const dataBefore = data;

    await cycle(RECONNECTS);

    assert.strictEqual(sim.stats.streamConnectionsTotal - totalBefore, RECONNECTS * 2, 'every drop was followed by a new socket per kind');
    assert.strictEqual(sim.stats.streamConnections, 2);
    await waitFor(() => data > dataBefore + 10, 5000, 'still streaming', 1);
    assert.deepStrictEqual(listenerCounts(connection, sim), baseListeners, 'listener counts back to baseline');
    const fs = feed.stats;
    assert.deepStrictEqual([fs.subscribers, fs.pairs, fs.held], [1, 6, 0]);
    assert.ok(fs.tracked <= 6, `tracked ${fs.tracked}`);
    assert.strictEqual(trades.stats.listeners, 1);
    assert.strictEqual(trades.stats.held, 0);
    const grown = heapUsed() - baseHeap;
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB over ${RECONNECTS} reconnects`);
  });
});
