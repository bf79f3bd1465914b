'use strict';
// What would make an install more than unpacking JavaScript: a package that runs a script at
// install time, builds an addon (binding.gyp) or ships a compiled one (*.node). On a Raspberry
// Pi any of these means a compiler, a download for the right CPU, or a package that fails to load.
const fs = require('fs');
const path = require('path');

/** Compiled addons (*.node) under a package directory, not looking into its node_modules. */
function addons(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...addons(file));
    else if (entry.name.endsWith('.node')) found.push(file);
  }
  return found;
}

/**
 * Every package under `nodeModules` (nested ones too) with native code or an install-time
 * script, as "name: what" lines; empty when the tree is pure JavaScript.
 */
function nativeCode(nodeModules) {
  const found = [];
  const visit = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      const pkgDir = path.join(dir, entry);
      if (entry.startsWith('@')) {
        visit(pkgDir);
        continue;
      }
      const file = path.join(pkgDir, 'package.json');
      if (!fs.existsSync(file)) continue;
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      const what = ['preinstall', 'install', 'postinstall'].filter((s) => pkg.scripts && pkg.scripts[s]);
      if (pkg.gypfile || fs.existsSync(path.join(pkgDir, 'binding.gyp'))) what.push('binding.gyp');
      what.push(...addons(pkgDir).map((f) => path.relative(pkgDir, f)));
      if (what.length) found.push(`${pkg.name}: ${what.join(', ')}`);
      visit(path.join(pkgDir, 'node_modules'));
    }
  };
  visit(nodeModules);
  return found;
}

module.exports = { nativeCode };
