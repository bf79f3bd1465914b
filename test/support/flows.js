'use strict';
// Example flows in a real Node-RED process and what it takes to watch them: debug messages over
// the editor's /comms websocket, Dashboard 2 widget messages over its socket.io path, and the
// "Expect:" lines that example flows carry in their comment node (see parseExpectations below and
// the README, section "Examples"). The processes themselves: nodered-process.js.
const fs = require('fs');
const path = require('path');
const WebSocket = require('ws');
const { root, MODULE, freePort, startNodeRed } = require('./nodered-process');
const { waitFor, sleep } = require('./wait');

const examplesDir = path.join(root, 'examples');
const pkg = require(path.join(root, 'package.json'));

/** Every node type the pack registers (package.json "node-red".nodes). */
const packTypes = Object.keys(pkg['node-red'].nodes);
/** Config node types of the pack: not shown in the palette. */
const configTypes = ['alpaca-account'];

/** The example flows shipped in examples/, as { name, file, flow }. */
function examples() {
  return fs
    .readdirSync(examplesDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), file: path.join(examplesDir, f), flow: JSON.parse(fs.readFileSync(path.join(examplesDir, f), 'utf8')) }));
}

/** Turns a debug message's encoded `msg` back into the value the debug node showed. */
function decodeDebug(data) {
  const { msg, format } = data;
  if (typeof msg !== 'string') return msg;
  if (format === 'number') return Number(msg);
  if (format === 'boolean') return msg === 'true';
  if (format === 'null') return null;
  if (format === 'undefined') return undefined;
  if (/^string/.test(format || '')) return msg;
  try {
    return JSON.parse(msg);
  } catch {
    return msg;
  }
}

/**
 * The editor's websocket (/comms): collects debug messages and node status updates.
 * Resolves once connected and subscribed.
 */
async function commsClient(base) {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/comms');
  const client = {
    /** { id, name, value, raw } per debug message, oldest first. */
    debug: [],
    /** { id, status } per status update. */
    status: [],
    close: () => new Promise((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once('close', r), ws.close()))),
  };
  ws.on('message', (buf) => {
    let batch;
    try {
      batch = JSON.parse(buf.toString());
    } catch {
      return;
    }
    for (const m of Array.isArray(batch) ? batch : [batch]) {
      if (m.topic === 'debug') client.debug.push({ id: m.data.id, name: m.data.name, value: decodeDebug(m.data), raw: m.data });
      else if (typeof m.topic === 'string' && m.topic.startsWith('status/')) client.status.push({ id: m.topic.slice(7), status: m.data });
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ subscribe: 'debug' }));
  ws.send(JSON.stringify({ subscribe: 'status/#' }));
  return client;
}

/**
 * A Dashboard 2 client speaking socket.io's wire protocol (Engine.IO v4): the handshake over HTTP
 * long-polling, as a browser starts (Dashboard 2 refuses a session that starts as a websocket),
 * then the upgrade to a websocket. Records every event the dashboard emits, e.g.
 * ['msg-input:<widget id>', msg]. Resolves once connected to the namespace "/".
 */
async function dashboardClient(base, dashboardPath = '/dashboard') {
  const endpoint = `${dashboardPath.replace(/\/$/, '')}/socket.io/?EIO=4`;
  const open = (await (await fetch(`${base}${endpoint}&transport=polling`)).text()).split('\x1e')[0];
  const { sid } = JSON.parse(open.slice(1)); // "0{sid, ...}"
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${endpoint}&transport=websocket&sid=${encodeURIComponent(sid)}`);
  const client = {
    events: [],
    close: () => new Promise((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once('close', r), ws.close()))),
  };
  const connected = new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('close', () => reject(new Error(`the dashboard at ${dashboardPath} closed the socket.io connection`)));
    ws.once('open', () => ws.send('2probe'));
    ws.on('message', (buf) => {
      const text = buf.toString();
      if (text === '3probe') {
        ws.send('5'); // upgrade to this websocket
        ws.send('40'); // connect to namespace "/"
      } else if (text === '2') ws.send('3'); // ping -> pong
      else if (text.startsWith('40')) resolve();
      else if (text.startsWith('44')) reject(new Error(`the dashboard refused the connection: ${text.slice(2)}`));
      else if (text.startsWith('42')) {
        try {
          client.events.push(JSON.parse(text.slice(2)));
        } catch {
          /* not an event we read */
        }
      }
    });
  });
  await connected;
  return client;
}

// ---------------------------------------------------------------------------------------------
// "Expect:" lines: what an example flow documents that it does, machine-checkable.
//
// Each example's comment node carries, in its `info`, one line per promise, starting "Expect:":
//
//   Expect: debug "<debug node name>" receives <msg path> [<check>] [after inject "<inject name>"] [within <n> s]
//   Expect: dashboard "<widget name>" receives <msg path> [<check>] [after inject "<name>"] [within <n> s]
//   Expect: http GET <url path> returns <path> [<check>] [within <n> s]
//
// <msg path>  a property of the msg reaching that node: payload, payload.equity, payload.0.symbol.
//             For a debug node it must be what the node shows or inside it (a debug node set
//             to show payload.equity cannot be expected to receive topic).
//             For http, <path> is inside the JSON response body (or "body" for all of it).
// <check>     is number | is string | is boolean | is array | is object | is null
//             > n | >= n | < n | <= n | = <JSON value> | != <JSON value> | matches /regex/flags
//             (none: the property is present, not undefined)
// after inject "<name>"  clicks that inject node first (as the editor's button does)
// within <n> s            how long to wait (default 20 s)
//
// Example: Expect: debug "account" receives payload.equity > 0
// ---------------------------------------------------------------------------------------------

const EXPECT_RE =
  /^\s*(?:[-*]\s*)?`?Expect:\s*(debug|dashboard)\s+"([^"]+)"\s+receives\s+([\w.$[\]-]+)(.*?)`?\s*$|^\s*(?:[-*]\s*)?`?Expect:\s*http\s+(GET|POST)\s+(\S+)(?:\s+(\{.*\}))?\s+returns\s+([\w.$[\]-]+)(.*?)`?\s*$/;

