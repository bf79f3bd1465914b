'use strict';
// The standalone simulator's command line: --host is documented, a non-loopback bind is warned about
// and the address really bound is printed (0.0.0.0 used to print 127.0.0.1), the environment
// variables for the key pair are in --help.
const assert = require('assert');
const path = require('path');
const { execFile } = require('child_process');
const { promisify } = require('util');
const { startSimProcess } = require('../support/sim');

const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'sim', 'cli.js');
const run = promisify(execFile);

describe('simulator: command line', function () {
  this.timeout(20000);
  let sim;

  afterEach(async () => {
    if (sim) await sim.stop();
    sim = undefined;
  });

  it('--help documents --host, the environment variables and the control API', async function () {
    const { stdout } = await run(process.execPath, [CLI, '--help']);
    for (const needle of ['--host', 'ALPACA_SIM_KEY', 'ALPACA_SIM_SECRET', 'ps', '--rate-limit-algorithm', '--data-rate-limit', '/sim/reset', '/sim/requests', 'ONE simulated account', 'Post zeros']) {
      assert.ok(stdout.includes(needle), `--help mentions ${needle}`);
    }
  });

  it('bound to 0.0.0.0 it warns and prints the address really bound', async function () {
    // A key pair, so the briefly exposed simulator accepts no stranger.
    sim = await startSimProcess({ args: ['--port', '0', '--host', '0.0.0.0'], env: { ALPACA_SIM_KEY: 'PKCLI', ALPACA_SIM_SECRET: 'cli-secret' } });
    const out = sim.output();
    assert.match(out, /WARNING: --host 0\.0\.0\.0 makes the simulator reachable from other machines/);
    assert.match(out, /listening on 0\.0\.0\.0:\d+/);
    assert.doesNotMatch(out, /listening on 127\.0\.0\.1/);
  });

  it('refuses half a key pair and bad numbers with a one-line reason (exit 2)', async function () {
    for (const args of [['--key', 'K'], ['--rate-limit', 'many'], ['--rate-limit-algorithm', 'leaky'], ['--port', '70000']]) {
      const err = await run(process.execPath, [CLI, ...args]).then(() => undefined, (e) => e);
      assert.ok(err, `${args.join(' ')} must fail`);
      assert.strictEqual(err.code, 2, args.join(' '));
      assert.match(err.stderr, /^alpaca-sim: .+\n$/, args.join(' '));
    }
  });
});
