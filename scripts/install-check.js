#!/usr/bin/env node
// The pack installed and run the way a Raspberry Pi user does it, with any Node binary: Node-RED
// 4.1 in its own directory (like a global install), the packed tarball in the user directory
// (`cd ~/.node-red && npm install`), both installed BY that Node, then the account-snapshot demo
// on the built-in simulator, checked over HTTP, with the start-up timed. .ci/arm64-check runs it
// with an arm64 Node under qemu; on a real Pi `node scripts/install-check.js` runs it natively.
//
// Options: --node <binary> (default: this Node), --emulator "<command>" (runs --node, e.g.
// "qemu-aarch64-static -L /"), --expect-arch <arch> (the runtime must report it),
// --node-red <version range> (default ~4.1), --keep (leave the temp directory for a look).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawn } = require('child_process');
const { parseArgs } = require('util');
const { developmentSettings } = require('./dev-settings');
const { nativeCode } = require('./native-code');
const { freePort, until } = require('../test/support/flows');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const { values: opts } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    emulator: { type: 'string', default: '' },
    'expect-arch': { type: 'string' },
    'node-red': { type: 'string', default: '~4.1' },
    keep: { type: 'boolean', default: false },
  },
});
// Emulation is slow (minutes per step on a CI machine): generous limits, not speed checks.
const INSTALL_TIMEOUT_MS = 30 * 60000;
const START_TIMEOUT_MS = 10 * 60000;
const STOP_TIMEOUT_MS = 60000;

const emulator = opts.emulator.split(/\s+/).filter(Boolean);
const targetNode = [...emulator, path.resolve(opts.node)];
const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
  ? process.env.npm_execpath
  : fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-install-check-'));
let nodeRed;

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const step = (text) => console.log(`== ${text}`);

