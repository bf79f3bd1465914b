#!/usr/bin/env node
// The standalone simulator: `npx alpaca-sim --port 8765` from an installed pack, or
// `npm run sim -- --port 8765` in a clone. `--help` lists every flag and the control API.
import { parseArgs } from 'node:util';
import { Clock } from './clock';
import { isLoopbackHost } from './http-guard';
import { RATE_LIMIT_ALGORITHMS } from './rate-limit';
import { CONTROL_BODY_LIMIT, DEFAULT_FAULTS } from './server';
import { Simulator } from './simulator';
import type { SimFaults } from './types';

const HELP = `Usage: alpaca-sim [options]      (in a clone of the repository: npm run sim -- [options])

An Alpaca-compatible paper broker: Alpaca's REST paths, the trading stream (/stream) and the
market-data streams (/v2/iex, /v2/sip, /v2/delayed_sip, /v1beta3/crypto/us) on one port.

Options:
  --port N                  port to listen on (default 0: a free one, printed at start)
  --host ADDRESS            address to bind (default 127.0.0.1). Anything but a loopback address
                            (127.0.0.1, ::1, localhost) makes the simulator reachable from other
                            machines: a warning is printed; give it a key pair too. Requests must
                            name this machine in their Host header (loopback names, ADDRESS, or
                            with 0.0.0.0 / :: this machine's addresses and name).
  --key K --secret S        accept only this key pair, on the REST API, the streams and /sim/.
                            Without them any non-empty pair is accepted and /sim/ is open.
                            The environment variables ALPACA_SIM_KEY and ALPACA_SIM_SECRET do the
                            same and keep the secret out of the process list (ps); flags win.
  --seed N                  seed of the random walk (same seed, same prices)
  --speed X                 simulated time runs X times faster than the clock (default 1)
  --tick-ms N               real milliseconds between price ticks (default 1000)
  --market-hours always|nyse  stock market hours (default ${new Clock({}).marketHours}: the NYSE calendar in
                            New York time; always: stocks never close)
  --start-at TIME           simulated time at start, e.g. 2026-11-29T08:00:00Z (a Sunday 03:00 in
                            New York) to rehearse a closed market; default now
  --csv FILE                replay a CSV of bars instead of the random walk
  --data-plan basic|sip     market-data plan (default basic: the live SIP stream answers 409)
  --rate-limit N            trading-API requests per minute per key (default ${DEFAULT_FAULTS.rateLimitPerMinute})
  --data-rate-limit N       market-data requests per minute per key (default ${DEFAULT_FAULTS.dataRateLimitPerMinute}), counted apart
  --rate-limit-algorithm A  ${RATE_LIMIT_ALGORITHMS.join(' | ')} (default ${DEFAULT_FAULTS.rateLimitAlgorithm}): sliding = never more than N
                            in any 60 s; fixed = counter reset at each minute boundary;
                            bucket = token bucket refilled continuously
  --lockout-ms N            after a 429, refuse that key for N ms (Alpaca: about 60000; default 0)
  -h, --help                this text

Control API (under /sim/; with --key/--secret it needs the same APCA-API-KEY-ID and
APCA-API-SECRET-KEY headers as the REST API; POST bodies are JSON, Content-Type: application/json,
at most ${CONTROL_BODY_LIMIT / 1024} KB):
  GET  /sim/stats     requests (REST requests counted, /sim/ excluded), rateLimited (answered 429),
                      errorsInjected, orders (accepted submissions), streamConnections (open now),
                      streamConnectionsTotal, streamsDropped, simTime
  GET  /sim/requests?since=EPOCH_MS  arrival time, API (trading|data), 429 flag, method, path and
                      key id of each counted REST request since then (the last 100,000 kept)
  GET  /sim/faults    the faults in force
  POST /sim/faults    any of: errorRate, errorAfterRate, resetAfterRate (fractions 0..1), latencyMs,
                      rateLimitPerMinute, dataRateLimitPerMinute, rateLimitAlgorithm, lockoutMs,
                      staleSlotMs (a closed stream's slot stays taken: reconnects get 406),
                      tradingAuthDelayMs (the trading stream authenticates that much later),
                      silentStreams (true/false), dropStreams: true (drop every stream now).
                      Post zeros (and silentStreams: false) to clear faults; an unknown or bad
                      field rejects the whole update.
  POST /sim/prices    {"symbol": "AAPL", "price": 150} moves that market now
  POST /sim/reset     a fresh account: starting cash, no orders, no positions; rate-limit counters
                      and lockouts cleared. Prices, faults, stats, the request log and open
                      streams stay.
There is ONE simulated account: every accepted key pair trades on it (the rate limits are per key).
`;

