'use strict';
// Orders that survive crashes, with real processes: Node-RED started as `npm start` does, the
// standalone simulator (`node dist/lib/sim/cli.js`) answering slowly so orders are on their way
// when Node-RED is killed. After a SIGKILL mid-burst and a restart on the same user directory,
// every msg sent before the kill comes out exactly once (placed, not placed or dropped), every
// order at the simulator is reported, and none is there twice; a key places one order across a
// restart; a truncated journal is reported and trading goes on; the order-updates feed fills the
// gap since the last update it delivered before the stop; an order whose journal records a power
// failure lost is found at the broker and reported, also when the machine's clock comes back wrong.
//
// Observers are function nodes appending to a file, and the runtime delivers msgs synchronously
// (runtimeSyncDelivery): a msg a node has output has then reached the file, so what the file
// holds is exactly what the nodes reported (with Node-RED's default asynchronous delivery a msg
// output in the instant before a kill may not reach the next node: Node-RED keeps no msg).
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startNodeRed } = require('../support/nodered-process');
const { startSimProcess } = require('../support/sim');
const { account } = require('../support/fixtures');
const { waitFor, sleep } = require('../support/wait');

/** A function node appending `{ kind, ... }` for every msg it gets to `file`. */
function observer(id, kind, file) {
  const line = `{ kind: ${JSON.stringify(kind)}, topic: msg.topic, signalId: msg.signalId, outcome: msg.outcome, recovered: msg.recovered === true, clientOrderId: msg.clientOrderId, dropped: msg.rateGate && msg.rateGate.dropped, error: msg.error && msg.error.message, event: msg.event, orderId: msg.payload && (msg.payload.order ? msg.payload.order.id : msg.payload.id) }`;
  return {
    id, type: 'function', z: 'tab', name: `observe ${kind}`, outputs: 0, timeout: 0, noerr: 0, initialize: '', finalize: '',
    libs: [{ var: 'fs', module: 'fs' }],
    func: `fs.appendFileSync(${JSON.stringify(file)}, JSON.stringify(${line}) + '\\n');\nreturn null;`,
    wires: [],
  };
}

/**
 * POST /burst {cycle, n}: n identical market orders through a rate gate (the account's budget: 60
 * a minute, so most wait) into an order node. POST /order {signalId}: one order keyed by its signal.
 */
function flows(simUrl, file) {
  // Flow nodes need a position (a node without one is taken for a config node).
  const placed = (n, i) => (n.z ? { x: 100 + 10 * i, y: 100 + 40 * i, ...n } : n);
  return [
    account({ name: 'standalone sim', endpoint: simUrl, budgetLimit: 60, budgetWindow: 60 }),
    { id: 'tab', type: 'tab', label: 'crash test' },
    { id: 'burstIn', type: 'http in', z: 'tab', url: '/burst', method: 'post', upload: false, wires: [['burst', 'accepted']] },
    {
      id: 'burst', type: 'function', z: 'tab', name: 'slice into n orders', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [],
      func: "const { cycle, n } = msg.payload;\nfor (let i = 0; i < n; i++) node.send({ topic: `c${cycle}-${i}`, payload: { symbol: 'AAPL', side: 'buy', qty: 1 } });\nreturn null;",
      wires: [['gate']],
    },
    { id: 'accepted', type: 'http response', z: 'tab', statusCode: '202', headers: {}, wires: [] },
    { id: 'gate', type: 'alpaca-rate-gate', z: 'tab', account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output', categories: [], category: '', shared: false, sharedKey: '', wires: [['order'], ['obsDropped']] },
    { id: 'order', type: 'alpaca-order', z: 'tab', account: 'acct', action: 'submit', keyProperty: '', maxWait: '', wires: [['obsPlaced'], [], []] },
    { id: 'catchOrder', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['obsError']] },
    observer('obsPlaced', 'placed', file),
    observer('obsError', 'error', file),
    observer('obsDropped', 'dropped', file),
    // One order per signal: the key is msg.signalId.
    { id: 'orderIn', type: 'http in', z: 'tab', url: '/order', method: 'post', upload: false, wires: [['toSignal']] },
    { id: 'toSignal', type: 'change', z: 'tab', rules: [{ t: 'move', p: 'payload.signalId', pt: 'msg', to: 'signalId', tot: 'msg' }], wires: [['keyed']] },
    { id: 'keyed', type: 'alpaca-order', z: 'tab', account: 'acct', action: 'submit', keyProperty: 'signalId', maxWait: '', wires: [['keyedOut', 'obsKeyed'], [], []] },
    { id: 'keyedOut', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '{"outcome": msg.outcome, "clientOrderId": msg.clientOrderId, "steps": [msg.attempts.step], "id": msg.payload.id}', tot: 'jsonata' }], wires: [['orderOut']] },
    { id: 'catchKeyed', type: 'catch', z: 'tab', scope: ['keyed'], uncaught: false, wires: [['keyedErr']] },
    { id: 'keyedErr', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'statusCode', pt: 'msg', to: '409', tot: 'num' }, { t: 'set', p: 'payload', pt: 'msg', to: 'error.message', tot: 'msg' }], wires: [['orderOut']] },
    { id: 'orderOut', type: 'http response', z: 'tab', statusCode: '', headers: {}, wires: [] },
    observer('obsKeyed', 'keyed', file),
    // Every trade update of the account.
    { id: 'updates', type: 'alpaca-order-updates', z: 'tab', account: 'acct', symbols: '', events: [], watchdog: 60, alertAfter: 2, pollAfter: 30, wires: [['obsUpdate'], []] },
    observer('obsUpdate', 'update', file),
  ].map(placed);
}

