'use strict';
// The editor experience in a real browser: Debian's chromium driven by playwright-core against
// Node-RED started exactly as the README's `npm start` does. Driven by package.json's
// "node-red".nodes and examples/*.json, so every node and example of the pack is covered.
// Screenshots land in test-artifacts/ (ignored by git). Without /usr/bin/chromium the test is
// skipped on a laptop and FAILS in CI (CI=true).
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { root, MODULE, startNodeRed } = require('../support/nodered-process');
const { packTypes, configTypes, examples } = require('../support/flows');
const ui = require('../support/browser');

const artifacts = path.join(root, 'test-artifacts');
const nodeTypes = packTypes.filter((t) => !configTypes.includes(t));
const all = examples();

describe('the Node-RED editor in chromium', function () {
  this.timeout(60000);
  let red;
  let editor;
  let page;

  before(async function () {
    if (!ui.chromiumPath()) {
      if (process.env.CI === 'true') throw new Error(`${ui.CHROMIUM} is missing: CI must install Debian's chromium (apt-get install chromium)`);
      this.skip();
    }
    fs.mkdirSync(artifacts, { recursive: true });
    red = await startNodeRed();
    editor = await ui.openEditor(red.base, packTypes);
    page = editor.page;
  });

  after(async function () {
    if (editor) await editor.close();
    if (red) await red.stop();
  });

  afterEach(async function () {
    const problems = editor ? editor.problems.splice(0) : [];
    if (page && this.currentTest.state !== 'passed') {
      // Say what the browser said, then start the next step from a fresh editor.
      if (problems.length) console.error(`browser problems during "${this.currentTest.title}":\n  ${problems.join('\n  ')}`);
      await ui.reload(page, packTypes).catch(() => undefined);
    }
  });

  /** Every step ends with a clean browser console. */
  function assertNoBrowserErrors() {
    assert.deepStrictEqual(editor.problems.splice(0), [], 'errors in the browser console');
  }

  it('opens with no "Enable Update Notifications" dialog in the way', async function () {
    // The editor asks only when the telemetry choice it loaded is undefined (ui.openEditor would
    // have answered it, and the editor does not reload the choice): settings.js decides it.
    assert.strictEqual(await page.evaluate(() => RED.settings.telemetryEnabled), false);
    assert.strictEqual(await page.locator('.red-ui-popover button', { hasText: /notifications/i }).count(), 0);
  });

  it('lists every node of the pack in the palette under "alpaca"', async function () {
    const listed = await page.locator('#red-ui-palette-container-alpaca .red-ui-palette-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-palette-type')));
    assert.deepStrictEqual([...listed].sort(), [...nodeTypes].sort());
    assertNoBrowserErrors();
  });

  for (const type of nodeTypes) {
    it(`${type}: the edit dialog opens with its fields and help, and closes`, async function () {
      const def = await page.evaluate((t) => {
        const d = RED.nodes.getType(t);
        return { defaults: Object.keys(d.defaults || {}), composed: typeof d.oneditsave === 'function', paletteLabel: typeof d.paletteLabel === 'function' ? d.paletteLabel.call({}) : d.paletteLabel, icon: d.icon, color: d.color };
      }, type);
      assert.ok(def.paletteLabel, `${type} has no paletteLabel`);
      assert.strictEqual(def.color, '#FCD34D');
      assert.strictEqual(def.icon, 'alpaca.svg');

      const id = await ui.addNode(page, type);
      await ui.editNode(page, id);
      const tray = page.locator('.red-ui-tray').last();
      const fields = await tray.locator('[id^="node-input-"]').evaluateAll((els) => els.map((e) => e.id.replace('node-input-', '')));
      // Every setting has its field, unless the dialog composes it in oneditsave (a group of checkboxes).
      const withoutField = def.defaults.filter((k) => !['inputs', 'outputs'].includes(k) && !fields.includes(k));
      if (!def.composed) assert.deepStrictEqual(withoutField, [], `${type}: settings without a field in the dialog`);
      assert.ok(fields.includes('name'), `${type}: no Name field`);

      const sections = await ui.helpSections(page, type);
      for (const s of ['Inputs', 'Outputs', 'Details']) assert.ok(sections.includes(s), `${type} help lacks ${s}: ${sections.join(', ')}`);

      await page.locator('#node-dialog-cancel').click();
      await tray.waitFor({ state: 'detached' });
      await ui.removeNode(page, id);
      assertNoBrowserErrors();
    });
  }

  it('alpaca-account: Test connection reports success against the simulator', async function () {
    await page.evaluate(() => {
      let id;
      RED.nodes.eachConfig((c) => {
        if (c.type === 'alpaca-account') id = c.id;
      });
      RED.editor.editConfig('', 'alpaca-account', id);
    });
    await page.locator('#alpaca-test-connection').click();
    const result = page.locator('#alpaca-test-result');
    await page.waitForFunction(() => /^(OK|Failed)/.test(document.querySelector('#alpaca-test-result').textContent), null, { timeout: 20000 });
    assert.match(await result.textContent(), /^OK: account ACTIVE, equity \d+\.\d\d USD \(sim\)$/);
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#alpaca-test-connection').waitFor({ state: 'detached' });
    assertNoBrowserErrors();
  });

  it('lists every example under Import > Examples, and each one deploys', async function () {
    this.timeout(30000 + 10000 * all.length);
    const quickStart = all.find((e) => e.name === 'quick-start') || all[0];
    let dashboardPath;
    for (const example of all) {
      const { tab, names } = await ui.openExamples(page, MODULE, example.name);
      assert.ok(names.includes(example.name), `${example.name} not under Import > Examples > ${MODULE}: ${names.join(', ')}`);
      await ui.importExample(page, tab, example.name);
      await ui.deploy(page);
      if (example === quickStart) {
        // The flow with its debug output beside it, as a user sees it a few seconds after deploying.
        await page.evaluate(() => RED.sidebar.show('debug'));
        await page.locator('.red-ui-debug-msg').first().waitFor({ timeout: 20000 }).catch(() => undefined);
        await ui.screenshot(page, path.join(artifacts, 'quick-start-flow.png'));
      }
      const base = example.flow.find((n) => n.type === 'ui-base');
      if (base && !dashboardPath) dashboardPath = base.path || '/dashboard';
    }
    assert.deepStrictEqual(red.errors(), [], 'Node-RED logged errors');

    if (dashboardPath) {
      const dash = await editor.context.newPage();
      await dash.goto(red.base + dashboardPath);
      await dash.waitForSelector('main, .v-main, #app .v-application', { timeout: 20000 });
      await dash.waitForLoadState('networkidle').catch(() => undefined);
      await ui.screenshot(dash, path.join(artifacts, 'dashboard.png'), { fullPage: true });
      await dash.close();
    }
    assertNoBrowserErrors();
  });
});
