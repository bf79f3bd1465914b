'use strict';
// The simulator as an attacker's web page sees it: a page on another site can make the browser send
// requests to loopback (CSRF) or rebind its own name to 127.0.0.1 (DNS rebinding). Every HTTP request
// and WebSocket upgrade must name this machine in Host, carry no foreign Origin, and /sim/ POSTs must
// be JSON, which no page can send cross-origin without a preflight the simulator never answers.
const assert = require('assert');
const http = require('http');
const os = require('os');
const WebSocket = require('ws');
const { SimServer } = require('../../dist/lib/sim/server');
const { hostnameOf, isLoopbackHost } = require('../../dist/lib/sim/http-guard');
const { simControl } = require('../support/sim');

const KEYS = { 'APCA-API-KEY-ID': 'K', 'APCA-API-SECRET-KEY': 'S' };

/** A raw request with any Host header (fetch refuses to set Host). */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves with the HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgrade(url, headers) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
    ws.on('error', () => resolve('error'));
  });
}

describe('simulator: Host and Origin checks (CSRF, DNS rebinding)', function () {
  let server;
  let url;

  async function start(options = {}) {
    server = new SimServer(options);
    server.addRoutes([{ method: 'GET', pattern: '/v2/account', handler: () => ({ body: { status: 'ACTIVE' } }) }]);
    server.addStream({ paths: ['/stream'], accept: (ws) => ws.send('hi') });
    server.setControl({ setPrice() {}, reset() {} });
    url = await server.listen();
  }

  afterEach(async () => {
    if (server) await server.close();
    server = undefined;
  });

  it('refuses a rebound name in Host on REST, /sim/ and stream upgrades (403)', async function () {
    await start();
    const port = new URL(url).port;
    const evil = { Host: `attacker.example:${port}` };
    assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, ...evil } })).status, 403);
    assert.strictEqual((await request(`${url}/sim/stats`, { headers: evil })).status, 403);
    const reset = await request(`${url}/sim/reset`, { method: 'POST', headers: { ...evil, 'content-type': 'application/json' }, body: '{}' });
    assert.strictEqual(reset.status, 403);
    assert.strictEqual(await upgrade(`${url.replace('http', 'ws')}/stream`, evil), 403);
    // The loopback names pass.
    for (const host of ['localhost', '127.0.0.1', `127.0.0.1:${port}`, `localhost:${port}`]) {
      assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, Host: host } })).status, 200, host);
    }
  });

  it('refuses a foreign Origin on every kind of request, and the opaque "null" origin', async function () {
    await start();
    const foreign = { Origin: 'https://attacker.example' };
    assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, ...foreign } })).status, 403);
    const faults = await request(`${url}/sim/faults`, { method: 'POST', headers: { ...foreign, 'content-type': 'text/plain' }, body: '{"errorRate":1}' });
    assert.strictEqual(faults.status, 403);
    const sandboxed = await request(`${url}/sim/faults`, { method: 'POST', headers: { Origin: 'null', 'content-type': 'application/json' }, body: '{"errorRate":1}' });
    assert.strictEqual(sandboxed.status, 403);
    assert.strictEqual(await upgrade(`${url.replace('http', 'ws')}/stream`, foreign), 403);
    assert.strictEqual((await simControl(url).faults()).errorRate, 0, 'no fault was set');
    // A page on this machine (another loopback port, e.g. the Node-RED editor) may call it.
    const local = await request(`${url}/sim/faults`, { method: 'POST', headers: { Origin: 'http://127.0.0.1:1880', 'content-type': 'application/json' }, body: '{"latencyMs":1}' });
    assert.strictEqual(local.status, 200);
    assert.strictEqual(await upgrade(`${url.replace('http', 'ws')}/stream`, { Origin: 'http://localhost:1880' }), 101);
  });

  it('/sim/ POST bodies must be JSON: text/plain and forms get 415 and change nothing', async function () {
    await start();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const res = await request(`${url}/sim/faults`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body: '{"errorRate":1}' });
      assert.strictEqual(res.status, 415, String(type));
    }
    assert.strictEqual((await request(`${url}/sim/reset`, { method: 'POST', headers: { 'content-type': 'text/plain' } })).status, 415);
    assert.strictEqual((await simControl(url).faults()).errorRate, 0, 'no fault was set');
  });

  it('accepts the configured bind host; bound to every interface, this machine\'s own names too', async function () {
    await start({ host: '127.0.0.2' });
    const port = new URL(url).port;
    assert.strictEqual(url, `http://127.0.0.2:${port}`, 'the URL names the address really bound');
    assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, Host: `127.0.0.2:${port}` } })).status, 200);
    assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, Host: 'attacker.example' } })).status, 403);
    await server.close();

    await start({ host: '0.0.0.0' });
    assert.match(server.boundAddress, /^0\.0\.0\.0:\d+$/);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'a loopback URL local clients can use');
    assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, Host: os.hostname() } })).status, 200);
    assert.strictEqual((await request(`${url}/v2/account`, { headers: { ...KEYS, Host: 'attacker.example' } })).status, 403);
  });

  it('reads Host headers strictly: case, ports, IPv6 brackets; userinfo and trailing dots are foreign', function () {
    assert.strictEqual(hostnameOf('LOCALHOST:8765'), 'localhost');
    assert.strictEqual(hostnameOf('[::1]:8765'), '[::1]');
    assert.strictEqual(hostnameOf('127.0.0.1'), '127.0.0.1');
    for (const bad of ['', undefined, '::1', 'a:b:c', '127.0.0.1:port', '[::1']) assert.strictEqual(hostnameOf(bad), undefined, String(bad));
    const allowed = new Set(['localhost', '127.0.0.1', '[::1]']);
    for (const foreign of ['evil@127.0.0.1', 'localhost.', '127.0.0.1.nip.io', 'localhost.attacker.example']) {
      assert.ok(!allowed.has(hostnameOf(foreign)), foreign);
    }
    assert.deepStrictEqual(['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '0.0.0.0', '::', '192.168.1.5', 'pi.local'].map(isLoopbackHost), [true, true, true, true, true, false, false, false, false]);
  });
});
