'use strict';
// The house rules of nodes/, read from the sources: no import cycle; Node-RED known only to the
// adapters and lib/node-red/; Alpaca's SDK only behind lib/alpaca/; the simulator on its own.
const assert = require('assert');
const fs = require('fs');
const path = require('path');

const nodesDir = path.resolve(__dirname, '..', '..', 'nodes');

function sources(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) sources(p, out);
    else if (entry.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every module a file imports (type-only imports too): relative ones resolved to files. */
function imports(file) {
  const text = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g)) out.push(m[1]);
  return out.map((spec) => (spec.startsWith('.') ? `${path.resolve(path.dirname(file), spec)}.ts` : spec));
}

const files = sources(nodesDir);
const graph = new Map(files.map((f) => [f, imports(f)]));
const rel = (f) => path.relative(nodesDir, f);

describe('the layout of nodes/', function () {
  it('reads every relative import as a file of the tree (the checks below see the whole graph)', function () {
    const missing = [];
    for (const [file, deps] of graph) for (const d of deps) if (d.endsWith('.ts') && !graph.has(d)) missing.push(`${rel(file)} -> ${d}`);
    assert.deepStrictEqual(missing, []);
    assert.ok(files.length > 50, `${files.length} files`);
  });

  it('has no import cycle', function () {
    const state = new Map();
    const cycles = [];
    const visit = (file, trail) => {
      state.set(file, 'open');
      for (const dep of graph.get(file) || []) {
        if (!graph.has(dep)) continue;
        if (state.get(dep) === 'open') cycles.push([...trail.slice(trail.indexOf(dep)), dep].map(rel).join(' -> '));
        else if (!state.has(dep)) visit(dep, [...trail, dep]);
      }
      state.set(file, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f, [f]);
    assert.deepStrictEqual(cycles, []);
  });

  it('knows Node-RED only in the node adapters and lib/node-red/; the SDK only in lib/alpaca/; the simulator imports nothing else', function () {
    const wrong = [];
    for (const [file, deps] of graph) {
      const r = rel(file);
      for (const d of deps) {
        if (/^node-red$|^@node-red\//.test(d) && r.startsWith('lib/') && !r.startsWith('lib/node-red/')) wrong.push(`${r} imports ${d}`);
        if (d.startsWith('@alpacahq/') && !r.startsWith('lib/alpaca/')) wrong.push(`${r} imports ${d}`);
        if (r.startsWith('lib/sim/') && d.endsWith('.ts') && !rel(d).startsWith('lib/sim/')) wrong.push(`${r} imports ${rel(d)}`);
        if (r.startsWith('lib/') && d.endsWith('.ts') && !rel(d).startsWith('lib/')) wrong.push(`${r} imports the adapter ${rel(d)}`);
      }
    }
    assert.deepStrictEqual(wrong, []);
  });
});
