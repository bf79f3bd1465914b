#!/usr/bin/env node
// Makes the schema-only copy of Alpaca's OpenAPI specs that the contract tests read
// (test/openapi/): descriptions, summaries, examples, tags and x- extensions removed, keys sorted,
// so the copy is small and the same upstream files always give the same bytes.
//   node scripts/openapi-strip.js /path/to/upstream/dir [output dir, default test/openapi]
// The upstream dir holds Alpaca's trading-api.json and market-data-api.json.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const SPEC_FILES = ['trading-api.json', 'market-data-api.json'];

/** Documentation-only keywords; `x-*` extensions go too. */
const DOCUMENTATION = new Set(['description', 'summary', 'example', 'examples', 'externalDocs', 'tags']);

/**
 * Keywords whose value maps names to objects: there the keys are names (a property may well be
 * called "description" or "example"), so they are kept; the objects under them are walked as usual.
 */
const NAME_MAPS = new Set([
  'paths', 'webhooks', 'schemas', 'responses', 'parameters', 'requestBodies', 'headers', 'securitySchemes', 'links',
  'callbacks', 'pathItems', 'content', 'encoding', 'variables', 'mapping', 'scopes', 'properties',
  'patternProperties', 'definitions', '$defs', 'dependentSchemas',
]);

function strip(node, namesHere = false) {
  if (Array.isArray(node)) return node.map((item) => strip(item));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const key of Object.keys(node).sort()) {
    if (!namesHere && (DOCUMENTATION.has(key) || key.startsWith('x-'))) continue;
    out[key] = strip(node[key], !namesHere && NAME_MAPS.has(key));
  }
  return out;
}

/** The schema-only form of one OpenAPI document (a new object; the input is left as it was). */
function stripSpec(spec) {
  return strip(spec);
}

/** The bytes written for a stripped spec: JSON indented by one space (line diffs stay readable), one trailing newline. */
function serialise(spec) {
  return `${JSON.stringify(spec, null, 1)}\n`;
}

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

/** Strips every spec in `from` into `to`; writes SOURCE.json with each upstream file's version, licence and hash. */
function regenerate(from, to) {
  fs.mkdirSync(to, { recursive: true });
  const sources = [];
  for (const file of SPEC_FILES) {
    const raw = fs.readFileSync(path.join(from, file));
    const spec = JSON.parse(raw.toString('utf8'));
    const text = serialise(stripSpec(spec));
    fs.writeFileSync(path.join(to, file), text);
    sources.push({
      file,
      title: spec.info && spec.info.title,
      version: spec.info && spec.info.version,
      openapi: spec.openapi,
      license: (spec.info && spec.info.license) || null,
      termsOfService: (spec.info && spec.info.termsOfService) || null,
      upstreamBytes: raw.length,
      upstreamSha256: sha256(raw),
      strippedBytes: Buffer.byteLength(text),
    });
  }
  fs.writeFileSync(path.join(to, 'SOURCE.json'), `${JSON.stringify(sources, null, 1)}\n`);
  return sources;
}

if (require.main === module) {
  const [from, to = path.join(__dirname, '..', 'test', 'openapi')] = process.argv.slice(2);
  if (!from) {
    console.error('usage: node scripts/openapi-strip.js /path/to/upstream/dir [output dir]');
    process.exit(2);
  }
  for (const s of regenerate(path.resolve(from), path.resolve(to))) {
    console.log(`${s.file}: ${s.title} ${s.version}, ${s.upstreamBytes} -> ${s.strippedBytes} bytes`);
  }
}

module.exports = { stripSpec, serialise, regenerate, SPEC_FILES };
