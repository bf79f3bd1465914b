'use strict';
// The README's start command, as a newcomer runs it: a real Node-RED process with the pack,
// the demo flow and the built-in simulator, in a fresh user directory.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startNodeRed, root } = require('../support/nodered-process');
const { waitFor } = require('../support/wait');

describe('npm start (scripts/start.js)', function () {
  this.timeout(60000);
  let red;

  after(async function () {
    if (red) await red.stop();
  });

  it('runs Node-RED with the pack and the demo flow querying the simulated account', async function () {
    // No flows, no settings: start.js writes both into the fresh user directory.
    red = await startNodeRed();
    const { base } = red;

    const account = await waitFor(async () => {
      try {
        const res = await fetch(`${base}/demo/account`);
        return res.status === 200 ? res.json() : undefined;
      } catch {
        return undefined;
      }
    }, 45000, 'the demo flow to answer').catch((err) => {
      throw new Error(`${err.message}\n--- Node-RED log ---\n${red.log()}`);
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
    assert.ok(fs.existsSync(path.join(red.userDir, 'flows.json')));
    assert.doesNotMatch(red.log(), /\[error\]/);

    // A persistent context store (a breaker's HALT survives a restart), in the runtime's own words.
    assert.match(red.log(), /Context store\s*:\s*'default' \[module=localfilesystem\]/);
    // Telemetry decided by settings.js: the editor asks "Enable Update Notifications?" only when
    // this is undefined (test/browser/editor.test.js checks the editor itself).
    const settings = await (await fetch(`${base}/settings`, { headers: { Accept: 'application/json' } })).json();
    assert.strictEqual(settings.telemetryEnabled, false);
  });

  it('keeps an existing settings.js and says how to get the current one', async function () {
    const oldDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-start-old-'));
    const old = `module.exports = { uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: 'old', nodesDir: [${JSON.stringify(root)}] };\n`;
    fs.writeFileSync(path.join(oldDir, 'settings.js'), old);
    let started;
    try {
      started = await startNodeRed({ userDir: oldDir });
      const out = started.log();
      assert.match(out, /Server now running/);
      assert.strictEqual(fs.readFileSync(path.join(oldDir, 'settings.js'), 'utf8'), old);
      assert.match(out, /settings\.js keeps context in memory, so a breaker's HALT is lost on restart: add contextStorage/);
      assert.match(out, /Context store\s*:\s*'default' \[module=memory\]/);
    } finally {
      if (started) await started.stop();
      fs.rmSync(oldDir, { recursive: true, force: true });
    }
  });
});
