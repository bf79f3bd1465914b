'use strict';
// The control API can reset the account, set prices and faults: with a key pair configured it asks
// for that pair (the REST API's headers), and the standalone simulator takes the pair from the
// environment so the secret is not visible in `ps`.
const assert = require('assert');
const { startSim, startSimProcess } = require('../support/sim');

describe('simulator: control API protected by the key pair', function () {
  this.timeout(20000);
  let sim;

  afterEach(async () => {
    if (sim) await sim.stop();
    sim = undefined;
  });

  it('with --key/--secret, /sim/ answers 401 without that pair and 200 with it', async function () {
    sim = await startSim({ key: 'PKCTL', secret: 'control-secret', seed: 1 });
    const { url } = sim;
    const json = { 'content-type': 'application/json' };
    const right = { 'APCA-API-KEY-ID': 'PKCTL', 'APCA-API-SECRET-KEY': 'control-secret' };
    const wrong = { 'APCA-API-KEY-ID': 'PKCTL', 'APCA-API-SECRET-KEY': 'control-secreT' };
    assert.strictEqual((await fetch(`${url}/sim/stats`)).status, 401);
    assert.strictEqual((await fetch(`${url}/sim/stats`, { headers: wrong })).status, 401);
    assert.strictEqual((await fetch(`${url}/sim/reset`, { method: 'POST', headers: json, body: '{}' })).status, 401);
    assert.strictEqual((await fetch(`${url}/sim/faults`, { method: 'POST', headers: { ...json, ...wrong }, body: '{"errorRate":1}' })).status, 401);
    assert.strictEqual((await sim.faults()).errorRate, 0, 'the control API with the pair: no fault was set');
    assert.strictEqual((await fetch(`${url}/sim/stats`, { headers: right })).status, 200);
    assert.strictEqual((await fetch(`${url}/sim/faults`, { method: 'POST', headers: { ...json, ...right }, body: '{"latencyMs":5}' })).status, 200);
  });

  it('the standalone simulator takes the pair from ALPACA_SIM_KEY / ALPACA_SIM_SECRET, out of its command line', async function () {
    sim = await startSimProcess({ env: { ALPACA_SIM_KEY: 'PKENV', ALPACA_SIM_SECRET: 'env-secret' } });
    const { url, child } = sim;
    assert.ok(!child.spawnargs.join(' ').includes('env-secret'));
    const account = (secret) => fetch(`${url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'PKENV', 'APCA-API-SECRET-KEY': secret } });
    assert.strictEqual((await account('guess')).status, 401);
    assert.strictEqual((await account('env-secret')).status, 200);
    assert.strictEqual((await fetch(`${url}/sim/stats`)).status, 401);
    assert.doesNotMatch(sim.output(), /env-secret/, 'the secret is never printed');
  });
});
