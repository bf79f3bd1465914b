'use strict';
// The simulator under oversized input: request bodies are capped (1 MB REST, 64 KB /sim/, 413
// beyond, without buffering the rest) and so are WebSocket messages (ws closes with 1009).
const assert = require('assert');
const http = require('http');
const WebSocket = require('ws');
const { SimServer, REST_BODY_LIMIT, CONTROL_BODY_LIMIT, STREAM_MESSAGE_LIMIT } = require('../../dist/lib/sim/server');
const { sleep } = require('../support/wait');

const KEYS = { 'APCA-API-KEY-ID': 'K', 'APCA-API-SECRET-KEY': 'S' };

/** POSTs `size` bytes of a JSON object, with Content-Length or chunked; resolves with the status. */
function post(url, size, { headers = {}, chunked = false } = {}) {
  const body = Buffer.from(`{"pad":"${'x'.repeat(Math.max(0, size - 10))}"}`);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers, ...(chunked ? {} : { 'content-length': body.length }) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', (err) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve('reset') : reject(err)));
    if (chunked) {
      for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536));
      req.end();
    } else {
      req.end(body);
    }
  });
}

describe('simulator: size limits', function () {
  let server;
  let url;
  let posted;

  beforeEach(async () => {
    posted = 0;
    server = new SimServer({});
    server.addRoutes([{ method: 'POST', pattern: '/v2/orders', handler: () => ((posted += 1), { status: 200, body: {} }) }]);
    server.addStream({ paths: ['/stream'], accept: (ws) => ws.on('message', () => ws.send('got it')) });
    url = await server.listen();
  });

  afterEach(() => server.close());

  it('REST bodies over 1 MB get 413 and never reach a handler', async function () {
    assert.strictEqual(REST_BODY_LIMIT, 1024 * 1024);
    assert.strictEqual(await post(`${url}/v2/orders`, 1000, { headers: KEYS }), 200);
    assert.strictEqual(await post(`${url}/v2/orders`, REST_BODY_LIMIT + 1, { headers: KEYS }), 413);
    assert.strictEqual(await post(`${url}/v2/orders`, 3 * REST_BODY_LIMIT, { headers: KEYS, chunked: true }), 413, 'chunked, no Content-Length');
    assert.strictEqual(posted, 1);
  });

  it('/sim/ bodies over 64 KB get 413 (a 50 MB one too) and change nothing', async function () {
    assert.strictEqual(CONTROL_BODY_LIMIT, 64 * 1024);
    assert.strictEqual(await post(`${url}/sim/faults`, CONTROL_BODY_LIMIT + 1), 413);
    assert.strictEqual(await post(`${url}/sim/faults`, 50 * 1024 * 1024), 413);
    const chunked = await post(`${url}/sim/faults`, 200 * 1024, { chunked: true });
    assert.ok(chunked === 413 || chunked === 'reset', String(chunked));
    assert.strictEqual((await fetch(`${url}/sim/stats`)).status, 200, 'still serving');
  });

  it('closes a WebSocket that sends a message over 1 MB (1009)', async function () {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/stream`);
    await new Promise((r) => ws.once('open', r));
    const replies = [];
    ws.on('message', (m) => replies.push(String(m)));
    ws.send('small');
    await sleep(100);
    assert.deepStrictEqual(replies, ['got it']);
    const code = new Promise((r) => ws.once('close', r));
    ws.send(Buffer.alloc(STREAM_MESSAGE_LIMIT + 1));
    assert.strictEqual(await code, 1009);
    assert.deepStrictEqual(replies, ['got it'], 'the oversized message was never handled');
  });
});
