#!/usr/bin/env node
// `npm start`: Node-RED on http://127.0.0.1:1880 with this pack and the demo flow on the built-in
// simulator, in a project-local user directory (.node-red-dev/, ignored by git).
// PORT and NODE_RED_USER_DIR override the port and the directory.
'use strict';
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
const flowFile = path.join(userDir, 'flows.json');
if (!fs.existsSync(flowFile)) {
  fs.copyFileSync(path.join(root, 'examples', 'account-snapshot.json'), flowFile);
}

const red = require.resolve('node-red/red.js', { paths: [root] });
console.log(`Starting Node-RED with @tradeflow/node-red-alpaca on http://127.0.0.1:${port}/ (user dir ${path.relative(process.cwd(), userDir) || '.'})`);
const child = spawn(process.execPath, [red, '--userDir', userDir, '--settings', settingsFile, '--port', port], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