function parseCheck(text, line) {
  let rest = text.trim();
  const out = { within: 20, after: undefined, check: undefined };
  const within = rest.match(/\s*within\s+(\d+(?:\.\d+)?)\s*s$/);
  if (within) {
    out.within = Number(within[1]);
    rest = rest.slice(0, within.index).trim();
  }
  const after = rest.match(/\s*after\s+inject\s+"([^"]+)"$/);
  if (after) {
    out.after = after[1];
    rest = rest.slice(0, after.index).trim();
  }
  if (!rest) return out;
  let m;
  if ((m = rest.match(/^is\s+(number|string|boolean|array|object|null)$/))) out.check = { op: 'is', value: m[1] };
  else if ((m = rest.match(/^(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)$/))) out.check = { op: m[1], value: Number(m[2]) };
  else if ((m = rest.match(/^(!?=)\s*(.+)$/))) out.check = { op: m[1], value: JSON.parse(m[2]) };
  else if ((m = rest.match(/^matches\s+\/(.*)\/([a-z]*)$/))) out.check = { op: 'matches', value: new RegExp(m[1], m[2]) };
  else throw new Error(`cannot read the check "${rest}" in: ${line}`);
  return out;
}

/** The "Expect:" lines of every comment node of a flow, parsed. Throws on a malformed line. */
function parseExpectations(flow) {
  const expectations = [];
  for (const node of flow.filter((n) => n.type === 'comment')) {
    for (const line of String(node.info || '').split('\n')) {
      if (!/Expect:/.test(line)) continue;
      const m = line.match(EXPECT_RE);
      if (!m) throw new Error(`malformed Expect line in comment "${node.name}": ${line}`);
      if (m[1]) expectations.push({ line: line.trim(), source: m[1], name: m[2], path: m[3], ...parseCheck(m[4], line) });
      else expectations.push({ line: line.trim(), source: 'http', method: m[5], url: m[6], body: m[7] && JSON.parse(m[7]), path: m[8], ...parseCheck(m[9], line) });
    }
  }
  return expectations;
}

function get(value, pathText) {
  if (!pathText || pathText === '.') return value;
  let v = value;
  for (const key of pathText.replace(/\[(\w+)\]/g, '.$1').split('.').filter(Boolean)) {
    if (v === null || v === undefined) return undefined;
    v = v[key];
  }
  return v;
}

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Whether `v` passes a parsed check (no check: v is not undefined). */
function passes(v, check) {
  if (v === undefined) return false;
  if (!check) return true;
  switch (check.op) {
    case 'is':
      return typeName(v) === check.value;
    case '>':
      return typeof v === 'number' && v > check.value;
    case '>=':
      return typeof v === 'number' && v >= check.value;
    case '<':
      return typeof v === 'number' && v < check.value;
    case '<=':
      return typeof v === 'number' && v <= check.value;
    case '=':
      return JSON.stringify(v) === JSON.stringify(check.value);
    case '!=':
      return JSON.stringify(v) !== JSON.stringify(check.value);
    case 'matches':
      return check.value.test(typeof v === 'string' ? v : JSON.stringify(v));
    default:
      return false;
  }
}

/** The msg path a debug node shows: 'payload', a property path, or '' for the complete msg. */
function debugShows(node) {
  if (node.targetType === 'jsonata') return null;
  if (node.complete === 'true' || node.complete === true) return '';
  if (node.complete === 'false' || node.complete === false || !node.complete) return 'payload';
  return node.complete;
}

