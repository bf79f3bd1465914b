'use strict';
// A Status node scoped to the breaker hears the breaker's state right after a deploy, so a flow (a
// dashboard text, an alert) can show the state without waiting for the first change. Node-RED
// wires Status nodes up only after every node of the flow was created; the breaker repeats its
// state when the flows have started.
const assert = require('assert');
const { helper, packNodes, collect } = require('../support/nodered');
const { waitFor } = require('../support/wait');
const { ACCOUNT } = require('../support/fixtures');
const breakerNode = require('../../dist/alpaca-breaker.js').default;

const flow = [
  ACCOUNT,
  { id: 'f1', type: 'tab', label: 'test' },
  // The breaker first, the Status node after it: the order Node-RED creates them in.
  { id: 'brk', type: 'alpaca-breaker', z: 'f1', name: 'guard', account: 'acct', wires: [[], []] },
  { id: 'watch', type: 'status', z: 'f1', scope: ['brk'], wires: [['seen']] },
  { id: 'seen', type: 'helper', z: 'f1' },
];

describe('alpaca-breaker and a Status node', function () {
  this.timeout(20000);

  afterEach(async function () {
    await helper.unload();
  });

  it('a Status node scoped to the breaker receives its state after the deploy, without any change', async function () {
    await helper.load([...packNodes, breakerNode], flow);
    const seen = collect(helper.getNode('seen'));
    const hit = await waitFor(() => seen.find((m) => m.status && m.status.source && m.status.source.id === 'brk'), 5000, 'a status msg from the breaker');
    assert.match(hit.status.text, /^ACTIVE( · .+)?$/);
    assert.strictEqual(hit.status.fill, 'green');
  });
});
