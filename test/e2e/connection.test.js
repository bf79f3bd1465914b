'use strict';
// The shared connection on its own (no Node-RED): simulator lifecycle, trade-updates feed,
// budget feedback, retry with backoff when the broker is unreachable.
const assert = require('assert');
const net = require('net');
const { AlpacaConnection } = require('../../dist/lib/alpaca/connection');
const { waitFor } = require('../support/sim');

const user = (id, seen = []) => ({ id, onConnectionStatus: (s) => seen.push(s) });

describe('AlpacaConnection', function () {
  this.timeout(20000);
  let connection;
  afterEach(async () => {
    if (connection) await connection.close();
    connection = undefined;
  });

  it('starts the simulator for its first user and stops it after the last one leaves', async function () {
    connection = new AlpacaConnection({ mode: 'sim' });
    const a = user('a');
    const b = user('b');
    connection.register(a);
    connection.register(b);
    await waitFor(() => connection.status.state === 'connected', 5000, 'connected');
    const url = connection.endpoint;
    assert.ok((await fetch(`${url}/sim/stats`)).ok);
    await connection.deregister(a);
    assert.ok((await fetch(`${url}/sim/stats`)).ok, 'still up while b uses it');
    await connection.deregister(b);
    assert.strictEqual(connection.status.state, 'closed');
    await assert.rejects(fetch(`${url}/sim/stats`));
  });

  it('feeds trade updates from one shared trading stream and reports every response to the budget', async function () {
    const observed = [];
    const budget = {
      schedule: (call) => call(),
      observe: (f) => observed.push(f),
      stop: async () => undefined,
    };
    connection = new AlpacaConnection({ mode: 'sim', budget, sim: { marketHours: 'always' } });
    connection.register(user('a'));
    const updates = [];
    const other = [];
    const off = connection.tradeUpdates.subscribe((u) => updates.push(u));
    const off2 = connection.tradeUpdates.subscribe((u) => other.push(u));
    await waitFor(() => connection.endpoint, 5000, 'the simulator');
    await waitFor(async () => (await (await fetch(`${connection.endpoint}/sim/stats`)).json()).streamConnections === 1, 5000, 'stream');
    await new Promise((r) => setTimeout(r, 200)); // the listen acknowledgement
    await connection.rest((a) => a.trading.orders.market({ symbol: 'AAPL', qty: 3, side: 'buy', timeInForce: 'day', clientOrderId: 'feed-test-1' }));
    await waitFor(() => updates.some((u) => u.event === 'fill'), 5000, 'fill');
    const fill = updates.find((u) => u.event === 'fill');
    assert.strictEqual(fill.order.clientOrderId, 'feed-test-1');
    assert.strictEqual(fill.order.symbol, 'AAPL');
    assert.strictEqual(fill.qty, 3);
    assert.strictEqual(fill.positionQty, 3);
    assert.ok(fill.price > 0);
    assert.deepStrictEqual(other.map((u) => u.event), updates.map((u) => u.event));
    off();
    off2();
    await waitFor(async () => (await (await fetch(`${connection.endpoint}/sim/stats`)).json()).streamConnections === 0, 5000, 'stream closed');
    assert.ok(observed.length >= 2);
    assert.ok(observed.every((f) => f.status >= 200 && f.limit === 200 && typeof f.remaining === 'number'));
  });

  it('retries an unreachable broker with backoff, showing the attempt, and connects when it comes up', async function () {
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    connection = new AlpacaConnection({ mode: 'paper', keyId: 'K', secret: 'S', endpoint: `http://127.0.0.1:${port}`, initialRetryMs: 100, maxRetryMs: 400 });
    const seen = [];
    connection.register(user('a', seen));
    await waitFor(() => seen.some((s) => s.state === 'reconnecting' && s.attempt >= 2), 8000, 'two attempts');
    const retrying = seen.filter((s) => s.state === 'reconnecting');
    assert.match(retrying[0].text, /unreachable \(attempt 1, since \d\d:\d\d:\d\d\)/);
    assert.ok(!JSON.stringify(seen).includes('"S"'));
    // The broker comes up on that port: the next retry connects.
    const { Simulator } = require('../../dist/lib/sim/simulator');
    const sim = new Simulator({ port });
    await sim.start();
    try {
      await waitFor(() => connection.status.state === 'connected', 5000, 'connected after the broker came up');
    } finally {
      await connection.close();
      await sim.stop();
    }
  });
});
