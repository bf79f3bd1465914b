'use strict';
// A sink for the benchmarks' flows: counts the market events it is handed (one msg, or a batch
// whose payload is an array) and reports the run to the benchmark over IPC. Without a `total` it
// only takes msgs (the end of the tick-to-order flow, where the runtime's hooks do the timing).
const { createMeter } = require('../lib/meter');

module.exports = function (RED) {
  function BenchSink(config) {
    RED.nodes.createNode(this, config);
    const report = (m) => process.send?.(m);
    if (!Number(config.total)) {
      this.on('input', (_msg, _send, done) => done());
      return;
    }
    const meter = createMeter(Number(config.total), (result) => report({ type: 'done', ...result }));
    this.on('input', (msg, _send, done) => {
      const p = msg.payload;
      if (Array.isArray(p)) meter.events(p.length, p.length ? p[p.length - 1].id : 0);
      else meter.events(1, p.id);
      done();
    });
  }
  RED.nodes.registerType('bench-sink', BenchSink);
};
