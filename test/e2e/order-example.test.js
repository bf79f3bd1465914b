'use strict';
// The shipped example flow examples/order-basics.json does what its comment promises, in a real
// Node-RED runtime on the built-in simulator (debug nodes swapped for helper nodes, each inject
// node's msg delivered straight to the node it is wired to).
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { helper, nodes } = require('../support/orders');
const { waitFor } = require('../support/wait');

const example = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'examples', 'order-basics.json'), 'utf8'));

describe('alpaca-order: the example flow', function () {
  this.timeout(30000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('fills the market order, rests the limit order, cancels all and catches the bad order', async function () {
    assert.ok(!/"(secret|keyId|credentials)"/.test(JSON.stringify(example)));
    helper.settings({ alpacaSimulator: { seed: 1, marketHours: 'always' } });
    const flow = example.filter((n) => n.type !== 'inject' && n.type !== 'comment').map((n) => (n.type === 'debug' ? { id: n.id, type: 'helper', z: n.z, name: n.name } : n));
    await helper.load(nodes, flow);
    const byName = (name) => example.find((n) => n.name === name);
    const seen = {};
    for (const d of example.filter((n) => n.type === 'debug')) {
      seen[d.name] = [];
      helper.getNode(d.id).on('input', (m) => seen[d.name].push(m));
    }
    const inject = (name) => {
      const n = byName(name);
      const payload = n.payloadType === 'json' ? JSON.parse(n.payload) : Date.now();
      helper.getNode(n.wires[0][0]).receive({ payload, topic: n.topic });
    };
    await waitFor(() => helper.getNode(byName('Simulator').id).connection.status.state === 'connected', 10000, 'connected');

    inject('buy 1 AAPL');
    const filled = await waitFor(() => seen.filled[0], 15000, 'filled');
    assert.strictEqual(filled.payload.status, 'filled');
    assert.strictEqual(filled.payload.filledQty, 1);

    inject('limit buy 1 AAPL at $1');
    const rested = await waitFor(() => seen.accepted.find((m) => m.payload.type === 'limit'), 10000, 'limit accepted');
    assert.strictEqual(rested.payload.status, 'new');

    inject('cancel all');
    const canceled = await waitFor(() => seen.canceled[0], 10000, 'canceled');
    assert.strictEqual(canceled.payload.length, 1);

    inject('bad order');
    const caught = await waitFor(() => seen.errors[0], 10000, 'error');
    assert.match(caught.error.message, /side/);
  });
});
