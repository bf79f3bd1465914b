'use strict';
// What every benchmark shares: a wall clock comparable across processes, summary statistics,
// the machine's description, child processes that report over IPC, and bench/README.md sections.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { fork } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const readmePath = path.join(root, 'bench', 'README.md');

/** Epoch ms with sub-ms resolution, on the same system clock in every process of this machine. */
const wallNow = () => performance.timeOrigin + performance.now();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The value at fraction `p` (0..1) of a sorted copy of `values` (nearest rank). */
function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const median = (values) => percentile(values, 0.5);

/** "1 run", "3 runs". */
const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "median (min–max)" of repeated runs, with `digits` decimals. */
function spread(values, digits = 0) {
  const f = (v) => v.toFixed(digits);
  if (values.length === 1) return f(values[0]);
  return `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/** One line saying where a figure was measured. */
function machine() {
  const nodeRed = require(require.resolve('node-red/package.json', { paths: [root] })).version;
  const cpu = os.cpus()[0]?.model?.trim() || 'cpu';
  const [load1] = os.loadavg();
  return `nproc ${os.availableParallelism()}, ${cpu}, Node ${process.version}, Node-RED ${nodeRed}, load average ${load1.toFixed(1)} at the start`;
}

/**
 * Forks `script` with `args`; resolves with { child, next(type, ms) } where next() waits for the
 * child's next IPC message of that type. A child that exits early rejects every wait.
 */
function spawnChild(script, args = [], options = {}) {
  // BENCH_CPU_PROF=<dir>: every child writes a V8 CPU profile there (open it in Chrome DevTools).
  // BENCH_NODE_ARGS="--max-semi-space-size=32": V8 / Node flags for every child (what-if runs).
  const execArgv = [
    ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(/\s+/).filter(Boolean) : []),
  ];
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, ...options });
  const inbox = [];
  const waiting = [];
  let exited;
  const settle = () => {
    for (let i = 0; i < waiting.length; i++) {
      const w = waiting[i];
      const at = inbox.findIndex((m) => m.type === w.type || m.type === 'error');
      if (at >= 0) {
        const [msg] = inbox.splice(at, 1);
        waiting.splice(i--, 1);
        clearTimeout(w.timer);
        if (msg.type === 'error') w.reject(new Error(`${path.basename(script)}: ${msg.message}`));
        else w.resolve(msg);
      } else if (exited) {
        waiting.splice(i--, 1);
        clearTimeout(w.timer);
        w.reject(new Error(`${path.basename(script)} exited (${exited}) before sending "${w.type}"`));
      }
    }
  };
  child.on('message', (m) => {
    inbox.push(m);
    settle();
  });
  child.on('exit', (code, signal) => {
    exited = signal || String(code);
    settle();
  });
  const next = (type, ms = 120_000) =>
    new Promise((resolve, reject) => {
      const w = { type, resolve, reject };
      w.timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(w), 1);
        reject(new Error(`${path.basename(script)}: no "${type}" within ${ms} ms`));
      }, ms);
      waiting.push(w);
      settle();
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  return { child, next, stop };
}

/** In a child: reports to the parent, and turns a crash into an "error" message. */
function childReporter() {
  const report = (msg) => process.send?.(msg);
  const fail = (err) => {
    report({ type: 'error', message: err?.stack || String(err) });
    setTimeout(() => process.exit(1), 100);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  return { report, fail };
}

/**
 * Replaces (or adds) the section `## title` of bench/README.md with `body` (one write); other
 * sections, written by other benchmarks, stay as they are.
 */
function writeSection(title, body) {
  const text = fs.existsSync(readmePath) ? fs.readFileSync(readmePath, 'utf8') : '# Benchmarks\n';
  const heading = `## ${title}`;
  const start = text.indexOf(`\n${heading}\n`);
  const section = `\n${heading}\n\n${body.trim()}\n`;
  let out;
  if (start < 0) out = `${text.replace(/\s*$/, '\n')}${section}`;
  else {
    const after = text.indexOf('\n## ', start + heading.length + 1);
    out = text.slice(0, start) + section + (after < 0 ? '' : text.slice(after));
  }
  fs.writeFileSync(readmePath, out);
}

/** A flow with every tab node placed on its tab (Node-RED takes a node without x and y for a config node). */
function placed(flow) {
  let y = 0;
  return flow.map((n) => (n.z && n.x === undefined ? { x: 200, y: (y += 40), ...n } : n));
}

/** An alpaca-order node with every field left empty (the msg says it all), placing what it is sent. */
function orderNode(id, z, wires, settings = {}) {
  return {
    id,
    type: 'alpaca-order',
    z,
    account: 'acct',
    action: 'submit',
    ...{ symbol: '', side: '', orderType: '', orderClass: '', timeInForce: '', qty: '', notional: '', limitPrice: '', stopPrice: '', trailPrice: '', trailPercent: '', extendedHours: '' },
    ...{ takeProfitLimitPrice: '', stopLossStopPrice: '', stopLossLimitPrice: '', positionIntent: '', waitForFinal: false, timeout: '60' },
    ...settings,
    wires,
  };
}

/** A Markdown table. */
function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

module.exports = { root, wallNow, sleep, percentile, median, count, spread, slope, machine, spawnChild, childReporter, writeSection, table, placed, orderNode };