/** Runs the target Node (under the emulator) with `args`; resolves with its output. */
function runTarget(args, cwd, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(targetNode[0], [...targetNode.slice(1), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${targetNode.join(' ')} ${args.join(' ')} failed (${signal || `exit ${code}`}):\n${out}`));
    });
  });
}

/** `npm install` run by the target Node into `dir`, as a user's own install. */
async function npmInstall(dir, specs) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir).replace(/^\./, ''), private: true }));
  const started = Date.now();
  const out = await runTarget([npmCli, 'install', '--no-audit', '--no-fund', '--omit=dev', ...specs], dir, INSTALL_TIMEOUT_MS);
  console.log(out.trim().split('\n').filter((l) => /added|warn/.test(l)).join('\n'));
  return Date.now() - started;
}

async function getJson(url) {
  try {
    const res = await fetch(url, { headers: { Accept: 'application/json' } });
    return res.status === 200 ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

async function stopNodeRed() {
  if (!nodeRed || nodeRed.child.exitCode !== null || nodeRed.child.signalCode !== null) return;
  nodeRed.child.kill('SIGTERM');
  const timer = setTimeout(() => nodeRed.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await nodeRed.exited;
  clearTimeout(timer);
}

async function main() {
  step(`target Node: ${targetNode.join(' ')}`);
  const version = (await runTarget(['-p', 'process.version + " " + process.arch'], work, START_TIMEOUT_MS)).trim();
  console.log(version);
  const arch = version.split(' ')[1];
  if (opts['expect-arch'] && arch !== opts['expect-arch']) throw new Error(`the target Node runs as ${arch}, not ${opts['expect-arch']}`);

  step('npm pack (prepack builds the pack)');
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tarball = path.join(work, packed[0].filename);
  console.log(path.basename(tarball));

  const nodeRedDir = path.join(work, 'node-red');
  const userDir = path.join(work, '.node-red');
  step(`npm install node-red@${opts['node-red']} (by the target Node)`);
  const nodeRedInstall = await npmInstall(nodeRedDir, [`node-red@${opts['node-red']}`]);
  step('npm install the packed pack into the user directory (by the target Node)');
  const packInstall = await npmInstall(userDir, [tarball]);
  const native = nativeCode(path.join(userDir, 'node_modules'));
  if (native.length) throw new Error(`the pack's installed tree is not pure JavaScript:\n  ${native.join('\n  ')}`);
  console.log("the pack's installed tree is pure JavaScript: no install scripts, no addons");

  step('Node-RED with the account-snapshot demo on the built-in simulator (run by the target Node)');
  const installed = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
  fs.copyFileSync(path.join(installed, 'examples', 'account-snapshot.json'), path.join(userDir, 'flows.json'));
  fs.writeFileSync(path.join(userDir, 'settings.js'), developmentSettings());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const red = path.join(nodeRedDir, 'node_modules', 'node-red', 'red.js');
  const started = Date.now();
  const child = spawn(targetNode[0], [...targetNode.slice(1), red, '--userDir', userDir, '--settings', path.join(userDir, 'settings.js'), '--port', String(port)], {
    cwd: userDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  nodeRed = { child, log: '', exited: new Promise((r) => child.once('exit', r)), at: {} };
  const onData = (d) => {
    nodeRed.log += d;
    for (const [name, re] of [['server', /Server now running/], ['flows', /Started flows/]]) {
      if (!nodeRed.at[name] && re.test(nodeRed.log)) nodeRed.at[name] = Date.now() - started;
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const withLog = (err) => {
    throw new Error(`${err.message}\n--- Node-RED log ---\n${nodeRed.log}`);
  };

  const account = await until(async () => {
    if (child.exitCode !== null) throw new Error(`Node-RED exited with ${child.exitCode}`);
    const a = await getJson(`${base}/demo/account`);
    return a && a.status === 'ACTIVE' && a.equity > 0 && a;
  }, START_TIMEOUT_MS, 'GET /demo/account to answer with an ACTIVE account', 500).catch(withLog);
  const answered = Date.now() - started;
  const sets = ((await getJson(`${base}/nodes`)) || []).filter((s) => s.module === pkg.name);
  const loaded = sets.filter((s) => s.enabled && !s.err).map((s) => s.name).sort();
  const expected = Object.keys(pkg['node-red'].nodes).sort();
  if (JSON.stringify(loaded) !== JSON.stringify(expected)) withLog(new Error(`node sets loaded: ${loaded.join(', ')}; expected ${expected.join(', ')}`));
  const platform = (/\[info\] (Linux .*)/.exec(nodeRed.log) || [])[1] || '?';
  if (opts['expect-arch'] && !platform.includes(` ${opts['expect-arch']} `)) withLog(new Error(`Node-RED reports ${platform}, not ${opts['expect-arch']}`));
  const nodeRedVersion = (/Node-RED version: (\S+)/.exec(nodeRed.log) || [])[1];
  const errors = nodeRed.log.split('\n').filter((l) => /\[error\]/.test(l));
  if (errors.length) withLog(new Error(`Node-RED logged errors:\n${errors.join('\n')}`));
  await stopNodeRed();

  step('result');
  console.log(`Node ${version}${emulator.length ? ` under ${emulator[0]}` : ''}, Node-RED ${nodeRedVersion} on ${platform}`);
  console.log(`installs: node-red ${seconds(nodeRedInstall)}, the pack ${seconds(packInstall)}`);
  console.log(`start-up: server up ${seconds(nodeRed.at.server)}, flows started ${seconds(nodeRed.at.flows)}, demo answered ${seconds(answered)}`);
  console.log(`checked: ${expected.length} node types loaded; GET /demo/account: ${account.status}, equity ${account.equity} ${account.currency || ''}`.trim());
}

async function finish(code) {
  await stopNodeRed();
  if (opts.keep) console.log(`kept ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => finish(1));
main().then(() => finish(0), (err) => {
  console.error(`install check FAILED: ${err.message}`);
  return finish(1);
});
