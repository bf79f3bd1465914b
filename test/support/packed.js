'use strict';
// The pack as a user gets it: `npm pack` of the repository installed into a fresh app directory
// with every install script off (`npm install --ignore-scripts`, offline when npm's cache has the
// dependencies). Done once per test run and shared by the tests that need it; removed at exit.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFile } = require('child_process');
const { promisify } = require('util');
const { root, MODULE } = require('./nodered-process');

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let work;
let installing;

process.on('exit', () => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Resolves with { work, app, installed, tarball }: the temp dir, the app dir, the installed pack's dir. */
function installPacked() {
  installing ??= (async () => {
    if (!fs.existsSync(path.join(root, 'dist', 'alpaca-account.js'))) throw new Error('dist/ is missing: run "npm run build" first (npm test does)');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-pack-'));
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    // dist/ is already built (npm test's pretest); --ignore-scripts keeps prepack from rebuilding.
    const packed = await run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, maxBuffer: 16 << 20 });
    const tarball = path.join(work, JSON.parse(packed.stdout)[0].filename);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'pi-node-red', private: true }));
    await run(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, maxBuffer: 16 << 20 });
    const installed = path.join(app, 'node_modules', ...MODULE.split('/'));
    if (!fs.existsSync(path.join(installed, 'package.json'))) throw new Error('the pack was not installed');
    return { work, app, installed, tarball };
  })();
  return installing;
}

module.exports = { installPacked, npm };
