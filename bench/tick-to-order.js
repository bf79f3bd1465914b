#!/usr/bin/env node
'use strict';
// Tick to order: from the moment a trade leaves the server to the moment the order it triggers
// arrives there, with the official SDK's own handler as the baseline and the pack's full flow:
//   alpaca-stream -> function -> alpaca-rate-gate -> alpaca-breaker -> alpaca-order
// Both run alone, in a process of their own, against the loopback replay server (market data;
// REST and the trading stream pass through to the built-in simulator). A background of ordinary
// trades keeps the stream busy; every 60/--per-minute s one trade is a signal (condition "X") and
// the consumer places a market order for it at once (the SDK with client order id tto-<trade id>,
// the flow's order node keyed by the signal: k-tto<trade id>-<hash>). The account's
// budget is never short (1000 a minute or more, simulator limit out of reach). Reports p50/p90/p99 per
// consumer (medians and spreads over --runs), and where the time goes: the median time of each
// step, over all signals and over each run's slowest 5%. The flow runs twice per run: as a user
// runs it (its latency is the one held against the SDK's), and with the runtime's message hooks
// noting each step for the breakdown (the hooks run for every msg, the background trades too, and
// cost the flow time of their own: its latency row shows how much). The SDK consumer notes its
// two steps in every run (a clock read and a diagnostics_channel subscriber). --warmup N: each
// process first places N signals that are not measured (all consumers alike; default 0), at
// --warmup-per-minute (default --per-minute) and spread over 9 symbols (the simulator refuses a
// buy while a sell of the symbol is open: a wash trade): what a process that has run for a while
// does, once V8 has optimized the code an order runs through.
// Replaces the "Tick to order" section of bench/README.md ("Tick to order after a warm-up" with
// --warmup, the one --section names if given). Run it again after changes to the gate or the
// breaker: it measures whatever the branch has.
// Usage: npm run build && node bench/tick-to-order.js [--signals 200] [--runs 3] [--per-minute 100]
//          [--warmup 0] [--warmup-per-minute 100] [--background 1000] [--only raw,flow,steps]
//          [--note "what else ran meanwhile"] [--section "Tick to order on Node 22"] [--no-write]
const path = require('path');
const { ReplayServer, trade } = require('./lib/replay-server');
const { spawnChild, percentile, median, count, spread, machine, writeSection, table, sleep, placed, orderNode } = require('./lib/common');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SIGNALS = Number(arg('--signals', 200));
const RUNS = Number(arg('--runs', 3));
const PER_MINUTE = Number(arg('--per-minute', 100));
const BACKGROUND = Number(arg('--background', 1000));
const WARMUP = Number(arg('--warmup', 0));
const WARMUP_PER_MINUTE = Number(arg('--warmup-per-minute', PER_MINUTE));
/** The flow's gate, budget and breaker are sized for the faster of the two rates: the budget is never short. */
const TOP_RATE = Math.max(PER_MINUTE, WARMUP ? WARMUP_PER_MINUTE : 0);
const ONLY = arg('--only', 'raw,flow,steps').split(',');
const WRITE = !args.includes('--no-write');
// Another section than the default (a run under another Node version, say).
const SECTION = arg('--section', '');
const NOTE = arg('--note', '');
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AMD', 'NFLX', 'INTC'];
const SIGNAL = 'X';
/**
 * The warm-up's symbols: each order of a symbol comes 9 signals after its last, so its side
 * alternates (both consumers alternate buy and sell per signal; an odd count keeps that per symbol).
 */
const WARMUP_SYMBOLS = SYMBOLS.slice(0, 9);
const SETTLE_MS = 3000;
const BACKGROUND_EVERY_MS = 10;
/** Trade ids of the signals, never reused in a run of the bench: the simulator refuses a client order id it has seen. */
let nextSignalId = 1e9;

