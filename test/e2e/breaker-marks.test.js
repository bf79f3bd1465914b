'use strict';
// The breaker marks the account's positions to market from the live market-data stream: a real
// Node-RED runtime, the real connection and SDK, the built-in simulator over real sockets. The
// simulator's prices move only when a test posts one (no random walk).
const assert = require('assert');
const { waitFor, sleep } = require('../support/wait');
const { useRuntime } = require('../support/nodered');
const { helper, flow, nodes, state, sim, equityNow, breakerSees, watch, send, order, collect } = require('../support/breaker');
const streamNode = require('../../dist/alpaca-stream.js').default;

/** 1% within 30 minutes halts; the other rules stay out of the way. */
const RULE = { rollingOn: true, rollingPct: '1', rollingMinutes: '30', rateOn: false, pollFlat: '60', staleSeconds: '120' };
const START = 189.78;
/** 100 shares from 189.79 to 174.78: about 1.5% of $100,000, past the 1% line. */
const DROP = 174.78;

const position = async () => (await state()).live.positions.find((p) => p.symbol === 'AAPL');

/** The simulator's own last AAPL trade: its price and tick time (simulator clock, epoch ms). */
async function lastTrade(simulator) {
  const res = await fetch(`${simulator.url}/v2/stocks/AAPL/trades/latest?feed=iex`, { headers: { 'APCA-API-KEY-ID': 'OTHER', 'APCA-API-SECRET-KEY': 'other' } });
  const body = await res.json();
  return { price: body.trade.p, t: Date.parse(body.trade.t) };
}

/** Buys 100 AAPL through the breaker and waits until the breaker prices it from the stream. */
async function holdAapl() {
  const simulator = await sim();
  watch();
  await simulator.price('AAPL', START);
  assert.strictEqual((await send(order('buy', 100))).kind, 'passed');
  await waitFor(async () => (await position())?.qty === 100, 8000, 'the breaker to hold 100 AAPL');
  // The fill moved the position and the cash at once (the regular poll reconciles it later).
  // Small moves until one arrives over the stream: the subscription is in place at the simulator.
  for (let i = 0; ; i++) {
    await simulator.price('AAPL', START + 0.01);
    await sleep(250);
    const p = await position();
    if (p.source === 'stream' && p.price === START + 0.01) break;
    assert.ok(i < 40, `the stream never priced AAPL: ${JSON.stringify(p)}`);
  }
  const equity = await equityNow();
  await breakerSees(equity);
  return equity;
}

