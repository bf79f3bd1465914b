#!/usr/bin/env node
'use strict';
// Days without a restart, compressed: the same trading workload for a long while, three ways at
// once, each in a process of its own:
//   pack      Node-RED (started like `npm start`) with the pack: alpaca-stream of the symbols'
//             trades and quotes into a function node, an order every few seconds through
//             rate gate -> breaker -> order, positions every few seconds, order updates;
//   sdk       the same work with the official SDK alone (bench/lib/sdk-soak.js);
//   nodered   Node-RED without the pack carrying as many msgs through core nodes: Node-RED's own
//             drift, the baseline for the pack's.
// The pack and the SDK each talk to a simulator of their own that drops every stream every
// --drop-every seconds. A probe preloaded into each process (bench/lib/probe.js) samples RSS, heap
// after GC, heapTotal, external, file descriptors and handles; the simulators count the REST
// requests. Prints slopes after the warm-up and the pack/SDK ratios, replaces the "Soak" section of
// bench/README.md, and leaves a heap snapshot of each process (taken after the last sample) in
// --out. --snapshots takes one at the end of the warm-up too, for `node bench/lib/heap-diff.js
// first.heapsnapshot last.heapsnapshot`, and an allocation-sampling profile beside each; writing a
// snapshot grows a process's heap and RSS for good and the sampler grows the heap as it goes, so
// such a run is for finding growth, not for the figures.
// Usage: npm run build && node bench/soak.js [--minutes 120] [--warmup 10] [--drop-every 10]
//          [--symbols 20] [--order-every 2] [--positions-every 10] [--tick-ms 250]
//          [--sample-every 30] [--only pack,sdk,nodered] [--out dir] [--snapshots]
//          [--note "what else ran meanwhile"] [--no-write]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startNodeRed } = require('../test/support/flows');
const { developmentSettings } = require('../scripts/dev-settings');
const { root, sleep, slope, machine, spawnChild, writeSection, table, placed, orderNode } = require('./lib/common');
const { Simulator } = require('../dist/lib/sim/simulator');

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const MINUTES = Number(arg('--minutes', 120));
const WARMUP_MIN = Number(arg('--warmup', Math.min(10, MINUTES / 4)));
const DROP_S = Number(arg('--drop-every', 10));
const SYMBOL_COUNT = Number(arg('--symbols', 20));
const ORDER_S = Number(arg('--order-every', 2));
const POSITIONS_S = Number(arg('--positions-every', 10));
const TICK_MS = Number(arg('--tick-ms', 250));
const SAMPLE_S = Number(arg('--sample-every', 30));
const ONLY = arg('--only', 'pack,sdk,nodered').split(',');
const OUT = path.resolve(arg('--out', fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-soak-'))));
const WRITE = !args.includes('--no-write');
const SNAPSHOTS = args.includes('--snapshots');
const NOTE = arg('--note', '');
const PROBE = path.join(__dirname, 'lib', 'probe.js');
const UNIVERSE = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AVGO', 'AMD', 'NFLX', 'INTC', 'ADBE', 'CSCO', 'PEP', 'COST', 'QCOM', 'PYPL', 'SBUX', 'PLTR', 'COIN', 'WMT', 'QQQ', 'JPM', 'BAC', 'SPY', 'IWM', 'DIA', 'GLD', 'XLF', 'KO'];
const SYMBOLS = UNIVERSE.slice(0, SYMBOL_COUNT);
const MIB = 1024 * 1024;

/** The pack's flow: the workload of issue 19. */
function packFlow(url) {
  const z = 'soak';
  const sink = (id, name) => ({ id, type: 'function', z, name, func: 'return null;', outputs: 1, noerr: 0, wires: [] });
  return [
    { id: z, type: 'tab', label: 'soak' },
    { id: 'acct', type: 'alpaca-account', name: 'soak', mode: 'sim', feed: 'iex', endpoint: url, liveAck: false },
    {
      id: 'stream',
      type: 'alpaca-stream',
      z,
      account: 'acct',
      kind: 'stocks',
      symbols: SYMBOLS.join(', '),
      channels: ['trades', 'quotes'],
      output: 'all',
      watchdog: 60,
      alertAfter: 2,
      pollAfter: 30,
      wires: [['strategy'], ['conn-events']],
    },
    {
      id: 'strategy',
      type: 'function',
      z,
      name: 'strategy reads the price',
      func: "const price = msg.payload.price ?? msg.payload.mid;\nif (!(price > 0)) node.warn('no price');\nreturn null;",
      outputs: 1,
      noerr: 0,
      wires: [],
    },
    sink('conn-events', 'connection events'),
    { id: 'tick', type: 'inject', z, name: 'every order period', props: [], repeat: String(ORDER_S), once: true, onceDelay: 5, wires: [['signal']] },
    {
      id: 'signal',
      type: 'function',
      z,
      name: 'buy and sell in turn',
      func: "const n = context.get('n') || 0;\ncontext.set('n', n + 1);\nmsg.payload = { symbol: 'AAPL', side: n % 2 ? 'sell' : 'buy', qty: 1, type: 'market' };\nreturn msg;",
      outputs: 1,
      noerr: 0,
      wires: [['gate']],
    },
    { id: 'gate', type: 'alpaca-rate-gate', z, account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 60, priority: 5, report: 'output', preset: 'alpaca', categories: [{ name: 'rest', limit: 180, window: 60, shape: 'bucket' }], wires: [['breaker'], ['gate-report']] },
    sink('gate-report', 'gate report'),
    {
      id: 'breaker',
      type: 'alpaca-breaker',
      z,
      account: 'acct',
      ...{ rollingOn: true, rollingPct: '1', rollingMinutes: '30', rollingTarget: 'HALTED', dailyOn: true, dailyPct: '2', dailyTarget: 'REDUCING', drawdownOn: true, drawdownPct: '3', drawdownTarget: 'REDUCING' },
      ...{ errorsOn: true, errorsPct: '10', errorsMinutes: '5', errorsMin: '20', errorsTarget: 'HALTED', rejectsOn: true, rejectsCount: '5', rejectsTarget: 'HALTED' },
      ...{ rateOn: true, ratePerMinute: String(Math.ceil((60 / ORDER_S) * 2)), rateTarget: 'HALTED', streamOn: false, streamMinutes: '5', streamTarget: 'REDUCING', concOn: true, concPct: '25', notionalOn: false, notionalMax: '10000' },
      ...{ session: 'market', pollOpen: '10', pollFlat: '60', staleSeconds: '120', cancelOnTrip: true, flattenOnTrip: false, store: '' },
      wires: [['order'], ['breaker-alerts']],
    },
    sink('breaker-alerts', 'breaker alerts'),
    orderNode('order', z, [['placed'], ['placed'], ['placed']]),
    sink('placed', 'placed'),
    { id: 'positions-tick', type: 'inject', z, name: 'every positions period', props: [], repeat: String(POSITIONS_S), once: true, onceDelay: 5, wires: [['positions']] },
    { id: 'positions', type: 'alpaca-positions', z, account: 'acct', action: 'positions', symbol: '', qty: '', percentage: '', cancelOrders: false, wires: [['positions-out']] },
    sink('positions-out', 'positions'),
    { id: 'updates', type: 'alpaca-order-updates', z, account: 'acct', symbols: '', events: [], watchdog: 60, alertAfter: 2, pollAfter: 30, wires: [['updates-out'], ['updates-conn']] },
    sink('updates-out', 'order updates'),
    sink('updates-conn', 'order updates connection'),
  ];
}

/** Node-RED without the pack: as many msgs a second through core nodes as the stream carries (measured from the SDK's run). */
function baselineFlow(eventsPerSecond) {
  const z = 'base';
  const perTick = Math.max(1, Math.round(eventsPerSecond / 10));
  return [
    { id: z, type: 'tab', label: 'baseline' },
    { id: 'tick', type: 'inject', z, name: 'every 100 ms', props: [], repeat: '0.1', once: true, onceDelay: 1, wires: [['fan']] },
    {
      id: 'fan',
      type: 'function',
      z,
      name: `${perTick} events`,
      func: `for (let i = 0; i < ${perTick}; i++) node.send({ topic: 'AAPL', event: i % 2 ? 'quotes' : 'trades', payload: { symbol: 'AAPL', price: 100 + Math.random(), size: 100, conditions: ['@'], timestamp: new Date().toISOString(), time: Date.now() } });\nreturn null;`,
      outputs: 1,
      noerr: 0,
      wires: [['strategy']],
    },
    { id: 'strategy', type: 'function', z, name: 'strategy reads the price', func: "const price = msg.payload.price;\nif (!(price > 0)) node.warn('no price');\nreturn null;", outputs: 1, noerr: 0, wires: [] },
    { id: 'orders', type: 'inject', z, props: [{ p: 'payload' }], payload: '{"symbol":"AAPL","side":"buy","qty":1}', payloadType: 'json', repeat: String(ORDER_S), once: true, onceDelay: 5, wires: [['order-sink']] },
    { id: 'order-sink', type: 'function', z, func: 'return null;', outputs: 1, noerr: 0, wires: [] },
  ];
}

const probeEnv = (name) => ({ SOAK_PROBE_OUT: path.join(OUT, `${name}.jsonl`), SOAK_PROBE_DIR: OUT, SOAK_PROBE_NAME: name, SOAK_PROBE_EVERY: String(SAMPLE_S * 1000), SOAK_PROBE_SAMPLING: SNAPSHOTS ? '1' : '0' });

async function startSimulator(seed) {
  const sim = new Simulator({ seed, tickMs: TICK_MS, marketHours: 'always', faults: { rateLimitPerMinute: 200, dataRateLimitPerMinute: 200 } });
  await sim.start();
  return sim;
}

const post = (url, body) => fetch(`${url}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  console.log(`soak ${MINUTES} min (warm-up ${WARMUP_MIN}), output in ${OUT}`);
  const where = machine();
  const started = Date.now();
  const runs = {};
  const stops = [];
  try {
    if (ONLY.includes('pack')) {
      const sim = await startSimulator(11);
      stops.push(() => sim.stop());
      const red = await startNodeRed({ flows: placed(packFlow(sim.url)), settings: {}, env: { NODE_OPTIONS: `--require ${PROBE}`, ...probeEnv('pack') } });
      stops.unshift(() => red.stop());
      runs.pack = { sim, pid: red.nodeRedPid(), red };
    }
    if (ONLY.includes('sdk')) {
      const sim = await startSimulator(12);
      stops.push(() => sim.stop());
      const child = spawnChild(path.join(__dirname, 'lib', 'sdk-soak.js'), [JSON.stringify({ url: sim.url, symbols: SYMBOLS, orderEveryMs: ORDER_S * 1000, positionsEveryMs: POSITIONS_S * 1000 })], {
        execArgv: ['--require', PROBE],
        env: { ...process.env, ...probeEnv('sdk') },
      });
      stops.unshift(() => child.stop());
      runs.sdk = { sim, pid: child.child.pid, child };
    }
    if (ONLY.includes('nodered')) {
      // What one simulator streams for these symbols, as the baseline's msg rate.
      const rate = await streamRate();
      const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-soak-base-'));
      fs.writeFileSync(path.join(userDir, 'settings.js'), developmentSettings({ credentialSecret: 'soak' }));
      fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(placed(baselineFlow(rate))));
      const red = await startNodeRed({ userDir, env: { NODE_OPTIONS: `--require ${PROBE}`, ...probeEnv('nodered') } });
      stops.unshift(async () => {
        await red.stop();
        fs.rmSync(userDir, { recursive: true, force: true });
      });
      runs.nodered = { pid: red.nodeRedPid(), red, rate };
    }

    const until = started + MINUTES * 60_000;
    const warmEnd = started + WARMUP_MIN * 60_000;
    let snapped = !SNAPSHOTS;
    let drops = 0;
    while (Date.now() < until) {
      await sleep(Math.min(DROP_S * 1000, until - Date.now()));
      if (Date.now() >= until) break;
      await Promise.all(['pack', 'sdk'].filter((k) => runs[k]).map((k) => post(runs[k].sim.url, { dropStreams: true })));
      drops++;
      if (!snapped && Date.now() >= warmEnd) {
        snapped = true;
        snapshot(runs);
      }
      if (drops % 60 === 0) console.log(`${new Date().toISOString()} ${drops} drops, ${((Date.now() - started) / 60000).toFixed(0)} min`);
    }
    const report = await summarise(runs, started, warmEnd, drops);
    const body = [
      `Measured by \`node bench/soak.js --minutes ${MINUTES}\` (${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${where}${NOTE ? `; ${NOTE}` : ''}). Workload (issue 19): ${SYMBOL_COUNT} symbols' trades and quotes (simulator tick ${TICK_MS} ms), a market order every ${ORDER_S} s (through rate gate, breaker and order node for the pack), positions every ${POSITIONS_S} s, order updates, and every stream dropped every ${DROP_S} s (${drops} drops). Each consumer runs in a process of its own; the pack and the SDK each have a simulator of their own. Slopes are least-squares fits over the samples after the ${WARMUP_MIN}-minute warm-up (one every ${SAMPLE_S} s; heap after GC = heap used after two forced full GCs).`,
      '',
      report.table,
      '',
      report.requests,
    ].join('\n');
    console.log(`\n${body}`);
    if (WRITE) writeSection('Soak', body);
    snapshot(runs);
    await sleep(30_000); // each process writes its snapshot synchronously: give them time before stopping
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

/** Events a second the simulator streams for SYMBOLS (trades and quotes), measured with the SDK for 10 s. */
async function streamRate() {
  const sim = await startSimulator(13);
  const { createClient, streamUrls } = require(`${root}/dist/lib/alpaca/client`);
  const alpaca = createClient({ keyId: 'RATE', secret: 'rate', paper: true, endpoint: sim.url, rateLimit: false });
  const s = alpaca.marketData.stockStream({ url: streamUrls(true, sim.url, 'iex').stocks });
  let n = 0;
  s.onTrade(() => n++);
  s.onQuote(() => n++);
  s.subscribeForTrades(SYMBOLS);
  s.subscribeForQuotes(SYMBOLS);
  s.connect();
  await sleep(3000);
  const n0 = n;
  await sleep(10_000);
  s.disconnect();
  await sim.stop();
  return (n - n0) / 10;
}

function snapshot(runs) {
  for (const [name, run] of Object.entries(runs)) {
    try {
      process.kill(run.pid, 'SIGWINCH');
    } catch (err) {
      console.error(`${name}: no snapshot (${err.message})`);
    }
  }
}

function readSamples(name) {
  const file = path.join(OUT, `${name}.jsonl`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Per-hour slope of `field` over the samples after the warm-up, and the first and last values. */
function fit(samples, field, warmEnd, scale = 1) {
  const after = samples.filter((s) => s.t >= warmEnd);
  const xs = after.map((s) => (s.t - warmEnd) / 3_600_000);
  const ys = after.map((s) => s[field] / scale);
  return { slope: slope(xs, ys), first: ys[0], last: ys[ys.length - 1], min: Math.min(...ys), max: Math.max(...ys) };
}

async function summarise(runs, started, warmEnd, drops) {
  const names = { pack: 'Node-RED + pack', sdk: 'raw SDK', nodered: 'Node-RED without the pack (baseline)' };
  const rows = [];
  const fits = {};
  for (const name of Object.keys(runs)) {
    const samples = readSamples(name);
    const f = {
      rss: fit(samples, 'rss', warmEnd, MIB),
      heapAfterGc: fit(samples, 'heapAfterGc', warmEnd, MIB),
      heapTotal: fit(samples, 'heapTotal', warmEnd, MIB),
      external: fit(samples, 'external', warmEnd, MIB),
      fds: fit(samples, 'fds', warmEnd),
      handles: fit(samples, 'handles', warmEnd),
    };
    fits[name] = f;
    const mem = (x) => `${x.first.toFixed(1)} → ${x.last.toFixed(1)} (${x.slope >= 0 ? '+' : ''}${x.slope.toFixed(2)}/h, range ${(x.max - x.min).toFixed(1)})`;
    const count = (x) => `${x.first} → ${x.last} (${x.slope >= 0 ? '+' : ''}${x.slope.toFixed(1)}/h)`;
    rows.push([names[name], mem(f.rss), mem(f.heapAfterGc), mem(f.heapTotal), mem(f.external), count(f.fds), count(f.handles)]);
  }
  const out = { table: table(['Process', 'RSS MiB', 'heap after GC MiB', 'heapTotal MiB', 'external MiB', 'fds', 'handles'], rows) };

  // REST requests at each simulator, after the warm-up, and by path as each process sent them.
  const lines = [];
  const perMinute = {};
  for (const name of ['pack', 'sdk'].filter((k) => runs[k])) {
    const res = await (await fetch(`${runs[name].sim.url}/sim/requests?since=${warmEnd}`)).json();
    const stats = await (await fetch(`${runs[name].sim.url}/sim/stats`)).json();
    const minutes = (Date.now() - warmEnd) / 60_000;
    const trading = res.requests.filter((r) => r.api === 'trading').length;
    const data = res.requests.filter((r) => r.api === 'data').length;
    perMinute[name] = (trading + data) / minutes;
    const samples = readSamples(name);
    const byPath = samples.length ? samples[samples.length - 1].requests : {};
    const warm = samples.find((s) => s.t >= warmEnd)?.requests ?? {};
    const paths = Object.entries(byPath)
      .map(([p, n]) => [p, n - (warm[p] ?? 0)])
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([p, n]) => `${p} ${(n / minutes).toFixed(1)}`)
      .join(', ');
    const errors = runs[name].red ? `; ${runs[name].red.errors().length} errors logged by Node-RED` : '';
    lines.push(`- ${names[name]}: ${(trading + data).toLocaleString('en')} REST requests after the warm-up (${trading} trading, ${data} market data), ${perMinute[name].toFixed(1)} a minute; ${stats.rateLimited} answered 429 over the whole run; ${stats.orders} orders accepted${errors}. By path, a minute: ${paths || 'n/a'}.`);
  }
  if (perMinute.pack && perMinute.sdk) lines.push(`- REST requests, pack / SDK: ${(perMinute.pack / perMinute.sdk).toFixed(2)}x (goal: at most 1.5x).`);
  if (fits.pack && fits.nodered) {
    lines.push(
      `- Slopes after the warm-up, pack vs Node-RED without the pack: RSS ${fits.pack.rss.slope.toFixed(2)} vs ${fits.nodered.rss.slope.toFixed(2)} MiB/h, heap after GC ${fits.pack.heapAfterGc.slope.toFixed(2)} vs ${fits.nodered.heapAfterGc.slope.toFixed(2)} MiB/h (goal: flat within 10 MiB over the run, a slope no worse than the baseline's).`,
    );
  }
  if (runs.nodered) lines.push(`- The baseline carried ${runs.nodered.rate.toFixed(0)} msgs a second (what the simulator streams for ${SYMBOL_COUNT} symbols) through an inject and two function nodes.`);
  lines.push(`- ${drops} stream drops.`);
  out.requests = lines.join('\n');
  return out;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
