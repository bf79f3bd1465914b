'use strict';
// The Raspberry Pi promise: no native build step anywhere in the runtime dependencies. The packed
// tarball is installed the way a Pi user installs it, but with every install script switched off
// (`npm install --ignore-scripts`), and must still load in Node-RED and run its demo flow on the
// simulator. A dependency that needs a compiler or a postinstall download fails this test.
// Uses the npm registry (or npm's cache, --prefer-offline) for the pack's runtime dependencies.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { startNodeRed, root, MODULE } = require('../support/nodered-process');
const { packTypes } = require('../support/flows');
const { waitFor } = require('../support/wait');
const { nativeCode } = require('../../scripts/native-code');
const { installPacked } = require('../support/packed');

describe('npm install --ignore-scripts (Raspberry Pi: no native build step)', function () {
  this.timeout(180000);
  let red;

  after(async function () {
    if (red) await red.stop();
  });

  it('installs the packed tarball without install scripts and runs it in Node-RED', async function () {
    const { app, installed } = await installPacked();

    // Nothing in the installed tree wanted to run a script or compile an addon.
    assert.deepStrictEqual(nativeCode(path.join(app, 'node_modules')), [], 'runtime dependencies with install scripts or native code');

    // Node-RED (the repository's copy) with that directory as its user dir: it finds the pack in
    // node_modules, as on a Pi after `cd ~/.node-red && npm install`. A settings.js of its own:
    // no nodesDir pointing at the repository.
    fs.copyFileSync(path.join(installed, 'examples', 'account-snapshot.json'), path.join(app, 'flows.json'));
    fs.writeFileSync(
      path.join(app, 'settings.js'),
      `module.exports = { uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: 'pi-test', alpacaSimulator: { seed: 1 }, editorTheme: { tours: false } };\n`,
    );
    red = await startNodeRed({ userDir: app, cwd: app });
    const { base } = red;

    const account = await waitFor(async () => {
      try {
        const res = await fetch(`${base}/demo/account`);
        return res.status === 200 ? res.json() : undefined;
      } catch {
        return undefined;
      }
    }, 45000, 'the demo flow of the installed pack to answer', 50).catch((err) => {
      throw new Error(`${err.message}\n--- Node-RED log ---\n${red.log()}`);
    });
    assert.strictEqual(account.status, 'ACTIVE');
    assert.ok(account.equity > 0);

    const sets = (await (await fetch(`${base}/nodes`, { headers: { Accept: 'application/json' } })).json()).filter((s) => s.module === MODULE);
    assert.deepStrictEqual(sets.map((s) => s.name).sort(), [...packTypes].sort());
    assert.ok(sets.every((s) => s.enabled && !s.err), JSON.stringify(sets));
    // The only copy Node-RED can find is the installed one (no nodesDir, none in the repository's node_modules).
    assert.ok(!fs.existsSync(path.join(root, 'node_modules', ...MODULE.split('/'))));
    assert.doesNotMatch(red.log(), /\[error\]|Waiting for missing types/);
  });
});
