'use strict';
// Rate-gate feedback is taken only where the flow says so: msg.rateFeedback, or a gate whose
// dialog chose the feedback input. A msg that merely looks like an http request node's output
// is a msg like any other; a gate with an account takes no feedback at all (a msg must not be
// able to pause a whole account); a fed-back pause is capped and shows.
const assert = require('assert');
const { helper, packNodes, collect, statuses } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { account } = require('../support/fixtures');
const gateNode = require('../../dist/alpaca-rate-gate.js').default;

const nodes = [...packNodes, gateNode];

function gate(extra = {}) {
  return {
    id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: '', queueSize: 100, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output',
    categories: [{ name: 'api', limit: 100, window: 60, shape: 'window' }], category: '', shared: false, sharedKey: '', wires: [['out'], ['dropped']], ...extra,
  };
}

function flow(gateExtra, extra = []) {
  return [
    { id: 'f1', type: 'tab', label: 'feedback' },
    gate(gateExtra),
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'dropped', type: 'helper', z: 'f1' },
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
    ...extra,
  ];
}

/** What an http request node outputs after a 429 that asks for an hour's pause. */
const httpResponse = (payload) => ({ statusCode: 429, headers: { 'retry-after': '3600', 'x-ratelimit-remaining': '0' }, responseUrl: 'https://api.example.com/x', payload });

describe('rate gate feedback (security)', function () {
  this.timeout(20000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('passes on a msg that only looks like an http response; it pauses nothing', async function () {
    await helper.load(nodes, flow({}));
    const out = collect(helper.getNode('out'));
    const g = helper.getNode('gate');
    g.receive(httpResponse('looks like feedback'));
    g.receive({ payload: 'next' });
    await waitFor(() => out.length === 2, 3000, 'both released');
    assert.deepStrictEqual(out.map((m) => m.payload), ['looks like feedback', 'next']);
    assert.ok(!statuses(g).some((s) => /paused/.test(s.text || '')));
  });

  it('a gate with an account refuses msg.rateFeedback with an error and never pauses the account', async function () {
    await helper.load(nodes, [
      account({ budgetLimit: 180, budgetWindow: 60 }),
      ...flow({ account: 'acct', categories: [] }),
    ]);
    const caught = collect(helper.getNode('caught'));
    const out = collect(helper.getNode('out'));
    const g = helper.getNode('gate');
    g.receive({ ...httpResponse(''), rateFeedback: true });
    g.receive({ rateFeedback: { status: 429, headers: { 'Retry-After': '300' } } });
    await waitFor(() => caught.length === 2, 3000, 'two errors');
    assert.ok(caught.every((m) => /not taken by a gate with an account/.test(m.error.message)));
    assert.strictEqual(helper.getNode('acct').connection.budget.state.pausedUntil, undefined, 'the account is not paused');
    g.receive({ payload: 'order' });
    await waitFor(() => out.length === 1, 3000, 'released at once');
  });

  it('caps a fed-back pause at the longest pause of the dialog (default 60 s) and shows it', async function () {
    await helper.load(nodes, flow({}));
    const g = helper.getNode('gate');
    const t0 = Date.now();
    g.receive({ ...httpResponse(''), rateFeedback: true });
    await waitFor(() => statuses(g).some((s) => /paused until \d\d:\d\d:\d\d/.test(s.text || '') && s.fill === 'yellow'), 3000, 'the pause shown');
    const warned = g.warn.getCalls().map((c) => String(c.args[0]));
    assert.ok(warned.some((w) => /paused until .*429/.test(w)), warned.join('\n'));
    // The budget behind the category: paused for 60 s, not an hour.
    const [until] = warned.map((w) => w.match(/paused until (\d\d):(\d\d):(\d\d)/)).filter(Boolean).map((m) => m.slice(1).map(Number));
    const shown = new Date(t0);
    shown.setHours(until[0], until[1], until[2]);
    const seconds = Math.round((shown.getTime() - t0) / 1000);
    assert.ok(seconds >= 58 && seconds <= 61, `paused for ${seconds} s`);
  });

  it('in feedback input mode every msg is a response: statusCode and headers, nothing passed on', async function () {
    await helper.load(nodes, flow({ input: 'feedback', maxPause: 2 }));
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const g = helper.getNode('gate');
    g.receive(httpResponse('a response'));
    g.receive({ payload: 'no status' });
    await waitFor(() => caught.length === 1, 3000, 'an error for the msg without a status');
    assert.match(caught[0].error.message, /HTTP status/);
    await waitFor(() => statuses(g).some((s) => /paused until/.test(s.text || '')), 3000, 'paused');
    assert.strictEqual(out.length, 0);
  });
});
