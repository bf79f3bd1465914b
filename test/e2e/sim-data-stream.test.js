'use strict';
// The simulator's market-data WebSocket, driven by the official SDK's stock and crypto streams,
// plus the raw protocol (JSON by default, msgpack when asked) for the cases the SDK never produces.
const assert = require('assert');
const WebSocket = require('ws');
const { encode, decode } = require('@msgpack/msgpack');
const { startSim } = require('../support/sim');
const { waitFor, sleep } = require('../support/wait');
const { createClient } = require('../../dist/lib/alpaca/client');
const { SimServer } = require('../../dist/lib/sim/server');
const { Market } = require('../../dist/lib/sim/market');
const { Clock } = require('../../dist/lib/sim/clock');
const { dataStreamEndpoint } = require('../../dist/lib/sim/data-stream');

/** Records what a stream emits so tests can wait on it. */
function record(stream) {
  const seen = { trades: [], quotes: [], bars: [], dailyBars: [], errors: [], subscriptions: [], reconnected: 0 };
  stream.onTrade((t) => seen.trades.push(t));
  stream.onQuote((q) => seen.quotes.push(q));
  stream.onBar((b) => seen.bars.push(b));
  stream.onDailyBar((b) => seen.dailyBars.push(b));
  stream.onError((e) => seen.errors.push(String(e)));
  stream.on('subscription', (s) => seen.subscriptions.push(s));
  stream.onReconnected(() => seen.reconnected++);
  return seen;
}

/**
 * A raw client: collects every decoded frame and every whole message (array), and how each came
 * (`binary`). msgpack both ways by default, as the SDK asks; `codec: 'json'` sends no Content-Type
 * and speaks JSON text. `headers` go on the upgrade request.
 */
function rawClient(url, { codec = 'msgpack', headers = {} } = {}) {
  const msgpack = codec === 'msgpack';
  const ws = new WebSocket(url, { headers: { ...(msgpack ? { 'Content-Type': 'application/msgpack' } : {}), ...headers } });
  const queue = [];
  const pack = (m) => (msgpack ? encode(m) : JSON.stringify(m));
  const c = { ws, frames: [], messages: [], binary: [], closed: false, send: (m) => (ws.readyState === 1 ? ws.send(pack(m)) : queue.push(pack(m))) };
  ws.on('open', () => queue.splice(0).forEach((b) => ws.send(b)));
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? decode(data) : JSON.parse(data.toString('utf8'));
    c.binary.push(isBinary);
    c.messages.push(msg);
    c.frames.push(...msg);
  });
  ws.on('close', () => (c.closed = true));
  ws.on('error', () => undefined);
  return c;
}

