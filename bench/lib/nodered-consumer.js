'use strict';
// A consumer that is a Node-RED runtime with the pack (embedded, no editor), in a process of its
// own, running the flow it is given. The flow's bench-sink node reports the run over IPC. With
// `steps`, the runtime's message hooks note when each signal's msg leaves and reaches each node,
// and the order POST's hand-over to fetch: the per-step breakdown of tick to order.
// Config: one JSON argument { flow, steps?: { signal } }.
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');
const dc = require('diagnostics_channel');
const { root, wallNow, childReporter } = require('./common');

const config = JSON.parse(process.argv[2]);
const { report } = childReporter();

async function main() {
  const RED = require(require.resolve('node-red', { paths: [root] }));
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-bench-'));
  process.on('exit', () => fs.rmSync(userDir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(config.flow));
  RED.init(http.createServer(), {
    userDir,
    flowFile: 'flows.json',
    credentialSecret: 'bench-only',
    nodesDir: [root, path.join(__dirname, '..', 'nodes')],
    httpAdminRoot: false,
    httpNodeRoot: false,
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    telemetry: { enabled: false },
    ...config.settings,
  });
  if (config.steps) watchSteps(RED, config.steps.signal);
  await RED.start();
  report({ type: 'ready' });
  process.on('SIGTERM', () => {
    RED.stop().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  });
}

/** Notes every step of a signal's msg through the flow; reports them when the sink has it. */
function watchSteps(RED, signal) {
  const steps = new Map();
  const idOf = (msg) => {
    if (msg.tto !== undefined) return msg.tto;
    const p = msg.payload;
    return p && Array.isArray(p.conditions) && p.conditions.includes(signal) ? p.id : undefined;
  };
  const note = (id, step) => {
    let s = steps.get(id);
    if (!s) steps.set(id, (s = {}));
    s[step] ??= wallNow();
  };
  let pendingFetch;
  dc.subscribe('undici:request:create', ({ request }) => {
    if (request.method === 'POST' && request.path.startsWith('/v2/orders')) pendingFetch = wallNow();
  });
  // Every msg passes these hooks (the background trades too): a msg that is not a signal's leaves at once.
  RED.hooks.add('onSend.bench', (events) => {
    for (const e of events) {
      const id = idOf(e.msg);
      const type = e.source.node?.type;
      if (id !== undefined && type && type !== 'bench-sink') note(id, `${type.replace(/^alpaca-/, '')} sends`);
    }
  });
  RED.hooks.add('onReceive.bench', (e) => {
    const id = idOf(e.msg);
    if (id === undefined) return;
    const type = e.destination.node?.type;
    if (type === 'alpaca-order') {
      // The order node makes one POST per msg: the next fetch hand-over is this msg's.
      note(id, 'order receives');
      const s = steps.get(id);
      pendingFetch = undefined;
      s.fetchOf = () => pendingFetch;
    } else if (type === 'bench-sink') {
      const s = steps.get(id) ?? {};
      steps.delete(id);
      const fetch = s.fetchOf?.();
      delete s.fetchOf;
      if (fetch) s['fetch starts'] = fetch;
      process.send?.({ type: 'steps', id, steps: s });
    } else if (type) note(id, `${type.replace(/^alpaca-/, '')} receives`);
  });
}

main().catch((err) => {
  report({ type: 'error', message: err.stack || String(err) });
  setTimeout(() => process.exit(1), 100);
});