describe('alpaca-breaker marks positions to market from the live stream', function () {
  this.timeout(60000);
  useRuntime();

  it('a drop past the 1% line halts within 1 s of the simulator tick that printed it; an order 1.5 s later is blocked', async function () {
    // The poll alone would take up to 10 s (pollOpen) or 30 s (pollMarked) to see it.
    await helper.load(nodes(), flow({ ...RULE, pollOpen: '10', pollMarked: '30' }));
    const simulator = await sim();
    const start = await holdAapl();
    const ordersBefore = (await simulator.stats()).orders;
    const movedAt = Date.now();
    await simulator.price('AAPL', DROP);
    const tick = await lastTrade(simulator);
    assert.strictEqual(tick.price, DROP);
    const s = await waitFor(async () => {
      const r = await state();
      return r.state === 'HALTED' && r;
    }, 5000, 'HALTED');
    const lag = Date.parse(s.since) - tick.t;
    assert.ok(lag >= 0 && lag <= 1000, `halted ${lag} ms after the simulator's tick`);
    assert.strictEqual(s.rule, 'rollingLoss');
    assert.strictEqual(s.figures.source, 'stream');
    assert.strictEqual(s.figures.symbol, 'AAPL');
    assert.strictEqual(s.figures.price, DROP);
    assert.strictEqual(Date.parse(s.figures.priceTime), tick.t, "the alert names the print's own time");
    assert.ok(s.figures.reference >= start, 'measured from the peak of the window');
    assert.match(s.reason, /, on AAPL at 174\.78 \((trade|quote midpoint) at \d\d:\d\d:\d\d\.\d{3} UTC\)$/);

    await sleep(Math.max(0, movedAt + 1500 - Date.now()));
    const late = await send(order('buy', 1));
    assert.strictEqual(late.kind, 'blocked');
    assert.match(late.msg.error.message, /\(HALTED\)/);
    assert.strictEqual((await simulator.stats()).orders, ordersBefore, 'nothing reached the simulator after the move');
  });

  it('a move that crosses the line and recovers within 3 s still trips', async function () {
    await helper.load(nodes(), flow({ ...RULE, pollOpen: '10', pollMarked: '30' }));
    const simulator = await sim();
    const start = await holdAapl();
    await simulator.price('AAPL', DROP);
    await sleep(500);
    await simulator.price('AAPL', START + 0.01);
    await waitFor(async () => (await equityNow()) === start, 5000, 'the recovery at the simulator');
    await sleep(2500);
    const s = await state();
    assert.strictEqual(s.state, 'HALTED', 'the flash move was seen');
    assert.strictEqual(s.figures.price, DROP);
    assert.strictEqual(s.figures.source, 'stream');
  });

  it('with the stream dropped and silent during the move, the poll trips it at its interval', async function () {
    await helper.load(nodes(), flow({ ...RULE, pollOpen: '2', pollMarked: '30' }));
    const simulator = await sim();
    await holdAapl();
    try {
      await simulator.faults({ silentStreams: true, dropStreams: true });
      const movedAt = Date.now();
      await simulator.price('AAPL', DROP);
      const s = await waitFor(async () => {
        const r = await state();
        return r.state === 'HALTED' && r;
      }, 10000, 'HALTED by the poll');
      const lag = Date.now() - movedAt;
      assert.ok(lag <= 2000 + 2000, `halted ${lag} ms after the move: one 2 s poll interval and its requests`);
      assert.strictEqual(s.figures.source, 'poll');
      assert.strictEqual(s.figures.equity, await equityNow());
      assert.match(s.reason, /, on the account polled at \d\d:\d\d:\d\d\.\d{3} UTC$/);
      assert.strictEqual(s.live.marking.mode, 'poll', 'the status says the poll carries the equity');
    } finally {
      await simulator.faults({ silentStreams: false });
    }
  });

  it('the first order in a symbol a stream node streams is valued at its last trade on the shared socket: no REST price read', async function () {
    const ticks = { id: 'msft', type: 'alpaca-stream', z: 'f1', account: 'acct', kind: 'stocks', symbols: 'MSFT', channels: ['trades'], output: 'all', conflateMs: 1000, maxRate: 0, watchdog: 60, alertAfter: 2, pollAfter: 30, wires: [['ticks'], []] };
    // Concentration values every order: MSFT at 400 x 100 is 40% of the equity, within 50%.
    await helper.load([...nodes(), streamNode], flow({ ...RULE, concOn: true, concPct: '50' }, [ticks, { id: 'ticks', type: 'helper', z: 'f1' }]));
    const simulator = await sim();
    watch();
    const got = collect(helper.getNode('ticks'));
    for (let i = 0; !got.some((m) => m.payload.price === 400); i++) {
      await simulator.price('MSFT', 400 + (i % 2) * 0.01);
      await simulator.price('MSFT', 400);
      await sleep(250);
      assert.ok(i < 40, 'the stream node never had an MSFT trade');
    }
    const since = Date.now();
    assert.strictEqual((await send(order('buy', 100, 'MSFT'))).kind, 'passed');
    const data = (await simulator.requests(since)).filter((r) => r.api === 'data');
    assert.deepStrictEqual(data, [], 'no market-data REST request (the last trade came over the socket)');
  });

  it('while the stream marks the position: no extra REST request, the equity follows every price, the status says so', async function () {
    await helper.load(nodes(), flow({ ...RULE, pollOpen: '3', pollMarked: '60' }));
    const simulator = await sim();
    const start = await holdAapl();
    await waitFor(async () => (await state()).live.marking.mode === 'stream', 5000, 'marking from the stream');
    const since = Date.now();
    let price = START + 0.01;
    const seen = [];
    // 8 s of prices every 400 ms, well inside the line: the old 3 s poll would have run twice.
    for (let i = 0; i < 20; i++) {
      price = Math.round((price + (i % 2 ? -0.05 : 0.07)) * 100) / 100;
      await simulator.price('AAPL', price);
      await sleep(400);
      seen.push((await state()).live.equity);
    }
    const requests = await simulator.requests(since);
    assert.strictEqual(requests.filter((r) => r.api === 'data').length, 0, 'no market-data REST request');
    assert.strictEqual(requests.filter((r) => r.api === 'trading').length, 0, `no trading request: ${JSON.stringify(requests)}`);
    assert.strictEqual(seen.at(-1), Math.round((start + 100 * (price - START - 0.01)) * 100) / 100, 'marked equity = cash + 100 x the last price');
    assert.strictEqual(new Set(seen).size > 10, true, `the equity moved with the prices: ${seen}`);
    assert.strictEqual(seen.at(-1), await equityNow(), "the same figure as the simulator's own valuation");
    assert.match(helper.getNode('brk').status.lastCall.args[0].text, /^ACTIVE · marked to market at \d\d:\d\d:\d\d$/);

    // No print for longer than the 3 s fast poll: the status says how old the newest price is, and the poll takes over.
    await waitFor(() => /^ACTIVE · AAPL price \d+ s old · polled at \d\d:\d\d:\d\d$/.test(helper.getNode('brk').status.lastCall.args[0].text), 6000, 'the stale price in the status');
    const quiet = Date.now();
    await sleep(4500); // the 3 s interval, checked once a second
    assert.ok((await simulator.requests(quiet)).filter((r) => r.api === 'trading').length >= 2, 'the 3 s poll carries the equity again');
  });
});