function findNamed(flow, name, types, what) {
  const found = flow.filter((n) => n.name === name && types(n.type));
  if (found.length !== 1) throw new Error(`${what} "${name}": found ${found.length} nodes with that name`);
  return found[0];
}

/**
 * Checks one expectation against a running example. `ctx` = { red, comms, dashboard, flow }.
 * Resolves with the value seen; rejects with what was seen instead.
 */
async function checkExpectation(exp, ctx) {
  const { red, comms, dashboard, flow } = ctx;
  const ms = exp.within * 1000;
  if (exp.source === 'http') {
    let last;
    // http.status is the response's status code; any other path is read in its JSON body.
    const ask = async () => {
      const init = exp.method === 'POST' ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(exp.body ?? {}) } : undefined;
      const res = await fetch(red.base + exp.url, init);
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      last = `${res.status} ${text.slice(0, 300)}`;
      if (exp.path === 'http.status') return passes(res.status, exp.check) ? { value: res.status } : undefined;
      const v = exp.path === 'body' ? body : get(body, exp.path);
      return res.status === 200 && passes(v, exp.check) ? { value: v } : undefined;
    };
    // A POST is sent once (it may place an order); a GET is asked again until it passes.
    if (exp.method === 'POST') {
      const r = await ask();
      if (!r) throw new Error(`${exp.line}: last response: ${last}`);
      return r.value;
    }
    return waitFor(async () => {
      try {
        return await ask();
      } catch (err) {
        last = err.message;
        return undefined;
      }
    }, ms, exp.line, 250).then(
      (r) => r.value,
      (err) => {
        throw new Error(`${err.message}; last response: ${last}`);
      },
    );
  }

  let seen;
  let relative;
  if (exp.source === 'debug') {
    const node = findNamed(flow, exp.name, (t) => t === 'debug', 'debug node');
    if (node.active === false || node.tosidebar === false) throw new Error(`debug node "${exp.name}" is not active or does not send to the sidebar`);
    const shows = debugShows(node);
    if (shows === null) throw new Error(`debug node "${exp.name}" shows a JSONata expression; name a msg property instead`);
    if (shows && exp.path !== shows && !exp.path.startsWith(shows + '.')) {
      throw new Error(`debug node "${exp.name}" shows msg.${shows}, not msg.${exp.path}`);
    }
    relative = shows ? exp.path.slice(shows.length + 1) : exp.path;
    seen = () => comms.debug.filter((d) => d.id === node.id).map((d) => d.value);
  } else {
    const node = findNamed(flow, exp.name, (t) => /^ui-/.test(t), 'dashboard widget');
    if (!dashboard) throw new Error('no dashboard client connected');
    relative = exp.path;
    seen = () => dashboard.events.filter((e) => e[0] === `msg-input:${node.id}`).map((e) => e[1]);
  }
  if (exp.after) {
    const inject = findNamed(flow, exp.after, (t) => t === 'inject', 'inject node');
    // Only messages after the click count.
    const offset = seen().length;
    const prev = seen;
    seen = () => prev().slice(offset);
    await red.inject(inject.id);
  }
  try {
    return await waitFor(() => {
      const hit = seen().find((v) => passes(get(v, relative), exp.check));
      return hit === undefined ? undefined : { value: get(hit, relative) };
    }, ms, exp.line, 100).then((r) => r.value);
  } catch (err) {
    const values = seen().slice(-3).map((v) => JSON.stringify(get(v, relative)));
    throw new Error(`${err.message}; values seen: ${values.length ? values.join(', ') : 'none'}`, { cause: err });
  }
}

/**
 * Debug nodes that only ever see errors: reachable through wires from a Catch node. A message on
 * one of them means a node reported an error that a Catch node handled (Node-RED does not log
 * those). An example that expects such messages names the debug node in an Expect line.
 */
function errorDebugNodes(flow) {
  const byId = new Map(flow.map((n) => [n.id, n]));
  const reached = new Set();
  const queue = flow.filter((n) => n.type === 'catch').map((n) => n.id);
  while (queue.length) {
    const node = byId.get(queue.shift());
    for (const id of (node && node.wires ? node.wires.flat() : [])) {
      if (!reached.has(id)) {
        reached.add(id);
        queue.push(id);
      }
    }
  }
  return flow.filter((n) => n.type === 'debug' && reached.has(n.id));
}

module.exports = {
  errorDebugNodes,
  packTypes,
  configTypes,
  examples,
  commsClient,
  dashboardClient,
  decodeDebug,
  parseExpectations,
  checkExpectation,
  passes,
  // The launcher and the waits live in nodered-process.js and wait.js; bench/idle-memory.js and
  // scripts/install-check.js still take them from here.
  root,
  MODULE,
  freePort,
  startNodeRed,
  sleep,
  until: waitFor,
};
