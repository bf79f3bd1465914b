'use strict';
// `npx alpaca-sim` from an installed pack: the bin works with no build step (dist/ ships in the
// tarball, the entry has a shebang and npm links it executable), prints the bound URL for
// --port 0, and serves Alpaca's REST API there.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { until } = require('../support/flows');
const { installPacked } = require('../support/packed');

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

describe('alpaca-sim bin from a packed install', function () {
  this.timeout(180000);
  let child;

  after(async function () {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM'); // npx and the simulator it started
      await exited;
    }
  });

  it('npx alpaca-sim --port 0 prints its URL and answers a REST call', async function () {
    const { app, installed } = await installPacked();
    const entry = path.join(installed, 'dist', 'lib', 'sim', 'cli.js');
    assert.match(fs.readFileSync(entry, 'utf8').split('\n')[0], /^#!\/usr\/bin\/env node/);
    fs.accessSync(path.join(app, 'node_modules', '.bin', 'alpaca-sim'), fs.constants.X_OK);

    let out = '';
    // The key pair from the environment, as --help advises (a --secret flag shows in ps).
    child = spawn(npx, ['alpaca-sim', '--port', '0'], {
      cwd: app,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ALPACA_SIM_KEY: 'PKBIN', ALPACA_SIM_SECRET: 'bin-secret' },
    });
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const url = await until(() => (/listening on \S+\s+\((http:\/\/127\.0\.0\.1:\d+)\)/.exec(out) || [])[1], 60000, 'the bound URL').catch((err) => {
      throw new Error(`${err.message}\n--- output ---\n${out}`);
    });
    assert.doesNotMatch(url, /:0$/, 'the real port, not 0');
    const res = await fetch(`${url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'PKBIN', 'APCA-API-SECRET-KEY': 'bin-secret' } });
    assert.strictEqual(res.status, 200);
    assert.strictEqual((await fetch(`${url}/v2/account`, { headers: { 'APCA-API-KEY-ID': 'PKBIN', 'APCA-API-SECRET-KEY': 'other' } })).status, 401);
    const account = await res.json();
    assert.strictEqual(account.status, 'ACTIVE');
    assert.ok(Number(account.cash) > 0);
  });
});
