'use strict';
// Starts the built-in simulator on a free loopback port and builds official-SDK clients for it.
const { Simulator } = require('../../dist/lib/sim/simulator');
const { createClient, streamUrls } = require('../../dist/lib/alpaca/client');

const KEY = 'PKTESTKEY';
const SECRET = 'test-secret-value';

/**
 * Starts a simulator; returns { sim, url, alpaca, urls, key, secret, stats(), faults(f), stop() }.
 * Stocks trade around the clock (marketHours 'always') unless the test asks for 'nyse'.
 */
async function startSim(options = {}) {
  const sim = new Simulator({ seed: 42, tickMs: 100, marketHours: 'always', ...options });
  const url = await sim.start();
  const key = options.key || KEY;
  const secret = options.secret || SECRET;
  // /sim/ needs the key pair when the simulator was given one.
  const control = { 'APCA-API-KEY-ID': key, 'APCA-API-SECRET-KEY': secret };
  const alpaca = createClient({ keyId: key, secret, paper: true, endpoint: url, rateLimit: false });
  return {
    sim,
    url,
    key,
    secret,
    alpaca,
    urls: streamUrls(true, url, 'iex'),
    /** GET /sim/stats over HTTP, as a user would read it. */
    stats: () => fetch(`${url}/sim/stats`, { headers: control }).then((r) => r.json()),
    /** POST /sim/faults over HTTP. */
    faults: (f) => fetch(`${url}/sim/faults`, { method: 'POST', headers: { ...control, 'content-type': 'application/json' }, body: JSON.stringify(f) }).then((r) => r.json()),
    /** A raw REST call with the test key (for contract tests that need the exact body and status). */
    rest: async (method, path, body) => {
      const res = await fetch(url + path, {
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

/** Resolves when `predicate()` is truthy, polling every 20 ms; rejects after `ms`. */
async function waitFor(predicate, ms = 5000, what = 'condition') {
  const until = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
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

/** Arrival times of the simulator's REST requests of `api` ('trading' or 'data') since `since`, from GET /sim/requests. */
async function requestTimes(url, since, api = 'trading', headers = {}) {
  const body = await (await fetch(`${url}/sim/requests?since=${since}`, { headers })).json();
  return body.requests.filter((r) => r.api === api).map((r) => r.t);
}

module.exports = { startSim, waitFor, busiest, requestTimes, KEY, SECRET };
