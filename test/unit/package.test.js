'use strict';
// The package as the Flow Library sees it: the project's own checks (scripts/package-check.js, it
// reads dist/), each shown failing on a package that breaks it; the workspace's offline scorecard
// as a cross-check when it exists.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { checkPackage, registeredCategory } = require('../../scripts/package-check');

const root = path.resolve(__dirname, '..', '..');
const scorecard = path.join(process.env.ALPACA_SHARED_DIR || path.resolve(root, '..', 'shared'), 'tools', 'scorecard.js');

/** A minimal pack in a temp dir that passes every check: one config node and one flow node with an example. */
function writeFixture(dir, change = {}) {
  const pkg = {
    name: '@acme/node-red-thing',
    license: 'MIT',
    keywords: ['node-red'],
    repository: { type: 'git', url: 'git+https://example.com/acme/thing.git' },
    bugs: { url: 'https://example.com/acme/thing/issues' },
    engines: { node: '>=20' },
    'node-red': { version: '>=4.0.0', nodes: { 'thing-config': 'dist/thing-config.js', thing: 'dist/thing.js' } },
    dependencies: { ws: '^8' },
    ...change.pkg,
  };
  const html = {
    'thing-config': `<script type="text/javascript">RED.nodes.registerType('thing-config', { category: 'config', defaults: {} });</script>`,
    thing: `<script type="text/javascript">
  RED.nodes.registerType('thing', {
    // the palette's "thing" section (a comment with quotes: it's skipped)
    category: 'thing', color: '#fff', defaults: { name: { value: '' } }, inputs: 1,
  });
</script>`,
    ...change.html,
  };
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'examples'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
  if (!change.noLicenseFile) fs.writeFileSync(path.join(dir, 'LICENSE'), 'MIT');
  for (const [type, text] of Object.entries(html)) {
    fs.writeFileSync(path.join(dir, 'dist', `${type}.js`), 'module.exports = () => {};');
    if (text !== null) fs.writeFileSync(path.join(dir, 'dist', `${type}.html`), text);
  }
  const example = change.example || [{ id: 'c', type: 'thing-config' }, { id: 't', type: 'thing', z: 'f' }];
  fs.writeFileSync(path.join(dir, 'examples', 'demo.json'), typeof example === 'string' ? example : JSON.stringify(example));
}

const failing = (dir) => checkPackage(dir).filter((r) => !r.ok).map((r) => r.id);

describe('package', function () {
  describe('Flow Library criteria (scripts/package-check.js)', function () {
    for (const result of checkPackage(root)) {
      it(result.what, function () {
        assert.ok(result.ok, result.what);
      });
    }
  });

  describe('scripts/package-check.js catches', function () {
    let dir;
    before(function () {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-package-check-'));
    });
    after(function () {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('nothing on a package that meets every criterion', function () {
      writeFixture(dir);
      assert.deepStrictEqual(failing(dir), []);
    });

    const defects = [
      ['no licence', { pkg: { license: undefined } }, ['license']],
      ['no LICENSE file', { noLicenseFile: true }, ['license']],
      ['no repository link', { pkg: { repository: undefined } }, ['links']],
      ['no bugs link', { pkg: { bugs: undefined } }, ['links']],
      ['an unscoped name', { pkg: { name: 'node-red-thing' } }, ['scoped-name']],
      ['no node-red keyword', { pkg: { keywords: ['thing'] } }, ['keyword']],
      ['node-red.version shutting out Node-RED 4.1', { pkg: { 'node-red': { version: '>=5.0.0', nodes: { 'thing-config': 'dist/thing-config.js', thing: 'dist/thing.js' } } } }, ['node-red-version']],
      ['node-red.version shutting out Node-RED 5', { pkg: { 'node-red': { version: '^4.0.0', nodes: { 'thing-config': 'dist/thing-config.js', thing: 'dist/thing.js' } } } }, ['node-red-version']],
      ['engines.node shutting out Node 22.9', { pkg: { engines: { node: '^20 || >=22.12' } } }, ['engines-node']],
      ['no engines.node', { pkg: { engines: undefined } }, ['engines-node']],
      ['7 runtime dependencies', { pkg: { dependencies: Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((d) => [d, '1'])) } }, ['dependencies']],
      ['a node without its editor html', { html: { thing: null } }, ['node thing', 'examples']],
      ['a type registered through a variable', { html: { thing: `<script>const T = 'thing'; RED.nodes.registerType(T, { category: 'thing' });</script>` } }, ['node thing', 'examples']],
      ['a computed category', { html: { thing: `<script>RED.nodes.registerType('thing', { category: CATEGORY });</script>` } }, ['node thing', 'examples']],
      ['a category only inside a nested object', { html: { thing: `<script>RED.nodes.registerType('thing', { defaults: { category: 'thing' }, subcategory: 'x' });</script>` } }, ['node thing', 'examples']],
      ['a flow node without an example', { example: [{ id: 'c', type: 'thing-config' }] }, ['examples']],
      ['an example that is not JSON', { example: '[{"id": ' }, ['examples']],
    ];
    for (const [what, change, expected] of defects) {
      it(what, function () {
        writeFixture(dir, change);
        assert.deepStrictEqual(failing(dir), expected);
      });
    }

    it('reads the category of the named type, not of the next registration', function () {
      const html = `RED.nodes.registerType('a', { color: 'x' }); RED.nodes.registerType('b', { category: 'b' });`;
      assert.strictEqual(registeredCategory(html, 'a'), undefined);
      assert.strictEqual(registeredCategory(html, 'b'), 'b');
    });
  });

  it('passes the offline Flow Library scorecard of the workspace (cross-check, when it exists)', function () {
    if (!fs.existsSync(scorecard)) this.skip();
    const r = spawnSync(process.execPath, [scorecard, root], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  });

  it('has no credentials in its examples', function () {
    for (const f of fs.readdirSync(path.join(root, 'examples'))) {
      const text = fs.readFileSync(path.join(root, 'examples', f), 'utf8');
      assert.doesNotMatch(text, /"(secret|keyId|key_id|secret_key|credentials)"\s*:/, `${f} carries credentials`);
    }
  });

  it('has only pure JavaScript runtime dependencies', function () {
    const pkg = require(path.join(root, 'package.json'));
    for (const d of Object.keys(pkg.dependencies)) {
      const dp = require(path.join(root, 'node_modules', d, 'package.json'));
      assert.ok(!dp.gypfile && !(dp.scripts && (dp.scripts.install || dp.scripts.postinstall)), `${d} runs a native build`);
    }
  });
});
