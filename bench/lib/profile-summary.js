#!/usr/bin/env node
'use strict';
// Where a consumer's CPU went: self time of a V8 CPU profile (BENCH_CPU_PROF=<dir> node bench/...)
// by owner (the pack, the SDK, Node-RED, ws, msgpack, Node itself, GC), over the samples between
// the first and the last one inside `--hot <function name>` (default normaliseTrade: the stream
// at work), and the top functions.
// Usage: node bench/lib/profile-summary.js <file.cpuprofile> [--hot name] [--top 25]
const fs = require('fs');

const args = process.argv.slice(2);
const file = args[0];
const hot = args.includes('--hot') ? args[args.indexOf('--hot') + 1] : 'normaliseTrade';
const top = Number(args.includes('--top') ? args[args.indexOf('--top') + 1] : 25);

const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function owner(url, name) {
  if (!url) return name.startsWith('(') ? name : '(node internals)';
  if (/\/dist\//.test(url) && !/node_modules/.test(url)) return 'the pack (dist/)';
  if (/@alpacahq/.test(url)) return 'the SDK';
  if (/@node-red|node-red\//.test(url)) return 'Node-RED';
  if (/node_modules\/ws\//.test(url)) return 'ws';
  if (/@msgpack/.test(url)) return 'msgpack';
  if (/bench\//.test(url)) return 'the bench';
  if (url.startsWith('node:')) return '(node internals)';
  return url.replace(/^.*node_modules\//, '').split('/')[0];
}

const inHot = (id) => {
  for (let n = id; n !== undefined; n = parent.get(n)) if (byId.get(n).callFrame.functionName === hot) return true;
  return false;
};

// Sample times, then the window between the first and the last hot sample.
const times = [];
let t = profile.startTime;
for (const d of profile.timeDeltas) times.push((t += d));
let first = -1;
let last = -1;
profile.samples.forEach((id, i) => {
  if (inHot(id)) {
    if (first < 0) first = i;
    last = i;
  }
});
if (first < 0) throw new Error(`no sample inside ${hot}`);

const owners = new Map();
const functions = new Map();
let total = 0;
for (let i = first; i <= last; i++) {
  const dt = (times[i + 1] ?? times[i]) - times[i];
  const f = byId.get(profile.samples[i]).callFrame;
  const who = owner(f.url, f.functionName);
  if (who === '(idle)') continue;
  total += dt;
  owners.set(who, (owners.get(who) ?? 0) + dt);
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/)?/, '')}:${f.lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + dt);
}
const pct = (v) => `${((v / total) * 100).toFixed(1)} %`;
console.log(`${file}: ${(total / 1000).toFixed(0)} ms busy between the first and last sample in ${hot}`);
for (const [who, v] of [...owners].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(v).padStart(7)}  ${who}`);
console.log('top functions (self time):');
for (const [key, v] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v).padStart(7)}  ${key}`);
