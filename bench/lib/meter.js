'use strict';
// Throughput of one consumer: wall time and process CPU from its first event to the last one of
// the replay (trade id `total`), and how many events (or msgs) it was handed on the way.
const { wallNow } = require('./common');

function createMeter(total, onDone) {
  let delivered = 0;
  let msgs = 0;
  let first;
  let done = false;
  return {
    /** `count` events arrived together (one msg); `lastId` is the highest trade id among them. */
    events(count, lastId) {
      if (done) return;
      if (first === undefined) first = { at: wallNow(), cpu: process.cpuUsage() };
      delivered += count;
      msgs++;
      if (lastId < total && delivered < total) return;
      done = true;
      const cpu = process.cpuUsage(first.cpu);
      const ms = wallNow() - first.at;
      onDone({ events: total, delivered, msgs, ms, cpuUs: cpu.user + cpu.system });
    },
  };
}

module.exports = { createMeter };
