#!/usr/bin/env node
// `npm start`: Node-RED on http://127.0.0.1:1880 with this pack and the demo flow on the built-in
// simulator, in a project-local user directory (.node-red-dev/, ignored by git).
// PORT and NODE_RED_USER_DIR override the port and the directory.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { developmentSettings } = require('./dev-settings');

const root = path.resolve(__dirname, '..');
const userDir = path.resolve(process.env.NODE_RED_USER_DIR || path.join(root, '.node-red-dev'));
const port = process.env.PORT || '1880';

if (!fs.existsSync(path.join(root, 'dist', 'alpaca-account.js'))) {
  console.error('The pack is not built: run "npm run build" (npm start does it for you).');
  process.exit(1);
}

fs.mkdirSync(userDir, { recursive: true });
const settingsFile = path.join(userDir, 'settings.js');
if (!fs.existsSync(settingsFile)) {
  fs.writeFileSync(settingsFile, developmentSettings({ nodesDir: root }));
} else if (!/\bcontextStorage\b/.test(fs.readFileSync(settingsFile, 'utf8'))) {
  // Directories made before the persistent context store keep their settings.js: say how to update.
  console.log(`Note: ${settingsFile} keeps context in memory, so a breaker's HALT is lost on restart: add contextStorage (see README, Quick start), or delete ${userDir} to start afresh.`);
}
/**
 * A flow with new random node ids, every reference rewritten with them: the example's ids are
 * public, and a known id is what a hostile page would name in a request to the editor.
 */
function withFreshIds(flow) {
  const ids = new Map(flow.map((node) => [node.id, crypto.randomBytes(8).toString('hex')]));
  const rename = (v) => {
    if (typeof v === 'string') return ids.get(v) ?? v;
    if (Array.isArray(v)) return v.map(rename);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rename(x)]));
    return v;
  };
  return flow.map(rename);
}

const flowFile = path.join(userDir, 'flows.json');
if (!fs.existsSync(flowFile)) {
  const demo = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'account-snapshot.json'), 'utf8'));
  fs.writeFileSync(flowFile, JSON.stringify(withFreshIds(demo), null, 2));
}

const red = require.resolve('node-red/red.js', { paths: [root] });
console.log(`Starting Node-RED with @tradeflow/node-red-alpaca on http://127.0.0.1:${port}/ (user dir ${path.relative(process.cwd(), userDir) || '.'})`);
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile, '--port', port], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