const SETTINGS = { functionExternalModules: true, runtimeSyncDelivery: true };

function lines(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('orders across a restart and a SIGKILL (real processes)', function () {
  this.timeout(240000);
  let sim;
  let red;
  let userDir;
  let file;

  before(async function () {
    // The standalone simulator in its own process, fast enough for 120-order bursts.
    sim = await startSimProcess({ args: ['--port', '0', '--rate-limit', '100000', '--market-hours', 'always', '--tick-ms', '200', '--seed', '9'] });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-crash-'));
    file = path.join(userDir, 'observed.jsonl');
  });

  after(async function () {
    if (red) await red.stop();
    if (sim) await sim.stop();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** Starts Node-RED on the user directory; `clockSkewMs`: with its wall clock that far off. */
  const start = async (withFlows, clockSkewMs) => {
    const env = clockSkewMs === undefined ? {} : { NODE_OPTIONS: `--require ${path.join(__dirname, '..', 'support', 'skewed-clock.js')}`, SKEWED_CLOCK_MS: String(clockSkewMs) };
    red = await startNodeRed({ userDir, settings: SETTINGS, env, ...(withFlows ? { flows: flows(sim.url, file) } : {}) });
    await waitFor(async () => (await red.api('GET', '/flows')).length > 0, 10000, 'the flows', 50);
    return red;
  };

  const kill = async () => {
    await red.kill('SIGKILL');
    red = undefined;
  };

  /** What a power failure does to writes that had not reached the disk: every journal record of this order is gone. */
  const loseJournalRecordsOf = (clientOrderId) => {
    const journalFile = path.join(userDir, 'alpaca-journal', 'account-acct.jsonl');
    const kept = fs.readFileSync(journalFile, 'utf8').split('\n').filter((l) => !l.includes(clientOrderId));
    fs.writeFileSync(journalFile, kept.join('\n'));
  };

  const signal = async (signalId) => {
    const res = await fetch(`${red.base}/order`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signalId, symbol: 'AAPL', side: 'buy', qty: 1 }) });
    const text = await res.text();
    assert.strictEqual(res.status, 200, text);
    return JSON.parse(text);
  };

  it('a key places one order across a stop and start; a truncated journal is reported and trading goes on; trade updates missed while stopped are recovered', async function () {
    await start(true);
    const first = await signal('sig-1');
    assert.strictEqual(first.outcome, 'placed');
    assert.strictEqual((await signal('sig-1')).outcome, 'duplicate');
    await waitFor(() => lines(file).some((l) => l.kind === 'update' && l.orderId === first.id && l.event === 'fill'), 10000, 'the fill of the first order', 50);
    await red.stop();
    red = undefined;

    // While Node-RED is down another program trades: its fill must come out after the restart, once.
    const sdk = sim.sdk();
    const missed = await sdk.trading.orders.market({ symbol: 'MSFT', qty: 1, side: 'buy', clientOrderId: 'while-down' });
    await waitFor(async () => (await sdk.trading.orders.getOrderByOrderID({ orderId: missed.id })).status === 'filled', 10000, 'the fill while down', 50);
    const journalFile = path.join(userDir, 'alpaca-journal', 'account-acct.jsonl');
    const intact = fs.readFileSync(journalFile, 'utf8');
    fs.writeFileSync(journalFile, `${intact}{"r":"ask","e":{"id":"torn-by-a-power-cut","act`);

    await start(false);
    await red.waitForLog(/order journal: 1 damaged or truncated line\(s\) in account-acct\.jsonl were skipped/, 0, 20000);
    const again = await signal('sig-1');
    assert.strictEqual(again.outcome, 'duplicate');
    assert.deepStrictEqual(again.steps, ['lookup'], 'the journal knew it: nothing was sent');
    assert.strictEqual((await signal('sig-2')).outcome, 'placed', 'trading goes on');
    const ordersOfSig1 = (await sim.orders()).filter((o) => o.client_order_id === first.clientOrderId);
    assert.strictEqual(ordersOfSig1.length, 1);

    await waitFor(() => lines(file).some((l) => l.kind === 'update' && l.orderId === missed.id), 15000, 'the update missed while stopped', 50);
    const updates = lines(file).filter((l) => l.kind === 'update');
    const ofMissed = updates.filter((l) => l.orderId === missed.id);
    assert.deepStrictEqual(ofMissed.map((l) => [l.event, l.recovered]), [['fill', true]]);
    assert.strictEqual(updates.filter((l) => l.orderId === first.id && l.event === 'fill').length, 1, 'what was delivered before the stop is not delivered again');
    assert.deepStrictEqual(red.errors(), []);
  });

  /** Places the order of `signalId`, then a power failure: Node-RED killed, every journal record of the order lost. */
  const placeThenLosePower = async (signalId) => {
    if (!red) await start(false);
    const placed = await signal(signalId);
    assert.strictEqual(placed.outcome, 'placed');
    await kill();
    loseJournalRecordsOf(placed.clientOrderId);
    return placed;
  };

  /** After the restart: the account warns about the order the journal lost, and its key answers duplicate without sending. */
  const foundAgain = async (signalId, placed) => {
    await red.waitForLog(new RegExp(`buy 1 AAPL @ market: placed by this pack before Node-RED stopped \\(client order id ${placed.clientOrderId}\\), but not in the order journal`), 0, 20000);
    const again = await signal(signalId);
    assert.strictEqual(again.outcome, 'duplicate');
    assert.deepStrictEqual(again.steps, ['lookup'], 'the journal knows it again: nothing was sent');
  };

  it('a power failure that loses the journal\'s last records: the order is found at the broker, reported, and its key known again', async function () {
    const placed = await placeThenLosePower('sig-power');
    await start(false);
    await foundAgain('sig-power', placed);
    assert.strictEqual((red.log().match(/not in the order journal/g) || []).length, 1, 'only the lost order is reported');
  });

  it('the same power failure on a machine whose clock comes back an hour behind (no clock battery, NTP not there yet): the order is still found', async function () {
    const placed = await placeThenLosePower('sig-clock');
    // The broker is asked for orders since the journal's last record, on the broker's clock: an
    // hour behind, our own clock would have it ask from an hour too late.
    await start(false, -3_600_000);
    try {
      await foundAgain('sig-clock', placed);
    } finally {
      // The next test runs on a right clock.
      await red.stop();
      red = undefined;
    }
  });

  it('SIGKILL mid-burst at five moments: every msg accounted for exactly once, every order reported, none twice', async function () {
    const N = 120;
    await sim.faults({ latencyMs: 700 });
    if (!red) await start(false);
    for (const [cycle, killAfterMs] of [[1, 30], [2, 400], [3, 900], [4, 1500], [5, 2600]]) {
      await sim.reset();
      const res = await fetch(`${red.base}/burst`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cycle, n: N }) });
      assert.strictEqual(res.status, 202);
      await sleep(killAfterMs);
      await kill();
      // Requests still on their way land at the simulator meanwhile.
      await start(false);
      const mine = () => lines(file).filter((l) => typeof l.topic === 'string' && l.topic.startsWith(`c${cycle}-`));
      await waitFor(() => new Set(mine().map((l) => l.topic)).size >= N, 60000, `all ${N} msgs of cycle ${cycle} accounted for`, 50).catch((err) => {
        throw new Error(`${err.message}: ${new Set(mine().map((l) => l.topic)).size} seen\n${red.log().slice(-3000)}`);
      });
      await sleep(500); // anything reported twice would come now
      assert.doesNotMatch(red.log(), /not in the order journal/, `cycle ${cycle}: a kill loses no journal record (only a power failure can)`);
      const seen = mine();
      const perMsg = new Map();
      for (const l of seen) perMsg.set(l.topic, (perMsg.get(l.topic) || 0) + 1);
      const twice = [...perMsg].filter(([, n]) => n > 1);
      assert.deepStrictEqual(twice, [], `cycle ${cycle}: reported more than once`);
      assert.strictEqual(perMsg.size, N);

      const placed = seen.filter((l) => l.kind === 'placed');
      assert.ok(placed.every((l) => l.outcome === 'placed'));
      for (const l of seen.filter((x) => x.kind === 'error')) assert.strictEqual(l.outcome, 'not_placed', JSON.stringify(l));
      for (const l of seen.filter((x) => x.kind === 'dropped')) assert.strictEqual(l.dropped, 'restart', JSON.stringify(l));
      const atSim = (await sim.orders()).map((o) => o.client_order_id);
      assert.strictEqual(new Set(atSim).size, atSim.length, `cycle ${cycle}: an order twice at the simulator`);
      assert.deepStrictEqual(new Set(atSim), new Set(placed.map((l) => l.clientOrderId)), `cycle ${cycle}: every order at the simulator reported as placed, and only those`);
      const recovered = seen.filter((l) => l.recovered);
      const dropped = seen.filter((l) => l.kind === 'dropped');
      this.test.title += ` [${cycle}: ${placed.length} placed (${recovered.filter((l) => l.kind === 'placed').length} recovered), ${seen.filter((l) => l.kind === 'error').length} not placed, ${dropped.length} dropped]`;
    }
    assert.deepStrictEqual(red.errors().filter((l) => !/not placed|never sent/.test(l)), []);
  });
});