function fail(message: string): never {
  console.error(`alpaca-sim: ${message}`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
        key: { type: 'string' },
        secret: { type: 'string' },
        seed: { type: 'string' },
        speed: { type: 'string' },
        'tick-ms': { type: 'string' },
        'market-hours': { type: 'string' },
        'start-at': { type: 'string' },
        csv: { type: 'string' },
        'data-plan': { type: 'string' },
        'rate-limit': { type: 'string' },
        'data-rate-limit': { type: 'string' },
        'rate-limit-algorithm': { type: 'string' },
        'lockout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    return fail(`${(err as Error).message} (see --help)`);
  }
}

const values = parse();
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const key = values.key ?? process.env.ALPACA_SIM_KEY;
const secret = values.secret ?? process.env.ALPACA_SIM_SECRET;
if ((key === undefined) !== (secret === undefined)) fail('a key and a secret go together (--key/--secret or ALPACA_SIM_KEY/ALPACA_SIM_SECRET)');

const num = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) fail(`--${flag} must be a number`);
  return n;
};
const oneOf = <T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T | undefined => {
  if (v !== undefined && !allowed.includes(v as T)) fail(`--${flag} is ${allowed.join(' or ')}`);
  return v as T | undefined;
};

const port = num('port', values.port);
if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) fail('--port must be 0..65535');
const host = values.host as string;
const faults: Partial<SimFaults> = {
  rateLimitPerMinute: num('rate-limit', values['rate-limit']),
  dataRateLimitPerMinute: num('data-rate-limit', values['data-rate-limit']),
  rateLimitAlgorithm: oneOf('rate-limit-algorithm', values['rate-limit-algorithm'], RATE_LIMIT_ALGORITHMS),
  lockoutMs: num('lockout-ms', values['lockout-ms']),
};

let sim: Simulator;
try {
  sim = new Simulator({
    port,
    host,
    key,
    secret,
    seed: num('seed', values.seed),
    speed: num('speed', values.speed),
    tickMs: num('tick-ms', values['tick-ms']),
    marketHours: oneOf('market-hours', values['market-hours'], ['always', 'nyse'] as const),
    startAt: values['start-at'],
    csv: values.csv,
    dataPlan: oneOf('data-plan', values['data-plan'], ['basic', 'sip'] as const),
    faults,
  });
} catch (err) {
  fail((err as Error).message);
}

if (!isLoopbackHost(host)) {
  console.error(
    `WARNING: --host ${host} makes the simulator reachable from other machines on your network.` +
      (key === undefined ? ' It accepts ANY key pair and its /sim/ control API is open: give it --key/--secret (or ALPACA_SIM_KEY/ALPACA_SIM_SECRET).' : '') +
      ' Its traffic is plain HTTP: use it only on a network you trust.',
  );
}

sim.start().then(
  (url) => {
    const { faults: f } = sim;
    console.log(`Alpaca simulator listening on ${sim.boundAddress}  (${url})`);
    console.log(`  REST: ${url}   trading stream: ${url.replace('http', 'ws')}/stream   market data: ${url.replace('http', 'ws')}/v2/iex`);
    console.log(`  control API: ${url}/sim/stats, /sim/requests, /sim/faults, POST /sim/prices, POST /sim/reset`);
    console.log(key === undefined ? '  accepts any key pair; /sim/ is open' : '  accepts only the configured key pair, on /sim/ too');
    console.log(
      `  market hours: ${sim.clock.marketHours}; rate limits per key: trading ${f.rateLimitPerMinute}/min, market data ${f.dataRateLimitPerMinute}/min (${f.rateLimitAlgorithm})`,
    );
  },
  (err: Error) => {
    console.error(`alpaca-sim: failed to start: ${err.message}`);
    process.exit(1);
  },
);

const stop = () => void sim.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
