'use strict';
// Real Node-RED processes for tests and benches, started the way the README's start command does
// (`node scripts/start.js` with PORT and NODE_RED_USER_DIR): the one launcher, with what the
// restart, crash, example, install and security tests need (a user directory kept across
// restarts, settings overrides, environment, a kill with any signal, the log) and the admin API.
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { developmentSettings } = require('../../scripts/dev-settings');
const { waitFor } = require('./wait');

const root = path.resolve(__dirname, '..', '..');
const MODULE = require(path.join(root, 'package.json')).name;

/** A free TCP port on loopback (free when asked: bind it soon). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Starts Node-RED like `npm start` does: `node scripts/start.js` with PORT and NODE_RED_USER_DIR.
 * - flows: the flow to start with (array; default: what the directory holds, else start.js's demo flow);
 * - userDir: an existing directory, kept by stop() (a restart passes it again; default: a fresh
 *   temp dir, removed by stop()). A settings.js already there is used as it is (start.js never
 *   overwrites one), unless `settings` is given;
 * - settings: extra settings.js properties (object, JSON-serialisable), merged into the file
 *   start.js would write; stocks trade around the clock unless a test overrides alpacaSimulator;
 * - env, cwd: of the process; port (default a free one); timeout of the start (ms, default 45 s).
 * Resolves once the admin API answers and the flows have started (or wait for missing types).
 */
async function startNodeRed(options = {}) {
  const port = options.port || (await freePort());
  const ownDir = !options.userDir;
  const userDir = options.userDir || fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-nr-'));
  if (options.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(options.flows));
  if (options.settings) {
    const overrides = { alpacaSimulator: { seed: 1, marketHours: 'always' }, ...options.settings };
    fs.writeFileSync(path.join(userDir, 'settings.js'), developmentSettings({ nodesDir: root, credentialSecret: 'test-only-secret', overrides }));
  }
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], {
    cwd: options.cwd || root,
    env: { ...process.env, PORT: String(port), NODE_RED_USER_DIR: userDir, ...(options.env || {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const red = new NodeRedProcess(child, port, userDir, ownDir);
  try {
    await red.ready(options.timeout || 45000);
  } catch (err) {
    await red.stop();
    throw err;
  }
  return red;
}

class NodeRedProcess {
  constructor(child, port, userDir, ownDir) {
    this.child = child;
    this.port = port;
    this.userDir = userDir;
    this.ownDir = ownDir;
    this.base = `http://127.0.0.1:${port}`;
    this.output = '';
    child.stdout.on('data', (d) => (this.output += d));
    child.stderr.on('data', (d) => (this.output += d));
    this.exited = new Promise((r) => child.once('exit', r));
  }

  /** The log since `mark` (a number from mark()). */
  log(mark = 0) {
    return this.output.slice(mark);
  }

  mark() {
    return this.output.length;
  }

  /** Log lines at [error] level since `mark`. */
  errors(mark = 0) {
    return this.log(mark).split('\n').filter((l) => /\[error\]/.test(l));
  }

  /** Resolves when the log since `mark` matches `re`. */
  waitForLog(re, mark = 0, ms = 30000) {
    return waitFor(() => re.test(this.log(mark)), ms, `log line ${re}`, 50).catch((err) => {
      throw new Error(`${err.message}\n--- Node-RED log ---\n${this.log(mark)}`);
    });
  }

  async ready(ms) {
    // Any answer will do: with adminAuth on, /settings answers 401 until a login.
    await waitFor(async () => {
      if (this.child.exitCode !== null) throw new Error(`Node-RED exited with ${this.child.exitCode}\n${this.output}`);
      try {
        return (await fetch(`${this.base}/settings`)).status < 500;
      } catch {
        return false;
      }
    }, ms, 'the Node-RED admin API', 50).catch((err) => {
      throw new Error(`${err.message}\n--- Node-RED log ---\n${this.output}`);
    });
    await this.waitForLog(/Started flows|Waiting for missing types|Stopped flows/, 0, ms);
  }

  /** The pid of the node-red process itself (start.js spawns it as its only child). */
  nodeRedPid() {
    const file = `/proc/${this.child.pid}/task/${this.child.pid}/children`;
    const kids = fs.readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    if (kids.length !== 1) throw new Error(`expected one node-red child of ${this.child.pid}, found ${kids.join(',')}`);
    return kids[0];
  }

  /** An admin API request; JSON body in and out. */
  async api(method, urlPath, body, headers = {}) {
    const res = await fetch(this.base + urlPath, {
      method,
      headers: { Accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    if (res.status >= 400) throw new Error(`${method} ${urlPath}: ${res.status} ${text}`);
    return json;
  }

  /** Every node type installed and enabled in this runtime. */
  async installedTypes() {
    const sets = await this.api('GET', '/nodes');
    return new Set(sets.filter((s) => s.enabled !== false && !s.err).flatMap((s) => s.types || []));
  }

  /** Node sets of a module, from GET /nodes. */
  async nodeSets(module = MODULE) {
    return (await this.api('GET', '/nodes')).filter((s) => s.module === module);
  }

  /**
   * Deploys `flows` (full deployment) and resolves with the log mark of the deployment once the
   * runtime has started them (or reported missing types).
   */
  async deploy(flows) {
    const mark = this.mark();
    await this.api('POST', '/flows', flows, { 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' });
    await this.waitForLog(/Started flows|Waiting for missing types/, mark);
    return mark;
  }

  /** Clicks an inject node's button, as the editor does. */
  inject(id) {
    return this.api('POST', `/inject/${id}`);
  }

  /** Sends `signal` to the node-red process itself (a SIGKILL is a power cut: no close handler runs) and waits until it is gone. */
  async kill(signal = 'SIGKILL') {
    process.kill(this.nodeRedPid(), signal);
    await this.exited;
  }

  /** Stops Node-RED as Ctrl-C would (SIGKILL after 10 s); removes the user directory it made. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.ownDir) fs.rmSync(this.userDir, { recursive: true, force: true });
  }
}

module.exports = { root, MODULE, freePort, startNodeRed };