function rawSdk(url) {
  return spawnChild(path.join(__dirname, 'lib', 'sdk-consumer.js'), [JSON.stringify({ url, mode: 'order', symbols: SYMBOLS, signal: SIGNAL })]);
}

/** The flow; with `steps` the runtime's message hooks note each step of every signal. */
function fullFlow(url, steps) {
  const flow = [
    { id: 'tab', type: 'tab', label: 'tick to order' },
    { id: 'acct', type: 'alpaca-account', name: 'bench', mode: 'sim', feed: 'iex', endpoint: url, liveAck: false, budgetLimit: Math.max(1000, 2 * TOP_RATE), budgetWindow: 60 },
    { id: 'stream', type: 'alpaca-stream', z: 'tab', account: 'acct', kind: 'stocks', symbols: SYMBOLS.join(','), channels: ['trades'], output: 'all', watchdog: 60, pollAfter: 0, alertAfter: 0, wires: [['signal'], []] },
    {
      id: 'signal',
      type: 'function',
      z: 'tab',
      name: 'order on a signal',
      func: `if (!msg.payload.conditions.includes('${SIGNAL}')) return null;\nconst n = context.get('n') || 0;\ncontext.set('n', n + 1);\nreturn { tto: msg.payload.id, signalId: 'tto-' + msg.payload.id, payload: { symbol: msg.topic, side: n % 2 ? 'sell' : 'buy', qty: 1, type: 'market' } };`,
      outputs: 1,
      noerr: 0,
      wires: [['gate']],
    },
    { id: 'gate', type: 'alpaca-rate-gate', z: 'tab', account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 60, priority: 5, report: 'output', preset: 'alpaca', categories: [{ name: 'rest', limit: Math.max(180, 2 * TOP_RATE), window: 60, shape: 'bucket' }], wires: [['breaker'], []] },
    // Every rule on, checked on every order; the loss limits out of reach, as thousands of round
    // trips pay the spread.
    {
      id: 'breaker',
      type: 'alpaca-breaker',
      z: 'tab',
      account: 'acct',
      ...{ rollingOn: true, rollingPct: '50', rollingMinutes: '30', rollingTarget: 'HALTED', dailyOn: true, dailyPct: '50', dailyTarget: 'REDUCING', drawdownOn: true, drawdownPct: '50', drawdownTarget: 'REDUCING' },
      ...{ errorsOn: true, errorsPct: '10', errorsMinutes: '5', errorsMin: '20', errorsTarget: 'HALTED', rejectsOn: true, rejectsCount: '5', rejectsTarget: 'HALTED' },
      ...{ rateOn: true, ratePerMinute: String(TOP_RATE * 3), rateTarget: 'HALTED', streamOn: false, streamMinutes: '5', streamTarget: 'REDUCING', concOn: true, concPct: '25', notionalOn: false, notionalMax: '10000' },
      ...{ session: 'market', pollOpen: '10', pollFlat: '60', staleSeconds: '120', cancelOnTrip: true, flattenOnTrip: false, store: '' },
      wires: [['order'], []],
    },
    // Keyed by the signal, as the README advises (client order id k-tto<trade id>-<hash>).
    orderNode('order', 'tab', [['sink'], [], []], { keyProperty: 'signalId' }),
    { id: 'sink', type: 'bench-sink', z: 'tab', total: 0, wires: [] },
  ];
  return spawnChild(path.join(__dirname, 'lib', 'nodered-consumer.js'), [JSON.stringify({ flow: placed(flow), steps: steps ? { signal: SIGNAL } : undefined })]);
}

