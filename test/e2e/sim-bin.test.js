'use strict';
// `npx alpaca-sim` from an installed pack: the bin works with no build step (dist/ ships in the
// tarball, the entry has a shebang and npm links it executable), prints the bound URL for
// --port 0, and serves Alpaca's REST API there.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { startSimProcess } = require('../support/sim');
const { installPacked } = require('../support/packed');

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('alpaca-sim bin from a packed install', function () {
  this.timeout(180000);
  let sim;

  after(async function () {
    if (sim) await sim.stop(); // npx and the simulator it started
  });

  it('npx alpaca-sim --port 0 prints its URL and answers a REST call', async function () {
    const { app, installed } = await installPacked();
    const entry = path.join(installed, 'dist', 'lib', 'sim', 'cli.js');
    assert.match(fs.readFileSync(entry, 'utf8').split('\n')[0], /^#!\/usr\/bin\/env node/);
    fs.accessSync(path.join(app, 'node_modules', '.bin', 'alpaca-sim'), fs.constants.X_OK);

    // The key pair from the environment, as --help advises (a --secret flag shows in ps).
    sim = await startSimProcess({
      command: [npx, 'alpaca-sim'],
      args: ['--port', '0'],
      cwd: app,
      env: { ALPACA_SIM_KEY: 'PKBIN', ALPACA_SIM_SECRET: 'bin-secret' },
      timeout: 60000,
    });
    const { url } = sim;
    assert.doesNotMatch(url, /:0$/, 'the real port, not 0');
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'PKBIN', 'APCA-API-SECRET-KEY': 'bin-secret' } });
    assert.strictEqual(res.status, 200);
    assert.strictEqual((await fetch(`${url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'PKBIN', 'APCA-API-SECRET-KEY': 'other' } })).status, 401);
    const account = await res.json();
    assert.strictEqual(account.status, 'ACTIVE');
    assert.ok(Number(account.cash) > 0);
  });
});
