'use strict';
// The in-repo copy of Alpaca's OpenAPI specs (test/openapi/): schema only, every $ref resolvable,
// and exactly what scripts/openapi-strip.js makes of the upstream files when those are at hand.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { stripSpec, serialise, regenerate, SPEC_FILES } = require('../../scripts/openapi-strip');

const COPY = path.join(__dirname, '..', 'openapi');
/** Upstream files, when this machine has them (the workspace's shared folder, or ALPACA_OPENAPI_UPSTREAM). */
const UPSTREAM = process.env.ALPACA_OPENAPI_UPSTREAM || path.resolve(__dirname, '..', '..', '..', 'shared', 'alpaca-openapi');

describe('OpenAPI copy (test/openapi)', function () {
  it('strips documentation keywords but keeps properties that happen to carry those names', function () {
    const spec = {
      info: { title: 'T', version: '1', description: 'long text' },
      tags: [{ name: 'orders' }],
      'x-readme': { explorer: true },
      paths: {
        '/v2/orders': {
          get: {
            summary: 'List', description: 'Lists', tags: ['orders'], operationId: 'list',
            responses: { 200: { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/Order' }, example: {} } } } },
          },
        },
      },
      components: {
        examples: { sample: { value: 1 } },
        schemas: {
          Order: {
            type: 'object', description: 'An order', example: { id: 'x' }, 'x-go-type': 'Order',
            required: ['description', 'example'],
            properties: { description: { type: 'string', description: 'free text' }, example: { type: 'integer', example: 3 }, tags: { type: 'array', items: { type: 'string' } } },
          },
        },
      },
    };
    const before = JSON.stringify(spec);
    const stripped = stripSpec(spec);
    assert.strictEqual(JSON.stringify(spec), before, 'the input is left as it was');
    assert.deepStrictEqual(stripped, {
      components: {
        schemas: {
          Order: {
            properties: { description: { type: 'string' }, example: { type: 'integer' }, tags: { items: { type: 'string' }, type: 'array' } },
            required: ['description', 'example'],
            type: 'object',
          },
        },
      },
      info: { title: 'T', version: '1' },
      paths: { '/v2/orders': { get: { operationId: 'list', responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Order' } } } } } } } },
    });
    // Deterministic: the same spec with every object's keys in reverse order gives the same bytes.
    const reverseKeys = (n) =>
      Array.isArray(n) ? n.map(reverseKeys) : n && typeof n === 'object' ? Object.fromEntries(Object.keys(n).reverse().map((k) => [k, reverseKeys(n[k])])) : n;
    assert.strictEqual(serialise(stripSpec(reverseKeys(spec))), serialise(stripped));
  });

  for (const file of SPEC_FILES) {
    it(`${file}: schema only, every $ref resolves, small`, function () {
      const text = fs.readFileSync(path.join(COPY, file), 'utf8');
      const spec = JSON.parse(text);
      assert.strictEqual(serialise(stripSpec(spec)), text, 'stripping again changes nothing: no documentation keyword is left');
      assert.ok(Object.keys(spec.paths).length > 10);
      const refs = [];
      const walk = (n) => {
        if (Array.isArray(n)) return n.forEach(walk);
        if (!n || typeof n !== 'object') return;
        if (typeof n.$ref === 'string') refs.push(n.$ref);
        Object.values(n).forEach(walk);
      };
      walk(spec);
      assert.ok(refs.length > 50);
      for (const ref of new Set(refs)) {
        const target = ref.replace(/^#\//, '').split('/').reduce((o, k) => o && o[k.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
        assert.ok(target !== undefined, `${file}: ${ref} resolves`);
      }
      assert.ok(Buffer.byteLength(text) < 200 * 1024, `${file} is ${Buffer.byteLength(text)} bytes`);
    });
  }

  it('is what the script makes of the upstream files (when they are on this machine)', function () {
    if (!SPEC_FILES.every((f) => fs.existsSync(path.join(UPSTREAM, f)))) this.skip();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-copy-'));
    try {
      regenerate(UPSTREAM, out);
      for (const file of [...SPEC_FILES, 'SOURCE.json']) {
        assert.strictEqual(fs.readFileSync(path.join(out, file), 'utf8'), fs.readFileSync(path.join(COPY, file), 'utf8'), `${file} is up to date`);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
