#!/usr/bin/env node
// `npm run sim -- --port 8765 [--key K --secret S] [--seed N] [--speed X] [--tick-ms N]
//  [--market-hours always|nyse] [--csv bars.csv] [--rate-limit N] [--lockout-ms N]`
import { parseArgs } from 'node:util';
import { Simulator } from './simulator';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    key: { type: 'string' },
    secret: { type: 'string' },
    seed: { type: 'string' },
    speed: { type: 'string' },
    'tick-ms': { type: 'string' },
    'market-hours': { type: 'string' },
    csv: { type: 'string' },
    'rate-limit': { type: 'string' },
    'lockout-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(`Usage: npm run sim -- [--port N] [--key K --secret S] [--seed N] [--speed X]
       [--tick-ms N] [--market-hours always|nyse] [--csv bars.csv] [--rate-limit N] [--lockout-ms N]`);
  process.exit(0);
}
if ((values.key === undefined) !== (values.secret === undefined)) {
  console.error('--key and --secret go together');
  process.exit(2);
}
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const marketHours = values['market-hours'];
if (marketHours !== undefined && marketHours !== 'always' && marketHours !== 'nyse') {
  console.error('--market-hours is always or nyse');
  process.exit(2);
}

const sim = new Simulator({
  port: num(values.port),
  host: values.host,
  key: values.key,
  secret: values.secret,
  seed: num(values.seed),
  speed: num(values.speed),
  tickMs: num(values['tick-ms']),
  marketHours,
  csv: values.csv,
  faults: {
    ...(values['rate-limit'] ? { rateLimitPerMinute: Number(values['rate-limit']) } : {}),
    ...(values['lockout-ms'] ? { lockoutMs: Number(values['lockout-ms']) } : {}),
  },
});

sim.start().then(
  (url) => {
    console.log(`Alpaca simulator listening on ${url}`);
    console.log(`  REST and streams: ${url}  (trading stream ${url.replace('http', 'ws')}/stream)`);
    console.log(`  control API: ${url}/sim/stats, POST ${url}/sim/faults, POST ${url}/sim/prices`);
    console.log(values.key ? '  accepts only the key given with --key' : '  accepts any key pair');
  },
  (err: Error) => {
    console.error(`simulator failed to start: ${err.message}`);
    process.exit(1);
  },
);

const stop = () => void sim.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