describe('simulator market-data stream (official SDK)', function () {
  this.timeout(15000);
  let s;
  const streams = [];
  const open = (stream) => (streams.push(stream), stream);

  afterEach(async () => {
    for (const st of streams.splice(0)) st.disconnect();
    if (s) await s.stop();
    s = undefined;
  });

  it('authenticates, acks the cumulative subscription and streams stock trades and quotes', async () => {
    s = await startSim({ tickMs: 50 });
    const stream = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks }));
    const seen = record(stream);
    stream.subscribeForTrades(['AAPL']);
    stream.subscribeForQuotes(['AAPL', 'MSFT']);
    stream.connect();
    assert.strictEqual(await stream.waitForAuthentication(5000), true);
    await waitFor(() => seen.trades.length && seen.quotes.length, 5000, 'trades and quotes');
    const sub = seen.subscriptions[seen.subscriptions.length - 1];
    assert.deepStrictEqual(sub.trades, ['AAPL']);
    assert.deepStrictEqual([...sub.quotes].sort(), ['AAPL', 'MSFT']);
    const t = seen.trades[0];
    assert.strictEqual(t.symbol, 'AAPL');
    assert.ok(t.price > 0 && t.size > 0, 'trade has price and size');
    assert.strictEqual(t.exchange, 'V', 'the IEX feed reports prints on IEX');
    assert.ok(!Number.isNaN(t.timestamp.getTime()));
    assert.ok(seen.quotes.every((q) => ['AAPL', 'MSFT'].includes(q.symbol) && q.askPrice > q.bidPrice));
    // Subscribing more later keeps the earlier symbols in the ack (the SDK replaces its lists).
    stream.subscribeForTrades(['TSLA']);
    await waitFor(() => seen.subscriptions.some((x) => x.trades.includes('TSLA')), 3000, 'ack with TSLA');
    assert.deepStrictEqual([...stream.getSubscriptions().trades].sort(), ['AAPL', 'TSLA']);
    // Crypto symbols never reach a stock stream.
    assert.ok(seen.trades.every((x) => !x.symbol.includes('/')));
  });

  it('streams minute bars and daily bars with a fast clock', async () => {
    s = await startSim({ speed: 60, tickMs: 50 });
    const stream = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks }));
    const seen = record(stream);
    stream.subscribeForBars(['SPY']);
    stream.subscribeForDailyBars(['SPY']);
    stream.connect();
    await waitFor(() => seen.bars.length >= 1 && seen.dailyBars.length >= 1, 8000, 'a bar and a daily bar');
    const b = seen.bars[0];
    assert.strictEqual(b.symbol, 'SPY');
    assert.ok(b.low <= b.open && b.open <= b.high && b.low <= b.close && b.close <= b.high, 'OHLC consistent');
    assert.ok(b.volume > 0 && b.tradeCount > 0);
    assert.strictEqual(b.timestamp.getTime() % 60000, 0, 'bars start on the minute');
    const d = seen.dailyBars[0];
    assert.ok(d.high >= b.high && d.low <= b.low && d.volume >= b.volume, 'the daily bar contains the minute');
  });

  it('streams crypto trades with the taker side and keeps stock symbols out', async () => {
    s = await startSim({ tickMs: 50 });
    const stream = open(s.alpaca.marketData.cryptoStream({ url: s.urls.crypto }));
    const seen = record(stream);
    stream.subscribeForTrades(['BTC/USD', 'AAPL']);
    stream.subscribeForQuotes(['ETH/USD']);
    stream.connect();
    await waitFor(() => seen.trades.length && seen.quotes.length, 5000, 'crypto data');
    assert.strictEqual(seen.trades[0].symbol, 'BTC/USD');
    assert.ok(['B', 'S'].includes(seen.trades[0].takerSide));
    assert.strictEqual(seen.quotes[0].symbol, 'ETH/USD');
    assert.ok(seen.quotes[0].askPrice > seen.quotes[0].bidPrice);
    assert.deepStrictEqual(stream.getSubscriptions().trades, ['BTC/USD'], 'the ack leaves the stock symbol out');
  });

  it('unsubscribe stops the data', async () => {
    s = await startSim({ tickMs: 30 });
    const stream = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks }));
    const seen = record(stream);
    stream.subscribeForTrades(['AAPL']);
    stream.connect();
    await waitFor(() => seen.trades.length, 5000, 'first trade');
    stream.unsubscribeFromTrades(['AAPL']);
    await waitFor(() => seen.subscriptions.some((x) => x.trades.length === 0), 3000, 'empty ack');
    const countAtAck = seen.trades.length;
    // Several ticks later (observed via another subscription), no AAPL trade has arrived.
    stream.subscribeForQuotes(['MSFT']);
    await waitFor(() => seen.quotes.filter((q) => q.symbol === 'MSFT').length >= 3, 5000, 'MSFT quotes');
    assert.strictEqual(seen.trades.length, countAtAck);
  });

  it('a second connection with the same key gets 406 in its error handler', async () => {
    s = await startSim({ tickMs: 100 });
    const first = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks }));
    first.connect();
    assert.strictEqual(await first.waitForAuthentication(5000), true);
    const second = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks, reconnect: false }));
    const seen = record(second);
    second.connect();
    await waitFor(() => seen.errors.length, 5000, 'an error on the second stream');
    assert.match(seen.errors[0], /connection limit exceeded/);
    // The crypto endpoint is a separate slot: the same key may hold it too.
    const crypto = open(s.alpaca.marketData.cryptoStream({ url: s.urls.crypto }));
    crypto.connect();
    assert.strictEqual(await crypto.waitForAuthentication(5000), true);
  });

  it('bad credentials are a terminal auth failure', async () => {
    s = await startSim({ key: 'K', secret: 'S', tickMs: 100 });
    const wrong = createClient({ keyId: 'K', secret: 'wrong', paper: true, endpoint: s.url, rateLimit: false });
    const stream = open(wrong.marketData.stockStream({ url: s.urls.stocks, initialReconnectMs: 50 }));
    stream.connect();
    const result = await stream.waitForAuthenticationResult(5000);
    assert.strictEqual(result.authenticated, false);
    assert.strictEqual(result.status, 'server_rejected');
    assert.strictEqual(result.code, 402);
    assert.strictEqual(stream.getState(), 'disconnected');
    const good = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks }));
    good.connect();
    assert.strictEqual(await good.waitForAuthentication(5000), true, 'the right key still authenticates');
  });

  it('reconnects and resubscribes by itself after the server drops streams', async () => {
    s = await startSim({ tickMs: 50 });
    const stream = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks, initialReconnectMs: 100 }));
    const seen = record(stream);
    stream.subscribeForTrades(['NVDA']);
    stream.connect();
    await waitFor(() => seen.trades.length, 5000, 'first trade');
    assert.ok(s.sim.dropStreams() >= 1);
    await waitFor(() => seen.reconnected >= 1, 8000, 'reconnected');
    const before = seen.trades.length;
    await waitFor(() => seen.trades.length > before, 5000, 'a trade after the reconnect');
    assert.ok(seen.trades.slice(before).every((t) => t.symbol === 'NVDA'));
    assert.strictEqual((await s.stats()).streamsDropped, 1);
  });

  it('a dropped stream\'s stale slot answers 406, and the SDK reconnects once it is freed', async () => {
    s = await startSim({ tickMs: 50 });
    const stream = open(s.alpaca.marketData.stockStream({ url: s.urls.stocks, initialReconnectMs: 100 }));
    const seen = record(stream);
    stream.subscribeForTrades(['AAPL']);
    stream.connect();
    await waitFor(() => seen.trades.length, 5000, 'first trade');
    await s.faults({ staleSlotMs: 1500 });
    assert.strictEqual(s.sim.dropStreams(), 1);
    await waitFor(() => seen.errors.some((e) => /connection limit exceeded/.test(e)), 5000, 'a 406 while the old slot is stale');
    await waitFor(() => seen.reconnected >= 1, 10000, 'reconnected after the slot was freed');
    const before = seen.trades.length;
    await waitFor(() => seen.trades.length > before, 5000, 'trades again');
  });

  it('the basic data plan refuses the live SIP stream with 409; the sip plan serves it', async () => {
    s = await startSim({ tickMs: 50 });
    const sipUrl = `${s.url.replace('http', 'ws')}/v2/sip`;
    const refused = open(s.alpaca.marketData.stockStream({ url: sipUrl, reconnect: false }));
    const seen = record(refused);
    refused.connect();
    await waitFor(() => seen.errors.length, 5000, 'an error on the SIP stream');
    assert.match(seen.errors[0], /insufficient subscription/);
    await waitFor(() => refused.getState() === 'disconnected', 5000, 'closed by the server');
    await s.stop();
    s = await startSim({ tickMs: 50, dataPlan: 'sip' });
    const served = open(s.alpaca.marketData.stockStream({ url: `${s.url.replace('http', 'ws')}/v2/sip` }));
    served.connect();
    assert.strictEqual(await served.waitForAuthentication(5000), true);
  });
});

