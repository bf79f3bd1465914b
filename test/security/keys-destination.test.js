'use strict';
// Where the API keys go (issue 12, finding 1): Alpaca's live host only in live mode with the
// acknowledgement, an Endpoint only as an origin, one off this machine only when acknowledged for
// that host, sim mode only to a simulator on this machine; the status and the log name the host.
const assert = require('assert');
const { configProblem, AlpacaConnection } = require('../../dist/lib/alpaca/connection');
const { createClient, keysOnlyTo, normaliseEndpoint } = require('../../dist/lib/alpaca/client');
const { helper, packNodes } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { startSim } = require('../support/sim');
const { fakeBroker, lanAddress, ACCOUNT } = require('./fake-broker');

const KEYS = { keyId: 'PKWHERE', secret: 'where-secret-123' };

describe('security: where the keys go', function () {
  this.timeout(20000);

  describe('the account settings (configProblem)', function () {
    it('refuses Alpaca\'s live host as an Endpoint in sim and paper mode', function () {
      for (const mode of ['sim', 'paper']) {
        for (const endpoint of ['https://api.alpaca.markets', 'https://API.Alpaca.Markets/', 'https://api.alpaca.markets.']) {
          assert.match(configProblem({ mode, ...KEYS, endpoint }) || '', /Alpaca's own: leave Endpoint empty/, `${mode} ${endpoint}`);
        }
      }
    });

    it('sends live keys to another host only with "Send my API keys to <host>" ticked for that host', function () {
      const live = { mode: 'live', liveAcknowledged: true, ...KEYS, endpoint: 'https://proxy.example.com:8443' };
      assert.match(configProblem(live), /not on this machine: tick "Send my API keys to proxy.example.com:8443"/);
      assert.match(configProblem({ ...live, endpointAcknowledged: 'https://other.example.com' }), /not on this machine/);
      assert.strictEqual(configProblem({ ...live, endpointAcknowledged: 'https://proxy.example.com:8443' }), undefined);
      assert.match(configProblem({ ...live, liveAcknowledged: false, endpointAcknowledged: 'https://proxy.example.com:8443' }), /live trading refused/);
      // Paper keys too: any endpoint off this machine.
      assert.match(configProblem({ mode: 'paper', ...KEYS, endpoint: 'http://192.0.2.7:8765' }), /not on this machine/);
      assert.strictEqual(configProblem({ mode: 'paper', ...KEYS, endpoint: 'http://127.0.0.1:8765' }), undefined);
      assert.strictEqual(configProblem({ mode: 'live', liveAcknowledged: true, ...KEYS, endpoint: 'http://[::1]:8765' }), undefined);
    });

    it('sim mode sends keys only to a simulator on this machine, acknowledged or not', function () {
      for (const endpoint of ['http://127.0.0.1:8765', 'http://127.1:8765', 'http://localhost:8765', 'http://[::1]:8765']) {
        assert.strictEqual(configProblem({ mode: 'sim', endpoint }), undefined, endpoint);
      }
      for (const endpoint of ['http://192.0.2.7:8765', 'http://sim.example.com', 'http://0.0.0.0:8765', 'http://127.0.0.1.example.com']) {
        assert.match(configProblem({ mode: 'sim', ...KEYS, endpoint, endpointAcknowledged: endpoint }) || '', /not a loopback address/, endpoint);
      }
    });

    it('takes an Endpoint as an origin only: no path, query, fragment or user name', function () {
      assert.strictEqual(normaliseEndpoint(' HTTP://127.0.0.1:8765/ '), 'http://127.0.0.1:8765');
      for (const endpoint of ['http://127.0.0.1:8765/v2', 'http://127.0.0.1:8765/x#', 'http://127.0.0.1:8765#', 'http://127.0.0.1:8765/?', 'http://127.0.0.1:8765/?a=1', 'http://user:pw@127.0.0.1:8765', 'http://127.0.0.1:8765//']) {
        assert.match(configProblem({ mode: 'paper', ...KEYS, endpoint }) || '', /origin only/, endpoint);
      }
    });
  });

  describe('the SDK client', function () {
    it('lets a request, and the keys on it, go only to the origins of its mode', async function () {
      const paper = keysOnlyTo(['https://paper-api.alpaca.markets', 'https://data.alpaca.markets']);
      assert.strictEqual(await paper.pre({ url: 'https://paper-api.alpaca.markets/v2/account', init: {} }), undefined);
      await assert.rejects(paper.pre({ url: 'https://api.alpaca.markets/v2/account', init: {} }), (err) => err.kind === 'refused' && /api\.alpaca\.markets/.test(err.message));
    });

    it('a client with an Endpoint sends every request there and nowhere else', async function () {
      const broker = await fakeBroker({ 'GET /v2/account': { status: 200, body: ACCOUNT } });
      try {
        const client = createClient({ ...KEYS, paper: false, endpoint: broker.url, rateLimit: false });
        await client.trading.account.getAccount();
        assert.strictEqual(broker.requests.length, 1);
        assert.strictEqual(broker.requests[0].headers['apca-api-key-id'], KEYS.keyId);
      } finally {
        await broker.stop();
      }
    });
  });

  describe('a connection', function () {
    let connection;
    let broker;
    let sim;
    const user = { id: 'probe', onConnectionStatus: () => undefined };
    afterEach(async function () {
      if (connection) await connection.deregister(user);
      connection = undefined;
      if (broker) await broker.stop();
      broker = undefined;
      if (sim) await sim.stop();
      sim = undefined;
    });

    it('to an Endpoint names its host in the status', async function () {
      sim = await startSim({ key: KEYS.keyId, secret: KEYS.secret });
      const { url } = sim;
      connection = new AlpacaConnection({ mode: 'paper', ...KEYS, endpoint: url });
      connection.register(user);
      await waitFor(() => connection.status.state === 'connected', 10000, 'connected');
      assert.strictEqual(connection.status.text, `connected · paper · ${new URL(url).host}`);
    });

    it('to an unacknowledged Endpoint off this machine is refused and sends nothing', async function () {
      const address = lanAddress();
      if (!address) this.skip();
      broker = await fakeBroker({ 'GET /v2/account': { status: 200, body: ACCOUNT } }, address);
      connection = new AlpacaConnection({ mode: 'paper', ...KEYS, endpoint: broker.url });
      connection.register(user);
      await assert.rejects(connection.reads.account(), (err) => err.kind === 'refused' && /Send my API keys to/.test(err.message));
      assert.strictEqual(connection.status.state, 'refused');
      assert.deepStrictEqual(broker.requests, []);

      // Acknowledged for that host, the keys go there and the status says where.
      await connection.deregister(user);
      connection = new AlpacaConnection({ mode: 'paper', ...KEYS, endpoint: broker.url, endpointAcknowledged: broker.url });
      connection.register(user);
      await waitFor(() => connection.status.state === 'connected', 10000, 'connected');
      assert.strictEqual(connection.status.text, `connected · paper · ${new URL(broker.url).host}`);
      assert.ok(broker.requests.length > 0);
    });
  });

  describe('the account node', function () {
    let sim;
    afterEach(async function () {
      await helper.unload();
      if (sim) await sim.stop();
      sim = undefined;
    });

    it('logs where its keys go when not to Alpaca', async function () {
      sim = await startSim({ key: KEYS.keyId, secret: KEYS.secret });
      const { url } = sim;
      const account = { id: 'acct', type: 'alpaca-account', name: 'via endpoint', mode: 'paper', feed: 'iex', endpoint: url, liveAck: false };
      await helper.load(packNodes, [account], { acct: KEYS });
      const lines = helper.log().args.map((a) => a[0]).filter((m) => m && m.id === 'acct').map((m) => String(m.msg));
      assert.ok(lines.some((l) => l.includes(`to ${new URL(url).host} (Endpoint, this machine)`)), lines.join('\n'));
    });

    it('refuses, with a red status, the live host as the Endpoint of a paper account', async function () {
      const account = { id: 'acct', type: 'alpaca-account', name: 'sneaky', mode: 'paper', feed: 'iex', endpoint: 'https://api.alpaca.markets', liveAck: false };
      const positions = { id: 'pos', type: 'alpaca-positions', account: 'acct', action: 'account', wires: [[]] };
      await helper.load(packNodes, [account, positions], { acct: KEYS });
      assert.strictEqual(helper.getNode('acct').connection.status.state, 'refused');
      const s = helper.getNode('pos').status.lastCall.args[0];
      assert.strictEqual(s.fill, 'red');
      assert.match(s.text, /Alpaca's own/);
    });
  });
});
