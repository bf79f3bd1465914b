'use strict';
// The simulator in tests: started in-process (startSim) or as its own process (startSimProcess),
// the one an account node started (accountSim), and simControl: its HTTP control API (/sim/...)
// plus the official SDK and order listing under another key, as another program on the account.
const path = require('path');
const { spawn } = require('child_process');
const { Simulator } = require('../../dist/lib/sim/simulator');
const { createClient, streamUrls } = require('../../dist/lib/alpaca/client');
const { waitFor } = require('./wait');

const KEY = 'PKTESTKEY';
const SECRET = 'test-secret-value';
/** The key "another program" uses: its requests and its trading stream are not the flow's. */
const OTHER_KEY = 'OTHERPROGRAM';
const OTHER_SECRET = 'other-program-secret';
const CLI = path.join(__dirname, '..', '..', 'dist', 'lib', 'sim', 'cli.js');

/**
 * The simulator at `url` as a test drives it. `credentials` { key, secret }: the pair the
 * simulator was given (its control API then asks for it); without it /sim/ is open.
 */
function simControl(url, credentials = {}) {
  const { key, secret } = credentials;
  const auth = key === undefined ? {} : { 'APCA-API-KEY-ID': key, 'APCA-API-SECRET-KEY': secret };
  async function call(method, route, body) {
    const res = await fetch(url + route, {
      method,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
  const keyOf = (keyId) => (keyId === key ? { keyId, secret } : { keyId, secret: OTHER_SECRET });
  const restKey = keyOf(key ?? OTHER_KEY);
  return {
    url,
    /** GET /sim/stats: requests, rateLimited, orders, streamConnections, ... */
    stats: () => call('GET', '/sim/stats'),
    /** POST /sim/faults with `f` (e.g. { errorRate: 1 }, { dropStreams: true }); without `f`, GET /sim/faults. */
    faults: (f) => (f === undefined ? call('GET', '/sim/faults') : call('POST', '/sim/faults', f)),
    /** POST /sim/prices: the next print of `symbol` is at `price`. */
    price: (symbol, price) => call('POST', '/sim/prices', { symbol, price }),
    /** POST /sim/reset: a fresh account and order book, rate limits forgotten. */
    reset: () => call('POST', '/sim/reset', {}),
    /** GET /sim/requests: the REST requests that arrived since `since` (epoch ms): [{ t, api, limited, ... }]. */
    requests: async (since) => (await call('GET', `/sim/requests?since=${since}`)).requests,
    /** The official SDK on this simulator under `keyId` (default: the simulator's own pair if it has one, else another program's key). */
    sdk: (keyId = key ?? OTHER_KEY) => createClient({ ...keyOf(keyId), paper: true, endpoint: url, rateLimit: false }),
    /** Every order of the account with `status` (all, open, closed) as Alpaca's JSON, oldest first, in pages of 500. */
    async orders(status = 'all') {
      const headers = { 'APCA-API-KEY-ID': restKey.keyId, 'APCA-API-SECRET-KEY': restKey.secret };
      const byId = new Map();
      let after = 0;
      for (;;) {
        const res = await fetch(`${url}/v2/orders?status=${status}&limit=500&direction=asc&after=${new Date(after).toISOString()}`, { headers });
        if (!res.ok) throw new Error(`GET /v2/orders: ${res.status} ${await res.text()}`);
        const page = await res.json();
        for (const order of page) byId.set(order.id, order);
        if (page.length < 500) return [...byId.values()];
        // The next page from just before the last one's time (`after` is exclusive): orders of that millisecond are read again, once.
        const next = Date.parse(page[page.length - 1].submitted_at) - 1;
        if (!(next > after)) throw new Error('more than 500 orders in one millisecond: GET /v2/orders cannot page past them');
        after = next;
      }
    },
  };
}

/**
 * Starts a simulator in this process on a free loopback port; resolves with
 * { sim, url, key, secret, alpaca, urls, rest(), stop(), ...simControl }. Stocks trade around the
 * clock (marketHours 'always') unless the test asks for 'nyse'.
 */
async function startSim(options = {}) {
  const sim = new Simulator({ seed: 42, tickMs: 100, marketHours: 'always', ...options });
  const url = await sim.start();
  const key = options.key || KEY;
  const secret = options.secret || SECRET;
  return {
    // The control API asks for the key pair only when the simulator was given one.
    ...simControl(url, options.key === undefined ? {} : { key, secret }),
    sim,
    url,
    key,
    secret,
    alpaca: createClient({ keyId: key, secret, paper: true, endpoint: url, rateLimit: false }),
    urls: streamUrls(true, url, 'iex'),
    /** A raw REST call with the test key (for contract tests that need the exact body and status). */
    rest: async (method, route, body) => {
      const res = await fetch(url + route, {
        method,
        headers: { 'APCA-API-KEY-ID': key, 'APCA-API-SECRET-KEY': secret, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
    },
    stop: () => sim.stop(),
  };
}

/**
 * The standalone simulator in a process of its own: `node dist/lib/sim/cli.js ...args`, or
 * `command` (e.g. ['npx', 'alpaca-sim'] in an installed pack) with `args`. Resolves once it has
 * printed its URL: { url, child, output(), stop(), ...simControl }; `credentials` as simControl's.
 */
async function startSimProcess({ args = ['--port', '0'], command = [process.execPath, CLI], env = {}, cwd, credentials, timeout = 15000 } = {}) {
  // Its own process group: stop() ends a wrapper such as npx and the simulator it started.
  const child = spawn(command[0], [...command.slice(1), ...args], { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  };
  let url;
  try {
    url = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`the simulator exited with ${child.exitCode}`);
      return (/listening on \S+\s+\((http:\/\/[^)\s]+)\)/.exec(out) || [])[1];
    }, timeout, 'the simulator to print its URL', 50);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n--- simulator output ---\n${out}`, { cause: err });
  }
  return { ...simControl(url, credentials), url, child, output: () => out, stop };
}

/** The simulator an account node started in this process (sim mode, no Endpoint), once it runs: { url, ...simControl }. */
async function accountSim(account, ms = 8000) {
  const url = await waitFor(() => account.connection.endpoint, ms, `the simulator of account ${account.id}`);
  return simControl(url);
}

/** The most entries of `times` (epoch ms) within any `span` ms, counted as a sliding-window server counts. */
function busiest(times, span = 60000) {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i] - t[j] >= span) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** Arrival times of the REST requests of `api` ('trading' or 'data') at the simulator at `url` since `since`. */
async function requestTimes(url, since, api = 'trading', credentials) {
  return (await simControl(url, credentials).requests(since)).filter((r) => r.api === api).map((r) => r.t);
}

// waitFor lives in wait.js; bench/rate-gate.js and the stream tests still take it from here.
module.exports = { startSim, startSimProcess, simControl, accountSim, busiest, requestTimes };
