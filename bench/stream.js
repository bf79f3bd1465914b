#!/usr/bin/env node
'use strict';
// Stream throughput at saturation. A loopback replay server (bench/lib/replay-server.js) sends
// `--trades` trades of 10 symbols, 100 to a msgpack frame, as fast as each consumer drains its
// socket; each consumer runs alone, in a process of its own, and the runs are repeated:
//   raw SDK          the official SDK's onTrade handler counting (the baseline, same run);
//   pack feed        the pack's market feed and msg building without Node-RED (its own cost);
//   <mode> -> sink   Node-RED with alpaca-stream in that delivery mode into a plain sink node;
//   <mode> -> fn     the same with a one-line function node (`return msg;`) before the sink.
// Reports events/s and process CPU µs per event, medians and spreads (min–max) over the runs,
// and replaces the "Stream throughput" section of bench/README.md.
// Usage: npm run build && node bench/stream.js [--trades 1000000] [--runs 3] [--only raw,feed,...]
//          [--note "what else ran meanwhile"] [--no-write]
// BENCH_SYNC=1: Node-RED with runtimeSyncDelivery (what-if: the cost of its asynchronous delivery).
const path = require('path');
const { ReplayServer, tradeFrames } = require('./lib/replay-server');
const { spawnChild, spread, median, count, machine, writeSection, table, sleep, placed } = require('./lib/common');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const TRADES = Number(arg('--trades', 1_000_000));
const RUNS = Number(arg('--runs', 3));
const ONLY = arg('--only', '')
  .split(',')
  .filter(Boolean);
const WRITE = !args.includes('--no-write');
const NOTE = arg('--note', '');
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AMD', 'NFLX', 'INTC'];
const PER_FRAME = 100;
const SETTLE_MS = 3000;

const MODES = {
  event: { label: 'per event', stream: { output: 'all' } },
  batch: { label: 'batch, every symbol (100 or 100 ms)', stream: { output: 'all', batch: 'all', batchSize: 100, batchMs: 100 } },
  'batch-symbol': { label: 'batch, per symbol (100 or 100 ms)', stream: { output: 'all', batch: 'symbol', batchSize: 100, batchMs: 100 } },
  conflate: { label: 'conflate trades (100 ms)', stream: { output: 'conflate', conflateMs: 100, conflateTrades: true } },
};

/** Every consumer of a run: [key, label, start(url) -> child]. */
function consumers() {
  const list = [
    ['raw', 'raw SDK handler (baseline)', (url) => sdk(url)],
    ['feed', 'pack feed + msg building, no Node-RED', (url) => feedOnly(url)],
  ];
  for (const [key, mode] of Object.entries(MODES)) {
    list.push([`${key}-sink`, `alpaca-stream ${mode.label} → sink`, (url) => nodeRed(url, mode.stream, false)]);
    if (key === 'event' || key === 'batch') list.push([`${key}-fn`, `alpaca-stream ${mode.label} → function → sink`, (url) => nodeRed(url, mode.stream, true)]);
  }
  return list.filter(([key]) => !ONLY.length || ONLY.includes(key));
}

function sdk(url) {
  return spawnChild(path.join(__dirname, 'lib', 'sdk-consumer.js'), [JSON.stringify({ url, mode: 'count', symbols: SYMBOLS, total: TRADES })]);
}

function feedOnly(url) {
  return spawnChild(path.join(__dirname, 'lib', 'feed-consumer.js'), [JSON.stringify({ url, symbols: SYMBOLS, total: TRADES })]);
}

function nodeRed(url, stream, withFunction) {
  const flow = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'acct', type: 'alpaca-account', name: 'bench', mode: 'sim', feed: 'iex', endpoint: url, liveAck: false },
    {
      id: 'stream',
      type: 'alpaca-stream',
      z: 'tab',
      account: 'acct',
      kind: 'stocks',
      symbols: SYMBOLS.join(','),
      channels: ['trades'],
      watchdog: 0,
      pollAfter: 0,
      alertAfter: 0,
      ...stream,
      wires: [[withFunction ? 'fn' : 'sink'], []],
    },
    ...(withFunction ? [{ id: 'fn', type: 'function', z: 'tab', name: 'one line', func: 'return msg;', outputs: 1, noerr: 0, wires: [['sink']] }] : []),
    { id: 'sink', type: 'bench-sink', z: 'tab', total: TRADES, wires: [] },
  ];
  return spawnChild(path.join(__dirname, 'lib', 'nodered-consumer.js'), [JSON.stringify({ flow: placed(flow), settings: process.env.BENCH_SYNC ? { runtimeSyncDelivery: true } : {} })]);
}

/** One consumer, one replay: events/s and CPU µs per event. */
async function runOnce(server, frames, start) {
  const subscribed = new Promise((resolve) => server.once('subscribed', resolve));
  const child = start(server.url);
  try {
    await Promise.all([subscribed, child.next('ready')]);
    await sleep(SETTLE_MS); // whatever the consumer still does after starting is not measured
    const done = child.next('done', 600_000);
    await server.blast(frames);
    const r = await done;
    return { rate: (r.events / r.ms) * 1000, cpu: r.cpuUs / r.events, delivered: r.delivered, msgs: r.msgs };
  } finally {
    await child.stop();
  }
}

async function main() {
  const server = new ReplayServer();
  await server.start();
  const frames = tradeFrames({ total: TRADES, perFrame: PER_FRAME, symbols: SYMBOLS });
  const where = machine();
  const list = consumers();
  const results = new Map(list.map(([key]) => [key, []]));
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const [key, label, start] of list) {
        const r = await runOnce(server, frames, start);
        results.get(key).push(r);
        console.log(`run ${run}/${RUNS} ${label}: ${r.rate.toFixed(0)} events/s, ${r.cpu.toFixed(2)} µs CPU/event, ${r.msgs} msgs`);
      }
    }
  } finally {
    await server.stop();
  }

  const raw = results.get('raw');
  const rawRate = raw ? median(raw.map((r) => r.rate)) : NaN;
  const rawCpu = raw ? median(raw.map((r) => r.cpu)) : NaN;
  const rows = list.map(([key, label]) => {
    const rs = results.get(key);
    const rate = rs.map((r) => r.rate);
    const cpu = rs.map((r) => r.cpu);
    return [label, spread(rate), (median(rate) / rawRate).toFixed(2), spread(cpu, 2), (median(cpu) - rawCpu).toFixed(2), String(median(rs.map((r) => r.msgs)))];
  });
  const feed = results.get('feed');
  const own = feed && raw ? median(feed.map((r) => r.cpu)) - rawCpu : NaN;
  const body = [
    `Measured by \`node bench/stream.js\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${where}). A loopback replay server sends ${TRADES.toLocaleString('en')} trades of ${SYMBOLS.length} symbols, ${PER_FRAME} to a msgpack frame, as fast as the consumer drains its socket (faster than every consumer: the consumer is the bottleneck). Each consumer runs alone, in a process of its own; ${count(RUNS, 'run')} each, interleaved. Figures are medians (min–max). CPU is the consumer process's user + system time from its first event to the last, per event.${NOTE ? ` ${NOTE}` : ''}`,
    '',
    table(['Consumer', 'events/s', '× raw SDK', 'CPU µs/event', 'CPU µs/event over raw SDK', 'msgs'], rows),
    '',
    Number.isFinite(own) ? `The pack's own work per event (market feed, normalising, routing, msg building; no Node-RED): ${own.toFixed(2)} µs of CPU over the raw SDK's handler.` : '',
  ].join('\n');
  console.log(`\n${body}`);
  if (WRITE) writeSection('Stream throughput', body);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
