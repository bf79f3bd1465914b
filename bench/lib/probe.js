'use strict';
// Preloaded into a soak consumer (`node --require bench/lib/probe.js`, or NODE_OPTIONS for
// Node-RED started by scripts/start.js, where it stays out of start.js itself). Every
// SOAK_PROBE_EVERY ms it appends one JSON line to SOAK_PROBE_OUT: RSS, heapTotal, external and
// arrayBuffers as they are, heap used after two forced full GCs, open file descriptors, active
// handles by type, and the REST requests this process has sent so far by method and path. On
// SIGWINCH (not SIGUSR2: Node-RED stops on that one) it writes a heap snapshot into
// SOAK_PROBE_DIR, named after SOAK_PROBE_NAME and the time, and with SOAK_PROBE_SAMPLING=1 the
// allocation-sampling profile running since start. The sampler is off otherwise: V8 computes and
// keeps the line ends of every script a sample's stack passes through, so over a long run the
// sampler itself grows the heap it measures (about 1 MiB in 12 minutes of a busy soak).
const fs = require('fs');
const path = require('path');
const v8 = require('v8');
const vm = require('vm');
const dc = require('diagnostics_channel');
const inspector = require('inspector');

const main = process.argv[1] || '';
if (process.env.SOAK_PROBE_OUT && !/scripts[\\/]start\.js$/.test(main)) start();

function start() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const out = process.env.SOAK_PROBE_OUT;
  const dir = process.env.SOAK_PROBE_DIR || path.dirname(out);
  const name = process.env.SOAK_PROBE_NAME || `pid${process.pid}`;
  const every = Number(process.env.SOAK_PROBE_EVERY || 30_000);

  const requests = {};
  dc.subscribe('undici:request:create', ({ request }) => {
    const route = request.path.split('?')[0].replace(/[0-9a-f]{8}-[0-9a-f-]{27}/gi, ':id');
    const key = `${request.method} ${route}`;
    requests[key] = (requests[key] ?? 0) + 1;
  });

  const sampling = process.env.SOAK_PROBE_SAMPLING === '1';
  const session = new inspector.Session();
  if (sampling) {
    session.connect();
    session.post('HeapProfiler.startSampling', { samplingInterval: 128 * 1024 });
  }

  const sample = () => {
    const before = process.memoryUsage();
    gc();
    gc();
    const heapAfterGc = process.memoryUsage().heapUsed;
    const resources = {};
    for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
    const line = {
      t: Date.now(),
      rss: before.rss,
      heapTotal: before.heapTotal,
      heapUsed: before.heapUsed,
      external: before.external,
      arrayBuffers: before.arrayBuffers,
      heapAfterGc,
      fds: fs.readdirSync('/proc/self/fd').length,
      handles: Object.values(resources).reduce((a, b) => a + b, 0),
      resources,
      requests,
    };
    fs.appendFileSync(out, `${JSON.stringify(line)}\n`);
  };
  setInterval(sample, every).unref();
  setTimeout(sample, 1000).unref();

  process.on('SIGWINCH', () => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    v8.writeHeapSnapshot(path.join(dir, `${name}-${stamp}.heapsnapshot`));
    if (!sampling) return;
    session.post('HeapProfiler.getSamplingProfile', (err, result) => {
      if (!err) fs.writeFileSync(path.join(dir, `${name}-${stamp}.heapprofile`), JSON.stringify(result.profile));
    });
  });
}
