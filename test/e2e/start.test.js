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
    assert.strictEqual(registered.length, 8);
    assert.deepStrictEqual(ours.map((n) => n.name).sort(), registered);
    assert.ok(ours.every((n) => n.enabled && !n.err), JSON.stringify(ours));

    const examples = await (await fetch(`${base}/library/examples/flows/@tradeflow/node-red-alpaca`)).json();
    assert.ok(examples.some((e) => e.fn === 'account-snapshot'), JSON.stringify(examples));

    // The user dir got its settings and the demo flow; no credentials were needed.
    assert.ok(fs.existsSync(path.join(userDir, 'flows.json')));
    assert.doesNotMatch(log, /\[error\]/);

    // A persistent context store (a breaker's HALT survives a restart), in the runtime's own words.
    assert.match(log, /Context store\s*:\s*'default' \[module=localfilesystem\]/);
    // Telemetry decided by settings.js: the editor asks "Enable Update Notifications?" only when
    // this is undefined (test/browser/editor.test.js checks the editor itself).
    const settings = await (await fetch(`${base}/settings`, { headers: { Accept: 'application/json' } })).json();
    assert.strictEqual(settings.telemetryEnabled, false);
  });

  it('keeps an existing settings.js and says how to get the current one', async function () {
    const port = await freePort();
    const oldDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-start-old-'));
    const old = `module.exports = { uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: 'old', nodesDir: [${JSON.stringify(path.join(__dirname, '..', '..'))}] };\n`;
    fs.writeFileSync(path.join(oldDir, 'settings.js'), old);
    const starting = spawn(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'start.js')], {
      env: { ...process.env, PORT: String(port), NODE_RED_USER_DIR: oldDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    starting.stdout.on('data', (d) => (out += d));
    starting.stderr.on('data', (d) => (out += d));
    const exited = new Promise((r) => starting.once('exit', r));
    try {
      await waitFor(() => /Server now running/.test(out), 45000, 'Node-RED to start').catch((err) => {
        throw new Error(`${err.message}\n${out}`);
      });
      assert.strictEqual(fs.readFileSync(path.join(oldDir, 'settings.js'), 'utf8'), old);
      assert.match(out, /settings\.js keeps context in memory, so a breaker's HALT is lost on restart: add contextStorage/);
      assert.match(out, /Context store\s*:\s*'default' \[module=memory\]/);
    } finally {
      starting.kill('SIGTERM');
      await exited;
      fs.rmSync(oldDir, { recursive: true, force: true });
    }
  });
});
