'use strict';
// The simulator's shell on its own: auth, Alpaca's rate limits (three algorithms, trading and market
// data apart) and lockout, the request log, faults, stream slots, control API.
const assert = require('assert');
const WebSocket = require('ws');
const { SimServer } = require('../../dist/lib/sim/server');
const { SimHttpError } = require('../../dist/lib/sim/types');
const { RateLimiter, RequestLog, apiOf } = require('../../dist/lib/sim/rate-limit');
const { simControl } = require('../support/sim');
const { sleep } = require('../support/wait');

const KEYS = { 'APCA-API-KEY-ID': 'K', 'APCA-API-SECRET-KEY': 'S' };

describe('simulator shell', function () {
  let server;
  let url;

  async function start(options = {}) {
    server = new SimServer(options);
    server.addRoutes([
      { method: 'GET', pattern: '/v2/things/{thing_id}', handler: (req) => ({ body: { id: req.params.thing_id } }) },
      { method: 'POST', pattern: '/v2/things', handler: (req) => ({ status: 201, body: req.body }) },
      { method: 'GET', pattern: '/v2/broken', handler: () => { throw new SimHttpError(422, 40010001, 'qty must be > 0'); } },
      { method: 'GET', pattern: '/v2/stocks/{symbol}/trades', handler: (req) => ({ body: { symbol: req.params.symbol } }) },
    ]);
    server.addStream({
      paths: ['/echo'],
      accept(ws, _req, path, ctx) {
        ws.on('message', (data) => {
          const { key } = JSON.parse(String(data));
          if (!ctx.claimConnection(key, path, ws)) {
            ws.send(JSON.stringify({ error: 406 }));
            ws.close();
            return;
          }
          ws.send(JSON.stringify({ ok: true }));
        });
      },
    });
    url = await server.listen();
  }

  const get = (path, headers = KEYS) => fetch(url + path, { headers });
  const control = (path, body) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  afterEach(async () => {
    if (server) await server.close();
    server = undefined;
  });

  it('routes with path parameters and answers errors in Alpaca\'s shape', async function () {
    await start();
    assert.deepStrictEqual(await (await get('/v2/things/abc')).json(), { id: 'abc' });
    const bad = await get('/v2/broken');
    assert.strictEqual(bad.status, 422);
    assert.deepStrictEqual(await bad.json(), { code: 40010001, message: 'qty must be > 0' });
    assert.strictEqual((await get('/v2/nothing')).status, 404);
    assert.strictEqual((await fetch(url + '/v2/things/abc', { method: 'DELETE', headers: KEYS })).status, 405);
    const badJson = await fetch(url + '/v2/things', { method: 'POST', headers: { ...KEYS, 'content-type': 'application/json' }, body: '{nope' });
    assert.strictEqual(badJson.status, 400);
  });

  it('requires a key pair, and only the configured one when given', async function () {
    await start({ key: 'K', secret: 'S' });
    assert.strictEqual((await get('/v2/things/a', {})).status, 401);
    assert.strictEqual((await get('/v2/things/a', { 'APCA-API-KEY-ID': 'K', 'APCA-API-SECRET-KEY': 'wrong' })).status, 401);
    assert.strictEqual((await get('/v2/things/a')).status, 200);
  });

  it('rate-limits per key with X-RateLimit headers and Retry-After', async function () {
    await start({ faults: { rateLimitPerMinute: 5 } });
    const statuses = [];
    let last;
    for (let i = 0; i < 7; i++) {
      last = await get('/v2/things/a');
      statuses.push(last.status);
      if (i === 0) {
        assert.strictEqual(last.headers.get('x-ratelimit-limit'), '5');
        assert.strictEqual(last.headers.get('x-ratelimit-remaining'), '4');
        assert.ok(Number(last.headers.get('x-ratelimit-reset')) >= Math.floor(Date.now() / 1000));
      }
    }
    assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    assert.ok(Number(last.headers.get('retry-after')) >= 1);
    assert.deepStrictEqual(await last.json(), { code: 42910000, message: 'rate limit exceeded' });
    // Another key has its own budget.
    assert.strictEqual((await get('/v2/things/a', { 'APCA-API-KEY-ID': 'K2', 'APCA-API-SECRET-KEY': 'S' })).status, 200);
    const stats = await simControl(url).stats();
    assert.strictEqual(stats.rateLimited, 2);
    assert.strictEqual(stats.requests, 8);
  });

  it('locks a key out after a 429 for lockoutMs, even once tokens refill', async function () {
    await start({ faults: { rateLimitPerMinute: 600, lockoutMs: 1500, rateLimitAlgorithm: 'bucket' } });
    let status = 200;
    let n = 0;
    while (status === 200 && n < 700) {
      status = (await get('/v2/things/a')).status;
      n++;
    }
    assert.strictEqual(status, 429);
    await sleep(400); // four tokens refill, the lockout still holds
    const locked = await get('/v2/things/a');
    assert.strictEqual(locked.status, 429);
    assert.strictEqual(locked.headers.get('retry-after'), '2');
  });

  it('injects errors and latency, and rejects a bad fault update whole', async function () {
    await start();
    let r = await control('/sim/faults', { errorRate: 1 });
    assert.strictEqual((await r.json()).errorRate, 1);
    const failed = await get('/v2/things/a');
    assert.strictEqual(failed.status, 500);
    r = await control('/sim/faults', { errorRate: 0, latencyMs: -5 });
    assert.strictEqual(r.status, 400);
    assert.strictEqual((await simControl(url).faults()).errorRate, 1, 'unchanged after a bad update');
    await control('/sim/faults', { errorRate: 0, latencyMs: 150 });
    const t0 = Date.now();
    assert.strictEqual((await get('/v2/things/a')).status, 200);
    assert.ok(Date.now() - t0 >= 140);
    const stats = await simControl(url).stats();
    assert.strictEqual(stats.errorsInjected, 1);
  });

  it('allows one stream connection per key and endpoint, and drops streams on demand', async function () {
    await start();
    const open = (key) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url.replace('http', 'ws') + '/echo');
        ws.on('open', () => ws.send(JSON.stringify({ key })));
        ws.once('message', (d) => resolve({ ws, reply: JSON.parse(String(d)) }));
        ws.on('error', reject);
      });
    const first = await open('K');
    assert.deepStrictEqual(first.reply, { ok: true });
    const second = await open('K');
    assert.deepStrictEqual(second.reply, { error: 406 });
    const other = await open('K2');
    assert.deepStrictEqual(other.reply, { ok: true });
    const closed = new Promise((r) => first.ws.once('close', r));
    const r = await control('/sim/faults', { dropStreams: true });
    assert.ok((await r.json()).dropped >= 2);
    await closed;
    const stats = await simControl(url).stats();
    assert.ok(stats.streamsDropped >= 2);
    // The dropped holder released its claim: the key may connect again.
    assert.deepStrictEqual((await open('K')).reply, { ok: true });
  });

  it('counts trading and market data apart, each with its own limit and headers', async function () {
    await start({ faults: { rateLimitPerMinute: 2, dataRateLimitPerMinute: 3 } });
    const trading = [];
    for (let i = 0; i < 3; i++) trading.push(await get('/v2/things/a'));
    assert.deepStrictEqual(trading.map((r) => r.status), [200, 200, 429]);
    assert.strictEqual(trading[0].headers.get('x-ratelimit-limit'), '2');
    const data = [];
    for (let i = 0; i < 4; i++) data.push(await get('/v2/stocks/AAPL/trades'));
    assert.deepStrictEqual(data.map((r) => r.status), [200, 200, 200, 429], 'market data has its own budget, untouched by trading');
    assert.strictEqual(data[0].headers.get('x-ratelimit-limit'), '3');
    assert.strictEqual(data[0].headers.get('x-ratelimit-remaining'), '2');
  });

  it('logs every counted request with its arrival time and API for GET /sim/requests', async function () {
    await start({ faults: { rateLimitPerMinute: 1 } });
    const t0 = Date.now();
    await get('/v2/things/a');
    await get('/v2/things/a'); // 429, still logged
    await get('/v2/stocks/AAPL/trades');
    await simControl(url).stats(); // the control API is not counted
    const log = await (await fetch(`${url}/sim/requests?since=${t0}`)).json();
    assert.deepStrictEqual(log.requests.map((r) => [r.api, r.limited]), [['trading', false], ['trading', true], ['data', false]]);
    assert.ok(log.requests.every((r) => r.t >= t0 && r.t <= Date.now()));
    assert.strictEqual((await (await fetch(`${url}/sim/requests?since=${Date.now() + 1000}`)).json()).requests.length, 0);
    assert.strictEqual((await fetch(`${url}/sim/requests?since=soon`)).status, 400);
  });

  it('a faults update with an unknown field or algorithm changes nothing', async function () {
    await start();
    assert.strictEqual((await control('/sim/faults', { rateLimitAlgorithm: 'leaky' })).status, 400);
    assert.strictEqual((await control('/sim/faults', { ratelimitPerMinute: 5 })).status, 400);
    const faults = await simControl(url).faults();
    assert.strictEqual(faults.rateLimitAlgorithm, 'sliding', 'the strictest algorithm is the default');
    assert.strictEqual(faults.rateLimitPerMinute, 200);
    assert.strictEqual((await control('/sim/faults', { rateLimitAlgorithm: 'fixed', staleSlotMs: 100 })).status, 200);
    assert.throws(() => new SimServer({ faults: { rateLimitAlgorithm: 'leaky' } }), /rateLimitAlgorithm/);
  });

  it('keeps a dropped stream\'s slot taken for staleSlotMs (406 on reconnect), then frees it', async function () {
    await start({ faults: { staleSlotMs: 600 } });
    const open = (key) =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url.replace('http', 'ws') + '/echo');
        ws.on('open', () => ws.send(JSON.stringify({ key })));
        ws.once('message', (d) => resolve({ ws, reply: JSON.parse(String(d)) }));
        ws.on('error', reject);
      });
    const first = await open('K');
    assert.deepStrictEqual(first.reply, { ok: true });
    const closed = new Promise((r) => first.ws.once('close', r));
    server.dropStreams();
    await closed;
    await sleep(50); // the server saw the close too
    assert.deepStrictEqual((await open('K')).reply, { error: 406 }, 'the stale slot refuses a quick reconnect');
    assert.deepStrictEqual((await open('K2')).reply, { ok: true }, 'other keys are not affected');
    await sleep(650);
    assert.deepStrictEqual((await open('K')).reply, { ok: true }, 'freed once staleSlotMs passed');
  });
});

