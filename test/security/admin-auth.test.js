'use strict';
// A Node-RED runtime started as `npm start` starts it, with adminAuth on: every admin route of
// the pack (found by reading RED.httpAdmin in nodes/) refuses a request without a token, and a
// read-only user where it writes. The same start gives the demo flow node ids of its own
// (issue 12: a fixed, public account id is what a hostile page would name).
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { startNodeRed, root } = require('../support/nodered-process');

const bcrypt = require(require.resolve('bcryptjs', { paths: [path.dirname(require.resolve('@node-red/editor-api/package.json'))] }));

const USERS = { admin: 'admin-pass-1', reader: 'reader-pass-1' };
const SCOPES = { admin: '*', reader: 'read' };

/** Every `RED.httpAdmin.<method>('<path>'` in the pack's node files. */
function adminRoutes() {
  const routes = [];
  for (const file of fs.readdirSync(path.join(root, 'nodes')).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(root, 'nodes', file), 'utf8');
    for (const m of text.matchAll(/RED\.httpAdmin\.(get|post|put|delete)\(\s*'([^']+)'/g)) routes.push(`${m[1].toUpperCase()} ${m[2]}`);
  }
  return routes.sort();
}

/** How each route is called: its path filled in and a body; whether it changes anything. */
const CALLS = {
  'POST /alpaca-account/test': { url: '/alpaca-account/test', body: { mode: 'sim' }, writes: true },
  'GET /alpaca-breaker/:id/state': { url: '/alpaca-breaker/0123456789abcdef/state', writes: false },
  'POST /alpaca-breaker/:id/reset': { url: '/alpaca-breaker/0123456789abcdef/reset', body: { confirm: 'RESET BREAKER' }, writes: true },
  'POST /alpaca-breaker/:id/halt': { url: '/alpaca-breaker/0123456789abcdef/halt', body: { reason: 'test' }, writes: true },
  'GET /alpaca-rate-gate/presets': { url: '/alpaca-rate-gate/presets', writes: false },
};

describe('security: the admin routes with adminAuth on, and the npm start demo', function () {
  this.timeout(90000);
  let red;
  let base;
  const tokens = {};

  before(async function () {
    const adminAuth = {
      type: 'credentials',
      users: [
        { username: 'admin', password: bcrypt.hashSync(USERS.admin, 8), permissions: '*' },
        { username: 'reader', password: bcrypt.hashSync(USERS.reader, 8), permissions: 'read' },
      ],
    };
    // npm start's settings.js with adminAuth; npm start's demo flow, with ids of its own.
    red = await startNodeRed({ settings: { adminAuth, alpacaSimulator: { seed: 1 } }, timeout: 60000 });
    base = red.base;
    for (const [username, password] of Object.entries(USERS)) {
      const res = await fetch(`${base}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope: SCOPES[username], username, password }),
      });
      assert.strictEqual(res.status, 200, `a token for ${username}`);
      tokens[username] = (await res.json()).access_token;
    }
  });

  after(async function () {
    if (red) await red.stop();
  });

  const call = (route, token) => {
    const { url, body } = CALLS[route];
    const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) };
    return fetch(base + url, { method: route.split(' ')[0], headers, body: body ? JSON.stringify(body) : undefined });
  };

  it('knows how to call every admin route of the pack', function () {
    assert.deepStrictEqual(adminRoutes(), Object.keys(CALLS).sort(), 'a new admin route needs a row in CALLS');
  });

  for (const route of Object.keys(CALLS)) {
    it(`${route}: 401 without a token${CALLS[route].writes ? ', 401 for a read-only user' : ''}, served with the right one`, async function () {
      assert.strictEqual((await call(route)).status, 401, 'no token');
      assert.strictEqual((await call(route, 'not-a-token')).status, 401, 'a made-up token');
      const reader = await call(route, tokens.reader);
      if (CALLS[route].writes) assert.strictEqual(reader.status, 401, 'read-only user');
      else assert.strictEqual(reader.status, 200, 'read-only user reads');
      const admin = await call(route, tokens.admin);
      assert.notStrictEqual(admin.status, 401, 'admin');
      assert.ok(admin.status < 500, `admin: ${admin.status}`);
    });
  }

  it('the demo flow got node ids of its own, wired as the example is', function () {
    const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'account-snapshot.json'), 'utf8'));
    const demo = JSON.parse(fs.readFileSync(path.join(red.userDir, 'flows.json'), 'utf8'));
    assert.strictEqual(demo.length, example.length);
    const exampleIds = new Set(example.map((n) => n.id));
    assert.ok(demo.every((n) => !exampleIds.has(n.id) && /^[0-9a-f]{16}$/.test(n.id)), 'every id is new');
    assert.strictEqual(new Set(demo.map((n) => n.id)).size, demo.length, 'ids are unique');
    // Renamed back, it is the example: every wire and reference follows its node.
    const back = new Map(demo.map((n, i) => [n.id, example[i].id]));
    const rename = (v) => (typeof v === 'string' ? back.get(v) ?? v : Array.isArray(v) ? v.map(rename) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rename(x)])) : v);
    assert.deepStrictEqual(demo.map(rename), example);
  });
});