describe('simulator market-data stream (raw protocol)', function () {
  this.timeout(15000);
  let server, market, endpoint, url;
  const clients = [];
  const connect = (path = '/v2/iex', options) => {
    const c = rawClient(url + path, options);
    clients.push(c);
    return c;
  };
  const auth = (c, key = 'PK1') => c.send({ action: 'auth', key, secret: 'x' });
  const frameOf = (c, pred) => c.frames.find(pred);

  async function start(opts = {}, serverOptions = {}) {
    market = new Market({ clock: new Clock({ marketHours: 'always' }), seed: 3, tickMs: 20 });
    server = new SimServer(serverOptions);
    endpoint = dataStreamEndpoint(market, opts);
    server.addStream(endpoint);
    url = (await server.listen()).replace('http', 'ws');
    market.start();
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    market.stop();
    endpoint.close();
    await server.close();
  });

  it('greets, rejects data requests before auth, and rejects bad syntax', async () => {
    await start();
    const c = connect();
    await waitFor(() => frameOf(c, (f) => f.msg === 'connected'), 3000, 'connected');
    c.send({ action: 'subscribe', trades: ['AAPL'] });
    await waitFor(() => frameOf(c, (f) => f.code === 401), 3000, '401');
    c.ws.send(Buffer.from([0xc1]), { binary: true }); // 0xc1 is never valid msgpack
    await waitFor(() => frameOf(c, (f) => f.code === 400), 3000, '400');
    auth(c);
    await waitFor(() => frameOf(c, (f) => f.msg === 'authenticated'), 3000, 'authenticated');
    c.send({ action: 'dance' });
    await waitFor(() => c.frames.filter((f) => f.code === 400).length === 2, 3000, 'second 400');
    assert.strictEqual(c.closed, false);
  });

  it('times out sockets that never authenticate (404)', async () => {
    await start({ authTimeoutMs: 150 });
    const c = connect();
    await waitFor(() => c.closed, 3000, 'closed');
    assert.ok(frameOf(c, (f) => f.T === 'error' && f.code === 404 && f.msg === 'auth timeout'));
  });

  it('wildcard subscriptions batch each tick into one array, idempotently', async () => {
    await start();
    const c = connect();
    auth(c);
    c.send({ action: 'subscribe', trades: ['*'], quotes: ['AAPL'] });
    c.send({ action: 'subscribe', trades: ['*'], quotes: ['AAPL'] });
    await waitFor(() => c.frames.filter((f) => f.T === 'subscription').length === 2, 3000, 'two acks');
    const acks = c.frames.filter((f) => f.T === 'subscription');
    assert.deepStrictEqual(acks[0], acks[1], 'subscribing twice changes nothing');
    assert.deepStrictEqual(acks[1].trades, ['*']);
    await waitFor(() => c.messages.some((m) => m.filter((f) => f.T === 't').length > 10), 3000, 'a batched tick');
    const batch = c.messages.find((m) => m.filter((f) => f.T === 't').length > 10);
    const symbols = new Set(batch.filter((f) => f.T === 't').map((f) => f.S));
    assert.ok(symbols.has('AAPL') && symbols.has('SPY'), 'one message carries many symbols');
    assert.ok(![...symbols].some((x) => x.includes('/')), 'no crypto on the stock feed');
    const t = batch.find((f) => f.T === 't');
    assert.strictEqual(typeof t.t, 'string');
    assert.ok(!Number.isNaN(Date.parse(t.t)));
    c.send({ action: 'unsubscribe', trades: ['*'], quotes: ['AAPL'] });
    await waitFor(() => c.frames.filter((f) => f.T === 'subscription').length === 3, 3000, 'third ack');
    assert.deepStrictEqual(c.frames.filter((f) => f.T === 'subscription')[2].trades, []);
  });

  it('closes slow clients with 407 instead of buffering', async () => {
    await start({ maxBufferedBytes: -1 }); // every socket counts as slow: exercises the path
    const c = connect();
    auth(c);
    c.send({ action: 'subscribe', trades: ['*'] });
    await waitFor(() => c.closed, 3000, 'closed');
    assert.ok(frameOf(c, (f) => f.code === 407 && f.msg === 'slow client'));
  });

  it('speaks JSON text frames unless the upgrade asks for msgpack', async () => {
    await start();
    const json = connect('/v2/iex', { codec: 'json' });
    const packed = connect('/v2/iex');
    for (const [c, key] of [[json, 'J1'], [packed, 'M1']]) {
      auth(c, key);
      c.send({ action: 'subscribe', trades: ['AAPL'] });
    }
    await waitFor(() => [json, packed].every((c) => c.frames.some((f) => f.T === 't')), 5000, 'trades on both');
    assert.deepStrictEqual(json.frames[0], { T: 'success', msg: 'connected' });
    assert.ok(json.binary.every((b) => b === false), 'JSON arrives as text frames');
    assert.ok(packed.binary.every((b) => b === true), 'msgpack arrives as binary frames');
    assert.ok(json.frames.some((f) => f.T === 'subscription' && f.trades[0] === 'AAPL'));
  });

  it('authenticates by the upgrade request\'s key headers', async () => {
    await start();
    const c = connect('/v2/iex', { codec: 'json', headers: { 'APCA-API-KEY-ID': 'PKH', 'APCA-API-SECRET-KEY': 'x' } });
    await waitFor(() => frameOf(c, (f) => f.msg === 'authenticated'), 3000, 'authenticated without a message');
    assert.deepStrictEqual(c.frames.slice(0, 2), [{ T: 'success', msg: 'connected' }, { T: 'success', msg: 'authenticated' }]);
    c.send({ action: 'subscribe', quotes: ['MSFT'] });
    await waitFor(() => frameOf(c, (f) => f.T === 'q' && f.S === 'MSFT'), 5000, 'a quote');
    auth(c, 'PKH');
    await waitFor(() => frameOf(c, (f) => f.code === 403 && f.msg === 'already authenticated'), 3000, '403');
  });

  it('bad key headers are a 402 and the socket closes', async () => {
    await start({}, { key: 'K', secret: 'S' });
    const c = connect('/v2/iex', { codec: 'json', headers: { 'APCA-API-KEY-ID': 'K', 'APCA-API-SECRET-KEY': 'wrong' } });
    await waitFor(() => c.closed, 3000, 'closed');
    assert.ok(frameOf(c, (f) => f.T === 'error' && f.code === 402 && f.msg === 'auth failed'));
    assert.ok(!frameOf(c, (f) => f.msg === 'authenticated'));
  });

  it('the basic plan refuses the live SIP feed at auth (409) but serves the delayed one', async () => {
    await start();
    const sip = connect('/v2/sip');
    const delayed = connect('/v2/delayed_sip');
    auth(sip, 'P1');
    auth(delayed, 'P1');
    await waitFor(() => sip.closed, 3000, 'SIP socket closed');
    assert.deepStrictEqual(frameOf(sip, (f) => f.T === 'error'), { T: 'error', code: 409, msg: 'insufficient subscription' });
    await waitFor(() => frameOf(delayed, (f) => f.msg === 'authenticated'), 3000, 'delayed SIP authenticated');
  });

  it('sends updated bars as T:"u" to updatedBars subscribers only', async () => {
    await start();
    const subscriber = connect();
    const other = connect();
    auth(subscriber, 'U1');
    auth(other, 'U2');
    subscriber.send({ action: 'subscribe', updatedBars: ['AAPL'] });
    other.send({ action: 'subscribe', bars: ['AAPL'] });
    await waitFor(() => [subscriber, other].every((c) => frameOf(c, (f) => f.T === 'subscription')), 3000, 'acks');
    assert.deepStrictEqual(frameOf(subscriber, (f) => f.T === 'subscription').updatedBars, ['AAPL']);
    const t = Date.now() - (Date.now() % 60000) - 60000;
    market.emit('updatedBar', { symbol: 'AAPL', t, o: 190.5, h: 191, l: 190, c: 190.75, v: 1234, n: 12, vw: 190.6 });
    await waitFor(() => frameOf(subscriber, (f) => f.T === 'u'), 3000, 'an updated bar');
    const u = frameOf(subscriber, (f) => f.T === 'u');
    assert.strictEqual(u.S, 'AAPL');
    assert.deepStrictEqual([u.o, u.h, u.l, u.c, u.v], [190.5, 191, 190, 190.75, 1234]);
    assert.strictEqual(Date.parse(u.t), t);
    await sleep(100);
    assert.ok(!frameOf(other, (f) => f.T === 'u'), 'a bars subscriber gets no updated bar');
  });

  it('releases its market listeners across many connections', async () => {
    await start({ dataPlan: 'sip' });
    const baseline = ['trade', 'quote', 'bar', 'dailyBar', 'updatedBar'].map((e) => market.listenerCount(e));
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 40 }, (_, i) => connect(i % 2 ? '/v2/sip' : '/v1beta3/crypto/us'));
      batch.forEach((c, i) => auth(c, `K${round}-${i}`));
      await waitFor(() => batch.every((c) => frameOf(c, (f) => f.msg === 'authenticated')), 5000, 'all authenticated');
      batch.forEach((c) => c.send({ action: 'subscribe', trades: ['*'], bars: ['*'] }));
      assert.ok(market.listenerCount('trade') > baseline[0]);
      batch.forEach((c) => c.ws.close());
      await waitFor(() => batch.every((c) => c.closed), 5000, 'all closed');
      clients.splice(0);
    }
    await waitFor(() => market.listenerCount('trade') === baseline[0], 3000, 'listeners released');
    assert.deepStrictEqual(['trade', 'quote', 'bar', 'dailyBar', 'updatedBar'].map((e) => market.listenerCount(e)), baseline);
  });
});
