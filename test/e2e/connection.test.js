'use strict';
// The shared connection on its own (no Node-RED): simulator lifecycle, trade-updates feed,
// budget feedback, retry with backoff when the broker is unreachable.
const assert = require('assert');
const http = require('http');
const { AlpacaConnection } = require('../../dist/lib/alpaca/connection');
const { waitFor, sleep } = require('../support/wait');
const { startSim, simControl } = require('../support/sim');
const { freePort } = require('../support/nodered-process');

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
    const sim = simControl(connection.endpoint);
    await sim.stats();
    await connection.deregister(a);
    await sim.stats(); // still up while b uses it
    await connection.deregister(b);
    assert.strictEqual(connection.status.state, 'closed');
    await assert.rejects(sim.stats());
  });

  it('feeds trade updates from one shared trading stream and reports every response to the budget of its API', async function () {
    // Budgets that think they have more than the simulator's 200 a minute: the broker's
    // X-RateLimit-Remaining, fed back from every response, lowers them.
    connection = new AlpacaConnection({ mode: 'sim', budgetOptions: { limit: 1000 }, dataBudgetOptions: { limit: 1000 }, sim: { marketHours: 'always' } });
    connection.register(user('a'));
    const updates = [];
    const other = [];
    const off = connection.tradeUpdates.subscribe((u) => updates.push(u));
    const off2 = connection.tradeUpdates.subscribe((u) => other.push(u));
    const sim = simControl(await waitFor(() => connection.endpoint, 5000, 'the simulator'));
    await waitFor(async () => (await sim.stats()).streamConnections === 1, 5000, 'stream');
    await sleep(200); // the listen acknowledgement
    const order = { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'market', timeInForce: 'day', orderClass: 'simple', extendedHours: false, qty: 3 };
    await connection.orders.submit(order, 'feed-test-1', { name: 'test' });
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
    await waitFor(async () => (await sim.stats()).streamConnections === 0, 5000, 'stream closed');
    assert.ok(connection.budget.state.lowered >= 1, 'trading responses reached the trading budget');
    assert.strictEqual(connection.dataBudget.state.lowered, 0, 'no market-data call yet');
    assert.ok((await connection.reads.latestPrice('AAPL')) > 0);
    await waitFor(() => connection.dataBudget.state.lowered >= 1, 2000, 'the market-data response to reach the market-data budget');
  });

  it('reports an order that filled before the trading stream listened: a gap fill from the moment the feed started', async function () {
    connection = new AlpacaConnection({ mode: 'sim', sim: { marketHours: 'always' } });
    connection.register(user('a'));
    const sim = simControl(await waitFor(() => connection.endpoint, 5000, 'the simulator'));
    // The trading stream answers its authentication 1.5 s late: the order below fills unheard.
    await sim.faults({ tradingAuthDelayMs: 1500 });
    const updates = [];
    const off = connection.tradeUpdates.subscribe((u) => updates.push(u));
    await waitFor(async () => (await sim.stats()).streamConnections === 1, 5000, 'the socket');
    const order = { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'market', timeInForce: 'day', orderClass: 'simple', extendedHours: false, qty: 2 };
    await connection.orders.submit(order, 'before-listen-1', { name: 'test' });
    assert.notStrictEqual(connection.tradeUpdates.status.state, 'connected', 'placed before the stream listened');
    await waitFor(() => updates.some((u) => u.event === 'fill'), 6000, 'the fill');
    const fill = updates.find((u) => u.event === 'fill');
    assert.strictEqual(fill.order.clientOrderId, 'before-listen-1');
    assert.strictEqual(fill.recovered, true);
    assert.strictEqual(updates.filter((u) => u.event === 'fill').length, 1, 'once');
    off();
  });

  it('retries an unreachable broker with backoff, showing the attempt, and connects when it comes up', async function () {
    const port = await freePort();
    connection = new AlpacaConnection({ mode: 'paper', keyId: 'K', secret: 'S', endpoint: `http://127.0.0.1:${port}`, initialRetryMs: 100, maxRetryMs: 400 });
    const seen = [];
    connection.register(user('a', seen));
    await waitFor(() => seen.some((s) => s.state === 'reconnecting' && s.attempt >= 2), 8000, 'two attempts');
    const retrying = seen.filter((s) => s.state === 'reconnecting');
    assert.match(retrying[0].text, /unreachable \(attempt 1, since \d\d:\d\d:\d\d\)/);
    assert.ok(!JSON.stringify(seen).includes('"S"'));
    // The broker comes up on that port: the next retry connects.
    const sim = await startSim({ port });
    try {
      await waitFor(() => connection.status.state === 'connected', 5000, 'connected after the broker came up');
    } finally {
      await connection.close();
      await sim.stop();
    }
  });

  it('reads a rate limit\'s reset on the broker\'s clock: an hour ahead of ours, a reset 30 s away pauses the budget 30 s', async function () {
    const ahead = 3_600_000;
    const server = http.createServer((req, res) => {
      const brokerNow = Date.now() + ahead;
      // No Retry-After: the reset alone says when to come back.
      res.writeHead(429, { 'Content-Type': 'application/json', Date: new Date(brokerNow).toUTCString(), 'X-RateLimit-Limit': '200', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(Math.ceil((brokerNow + 30_000) / 1000)) });
      res.end('{"message":"too many requests"}');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    connection = new AlpacaConnection({ mode: 'paper', keyId: 'K', secret: 'S', endpoint: `http://127.0.0.1:${server.address().port}` });
    try {
      connection.register(user('a'));
      await waitFor(() => connection.budget.state.pausedUntil !== undefined, 5000, 'the pause after the 429');
      const pause = connection.budget.state.pausedUntil - Date.now();
      // The Date header is rounded down to its second, so the pause may be up to a second longer.
      assert.ok(pause > 27_000 && pause < 32_000, `paused ${pause} ms`);
    } finally {
      await connection.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("waits out an order's 429 until the reset on the broker's clock (an hour ahead of ours, no Retry-After), then sends it again: placed once", async function () {
    const ahead = 3_600_000;
    const sim = await startSim();
    let refused = 0;
    // The simulator behind a proxy whose answers carry the broker's time an hour ahead; the first
    // order is refused with a reset 2 s away on that clock.
    const server = http.createServer(async (req, res) => {
      const brokerNow = Date.now() + ahead;
      const date = new Date(brokerNow).toUTCString();
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      if (req.method === 'POST' && req.url === '/v2/orders' && refused++ === 0) {
        res.writeHead(429, { 'Content-Type': 'application/json', Date: date, 'X-RateLimit-Limit': '200', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(Math.ceil((brokerNow + 2000) / 1000)) });
        return res.end('{"code":42910000,"message":"rate limit exceeded"}');
      }
      const headers = { ...req.headers };
      for (const h of ['host', 'connection', 'content-length']) delete headers[h];
      const answer = await fetch(sim.url + req.url, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      res.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') || 'application/json', Date: date });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    connection = new AlpacaConnection({ mode: 'paper', keyId: sim.key, secret: sim.secret, endpoint: `http://127.0.0.1:${server.address().port}` });
    try {
      connection.register(user('a'));
      await waitFor(() => connection.status.state === 'connected', 5000, 'connected through the proxy');
      const order = { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'market', timeInForce: 'day', orderClass: 'simple', extendedHours: false, qty: 1 };
      const started = Date.now();
      const placed = await connection.orders.submit(order, 'skewed-429-1', { name: 'test' }, { maxWaitMs: 10_000 });
      const waited = Date.now() - started;
      assert.strictEqual(placed.outcome, 'placed');
      assert.deepStrictEqual(placed.attempts.map((a) => [a.step, a.ok ? 'ok' : a.status]), [['submit', 429], ['submit', 'ok']]);
      // Sent again only after the reset (2-3 s away; the budget then lets tokens come back at its
      // steady rate, the last few kept for panic actions), well within the order's max wait.
      assert.ok(waited > 1900, `waited ${waited} ms`);
      const mine = (await sim.alpaca.trading.orders.getAllOrders({ status: 'all' })).filter((o) => o.clientOrderId === 'skewed-429-1');
      assert.strictEqual(mine.length, 1);
    } finally {
      await connection.close();
      connection = undefined;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await sim.stop();
    }
  });
});
