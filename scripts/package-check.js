#!/usr/bin/env node
// The package as the Node-RED Flow Library judges it, checked from the repository alone (its
// published criteria: licence, links, scoped name, keyword, supported Node-RED and Node versions,
// runtime dependencies, node definitions, examples). Reads dist/, so build first.
// Usage: node scripts/package-check.js [DIR]: one line per check; exit 1 if any fails.
// `npm run scorecard` runs it.
'use strict';
const fs = require('fs');
const path = require('path');

// The oldest release of each Node-RED line the pack supports, and the oldest Node each needs.
const NODE_RED_RELEASES = ['4.1.0', '5.0.0'];
const NODE_RELEASES = ['20.0.0', '22.9.0'];
const MAX_RUNTIME_DEPENDENCIES = 6;

/** Node-RED's own semver (it checks node-red.version with it), resolved through node-red. */
function nodeRedSemver(root) {
  const nodeRed = path.dirname(require.resolve('node-red/package.json', { paths: [root, __dirname] }));
  return require(require.resolve('semver', { paths: [nodeRed] }));
}

/**
 * The `category` of a `RED.nodes.registerType('<type>', { ... })` call in an editor html, or
 * undefined: the type and the category must be literals at the object's top level.
 */
function registeredCategory(html, type) {
  const quoted = type.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const call = new RegExp(`RED\\.nodes\\.registerType\\(\\s*(['"])${quoted}\\1\\s*,\\s*\\{`).exec(html);
  if (!call) return undefined;
  // Walks the object literal, skipping strings and comments, and reads `category:` at depth 1.
  let depth = 1;
  for (let i = call.index + call[0].length; i < html.length && depth > 0; i++) {
    const c = html[i];
    if (c === '/' && html[i + 1] === '/') i = html.indexOf('\n', i) < 0 ? html.length : html.indexOf('\n', i);
    else if (c === '/' && html[i + 1] === '*') i = html.indexOf('*/', i + 2) < 0 ? html.length : html.indexOf('*/', i + 2) + 1;
    else if (c === '"' || c === "'" || c === '`') {
      for (i++; i < html.length && html[i] !== c; i++) if (html[i] === '\\') i++;
    } else if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') depth--;
    else if (depth === 1) {
      const m = /^category\s*:\s*(['"])([^'"]+)\1/.exec(html.slice(i, i + 80));
      if (m && /[\s,{]/.test(html[i - 1])) return m[2];
    }
  }
  return undefined;
}

/** Node types used in the example flows under examples/ (any depth, as Node-RED lists them). */
function exampleTypes(root) {
  const used = new Set();
  const problems = [];
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.json')) {
        try {
          for (const node of JSON.parse(fs.readFileSync(file, 'utf8'))) used.add(node.type);
        } catch (err) {
          problems.push(`${path.relative(root, file)}: ${err.message}`);
        }
      }
    }
  };
  walk(path.join(root, 'examples'));
  return { used, problems };
}

/** Every check as { id, ok, what } (what says what was found). */
function checkPackage(root) {
  const results = [];
  const check = (id, ok, what) => results.push({ id, ok: Boolean(ok), what });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const semver = nodeRedSemver(root);
  const url = (field) => (typeof field === 'string' ? field : field && field.url) || '';

  check('license', typeof pkg.license === 'string' && pkg.license.trim() && fs.existsSync(path.join(root, 'LICENSE')), `license ${pkg.license} with a LICENSE file`);
  check('links', /^(git\+)?https:\/\//.test(url(pkg.repository)) && /^https:\/\//.test(url(pkg.bugs)), `repository ${url(pkg.repository) || 'missing'}, bugs ${url(pkg.bugs) || 'missing'}`);
  check('scoped-name', /^@[a-z\d][\w.-]*\/[a-z\d][\w.-]*$/.test(pkg.name || ''), `scoped name ${pkg.name}`);
  check('keyword', (pkg.keywords || []).includes('node-red'), `keyword "node-red" in ${JSON.stringify(pkg.keywords || [])}`);
  const nodeRed = pkg['node-red'] || {};
  const admits = (range, versions) => Boolean(range) && semver.validRange(range) !== null && versions.every((v) => semver.satisfies(v, range));
  check('node-red-version', admits(nodeRed.version, NODE_RED_RELEASES), `node-red.version ${nodeRed.version} admits Node-RED ${NODE_RED_RELEASES.join(' and ')}`);
  const engine = (pkg.engines || {}).node;
  check('engines-node', admits(engine, NODE_RELEASES), `engines.node ${engine} admits Node ${NODE_RELEASES.join(' and ')}`);
  const deps = Object.keys(pkg.dependencies || {});
  check('dependencies', deps.length <= MAX_RUNTIME_DEPENDENCIES, `${deps.length} runtime dependencies (at most ${MAX_RUNTIME_DEPENDENCIES}): ${deps.join(', ')}`);

  const nodes = Object.entries(nodeRed.nodes || {});
  check('nodes', nodes.length > 0, `${nodes.length} entries in node-red.nodes`);
  const categories = {};
  for (const [type, js] of nodes) {
    const jsFile = path.join(root, js);
    const htmlFile = jsFile.replace(/\.js$/, '.html');
    const missing = [jsFile, htmlFile].filter((f) => !fs.existsSync(f)).map((f) => path.relative(root, f));
    if (missing.length) {
      check(`node ${type}`, false, `${type}: ${missing.join(' and ')} missing (run npm run build)`);
      continue;
    }
    categories[type] = registeredCategory(fs.readFileSync(htmlFile, 'utf8'), type);
    check(`node ${type}`, categories[type], `${type}: ${path.relative(root, htmlFile)} has RED.nodes.registerType('${type}', { category: ${categories[type] ? `'${categories[type]}'` : 'MISSING'} ... })`);
  }

  const { used, problems } = exampleTypes(root);
  const flowTypes = Object.keys(categories).filter((t) => categories[t] && categories[t] !== 'config');
  const without = flowTypes.filter((t) => !used.has(t));
  check('examples', flowTypes.length > 0 && without.length === 0 && problems.length === 0, `examples use ${flowTypes.length - without.length} of ${flowTypes.length} node types (without one: ${without.join(', ') || 'none'})${problems.length ? `; unreadable: ${problems.join('; ')}` : ''}`);
  return results;
}

module.exports = { checkPackage, registeredCategory };

if (require.main === module) {
  const root = path.resolve(process.argv[2] || path.join(__dirname, '..'));
  const results = checkPackage(root);
  for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.what}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`package checks: ${results.length - failed}/${results.length} passed`);
  process.exit(failed ? 1 : 0);
}
