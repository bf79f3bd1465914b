'use strict';
// The account dialog's Test connection (POST /alpaca-account/test, issue 12 finding 2): a stored
// secret goes only where the deployed node sends it, only alpaca-account ids, JSON bodies from the
// editor's own origin, endpoints as origins only, replies no richer than the dialog, every call
// in Node-RED's audit log. A fake broker on loopback stands for the host the keys must not reach.
const assert = require('assert');
const { helper, packNodes } = require('../support/nodered');
const { startSim } = require('../support/sim');
const { fakeBroker, ACCOUNT } = require('./fake-broker');

const STORED = { keyId: 'PKSTORED', secret: 'stored-secret-123' };
const AUDIT = 98;

describe('security: Test connection', function () {
  this.timeout(20000);
  let sim;
  let thief;

  before(async function () {
    sim = await startSim({ key: STORED.keyId, secret: STORED.secret });
  });
  after(async function () {
    await sim.stop();
  });

  beforeEach(async function () {
    thief = await fakeBroker({
      'GET /v2/account': { status: 200, body: ACCOUNT },
      'GET /steal/v2/account': { status: 200, body: ACCOUNT },
    });
    const flow = [
      { id: 'acct', type: 'alpaca-account', name: 'paper via sim', mode: 'paper', feed: 'iex', endpoint: sim.url, liveAck: false },
      { id: 'f1', type: 'tab', label: 'f' },
      { id: 'other', type: 'helper', z: 'f1' },
    ];
    await helper.load(packNodes, flow, { acct: STORED });
  });
  afterEach(async function () {
    await helper.unload();
    await thief.stop();
  });

  const post = () => helper.request().post('/alpaca-account/test');
  const sawSecret = () => thief.requests.some((r) => JSON.stringify(r).includes(STORED.secret));
  const audits = () => helper.log().args.map((a) => a[0]).filter((m) => m && m.level === AUDIT && m.event === 'alpaca-account.test');

  it('never sends the stored secret to another endpoint', async function () {
    const res = await post().send({ id: 'acct', mode: 'paper', endpoint: thief.url, keyId: STORED.keyId, secret: '__PWRD__' }).expect(200);
    assert.strictEqual(res.body.ok, false);
    assert.match(res.body.error, /saved secret is used only with the saved mode, endpoint and key id/);
    assert.deepStrictEqual(thief.requests, []);
  });

  it('uses the stored secret with the deployed node\'s own mode, endpoint and key id only', async function () {
    const own = { id: 'acct', mode: 'paper', endpoint: sim.url, keyId: STORED.keyId, secret: '__PWRD__' };
    const res = await post().send(own).expect(200);
    assert.strictEqual(res.body.ok, true, JSON.stringify(res.body));
    for (const other of [{ mode: 'live' }, { mode: 'sim' }, { keyId: 'PKOTHER' }]) {
      const r = await post().send({ ...own, ...other }).expect(200);
      assert.strictEqual(r.body.ok, false, JSON.stringify(other));
      assert.match(r.body.error, /type the secret again/);
    }
    // A secret typed in goes where the dialog says.
    const typed = await post().send({ id: 'acct', mode: 'paper', endpoint: thief.url, keyId: 'PKTYPED', secret: 'typed-secret-456' }).expect(200);
    assert.strictEqual(typed.body.ok, true, JSON.stringify(typed.body));
    assert.strictEqual(thief.requests[0].headers['apca-api-secret-key'], 'typed-secret-456');
  });

  it('answers no more than the dialog shows', async function () {
    const res = await post().send({ mode: 'paper', endpoint: thief.url, keyId: 'PKTYPED', secret: 'typed-secret-456' }).expect(200);
    assert.deepStrictEqual(res.body, {
      ok: true,
      mode: 'paper',
      target: `paper · ${new URL(thief.url).host}`,
      account: { status: 'ACTIVE', equity: 1234.56, currency: 'USD' },
    });
  });

  it('shows another host\'s error by status only, never its content', async function () {
    await thief.stop();
    thief = await fakeBroker({
      'GET /v2/account': { status: 200, body: '<html>internal admin page: db password hunter2</html>' },
    });
    const res = await post().send({ mode: 'paper', endpoint: thief.url, keyId: 'K', secret: 'typed-secret-456' }).expect(200);
    assert.strictEqual(res.body.ok, false);
    assert.doesNotMatch(JSON.stringify(res.body), /html|internal|hunter2/);
    assert.match(res.body.error, /did not answer as an Alpaca server|answered HTTP/);
  });

  it('takes only alpaca-account ids', async function () {
    const res = await post().send({ id: 'other', mode: 'paper', endpoint: thief.url, secret: '__PWRD__' }).expect(400);
    assert.match(res.body.error, /"other" is not the id of an Alpaca account/);
    await post().send({ id: { $ne: 1 }, mode: 'sim' }).expect(400);
    assert.deepStrictEqual(thief.requests, []);
  });

  it('refuses form-encoded and text bodies (no cross-site form posts)', async function () {
    const form = `id=acct&mode=paper&endpoint=${encodeURIComponent(thief.url)}&keyId=${STORED.keyId}&secret=__PWRD__`;
    await post().type('form').send(form).expect(415);
    await post().set('content-type', 'text/plain').send(JSON.stringify({ id: 'acct', mode: 'paper', endpoint: thief.url })).expect(415);
    assert.deepStrictEqual(thief.requests, []);
    assert.ok(!sawSecret());
  });

  it('refuses a foreign Origin, and serves the editor\'s own', async function () {
    const body = { id: 'acct', mode: 'paper', endpoint: thief.url, keyId: 'PKTYPED', secret: 'typed-secret-456' };
    await post().set('Origin', 'http://evil.example').send(body).expect(403);
    await post().set('Origin', 'null').send(body).expect(403);
    await post().set('Sec-Fetch-Site', 'cross-site').send(body).expect(403);
    assert.deepStrictEqual(thief.requests, []);
    const res = await post().set('Host', 'editor.local:1880').set('Origin', 'http://editor.local:1880').set('Sec-Fetch-Site', 'same-origin').send(body).expect(200);
    assert.strictEqual(res.body.ok, true, JSON.stringify(res.body));
  });

  it('takes an endpoint as an origin only (a path or fragment would steer the request)', async function () {
    for (const endpoint of [`${thief.url}/steal#`, `${thief.url}/steal?`, `${thief.url}/steal`, `${thief.url}#`]) {
      const res = await post().send({ mode: 'paper', endpoint, keyId: 'PKTYPED', secret: 'typed-secret-456' }).expect(200);
      assert.strictEqual(res.body.ok, false, endpoint);
      assert.match(res.body.error, /origin only/, endpoint);
    }
    assert.deepStrictEqual(thief.requests, []);
  });

  it('writes every call to the audit log, without the secret', async function () {
    await post().send({ id: 'acct', mode: 'paper', endpoint: sim.url, keyId: STORED.keyId, secret: '__PWRD__' }).expect(200);
    await post().send({ id: 'acct', mode: 'paper', endpoint: thief.url, secret: '__PWRD__' }).expect(200);
    await post().type('form').send('mode=sim').expect(415);
    await post().send({ id: 'other' }).expect(400);
    const entries = audits();
    assert.strictEqual(entries.length, 4, JSON.stringify(entries));
    assert.deepStrictEqual(entries.map((e) => e.ok), [true, false, false, false]);
    assert.strictEqual(entries[0].storedSecret, true);
    assert.strictEqual(entries[0].node, 'acct');
    assert.strictEqual(entries[0].path, '/alpaca-account/test');
    assert.ok(!JSON.stringify(entries).includes(STORED.secret));
  });
});
