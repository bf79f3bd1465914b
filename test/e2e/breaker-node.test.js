'use strict';
// The circuit breaker in a real Node-RED runtime with the real connection, the official SDK and
// the built-in simulator over real sockets, in front of a real order node.
const assert = require('assert');
const { waitFor } = require('../support/wait');
const { useRuntime } = require('../support/nodered');
const { helper, collect, flow, nodes, state, sim, equityNow, breakerSees, watch, send, order, QUIET } = require('../support/breaker');

describe('alpaca-breaker node on the simulator', function () {
  this.timeout(60000);
  useRuntime();

  it('trips on the first price update past a 1% loss in 30 minutes and no further order reaches the simulator', async function () {
    await helper.load(nodes(), flow({ rollingOn: true, rollingPct: '1', rollingMinutes: '30' }));
    const simulator = await sim();
    const { alerts } = watch();
    await simulator.price('AAPL', 250);
    assert.strictEqual((await send(order('buy', 200))).kind, 'passed');
    await waitFor(async () => (await simulator.sdk().trading.positions.getAllOpenPositions()).length === 1, 8000, 'the AAPL position');
    const start = await equityNow();
    await breakerSees(start);

    // 0.6% of the price per step on a 50% position: about 0.3% of equity a step, 2.5 simulated minutes apart.
    // The simulated clock the breaker's window runs on (the simulator has no control route for it).
    const clock = helper.getNode('acct').connection.sim.clock;
    let peak = start;
    let tripped;
    for (let step = 1; step <= 6 && !tripped; step++) {
      clock.advance(150_000);
      await simulator.price('AAPL', 250 * (1 - 0.006 * step));
      const equity = await equityNow();
      await breakerSees(equity);
      const lossPct = ((peak - equity) / peak) * 100;
      const s = await state();
      if (lossPct >= 1) {
        assert.strictEqual(s.state, 'HALTED', `step ${step}: ${lossPct.toFixed(3)}% down`);
        tripped = { step, equity };
      } else {
        assert.strictEqual(s.state, 'ACTIVE', `step ${step}: only ${lossPct.toFixed(3)}% down`);
      }
      peak = Math.max(peak, equity);
    }
    assert.ok(tripped, 'the breaker tripped');
    assert.strictEqual(tripped.step, 4, 'the first update past 1% is the fourth (about 1.2% down)');

    const ordersAtTrip = (await simulator.stats()).orders;
    for (const o of [order('buy', 1), order('sell', 200), order('buy', 1, 'MSFT')]) {
      const r = await send(o);
      assert.strictEqual(r.kind, 'blocked');
      assert.match(r.msg.error.message, /blocked by the circuit breaker \(HALTED\)/);
      assert.strictEqual(r.msg.breaker.state, 'HALTED');
    }
    assert.strictEqual((await simulator.stats()).orders, ordersAtTrip, 'zero orders reached the simulator after the trip');

    // The alert: a sentence, a subject line and the figures.
    const alert = await waitFor(() => alerts.find((m) => m.breaker && m.breaker.event === 'state'), 5000, 'the alert');
    assert.match(alert.topic, /^Alpaca breaker HALTED on Sim: loss in 30 min 1\.\d+%$/);
    assert.match(
      alert.payload,
      /^Trading on Sim is HALTED since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: equity fell 1\.\d+% .* within 30 min, at or over the 1% limit, on AAPL at 244 \((trade|quote midpoint) at \d\d:\d\d:\d\d\.\d{3} UTC\)\./,
    );
    const b = alert.breaker;
    assert.strictEqual(b.state, 'HALTED');
    assert.strictEqual(b.previousState, 'ACTIVE');
    assert.strictEqual(b.rule, 'rollingLoss');
    assert.strictEqual(b.account, 'Sim');
    assert.strictEqual(b.by, 'guard');
    assert.strictEqual(b.local, true);
    assert.strictEqual(b.figures.equity, tripped.equity);
    assert.strictEqual(b.figures.threshold, 1);
    assert.strictEqual(b.figures.window, '30 min');
    assert.deepStrictEqual([b.figures.source, b.figures.symbol, b.figures.price], ['stream', 'AAPL', 244], 'the price that crossed the line');
    assert.ok(b.figures.loss > 0 && b.figures.lossPct >= 1 && b.figures.lossPct < 1.4, JSON.stringify(b.figures));
    assert.ok(!Number.isNaN(Date.parse(b.time)));
    const status = helper.getNode('brk').status.lastCall.args[0];
    assert.strictEqual(status.fill, 'red');
    assert.match(status.text, /^HALTED: loss in 30 min 1\.\d+% · 3 blocked$/);
  });

  it('REDUCING lets a closing order through and blocks an opening one and one that would flip the position', async function () {
    await helper.load(nodes(), flow({ rollingOn: true, rollingPct: '0.1', rollingTarget: 'REDUCING' }));
    const simulator = await sim();
    const { alerts } = watch();
    await simulator.price('AAPL', 250);
    assert.strictEqual((await send(order('buy', 10))).kind, 'passed');
    await waitFor(async () => (await simulator.sdk().trading.positions.getAllOpenPositions()).length === 1, 8000, 'the AAPL position');
    await breakerSees(await equityNow());
    await simulator.price('AAPL', 225);
    await waitFor(async () => (await state()).state === 'REDUCING', 8000, 'REDUCING');
    assert.strictEqual(helper.getNode('brk').status.lastCall.args[0].fill, 'yellow');
    assert.strictEqual(alerts[0].breaker.state, 'REDUCING');

    // Watch the order-updates feed the breaker uses, to know when it has heard of a fill.
    const feed = helper.getNode('acct').connection.tradeUpdates;
    const fills = [];
    const unsubscribe = feed.subscribe((u) => u.event === 'fill' && fills.push(u));
    try {
      const before = (await simulator.stats()).orders;
      assert.strictEqual((await send(order('sell', 4))).kind, 'passed', 'closing 4 of 10 passes');
      await waitFor(() => fills.length === 1, 8000, 'the fill of the closing order');
      const opening = await send(order('buy', 1));
      assert.strictEqual(opening.kind, 'blocked');
      assert.match(opening.msg.error.message, /REDUCING.*would add to the long AAPL position/);
      const other = await send(order('buy', 1, 'MSFT'));
      assert.match(other.msg.error.message, /would open a position/);
      const flip = await send(order('sell', 7));
      assert.strictEqual(flip.kind, 'blocked');
      assert.match(flip.msg.error.message, /would flip the long position of 6 AAPL through zero/);
      assert.strictEqual(flip.msg.breaker.check, 'reducingOnly');
      assert.strictEqual((await send(order('sell', 6))).kind, 'passed', 'closing the rest passes');
      await waitFor(async () => (await simulator.sdk().trading.positions.getAllOpenPositions()).length === 0, 8000, 'flat');
      assert.strictEqual((await simulator.stats()).orders, before + 2);
    } finally {
      unsubscribe();
    }
  });

  it('an injected error storm trips the error-rate rule only once its minimum sample is reached', async function () {
    const MIN_SAMPLE = 12;
    await helper.load(
      nodes(),
      flow({ rollingOn: false, rateOn: false, errorsOn: true, errorsPct: '10', errorsMinutes: '5', errorsMin: String(MIN_SAMPLE), pollOpen: '60', pollFlat: '60', staleSeconds: '300' }),
    );
    const simulator = await sim();
    await waitFor(async () => (await state()).live.equity !== undefined, 8000, 'the first equity');
    watch();
    await simulator.faults({ errorRate: 1 });
    const positions = helper.getNode('acct').connection.reads;
    let requests = (await state()).live.requestsInWindow;
    assert.ok(requests < MIN_SAMPLE - 3, `only the start-up requests so far (${requests})`);
    // Reads made elsewhere on the account all fail with 500: every one is a failed REST call.
    // (The breaker's own account polls may land in between: they count too.)
    while (requests < MIN_SAMPLE) {
      assert.strictEqual((await state()).state, 'ACTIVE', `${requests} requests, below the minimum sample`);
      await positions.positions().then(() => assert.fail('the read should fail'), () => undefined);
      const before = requests;
      requests = await waitFor(async () => {
        const counted = (await state()).live.requestsInWindow;
        return counted > before && counted;
      }, 5000, `more than ${before} requests counted`);
    }
    const s = await state();
    assert.strictEqual(s.state, 'HALTED');
    assert.strictEqual(s.rule, 'errorRate');
    assert.ok(s.figures.requests >= MIN_SAMPLE && s.figures.requests <= MIN_SAMPLE + 2, `tripped at ${s.figures.requests} requests`);
    assert.ok(s.figures.errorPct > 10);
    assert.match(s.reason, /API requests failed in 5 min/);
  });

  it('the order-rate rule stops a runaway loop', async function () {
    await helper.load(nodes(), flow({ rollingOn: false, rateOn: true, ratePerMinute: '5' }));
    const simulator = await sim();
    await waitFor(async () => (await state()).live.equity !== undefined, 8000, 'the first equity');
    const { placed, caught } = watch();
    const before = (await simulator.stats()).orders;
    for (let i = 0; i < 25; i++) helper.getNode('brk').receive(order('buy', 1));
    await waitFor(() => placed.length + caught.length === 25, 15000, 'all 25 msgs handled');
    assert.strictEqual(placed.length, 5);
    assert.strictEqual(caught.length, 20);
    assert.strictEqual((await simulator.stats()).orders, before + 5);
    const s = await state();
    assert.strictEqual(s.state, 'HALTED');
    assert.strictEqual(s.rule, 'orderRate');
    assert.strictEqual(s.blocked, 20);
    assert.match(caught[0].error.message, /more than 5 orders per minute/);
  });

  it('fails closed when the account cannot be fetched', async function () {
    await helper.load(nodes(), flow({ rollingOn: false, pollOpen: '1', pollFlat: '1', staleSeconds: '5' }));
    const simulator = await sim();
    await waitFor(async () => (await state()).live.equity !== undefined, 8000, 'the first equity');
    watch();
    const before = (await simulator.stats()).orders;
    await simulator.faults({ errorRate: 1 });
    await waitFor(async () => (await state()).state === 'HALTED', 20000, 'the fail-closed halt');
    const s = await state();
    assert.strictEqual(s.rule, 'inputs');
    assert.match(s.reason, /cannot compute its inputs: (no fresh account equity|the last 3 account fetches failed)/);
    await simulator.faults({ errorRate: 0 });
    const r = await send(order('buy', 1));
    assert.strictEqual(r.kind, 'blocked');
    assert.strictEqual((await simulator.stats()).orders, before);
  });

  it('stays HALTED across a redeploy, refuses a wrong reset, and a reset resumes trading', async function () {
    const f = flow({ rollingOn: false, rateOn: true, ratePerMinute: '2' });
    await helper.load(nodes(), f);
    watch();
    await waitFor(async () => (await state()).live.equity !== undefined, 8000, 'the first equity');
    assert.strictEqual((await send(order('buy', 1))).kind, 'passed');
    assert.strictEqual((await send(order('buy', 1))).kind, 'passed');
    assert.strictEqual((await send(order('buy', 1))).kind, 'blocked');
    assert.strictEqual((await state()).state, 'HALTED');

    await helper.setFlows(f, 'full');
    await waitFor(async () => (await state()).state !== undefined, 5000, 'the redeployed breaker'); // { deployed: false } until then
    const { alerts } = watch();
    // The redeploy started a new account node, and with it a new simulator.
    const simulator = await sim();
    await waitFor(async () => (await state()).live.equity !== undefined, 8000, 'the first equity after the redeploy');
    let s = await state();
    assert.strictEqual(s.state, 'HALTED', 'a redeploy does not re-arm trading');
    assert.strictEqual(s.rule, 'orderRate');
    assert.strictEqual((await send(order('buy', 1))).kind, 'blocked');
    assert.strictEqual((await simulator.stats()).orders, 0, 'nothing reached the new simulator');

    const wrong = await send({ reset: 'yes' });
    assert.strictEqual(wrong.kind, 'blocked');
    assert.match(wrong.msg.error.message, /reset refused: msg.reset must be exactly "RESET BREAKER"/);
    await helper.request().post('/alpaca-breaker/brk/reset').send({ confirm: 'reset' }).expect(400);
    assert.strictEqual((await state()).state, 'HALTED');

    helper.getNode('brk').receive({ reset: 'RESET BREAKER' });
    await waitFor(async () => (await state()).state === 'ACTIVE', 5000, 'ACTIVE after the reset');
    const alert = await waitFor(() => alerts.find((m) => m.breaker.state === 'ACTIVE'), 5000, 'the reset alert');
    assert.strictEqual(alert.breaker.previousState, 'HALTED');
    assert.match(alert.payload, /^Trading on Sim is ACTIVE again since .*: reset by msg.reset on breaker "guard" \(it was HALTED\)/);
    assert.strictEqual(helper.getNode('brk').status.lastCall.args[0].fill, 'green');
    assert.strictEqual((await send(order('buy', 1))).kind, 'passed');
    assert.strictEqual((await simulator.stats()).orders, 1);

    // The dialog's halt and reset buttons.
    await helper.request().post('/alpaca-breaker/brk/halt').send({}).expect(200);
    assert.strictEqual((await state()).state, 'HALTED');
    await helper.request().post('/alpaca-breaker/brk/reset').send({ confirm: 'RESET BREAKER' }).expect(200);
    assert.strictEqual((await state()).state, 'ACTIVE');
  });

  it('two breakers on one account share one state; cancels pass while HALTED; an unreadable order is blocked', async function () {
    const second = [
      { id: 'brk2', type: 'alpaca-breaker', z: 'f1', name: 'second', account: 'acct', ...QUIET, rollingOn: false, wires: [['placed2'], ['alerts2']] },
      { id: 'placed2', type: 'helper', z: 'f1' },
      { id: 'alerts2', type: 'helper', z: 'f1' },
    ];
    await helper.load(nodes(), flow({ rollingOn: false }, second));
    await waitFor(async () => (await state()).live.equity !== undefined, 8000, 'the first equity');
    watch();
    const alerts2 = collect(helper.getNode('alerts2'));
    const placed2 = collect(helper.getNode('placed2'));
    const unreadable = await send({ payload: { symbol: 'AAPL', side: 'buy' } });
    assert.strictEqual(unreadable.kind, 'blocked');
    assert.match(unreadable.msg.error.message, /not an order the order node would send: qty \(units\) or notional \(amount of money\) is required/);

    helper.getNode('brk').receive({ halt: 'news' });
    await waitFor(() => alerts2.length === 1, 5000, 'the alert on the second breaker');
    assert.strictEqual(alerts2[0].breaker.state, 'HALTED');
    assert.strictEqual(alerts2[0].breaker.local, false);
    assert.strictEqual(helper.getNode('brk2').status.lastCall.args[0].fill, 'red');
    const blocked = await send(order('buy', 1), 'brk2');
    assert.strictEqual(blocked.kind, 'blocked');
    assert.match(blocked.msg.error.message, /HALTED.*halted by hand: news/);
    helper.getNode('brk2').receive({ topic: 'cancelAll' });
    await waitFor(() => placed2.length === 1, 5000, 'the cancel to pass');
    assert.strictEqual(placed2[0].topic, 'cancelAll');
  });
});
