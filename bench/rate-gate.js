#!/usr/bin/env node
'use strict';
// A burst of 300 market orders against the simulator at Alpaca's limit (200 a minute, token
// bucket), three ways in one run:
//   1. alpaca-rate-gate in front of the orders, with the account's budget (180 per 60 s);
//   2. Node-RED's core delay node in rate mode (180 a minute) in front of plain SDK calls;
//   3. the official SDK's own limiter (180 per 60 s), all 300 calls at once.
// Reports completion time / the theoretical minimum for a 180-per-60-s budget ((300 - 180) / 3 per
// s = 40 s) and the 429s the simulator answered. Appends the results to bench/README.md.
// Usage: npm run build && node bench/rate-gate.js [--orders 300] [--no-write]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { helper, packNodes } = require('../test/support/nodered');
const { startSim, waitFor } = require('../test/support/sim');
const { createClient } = require('../dist/lib/alpaca/client');
const gateNode = require('../dist/alpaca-rate-gate.js').default;
const delayNode = require('@node-red/nodes/core/function/89-delay.js');

const args = process.argv.slice(2);
const ORDERS = Number(args[args.indexOf('--orders') + 1]) || 300;
const WRITE = !args.includes('--no-write');
const LIMIT = 180;
const WINDOW_S = 60;
const SIM_LIMIT = 200;
const theoreticalMs = (Math.max(0, ORDERS - LIMIT) / (LIMIT / WINDOW_S)) * 1000;

/** Posts one order per msg: through the account's connection (budget) or a plain SDK client. */
function posterNode(RED) {
  function Poster(config) {
    RED.nodes.createNode(this, config);
    const account = config.account ? RED.nodes.getNode(config.account) : null;
    const raw = config.url ? createClient({ keyId: 'SIMULATOR', secret: 'x', paper: true, endpoint: config.url, rateLimit: false }) : null;
    this.on('input', (msg, send, done) => {
      const order = (a) => a.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', timeInForce: 'day', clientOrderId: msg.payload });
      const p = account ? account.connection.rest(order) : order(raw);
      p.then(
        () => {
          msg.ok = true;
          send(msg);
          done();
        },
        (err) => {
          msg.ok = false;
          msg.status = err.status;
          send(msg);
          done();
        },
      );
    });
  }
  RED.nodes.registerType('bench-order-poster', Poster);
}

async function fresh(sim) {
  await fetch(`${sim.url}/sim/reset`, { method: 'POST' });
  await sim.faults({ rateLimitPerMinute: SIM_LIMIT, lockoutMs: 0 });
  return sim.stats();
}

async function runFlow(sim, flow, entry, label) {
  await helper.load([...packNodes, gateNode, posterNode, delayNode], flow);
  const out = [];
  helper.getNode('out').on('input', (m) => out.push(m));
  if (helper.getNode('acct')) await waitFor(() => helper.getNode('acct').connection.status.state === 'connected', 10000, 'connected');
  const before = await fresh(sim);
  const t0 = Date.now();
  for (let i = 0; i < ORDERS; i++) helper.getNode(entry).receive({ payload: `${label}-${i}` });
  await waitFor(() => out.length >= ORDERS, 600000, `${label}: ${ORDERS} orders`);
  const ms = Date.now() - t0;
  const after = await sim.stats();
  await helper.unload();
  return { ms, rateLimited: after.rateLimited - before.rateLimited, failed: out.filter((m) => !m.ok).length, placed: after.orders - before.orders };
}

