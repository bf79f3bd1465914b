'use strict';
// Stream throughput: market events per second delivered from the simulator into a Node-RED flow
// through alpaca-stream, against the official SDK's own handler on the same feed in the same run
// (same simulator, same process, both subscribed to every symbol's trades and quotes).
//   node bench/stream.js [seconds=10] [tickMs=2]
// Prints both rates and their ratio, and appends them to bench/README.md under
// "Stream throughput" (one write). Run `npm run build` first.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execSync } = require('child_process');
const helper = require('node-red-node-test-helper');

helper.init(require.resolve('node-red'));

const root = path.resolve(__dirname, '..');
const { Simulator } = require(path.join(root, 'dist/lib/sim/simulator'));
const { createClient, streamUrls } = require(path.join(root, 'dist/lib/alpaca/client'));
const accountNode = require(path.join(root, 'dist/alpaca-account.js')).default;
const streamNode = require(path.join(root, 'dist/alpaca-stream.js')).default;

const seconds = Number(process.argv[2] || 10);
const tickMs = Number(process.argv[3] || 2);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const sim = new Simulator({ seed: 7, tickMs, marketHours: 'always', faults: { rateLimitPerMinute: 1000000 } });
  const url = await sim.start();

  // The raw SDK, as a hand-written bot would use it.
  const sdk = createClient({ keyId: 'RAWBENCH', secret: 'raw', paper: true, endpoint: url, rateLimit: false });
  const raw = sdk.marketData.stockStream({ url: streamUrls(true, url, 'iex').stocks });
  let rawCount = 0;
  raw.onTrade(() => rawCount++);
  raw.onQuote(() => rawCount++);
  raw.subscribeForTrades(['*']);
  raw.subscribeForQuotes(['*']);
  raw.connect();

  // The same feed through the pack's node into a flow.
  await helper.startServer();
  const flow = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'acct', type: 'alpaca-account', name: 'bench', mode: 'sim', feed: 'iex', endpoint: url, liveAck: false },
    { id: 'stream', type: 'alpaca-stream', z: 'tab', account: 'acct', kind: 'stocks', symbols: '*', channels: ['trades', 'quotes'], output: 'all', watchdog: 0, pollAfter: 0, alertAfter: 0, wires: [['sink'], []] },
    { id: 'sink', type: 'helper', z: 'tab' },
  ];
  await helper.load([accountNode, streamNode], flow);
  // The helper records every send in sinon spies: off for a throughput run.
  helper._sandbox.restore();
  let flowCount = 0;
  helper.getNode('sink').on('input', () => flowCount++);

  const deadline = Date.now() + 15000;
  while ((flowCount === 0 || rawCount === 0) && Date.now() < deadline) await sleep(50);
  if (flowCount === 0 || rawCount === 0) throw new Error('no events arrived');
  await sleep(1000); // warm-up
  const r0 = rawCount;
  const f0 = flowCount;
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const rawRate = (rawCount - r0) / elapsed;
  const flowRate = (flowCount - f0) / elapsed;
  const ratio = flowRate / rawRate;

  raw.disconnect();
  await helper.unload();
  await helper.stopServer();
  await sim.stop();

  const nproc = execSync('nproc').toString().trim();
  const nodeVersion = execSync('node --version').toString().trim();
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  console.log(`raw SDK handler:           ${rawRate.toFixed(0)} events/s`);
  console.log(`alpaca-stream into a flow: ${flowRate.toFixed(0)} events/s`);
  console.log(`ratio (flow / raw):        ${ratio.toFixed(3)}`);

  const readme = path.join(__dirname, 'README.md');
  const existing = fs.existsSync(readme) ? fs.readFileSync(readme, 'utf8') : '# Benchmarks\n';
  const heading = existing.includes('## Stream throughput')
    ? ''
    : `\n## Stream throughput\n\nMarket events per second from the simulator (every stock's trades and quotes, tick every ${tickMs} ms) through \`alpaca-stream\` into a flow, against the official SDK's own \`onTrade\`/\`onQuote\` handlers on the same simulator in the same process, measured by \`node bench/stream.js [seconds] [tickMs]\`. A ratio near 1 means the node keeps up with everything the socket delivers.\n`;
  const entry =
    `\n### ${date} UTC, nproc ${nproc}, Node ${nodeVersion}, ${os.cpus()[0]?.model?.trim() || 'cpu'}, ${seconds} s, tick ${tickMs} ms\n\n` +
    '| Consumer | events/s |\n| --- | --- |\n' +
    `| raw SDK handler | ${rawRate.toFixed(0)} |\n` +
    `| alpaca-stream into a flow | ${flowRate.toFixed(0)} |\n` +
    `| ratio (flow / raw) | ${ratio.toFixed(3)} |\n`;
  fs.appendFileSync(readme, heading + entry);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
