'use strict';
// A halt survives a restart of Node-RED: a real Node-RED process with a file-backed context store
// (localfilesystem) trips the breaker in front of an order node, stops, starts again on the same
// user directory and is still HALTED; only the reset resumes trading.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startNodeRed } = require('../support/nodered-process');
const { ACCOUNT, QUIET_SIMULATOR } = require('../support/fixtures');

const FLOW = [
  ACCOUNT,
  { id: 'tab1', type: 'tab', label: 'breaker restart' },
  { id: 'in1', type: 'http in', z: 'tab1', url: '/t/order', method: 'post', upload: false, wires: [['brk1']] },
  {
    id: 'brk1', type: 'alpaca-breaker', z: 'tab1', name: 'guard', account: 'acct',
    rollingOn: false, dailyOn: false, drawdownOn: false, errorsOn: false, concOn: false, cancelOnTrip: false,
    rateOn: true, ratePerMinute: '2', wires: [['order1'], []],
  },
  { id: 'order1', type: 'alpaca-order', z: 'tab1', account: 'acct', action: 'submit', wires: [['ok1'], [], []] },
  { id: 'ok1', type: 'change', z: 'tab1', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'passed', tot: 'str' }], wires: [['out1']] },
  { id: 'catch1', type: 'catch', z: 'tab1', scope: ['brk1', 'order1'], uncaught: false, wires: [['err1']] },
  {
    id: 'err1', type: 'change', z: 'tab1',
    rules: [{ t: 'set', p: 'statusCode', pt: 'msg', to: '409', tot: 'num' }, { t: 'set', p: 'payload', pt: 'msg', to: 'error.message', tot: 'msg' }],
    wires: [['out1']],
  },
  { id: 'out1', type: 'http response', z: 'tab1', statusCode: '', headers: {}, wires: [] },
];

const orderRequest = (red) =>
  fetch(`${red.base}/t/order`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ symbol: 'AAPL', side: 'buy', qty: 1 }) });

describe('alpaca-breaker across a Node-RED restart', function () {
  this.timeout(120000);
  let userDir;
  let red;

  afterEach(async () => {
    if (red) await red.stop();
    red = undefined;
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('stays HALTED after a restart with a file-backed context store, until a reset', async function () {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alpaca-breaker-'));
    // npm start's settings keep context in files (localfilesystem, written at once).
    red = await startNodeRed({ userDir, flows: FLOW, settings: { alpacaSimulator: QUIET_SIMULATOR } });
    // Waits for the first account figures, then two orders pass and the third is one too many.
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await orderRequest(red);
      statuses.push(res.status);
      if (res.status === 409) assert.match(await res.text(), /more than 2 orders per minute/);
    }
    assert.deepStrictEqual(statuses, [200, 200, 409]);
    const halted = await (await fetch(`${red.base}/alpaca-breaker/brk1/state`)).json();
    assert.strictEqual(halted.state, 'HALTED');
    assert.doesNotMatch(red.log(), /memory context store/, 'no warning: the store is persistent');
    await red.stop();
    const stored = fs.readFileSync(path.join(userDir, 'context', 'global', 'global.json'), 'utf8');
    assert.match(stored, /alpacaBreaker_acct/);

    red = await startNodeRed({ userDir });
    const after = await (await fetch(`${red.base}/alpaca-breaker/brk1/state`)).json();
    assert.strictEqual(after.state, 'HALTED', 'a restart does not re-arm trading');
    assert.strictEqual(after.rule, 'orderRate');
    assert.strictEqual(after.since, halted.since);
    let res = await orderRequest(red);
    assert.strictEqual(res.status, 409);
    assert.match(await res.text(), /HALTED/);

    res = await fetch(`${red.base}/alpaca-breaker/brk1/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ confirm: 'RESET BREAKER' }) });
    assert.strictEqual(res.status, 200);
    assert.strictEqual((await res.json()).state, 'ACTIVE');
    res = await orderRequest(red);
    const body = await res.text();
    assert.strictEqual(res.status, 200, body);
    assert.strictEqual(body, 'passed');
    assert.doesNotMatch(red.log(), /\[error\]/);
  });
});
