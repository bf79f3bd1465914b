'use strict';
// Hostile msg properties on the rate gate: a priority or category named like an Object.prototype
// member is refused with a clear error, never looked up; nothing is released for it.
const assert = require('assert');
const { helper, packNodes, collect } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const gateNode = require('../../dist/alpaca-rate-gate.js').default;

describe('rate gate msg properties (security)', function () {
  this.timeout(20000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('refuses msg.priority and msg.category named after prototype members', async function () {
    await helper.load([...packNodes, gateNode], [
      { id: 'f1', type: 'tab', label: 'hostile' },
      {
        id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: '', queueSize: 100, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output',
        categories: [{ name: 'api', limit: 100, window: 60, shape: 'window' }], category: '', shared: false, sharedKey: '', wires: [['out'], ['dropped']],
      },
      { id: 'out', type: 'helper', z: 'f1' },
      { id: 'dropped', type: 'helper', z: 'f1' },
      { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'f1' },
    ]);
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const g = helper.getNode('gate');
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
    for (const name of names) g.receive({ payload: `priority ${name}`, priority: name });
    for (const name of names) g.receive({ payload: `category ${name}`, category: name });
    g.receive({ payload: 'x'.repeat(10), priority: 'y'.repeat(100000) });
    await waitFor(() => caught.length === names.length * 2 + 1, 3000, 'an error for each');
    assert.strictEqual(out.length, 0, `released: ${out.map((m) => m.payload).join(', ')}`);
    for (const m of caught.slice(0, names.length)) assert.match(m.error.message, /msg\.priority must be a whole number/);
    for (const m of caught.slice(names.length, names.length * 2)) assert.match(m.error.message, /msg\.category .* is not one of: api/);
    assert.ok(caught[caught.length - 1].error.message.length < 400, 'a long value is echoed cut short');
  });
});
