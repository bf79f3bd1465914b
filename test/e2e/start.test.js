'use strict';
// The README's start command, as a newcomer runs it: a real Node-RED process with the pack,
// the demo flow and the built-in simulator, in a fresh user directory.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { waitFor } = require('../support/sim');
const { freePort } = require('../support/flows');


describe('npm start (scripts/start.js)', function () {
  this.timeout(60000);
  let child;
  let userDir;
  let log = '';

  after(async function () {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('runs Node-RED with the pack and the demo flow querying the simulated account', async function () {
    const port = await freePort();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-start-'));
    child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'start.js')], {
      env: { ...process.env, PORT: String(port), NODE_RED_USER_DIR: userDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const base = `http://127.0.0.1:${port}`;

    const account = await waitFor(async () => {
      try {
        const res = await fetch(`${base}/demo/account`);
        return res.status === 200 ? res.json() : undefined;
      } catch {
        return undefined;
      }
    }, 45000, 'the demo flow to answer').catch((err) => {
      throw new Error(`${err.message}\n--- Node-RED log ---\n${log}`);
    });
    assert.strictEqual(account.status, 'ACTIVE');
    assert.strictEqual(typeof account.equity, 'number');
    assert.ok(account.equity > 0);

    const nodes = await (await fetch(`${base}/nodes`, { headers: { Accept: 'application/json' } })).json();
    const ours = nodes.filter((n) => n.module === '@tradeflow/node-red-alpaca');
    const registered = Object.keys(require('../../package.json')['node-red'].nodes).sort();
    assert.strictEqual(registered.length, 7);
    assert.deepStrictEqual(ours.map((n) => n.name).sort(), registered);
    assert.ok(ours.every((n) => n.enabled && !n.err), JSON.stringify(ours));

    const examples = await (await fetch(`${base}/library/examples/flows/@tradeflow/node-red-alpaca`)).json();
    assert.ok(examples.some((e) => e.fn === 'account-snapshot'), JSON.stringify(examples));

    // The user dir got its settings and the demo flow; no credentials were needed.
    assert.ok(fs.existsSync(path.join(userDir, 'flows.json')));
    assert.doesNotMatch(log, /\[error\]/);
  });
});
