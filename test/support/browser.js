'use strict';
// Debian's chromium driven by playwright-core (no browser download), and the Node-RED editor
// gestures the browser tests need: open a node's dialog, read its help, import an example, deploy.
const fs = require('fs');
const os = require('os');
const path = require('path');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function chromiumPath() {
  return fs.existsSync(CHROMIUM) ? CHROMIUM : undefined;
}

/**
 * Launches chromium with a fresh user data dir. Resolves { context, page, problems, close() };
 * `problems` collects console errors and uncaught page errors from the editor's own origin
 * (requests to the internet, e.g. the palette catalogue, are aborted and not counted).
 */
async function openEditor(base, types = [], viewport = { width: 1400, height: 900 }) {
  const { chromium } = require('playwright-core');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-chromium-'));
  const context = await chromium.launchPersistentContext(dataDir, { executablePath: CHROMIUM, args: ARGS, viewport });
  const problems = [];
  const page = context.pages()[0] || (await context.newPage());
  await context.route((url) => !url.href.startsWith(base), (route) => route.abort());
  const watch = (p) => {
    p.on('console', (m) => {
      // The editor catches exceptions thrown by a node's oneditprepare/oneditsave/oneditcancel
      // and only console.log()s them.
      if (m.type() === 'log' && /^onedit(prepare|save|cancel|resize|delete)\b/.test(m.text())) {
        problems.push(`editor caught: ${m.text()}`);
        return;
      }
      if (m.type() !== 'error') return;
      const where = (m.location() && m.location().url) || '';
      if (where && !where.startsWith(base)) return; // an aborted request to the internet
      problems.push(`console: ${m.text()} ${where}`);
    });
    p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  };
  watch(page);
  context.on('page', watch);
  page.setDefaultTimeout(10000);
  await page.goto(base + '/');
  await ready(page, types);
  return {
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the editor has loaded every node definition of `types` and the flows. */
async function ready(page, types = []) {
  await page.waitForFunction(
    (types) => window.RED && RED.nodes && document.querySelector('.red-ui-palette-node') && types.every((t) => RED.nodes.getType(t)) && RED.workspaces.active(),
    types,
    { timeout: 30000 },
  );
  await dismissPrompts(page);
}

/** Reloads the editor (discarding undeployed changes) and waits until it is usable. */
async function reload(page, types = []) {
  page.once('dialog', (d) => d.accept());
  await page.evaluate(() => {
    window.onbeforeunload = null;
    RED.nodes.dirty(false);
  }).catch(() => undefined);
  await page.reload();
  await ready(page, types);
}

/**
 * Node-RED 4.1 asks once whether to enable update notifications, after the flows have loaded:
 * answer no (it is remembered in the user settings), so it covers nothing later.
 */
async function dismissPrompts(page) {
  const state = await page
    .waitForFunction(
      () => {
        const asking = [...document.querySelectorAll('.red-ui-popover button')].some((b) => /do not enable notifications/i.test(b.textContent));
        if (asking) return 'asking';
        return RED.settings.telemetryEnabled !== undefined || !RED.user.hasPermission('settings.write') ? 'settled' : false;
      },
      null,
      { timeout: 30000 },
    )
    .then((h) => h.jsonValue());
  if (state === 'asking') {
    await page.getByRole('button', { name: /do not enable notifications/i }).click();
    await page.locator('.red-ui-popover button', { hasText: /do not enable notifications/i }).waitFor({ state: 'detached' });
  }
}

/** Marks the notifications on screen as seen, so that only newer ones are read. */
function markNotifications(page) {
  return page.evaluate(() => document.querySelectorAll('.red-ui-notification').forEach((n) => n.setAttribute('data-seen', '1')));
}

/** A screenshot without notification toasts covering it. */
function screenshot(page, file, options = {}) {
  return page.screenshot({ path: file, style: '.red-ui-notification { visibility: hidden !important; }', ...options });
}

/**
 * Imports a one-node flow of `type` with its editor defaults onto the current tab, as dropping
 * it from the palette does. Resolves with the node id.
 */
function addNode(page, type, x = 700, y = 520) {
  return page.evaluate(
    ({ type, x, y }) => {
      const def = RED.nodes.getType(type);
      const node = { id: RED.nodes.id(), type, x, y, z: RED.workspaces.active(), wires: [] };
      for (const [k, d] of Object.entries(def.defaults || {})) node[k] = JSON.parse(JSON.stringify(d.value === undefined ? '' : d.value));
      RED.view.importNodes([node], { generateIds: false, addFlow: false, touchImport: true });
      return node.id;
    },
    { type, x, y },
  );
}

function removeNode(page, id) {
  return page.evaluate((id) => {
    RED.view.select({ nodes: [RED.nodes.node(id)] });
    RED.actions.invoke('core:delete-selection');
  }, id);
}

/** Double-clicks a node on the canvas and waits for its edit tray. */
async function editNode(page, id) {
  await page.locator(`[id="${id}"] .red-ui-flow-node`).dblclick();
  await page.waitForSelector('.red-ui-tray .red-ui-tray-footer', { state: 'visible', timeout: 10000 });
}

/**
 * Shows the open node's help in the sidebar (the book button of the edit tray). Resolves with
 * the section titles (h3) of the help panel once it shows that node type's help text.
 */
async function helpSections(page, type) {
  await page.locator('.red-ui-tray-footer button:has(i.fa-book)').last().click();
  const shown = await page.waitForFunction(
    (type) => {
      const help = RED.nodes.getNodeHelp(type);
      if (!help) return 'no help';
      const first = $('<div>').html(help).find('p').first().text().replace(/\s+/g, ' ').trim().slice(0, 60);
      const panel = [...document.querySelectorAll('.red-ui-sidebar-help-stack .red-ui-help')].find((p) => p.textContent.replace(/\s+/g, ' ').includes(first));
      return panel ? [...panel.querySelectorAll('h3')].map((h) => h.textContent.trim()) : false;
    },
    type,
    { timeout: 10000 },
  );
  const sections = await shown.jsonValue();
  if (sections === 'no help') throw new Error(`${type} has no help text`);
  return sections;
}

/** Closes every open edit tray (after a failed step). */
function closeTrays(page) {
  return page.evaluate(() => {
    for (let i = 0; i < 5 && document.querySelector('.red-ui-tray'); i++) RED.tray.close();
  });
}

/** Menu > Import > Examples > `module`: the example names listed there. */
async function openExamples(page, module, expected) {
  await page.locator('#red-ui-header-button-sidemenu').click();
  await page.locator('#menu-item-import').click();
  await page.locator('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a').click();
  const tab = page.locator('#red-ui-clipboard-dialog-import-tab-examples');
  const items = tab.locator('.red-ui-treeList-label');
  const names = async () => (await items.allTextContents()).map((t) => t.trim());
  // The module's entries load after the click, and the tree may remember it open from the last
  // visit (a click then folds it): click until the expected entry shows, a few times at most.
  for (let attempt = 0; attempt < 3; attempt++) {
    await tab.locator('.red-ui-treeList-label', { hasText: module }).first().click();
    await items.nth(1).waitFor();
    if (!expected) break;
    const shown = await page
      .waitForFunction(
        (name) => [...document.querySelectorAll('#red-ui-clipboard-dialog-import-tab-examples .red-ui-treeList-label')].some((l) => l.textContent.trim() === name),
        expected,
        { timeout: 3000 },
      )
      .then(() => true, () => false);
    if (shown) break;
  }
  return { tab, names: await names() };
}

/** Picks `name` in the open Examples tab and imports it (as a copy if its ids already exist). */
async function importExample(page, tab, name) {
  const count = () => page.evaluate(() => {
    let n = 0;
    RED.nodes.eachNode(() => n++);
    return n;
  });
  const before = await count();
  await markNotifications(page);
  await tab.locator('.red-ui-treeList-label', { hasText: new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }).click();
  await page.locator('#red-ui-clipboard-dialog-ok').click();
  const outcome = await page
    .waitForFunction(
      (before) => {
        const text = [...document.querySelectorAll('.red-ui-notification:not([data-seen])')].map((n) => n.textContent).join(' ');
        if (/already exist/.test(text)) return 'conflict';
        let n = 0;
        RED.nodes.eachNode(() => n++);
        return n > before ? 'imported' : false;
      },
      before,
      { timeout: 10000 },
    )
    .then((h) => h.jsonValue());
  if (outcome === 'conflict') {
    await page.getByRole('button', { name: 'Import copy' }).click();
    await page.waitForFunction((before) => {
      let n = 0;
      RED.nodes.eachNode(() => n++);
      return n > before;
    }, before);
  }
  // Show the imported tab (the last one with the example's label).
  return page.evaluate(() => {
    const tabs = [];
    RED.nodes.eachWorkspace((w) => tabs.push(w.id));
    const id = tabs[tabs.length - 1];
    RED.workspaces.show(id);
    return id;
  });
}

/**
 * Clicks Deploy. Resolves with the notification texts once the deployment answered; throws when
 * Node-RED asks to confirm a deployment of invalid or unknown nodes, or reports an error.
 */
async function deploy(page) {
  await markNotifications(page);
  await page.locator('#red-ui-header-button-deploy').click();
  const handle = await page.waitForFunction(
    () => {
      const notes = [...document.querySelectorAll('.red-ui-notification:not([data-seen])')];
      const text = notes.map((n) => n.textContent);
      if (notes.some((n) => /error/.test(n.className)) || text.some((t) => /Are you sure you want to deploy|Error|not properly configured|unknown/i.test(t))) return { ok: false, text };
      if (text.some((t) => /Successfully deployed/i.test(t))) return { ok: true, text };
      return false;
    },
    null,
    { timeout: 20000 },
  );
  const result = await handle.jsonValue();
  if (!result.ok) {
    const invalid = await page.evaluate(() => {
      const out = [];
      const check = (n) => {
        if (n.valid === false) out.push(`${n.type} ${n.name || n.id}: ${JSON.stringify(n.validationErrors || [])}`);
      };
      RED.nodes.eachNode(check);
      RED.nodes.eachConfig(check);
      return out;
    });
    throw new Error(`deploy failed: ${result.text.join(' | ')}\ninvalid nodes: ${invalid.join('; ')}`);
  }
  await page.locator('#red-ui-editor-shade').waitFor({ state: 'hidden', timeout: 10000 });
  return result.text;
}

module.exports = { reload, closeTrays, CHROMIUM, chromiumPath, openEditor, dismissPrompts, markNotifications, screenshot, addNode, removeNode, editNode, helpSections, openExamples, importExample, deploy };
