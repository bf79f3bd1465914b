'use strict';
// The package as the Flow Library sees it: the offline scorecard must pass (it reads dist/).
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const scorecard = path.join(process.env.ALPACA_SHARED_DIR || path.resolve(root, '..', 'shared'), 'tools', 'scorecard.js');

describe('package', function () {
  it('passes the Flow Library scorecard', function () {
    if (!fs.existsSync(scorecard)) this.skip();
    const r = spawnSync(process.execPath, [scorecard, root], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  });

  it('has an example flow for every non-config node type and no credentials in examples', function () {
    const pkg = require(path.join(root, 'package.json'));
    const types = Object.keys(pkg['node-red'].nodes).filter((t) => t !== 'alpaca-account');
    const used = new Set();
    for (const f of fs.readdirSync(path.join(root, 'examples'))) {
      const text = fs.readFileSync(path.join(root, 'examples', f), 'utf8');
      assert.doesNotMatch(text, /"(secret|keyId|key_id|secret_key|credentials)"\s*:/, `${f} carries credentials`);
      for (const n of JSON.parse(text)) used.add(n.type);
    }
    for (const t of types) assert.ok(used.has(t), `no example uses ${t}`);
  });

  it('keeps to at most 6 runtime dependencies, all pure JavaScript', function () {
    const pkg = require(path.join(root, 'package.json'));
    const deps = Object.keys(pkg.dependencies);
    assert.ok(deps.length <= 6, deps.join(', '));
    for (const d of deps) {
      const dp = require(path.join(root, 'node_modules', d, 'package.json'));
      assert.ok(!dp.gypfile && !(dp.scripts && (dp.scripts.install || dp.scripts.postinstall)), `${d} runs a native build`);
    }
  });
});