async function main() {
  const sim = await startSim({ tickMs: 1000 });
  await helper.startServer();
  const results = [];
  try {
    const tab = { id: 'f1', type: 'tab', label: 'bench' };
    // 1. the rate gate with the account's budget
    results.push({
      name: 'alpaca-rate-gate (account budget 180/60 s)',
      ...(await runFlow(
        sim,
        [
          { id: 'acct', type: 'alpaca-account', name: 'bench', mode: 'sim', feed: 'iex', endpoint: sim.url, liveAck: false, budgetLimit: LIMIT, budgetWindow: WINDOW_S },
          tab,
          { id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output', categories: [], category: '', wires: [['poster'], []] },
          { id: 'poster', type: 'bench-order-poster', z: 'f1', account: 'acct', wires: [['out']] },
          { id: 'out', type: 'helper', z: 'f1' },
        ],
        'gate',
        'gate',
      )),
    });
    // 2. the core delay node in rate mode, plain SDK calls behind it
    results.push({
      name: 'core delay node, rate mode 180/min',
      ...(await runFlow(
        sim,
        [
          tab,
          { id: 'ratedelay', type: 'delay', z: 'f1', pauseType: 'rate', timeout: '5', timeoutUnits: 'seconds', rate: String(LIMIT), nbRateUnits: '1', rateUnits: 'minute', randomFirst: '1', randomLast: '5', randomUnits: 'seconds', drop: false, allowrate: false, outputs: 1, wires: [['poster']] },
          { id: 'poster', type: 'bench-order-poster', z: 'f1', url: sim.url, wires: [['out']] },
          { id: 'out', type: 'helper', z: 'f1' },
        ],
        'ratedelay',
        'delay',
      )),
    });
    // 3. the SDK's own limiter
    {
      const before = await fresh(sim);
      let firstFailure;
      const sdk = createClient({ keyId: 'SIMULATOR', secret: 'x', paper: true, endpoint: sim.url, rateLimit: { maxRequests: LIMIT, intervalMs: WINDOW_S * 1000 } });
      const t0 = Date.now();
      const outcomes = await Promise.all(
        Array.from({ length: ORDERS }, (_, i) =>
          sdk.trading.orders.market({ symbol: 'AAPL', qty: 1, side: 'buy', timeInForce: 'day', clientOrderId: `sdk-${i}` }).then(
            () => true,
            (err) => {
              firstFailure = firstFailure || `${err.name}: ${err.message}`;
              return false;
            },
          ),
        ),
      );
      const ms = Date.now() - t0;
      const after = await sim.stats();
      results.push({ name: "SDK's own limiter 180/60 s", ms, rateLimited: after.rateLimited - before.rateLimited, failed: outcomes.filter((ok) => !ok).length, placed: after.orders - before.orders, firstFailure });
    }
  } finally {
    await helper.stopServer();
    await sim.stop();
  }

  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    '',
    `### ${date} · nproc ${os.cpus().length} · node ${process.version}`,
    '',
    `${ORDERS} market orders released at once; simulator limit ${SIM_LIMIT}/min (token bucket); theoretical minimum for a ${LIMIT}-per-${WINDOW_S}-s budget: ${(theoreticalMs / 1000).toFixed(1)} s.`,
    '',
    '| Path | Completion | / theoretical minimum | 429s from the simulator | Orders failed | Orders placed |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.name} | ${(r.ms / 1000).toFixed(1)} s | ${theoreticalMs ? (r.ms / theoreticalMs).toFixed(2) : '-'} | ${r.rateLimited} | ${r.failed} | ${r.placed} |`),
    '',
    ...results.filter((r) => r.firstFailure).map((r) => `${r.name}: first failure "${r.firstFailure}".`),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  if (WRITE) {
    const readme = path.join(__dirname, 'README.md');
    const existing = fs.existsSync(readme) ? fs.readFileSync(readme, 'utf8') : '';
    const heading = existing.includes('\n## Rate gate\n') || existing.startsWith('## Rate gate\n') ? '' : `${existing ? '\n' : '# Benchmarks\n\n'}## Rate gate\n\nRun \`node bench/rate-gate.js\` after \`npm run build\`; each run appends a table.\n`;
    fs.appendFileSync(readme, heading + lines.join('\n'));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