/** One consumer, SIGNALS signals: { latencies, steps: [{ step: ms since the send }] } (steps when it `reports` them). */
async function runOnce(server, start, reports) {
  const subscribed = new Promise((resolve) => server.once('subscribed', resolve));
  const child = start(server.url);
  const sent = new Map();
  const arrived = new Map();
  const stepsOf = new Map();
  const errors = [];
  const onOrder = ({ clientOrderId, arrived: at }) => {
    const id = Number(/^(?:tto-|k-tto)(\d+)/.exec(String(clientOrderId))?.[1]);
    if (sent.has(id)) arrived.set(id, at);
  };
  server.on('order', onOrder);
  child.child.on('message', (m) => {
    if (m.type !== 'steps') return;
    if (m.error) errors.push(m.error);
    else if (sent.has(m.id)) stepsOf.set(m.id, m.steps);
  });
  let background;
  try {
    await Promise.all([subscribed, child.next('ready')]);
    const perFrame = Math.max(1, Math.round((BACKGROUND * BACKGROUND_EVERY_MS) / 1000));
    let id = 1;
    background = setInterval(() => {
      const frame = [];
      for (let k = 0; k < perFrame; k++, id++) frame.push(trade(SYMBOLS[id % SYMBOLS.length], id, 100 + (id % 100) / 100, Date.now()));
      server.sendTrades(frame);
    }, BACKGROUND_EVERY_MS);
    await sleep(SETTLE_MS);
    for (let n = 0; n < WARMUP + SIGNALS; n++) {
      const signalId = nextSignalId++;
      const warming = n < WARMUP;
      const at = server.sendTrades([trade(warming ? WARMUP_SYMBOLS[n % WARMUP_SYMBOLS.length] : 'AAPL', signalId, 100, Date.now(), ['@', SIGNAL])]);
      if (!warming) sent.set(signalId, at);
      await sleep(60_000 / (warming ? WARMUP_PER_MINUTE : PER_MINUTE));
    }
    const until = Date.now() + 10_000;
    while ((arrived.size < sent.size || (reports && stepsOf.size + errors.length < sent.size)) && Date.now() < until) await sleep(50);
  } finally {
    clearInterval(background);
    server.off('order', onOrder);
    await child.stop();
  }
  const latencies = [];
  const steps = [];
  for (const [id, t0] of sent) {
    const t1 = arrived.get(id);
    if (t1 === undefined) continue;
    latencies.push(t1 - t0);
    const s = stepsOf.get(id);
    if (s) steps.push({ ...Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v - t0])), 'POST arrives': t1 - t0 });
  }
  return { latencies, steps, missing: sent.size - latencies.length, errors };
}

/** The median time of each step after the one before it, in the order the steps happen, up to the POST's arrival. */
function breakdown(allSteps) {
  const names = new Map();
  for (const s of allSteps) for (const [k, v] of Object.entries(s)) names.set(k, [...(names.get(k) ?? []), v]);
  const arrival = median(names.get('POST arrives') ?? [Infinity]);
  const order = [...names.entries()]
    .map(([k, vs]) => [k, median(vs)])
    .filter(([, at]) => at <= arrival)
    .sort((a, b) => a[1] - b[1]);
  let before = 0;
  return order.map(([name, at]) => {
    const row = [name, at.toFixed(3), (at - before).toFixed(3)];
    before = at;
    return row;
  });
}

