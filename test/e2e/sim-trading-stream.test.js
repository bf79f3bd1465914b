'use strict';
// The simulator's trading stream (/stream) through the official SDK's TradingStream, plus the raw
// protocol in Alpaca's documented shapes (listen before auth, bad keys, unknown actions, a second
// connection, binary frames, msgpack) and listener cleanup across many connections.
const assert = require('assert');
const WebSocket = require('ws');
const { encode, decode } = require('@msgpack/msgpack');
const { waitFor, sleep } = require('../support/wait');
const { startSim } = require('../support/sim');
const { createClient } = require('../../dist/lib/alpaca/client');

/** A raw client; `msgpack` asks for msgpack on the upgrade. Records frames and whether each came binary. */
function openRaw(url, { msgpack = false } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, msgpack ? { headers: { 'Content-Type': 'application/msgpack' } } : undefined);
    const frames = [];
    const binary = [];
    ws.on('message', (m, isBinary) => {
      binary.push(isBinary);
      frames.push(msgpack ? decode(m) : JSON.parse(m.toString()));
    });
    const send = (m) => ws.send(msgpack ? encode(m) : JSON.stringify(m));
    ws.once('open', () => resolve({ ws, frames, binary, send }));
    ws.once('error', reject);
  });
}
const closed = (ws) => new Promise((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', resolve)));

describe('simulator trading stream (official SDK)', function () {
  this.timeout(20000);
  let s;
  const streams = [];
  const raws = [];

  async function connected(alpaca = s.alpaca) {
    const stream = alpaca.trading.stream({ url: s.urls.trading, maxReconnectAttempts: 3 });
    streams.push(stream);
    const updates = [];
    const subscriptions = [];
    stream.onTradeUpdate((u) => updates.push(u));
    stream.on('subscription', (list) => subscriptions.push(list));
    stream.subscribeTradeUpdates();
    stream.connect();
    assert.strictEqual(await stream.waitForAuthentication(5000), true);
    await waitFor(() => subscriptions.length > 0, 5000, 'listening ack');
    assert.deepStrictEqual(subscriptions[0], ['trade_updates']);
    return { stream, updates, subscriptions };
  }

  afterEach(async () => {
    for (const st of streams.splice(0)) st.disconnect();
    for (const ws of raws.splice(0)) ws.terminate();
    if (s) await s.stop();
    s = undefined;
  });

  it('delivers new, partial_fill, fill, canceled and replaced events for REST orders', async () => {
    s = await startSim({ broker: { liquidityPerTick: 4 } });
    const { updates } = await connected();
    const market = await s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 10, side: 'buy', clientOrderId: 'stream-mkt' });
    await waitFor(() => updates.some((u) => u.order.id === market.id && u.event === 'fill'), 8000, 'fill event');
    const mine = updates.filter((u) => u.order.id === market.id);
    assert.deepStrictEqual(mine.map((u) => u.event), ['new', 'partial_fill', 'partial_fill', 'fill']);
    assert.deepStrictEqual(mine.slice(1).map((u) => u.qty), ['4', '4', '2']);
    const fill = mine[3];
    assert.strictEqual(fill.positionQty, '10');
    assert.ok(fill.executionId);
    assert.ok(Number(fill.price) > 0);
    assert.ok(fill.timestamp instanceof Date);
    assert.strictEqual(fill.order.clientOrderId, 'stream-mkt');
    assert.strictEqual(fill.order.status, 'filled');
    assert.strictEqual(fill.order.filledQty, '10');

    const limit = await s.alpaca.trading.orders.limit({ symbol: 'AAPL', qty: 1, side: 'buy', limitPrice: 1, timeInForce: 'gtc' });
    const replacement = await s.alpaca.trading.orders.patchOrderByOrderId({ orderId: limit.id, patchOrderRequest: { limitPrice: '2' } });
    await s.alpaca.trading.orders.deleteOrderByOrderID({ orderId: replacement.id });
    await waitFor(() => updates.some((u) => u.order.id === replacement.id && u.event === 'canceled'), 5000, 'canceled event');
    assert.deepStrictEqual(updates.filter((u) => u.order.id === limit.id).map((u) => u.event), ['new', 'replaced']);
    assert.strictEqual(updates.find((u) => u.event === 'replaced').order.replacedBy, replacement.id);
    assert.deepStrictEqual(updates.filter((u) => u.order.id === replacement.id).map((u) => u.event), ['new', 'canceled']);
  });

  it('submitAndWait resolves with the filled order over a given stream', async () => {
    s = await startSim();
    const { stream } = await connected();
    const order = await s.alpaca.trading.submitAndWait({ symbol: 'AAPL', qty: 2, side: 'buy', type: 'market', timeInForce: 'day' }, { stream, timeoutMs: 10000 });
    assert.strictEqual(order.status, 'filled');
    assert.strictEqual(order.filledQty, '2');
    assert.strictEqual(order.symbol, 'AAPL');
  });

  it('allows one trading stream per key: a second one is rejected in Alpaca\'s words and closed', async () => {
    s = await startSim();
    await connected();
    const second = await openRaw(s.urls.trading);
    raws.push(second.ws);
    second.send({ action: 'authenticate', data: { key_id: s.key, secret_key: s.secret } });
    await closed(second.ws);
    assert.deepStrictEqual(second.frames, [
      { stream: 'listening', data: { error: 'your connection is rejected while another connection is open under the same account' } },
    ]);
  });

  it('bad keys are a terminal auth failure', async () => {
    s = await startSim({ key: 'K', secret: 'S' });
    const wrong = createClient({ keyId: 'K', secret: 'nope', paper: true, endpoint: s.url, rateLimit: false });
    const stream = wrong.trading.stream({ url: s.urls.trading });
    streams.push(stream);
    stream.connect();
    const result = await stream.waitForAuthenticationResult(5000);
    assert.strictEqual(result.authenticated, false);
    await waitFor(() => stream.getState() === 'disconnected', 5000, 'gave up');
  });

  it('reconnects after dropStreams() and keeps receiving updates', async () => {
    s = await startSim();
    const { stream, updates, subscriptions } = await connected();
    let reconnected = false;
    stream.onReconnected(() => (reconnected = true));
    assert.strictEqual((await s.faults({ dropStreams: true })).dropped, 1);
    await waitFor(() => reconnected && subscriptions.length >= 2, 8000, 'reconnect and listen again');
    const order = await s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });
    await waitFor(() => updates.some((u) => u.order.id === order.id && u.event === 'fill'), 5000, 'fill after reconnect');
  });

  it('a stale slot after a drop rejects the reconnect; the SDK keeps trying and gets back in', async () => {
    s = await startSim();
    const { stream, updates, subscriptions } = await connected();
    let reconnected = false;
    stream.onReconnected(() => (reconnected = true));
    await s.faults({ staleSlotMs: 1500 });
    const before = (await s.stats()).streamConnectionsTotal;
    assert.strictEqual((await s.faults({ dropStreams: true })).dropped, 1);
    await waitFor(() => reconnected && subscriptions.length >= 2, 12000, 'reconnect once the slot is free');
    assert.ok((await s.stats()).streamConnectionsTotal >= before + 2, 'at least one attempt was turned away first');
    const order = await s.alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy' });
    await waitFor(() => updates.some((u) => u.order.id === order.id && u.event === 'fill'), 5000, 'fill after reconnect');
  });

  it('raw protocol: binary JSON frames as Alpaca\'s paper stream sends them, or msgpack when asked', async () => {
    s = await startSim();
    for (const msgpack of [false, true]) {
      const c = await openRaw(s.urls.trading, { msgpack });
      raws.push(c.ws);
      c.send({ action: 'auth', key: s.key, secret: s.secret });
      c.send({ action: 'listen', data: { streams: ['trade_updates', 'no_such_stream'] } });
      await waitFor(() => c.frames.some((f) => f.stream === 'listening'), 5000, 'listening');
      assert.deepStrictEqual(c.frames, [
        { stream: 'authorization', data: { action: 'authenticate', status: 'authorized' } },
        { stream: 'listening', data: { streams: ['trade_updates'] } },
      ]);
      assert.deepStrictEqual(c.binary, [true, true]);
      c.ws.close();
      await closed(c.ws);
      await sleep(50); // the server frees the slot on its close
    }
  });

  it('raw protocol: listen before auth, bad keys and unknown actions get Alpaca\'s shapes', async () => {
    s = await startSim({ key: 'K', secret: 'S' });
    const early = await openRaw(s.urls.trading);
    raws.push(early.ws);
    early.send({ action: 'listen', data: { streams: ['trade_updates'] } });
    await closed(early.ws);
    assert.deepStrictEqual(early.frames, [{ stream: 'authorization', data: { action: 'listen', status: 'unauthorized' } }]);

    const wrong = await openRaw(s.urls.trading);
    raws.push(wrong.ws);
    wrong.send({ action: 'authenticate', data: { key_id: 'K', secret_key: 'nope' } });
    await closed(wrong.ws);
    assert.deepStrictEqual(wrong.frames, [
      { stream: 'authorization', data: { action: 'authenticate', status: 'unauthorized', message: 'access key verification failed' } },
    ]);

    const c = await openRaw(s.urls.trading);
    raws.push(c.ws);
    c.send({ action: 'authenticate', data: { key_id: 'K', secret_key: 'S' } });
    c.send({ action: 'dance' });
    c.ws.send('{not json');
    await waitFor(() => c.frames.length >= 3, 5000, 'three replies');
    assert.deepStrictEqual(c.frames.slice(1), [
      { stream: 'listening', data: { error: 'unrecognized action "dance"' } },
      { stream: 'listening', data: { error: 'invalid message: expected a JSON object with an action' } },
    ]);
    assert.strictEqual(c.ws.readyState, WebSocket.OPEN, 'an authorized socket stays open');
  });

  it('raw protocol: listeners return to baseline after many sockets', async () => {
    s = await startSim();
    const baseline = s.sim.broker.listenerCount('trade_update');
    for (let i = 0; i < 25; i++) {
      const { ws, frames } = await openRaw(s.urls.trading);
      raws.push(ws);
      ws.send(JSON.stringify({ action: 'authenticate', data: { key_id: s.key, secret_key: s.secret } }));
      ws.send(JSON.stringify({ action: 'listen', data: { streams: ['trade_updates'] } }));
      await waitFor(() => frames.some((f) => f.stream === 'listening'), 5000, 'listening');
      assert.deepStrictEqual(frames[0], { stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } });
      assert.strictEqual(s.sim.broker.listenerCount('trade_update'), baseline + 1);
      if (i % 2) ws.terminate();
      else ws.close();
      await closed(ws);
      await waitFor(() => s.sim.broker.listenerCount('trade_update') === baseline, 5000, 'listener removed');
    }
    assert.strictEqual(s.sim.broker.listenerCount('trade_update'), baseline);
  });
});