describe('simulator rate limiter', function () {
  const limiter = (algorithm, perMinute, lockoutMs = 0) => new RateLimiter(() => ({ algorithm, perMinute, lockoutMs }));
  /** Largest number of admitted requests inside any 60 s window [t, t + 60 s). */
  const densest = (times) => {
    let best = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j] - times[i] >= 60_000) i++;
      best = Math.max(best, j - i + 1);
    }
    return best;
  };
  /** Offers `count` requests spread over `spanMs` (seeded), returns the admitted arrival times. */
  const offer = (l, count, spanMs, seed = 7) => {
    let x = seed;
    const times = Array.from({ length: count }, () => ((x = (x * 16807) % 2147483647) / 2147483647) * spanMs).sort((a, b) => a - b);
    return times.filter((t) => l.take('K', Math.round(t)).ok).map(Math.round);
  };

  it('sliding: never more than N in ANY 60 s window, counted from arrival times', function () {
    const admitted = offer(limiter('sliding', 50), 2000, 300_000);
    assert.strictEqual(densest(admitted), 50);
    const l = limiter('sliding', 3);
    assert.deepStrictEqual([0, 10, 20, 30].map((t) => l.take('K', t).ok), [true, true, true, false]);
    const refused = l.take('K', 59_999);
    assert.strictEqual(refused.ok, false);
    assert.strictEqual(refused.retryAfterMs, 1);
    assert.strictEqual(refused.reset, 60, 'X-RateLimit-Reset: when the oldest counted request leaves the window');
    assert.strictEqual(l.take('K', 60_000).ok, true, 'the request at 0 left the window');
    assert.strictEqual(l.take('K', 60_005).ok, false);
  });

  it('bucket lets a burst of N and then the refill through: more than N in one 60 s window', function () {
    const admitted = offer(limiter('bucket', 50), 2000, 300_000);
    assert.ok(densest(admitted) > 50, `bucket densest window ${densest(admitted)}`);
  });

  it('fixed: the counter resets at each minute boundary, which is X-RateLimit-Reset', function () {
    const l = limiter('fixed', 2);
    const a = l.take('K', 125_000);
    assert.deepStrictEqual([a.ok, a.remaining, a.reset], [true, 1, 180]);
    assert.strictEqual(l.take('K', 130_000).ok, true);
    const refused = l.take('K', 179_000);
    assert.deepStrictEqual([refused.ok, refused.reset, refused.retryAfterMs], [false, 180, 1000]);
    assert.strictEqual(l.take('K', 180_000).ok, true, 'a new minute, a new count');
    // Twice N across a boundary: the one shape the fixed window allows and the sliding one refuses.
    const f = limiter('fixed', 2);
    const s = limiter('sliding', 2);
    const burst = [179_000, 179_500, 180_000, 180_500];
    assert.deepStrictEqual(burst.map((t) => f.take('K', t).ok), [true, true, true, true]);
    assert.deepStrictEqual(burst.map((t) => s.take('K', t).ok), [true, true, false, false]);
  });

  it('locks a key out after a 429 whatever the algorithm; keys are counted apart', function () {
    for (const algorithm of ['sliding', 'fixed', 'bucket']) {
      const l = limiter(algorithm, 1, 60_000);
      assert.strictEqual(l.take('K', 1000).ok, true);
      assert.strictEqual(l.take('K', 1001).ok, false);
      const locked = l.take('K', 30_000);
      assert.strictEqual(locked.ok, false, `${algorithm}: still locked out`);
      assert.deepStrictEqual([locked.retryAfterMs, locked.reset], [31_001, 62]);
      assert.strictEqual(l.take('K2', 1002).ok, true, `${algorithm}: another key has its own count`);
      assert.strictEqual(l.take('K', 61_001).ok, true, `${algorithm}: free after the lockout`);
    }
  });

  it('the request log keeps the last N arrivals in fixed memory; paths tell trading from data', function () {
    const log = new RequestLog(3);
    for (let t = 1; t <= 5; t++) log.record(t, t % 2 ? 'trading' : 'data', t === 5, t % 2 ? 'POST' : 'GET', t % 2 ? '/v2/orders' : '/v2/stocks/bars', `PK${t}`);
    assert.deepStrictEqual(log.since(0), [
      { t: 3, api: 'trading', limited: false, method: 'POST', path: '/v2/orders', key: 'PK3' },
      { t: 4, api: 'data', limited: false, method: 'GET', path: '/v2/stocks/bars', key: 'PK4' },
      { t: 5, api: 'trading', limited: true, method: 'POST', path: '/v2/orders', key: 'PK5' },
    ]);
    assert.strictEqual(log.overwritten, 2);
    assert.deepStrictEqual(log.since(5).map((r) => r.t), [5]);
    assert.deepStrictEqual(
      ['/v2/stocks/bars', '/v2/stocks/AAPL/trades', '/v1beta3/crypto/us/bars', '/v1beta1/news', '/v2/orders', '/v2/account', '/v2/stocksplits', '/v3/clock'].map(apiOf),
      ['data', 'data', 'data', 'data', 'trading', 'trading', 'trading', 'trading'],
    );
  });
});
