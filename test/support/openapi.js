'use strict';
// Validates simulator responses against Alpaca's own OpenAPI specs: the schema-only copy in
// test/openapi/ (see its README), or the directory named by ALPACA_OPENAPI_DIR.
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const SPEC_DIR = process.env.ALPACA_OPENAPI_DIR || path.resolve(__dirname, '..', 'openapi');
const SPECS = { trading: 'trading-api.json', data: 'market-data-api.json' };

let ajv;
const specs = {};
const compiled = new Map();

function init() {
  if (ajv) return;
  ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // OpenAPI number formats carry no constraint JSON Schema knows.
  for (const f of ['int32', 'int64', 'float', 'double', 'decimal', 'number', 'string', 'decimal-string']) {
    ajv.addFormat(f, true);
  }
  for (const [name, file] of Object.entries(SPECS)) {
    const spec = JSON.parse(fs.readFileSync(path.join(SPEC_DIR, file), 'utf8'));
    spec.$id = name;
    specs[name] = spec;
    ajv.addSchema(spec, name);
  }
}

/** Finds the spec path template matching a concrete path, e.g. /v2/orders/abc -> /v2/orders/{order_id}. */
function findTemplate(specName, method, concretePath) {
  const spec = specs[specName];
  const candidates = Object.keys(spec.paths).filter((tpl) => spec.paths[tpl][method.toLowerCase()]);
  // Literal paths win over templated ones (e.g. /v2/stocks/bars over /v2/stocks/{symbol}/...).
  candidates.sort((a, b) => (a.match(/\{/g) || []).length - (b.match(/\{/g) || []).length);
  for (const tpl of candidates) {
    const re = new RegExp('^' + tpl.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+') + '$');
    if (re.test(concretePath)) return tpl;
  }
  return undefined;
}

const escape = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Validates one response. Returns [] when it conforms, or a list of readable problems.
 * specName: 'trading' | 'data'; status: HTTP status; body: parsed JSON.
 */
function validateResponse(specName, method, concretePath, status, body) {
  init();
  const tpl = findTemplate(specName, method, concretePath);
  if (!tpl) return [`no ${method} ${concretePath} in the ${specName} spec`];
  const op = specs[specName].paths[tpl][method.toLowerCase()];
  const responses = op.responses || {};
  const resp = responses[String(status)] || responses.default;
  if (!resp) return [`${method} ${tpl}: status ${status} is not documented (documented: ${Object.keys(responses).join(', ')})`];
  const content = resp.content && (resp.content['application/json'] || Object.values(resp.content)[0]);
  if (!content || !content.schema) return []; // no body documented
  const ref = `${specName}#/paths/${escape(tpl)}/${method.toLowerCase()}/responses/${responses[String(status)] ? status : 'default'}/content/${escape(resp.content['application/json'] ? 'application/json' : Object.keys(resp.content)[0])}/schema`;
  let validate = compiled.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    compiled.set(ref, validate);
  }
  if (validate(body)) return [];
  return validate.errors.map((e) => `${method} ${tpl} ${status}: ${e.instancePath || '(root)'} ${e.message}${e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
}

/** Throws with every problem listed when the response does not conform. */
function assertConforms(specName, method, concretePath, status, body) {
  const problems = validateResponse(specName, method, concretePath, status, body);
  if (problems.length) {
    const err = new Error(`response does not match Alpaca's OpenAPI spec:\n  ${problems.slice(0, 20).join('\n  ')}`);
    err.problems = problems;
    throw err;
  }
}

module.exports = { validateResponse, assertConforms, findTemplate, SPEC_DIR };