async function main() {
  const server = new ReplayServer();
  await server.start();
  const machineLine = machine();
  // [key, label, start, reports its steps]
  const consumers = [
    ['raw', 'raw SDK handler places the order', rawSdk, true],
    ['flow', 'stream → function → rate gate → breaker → order', (url) => fullFlow(url, false), false],
    ['steps', 'the same flow, message hooks noting each step', (url) => fullFlow(url, true), true],
  ].filter(([key]) => ONLY.includes(key));
  const results = new Map(consumers.map(([key]) => [key, []]));
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const [key, label, start, reports] of consumers) {
        const r = await runOnce(server, start, reports);
        results.get(key).push(r);
        const q = (p) => percentile(r.latencies, p).toFixed(2);
        console.log(`run ${run}/${RUNS} ${label}: p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms (${r.latencies.length} orders, ${r.missing} missing)`);
        if (r.errors.length) console.log(`  errors: ${[...new Set(r.errors)].join('; ')}`);
      }
    }
  } finally {
    await server.stop();
  }

  const rows = consumers.map(([key, label]) => {
    const rs = results.get(key);
    const at = (p) => spread(rs.map((r) => percentile(r.latencies, p)), 2);
    return [label, at(0.5), at(0.9), at(0.99), String(rs.reduce((n, r) => n + r.latencies.length, 0)), String(rs.reduce((n, r) => n + r.missing, 0))];
  });
  const p99 = (key) => median(results.get(key)?.map((r) => percentile(r.latencies, 0.99)) ?? [NaN]);
  const reporting = consumers.filter(([, , , reports]) => reports);
  const breakdowns = new Map(reporting.map(([key]) => [key, breakdown(results.get(key).flatMap((r) => r.steps))]));
  // The tail: the same breakdown over each run's slowest 5% of signals, to show which step the p99 grows in.
  const tails = new Map(
    reporting.map(([key]) => {
      const slowest = results.get(key).flatMap((r) => {
        const cut = percentile(r.latencies, 0.95);
        return r.steps.filter((s) => s['POST arrives'] >= cut);
      });
      return [key, new Map(breakdown(slowest).map(([step, at, took]) => [step, [at, took]]))];
    }),
  );
  const sections = reporting.map(([key, label]) => {
    const rows = breakdowns.get(key).map(([step, at, took]) => [step, at, took, ...(tails.get(key).get(step) ?? ['', ''])]);
    return `${label}, time of each step (ms since the trade left the server), median over all signals and over each run's slowest 5%:\n\n${table(['Step', 'at', 'took', 'slowest 5%: at', 'took'], rows)}`;
  });
  const where = [];
  if (breakdowns.has('steps')) {
    const largest = [...breakdowns.get('steps')].sort((x, y) => Number(y[2]) - Number(x[2])).slice(0, 3);
    where.push(`Where the flow's time goes (median): ${largest.map(([step, , took]) => `${took} ms until "${step}"`).join(', ')}.`);
  }
  const at = (key, step) => breakdowns.get(key)?.find((row) => row[0] === step)?.[1];
  if (at('steps', 'stream sends') && at('raw', 'handler runs')) {
    where.push(`The stream node sends its msg ${at('steps', 'stream sends')} ms after the trade left the server; the SDK's own handler runs after ${at('raw', 'handler runs')} ms.`);
  }
  const body = [
    `Measured by \`node bench/tick-to-order.js\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machineLine}). From the moment a signal trade leaves the replay server to the moment the order it triggers arrives there; ${SIGNALS} signals per run (${PER_MINUTE} a minute)${WARMUP ? `, after ${WARMUP} signals of warm-up in the same process that are not measured (${WARMUP_PER_MINUTE} a minute, ${WARMUP_SYMBOLS.length} symbols),` : ''} among ${BACKGROUND} ordinary trades a second of ${SYMBOLS.length} symbols; ${count(RUNS, 'run')} per consumer, each alone in a process of its own, in turn. Percentiles in ms, median over the runs (min–max). The account's budget is never short. The flow with message hooks is there for the step times below; the hooks run for every msg and cost time of their own, so the goal is held against the flow as a user runs it.${NOTE ? ` ${NOTE}` : ''}`,
    '',
    table(['Consumer', 'p50 ms', 'p90 ms', 'p99 ms', 'orders', 'missing'], rows),
    '',
    Number.isFinite(p99('flow') - p99('raw')) ? `p99 of the flow (no hooks) minus p99 of the raw SDK: ${(p99('flow') - p99('raw')).toFixed(2)} ms (goal: within 2 ms).` : '',
    '',
    where.join(' '),
    '',
    sections.join('\n\n'),
  ].join('\n');
  console.log(`\n${body}`);
  if (WRITE) writeSection(SECTION || (WARMUP ? 'Tick to order after a warm-up' : 'Tick to order'), body);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
