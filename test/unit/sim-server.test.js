'use strict';
// The simulator's shell on its own: auth, Alpaca's rate limit and lockout, faults, control API.
const assert = require('assert');
const WebSocket = require('ws');
const { SimServer } = require('../../dist/lib/sim/server');
const { SimHttpError } = require('../../dist/lib/sim/types');

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
    const stats = await (await fetch(url + '/sim/stats')).json();
    assert.strictEqual(stats.rateLimited, 2);
    assert.strictEqual(stats.requests, 8);
  });

  it('locks a key out after a 429 for lockoutMs, even once tokens refill', async function () {
    await start({ faults: { rateLimitPerMinute: 600, lockoutMs: 1500 } });
    let status = 200;
    let n = 0;
    while (status === 200 && n < 700) {
      status = (await get('/v2/things/a')).status;
      n++;
    }
    assert.strictEqual(status, 429);
    await new Promise((r) => setTimeout(r, 400)); // four tokens refill, the lockout still holds
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
    assert.strictEqual((await (await fetch(url + '/sim/faults')).json()).errorRate, 1, 'unchanged after a bad update');
    await control('/sim/faults', { errorRate: 0, latencyMs: 150 });
    const t0 = Date.now();
    assert.strictEqual((await get('/v2/things/a')).status, 200);
    assert.ok(Date.now() - t0 >= 140);
    const stats = await (await fetch(url + '/sim/stats')).json();
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
    const stats = await (await fetch(url + '/sim/stats')).json();
    assert.ok(stats.streamsDropped >= 2);
    // The dropped holder released its claim: the key may connect again.
    assert.deepStrictEqual((await open('K')).reply, { ok: true });
  });
});
