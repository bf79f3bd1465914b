#!/usr/bin/env node
// Idle memory of Node-RED with this pack: the resident set size (VmRSS) of the node-red process,
// started like `npm start` (scripts/start.js), after it has idled for a while.
//   1. baseline: an empty flow (the pack is installed but nothing uses it);
//   2. the pack running examples/account-snapshot.json on the built-in simulator.
// Usage: npm run build && node bench/idle-memory.js [--idle 60] [--no-append]
// Appends the result (date, nproc, node --version) to bench/README.md under "Idle memory".
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startNodeRed, sleep, root } = require('../test/support/flows');

const args = process.argv.slice(2);
const idleIndex = args.indexOf('--idle');
const idleSeconds = Number(idleIndex >= 0 ? args[idleIndex + 1] : process.env.IDLE_SECONDS || 60);
const append = !args.includes('--no-append');

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Starts Node-RED with `flows`, idles, samples RSS every 5 s over the last quarter; MiB. */
async function measure(label, flows) {
  const red = await startNodeRed({ flows });
  try {
    const pid = red.nodeRedPid();
    const samples = [];
    const sampleFrom = Date.now() + idleSeconds * 750;
    const until = Date.now() + idleSeconds * 1000;
    while (Date.now() < until) {
      await sleep(Math.min(5000, Math.max(0, until - Date.now())));
      if (Date.now() >= sampleFrom) samples.push(rssKiB(pid));
    }
    if (!samples.length) samples.push(rssKiB(pid));
    const errors = red.errors();
    if (errors.length) throw new Error(`${label}: Node-RED logged errors:\n${errors.join('\n')}`);
    const mib = (k) => Math.round((k / 1024) * 10) / 10;
    return { label, rss: mib(samples[samples.length - 1]), max: mib(Math.max(...samples)), samples: samples.length };
  } finally {
    await red.stop();
  }
}

(async () => {
  if (!fs.existsSync(path.join(root, 'dist', 'alpaca-account.js'))) throw new Error('build first: npm run build');
  const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'account-snapshot.json'), 'utf8'));
  console.log(`idling ${idleSeconds} s per run...`);
  const baseline = await measure('Node-RED, empty flow (baseline)', []);
  const withPack = await measure('Node-RED + pack, account-snapshot example on the simulator', example);
  const nodeRed = require(require.resolve('node-red/package.json', { paths: [root] })).version;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const delta = Math.round((withPack.rss - baseline.rss) * 10) / 10;
  const lines = [
    '',
    `### ${date} UTC, nproc ${os.availableParallelism()}, Node ${process.version}, Node-RED ${nodeRed}, idle ${idleSeconds} s`,
    '',
    '| Run | RSS at the end (MiB) | max RSS sampled (MiB) |',
    '| --- | --- | --- |',
    `| ${baseline.label} | ${baseline.rss} | ${baseline.max} |`,
    `| ${withPack.label} | ${withPack.rss} | ${withPack.max} |`,
    '',
    `The pack with a running example adds ${delta} MiB.`,
    '',
  ];
  console.log(lines.join('\n'));
  if (append) {
    const readme = path.join(__dirname, 'README.md');
    const existing = fs.existsSync(readme) ? fs.readFileSync(readme, 'utf8') : '';
    const heading = existing.includes('\n## Idle memory') || existing.startsWith('## Idle memory')
      ? ''
      : '\n## Idle memory\n\nRSS of the node-red process started like `npm start` (the dev-dependency node packages, dashboard, telegram and email, are loaded in both runs), measured by `node bench/idle-memory.js` (VmRSS from /proc, sampled over the last quarter of the idle period).\n';
    // One write, appended: other benches append their own sections to the same file.
    fs.appendFileSync(readme, heading + lines.join('\n'));
    console.log(`appended to ${path.relative(process.cwd(), readme)}`);
  }
})().catch((err) => {
  console.error(err.stack || err.message);
  process.exit(1);
});
