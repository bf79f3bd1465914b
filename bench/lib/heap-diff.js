#!/usr/bin/env node
'use strict';
// What grew between two V8 heap snapshots of one process (the soak writes one at the end of the
// warm-up and one at the end): objects and self size per constructor (per closure's function
// name, per string, array, ...), biggest growth first.
// Usage: node bench/lib/heap-diff.js first.heapsnapshot last.heapsnapshot [--top 30]
const fs = require('fs');

function summary(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const width = fields.length;
  const types = meta.node_types[0];
  const at = { type: fields.indexOf('type'), name: fields.indexOf('name'), size: fields.indexOf('self_size') };
  const byKey = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + at.type]];
    const name = snap.strings[nodes[i + at.name]];
    const key = type === 'object' || type === 'closure' ? `${type} ${name}` : `(${type})`;
    const entry = byKey.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + at.size];
    byKey.set(key, entry);
  }
  return byKey;
}

const args = process.argv.slice(2);
const top = Number(args.includes('--top') ? args[args.indexOf('--top') + 1] : 30);
const [a, b] = [summary(args[0]), summary(args[1])];
const rows = [];
for (const [key, after] of b) {
  const before = a.get(key) ?? { count: 0, size: 0 };
  rows.push([key, after.count - before.count, after.size - before.size, after.count, after.size]);
}
for (const [key, before] of a) if (!b.has(key)) rows.push([key, -before.count, -before.size, 0, 0]);
rows.sort((x, y) => y[2] - x[2]);
const total = (m) => [...m.values()].reduce((s, e) => s + e.size, 0);
console.log(`self size: ${(total(a) / 1048576).toFixed(1)} MiB -> ${(total(b) / 1048576).toFixed(1)} MiB`);
console.log('growth (objects, bytes) | now (objects, bytes) | constructor');
for (const [key, dc, ds, c, s] of rows.slice(0, top)) console.log(`${String(dc).padStart(8)} ${String(ds).padStart(11)} | ${String(c).padStart(8)} ${String(s).padStart(11)} | ${key}`);
