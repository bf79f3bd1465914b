'use strict';
// A real Node-RED runtime (node-red-node-test-helper) loading the pack's compiled nodes.
const helper = require('node-red-node-test-helper');

const { QUIET_SIMULATOR } = require('./fixtures');
const { waitFor } = require('./wait');

helper.init(require.resolve('node-red'));

const accountNode = require('../../dist/alpaca-account.js').default;
const positionsNode = require('../../dist/alpaca-positions.js').default;

/** Every node type of the pack, for helper.load. */
const packNodes = [accountNode, positionsNode];

/** Collects messages arriving at a helper node. */
function collect(node) {
  const msgs = [];
  node.on('input', (msg) => msgs.push(msg));
  return msgs;
}

/** Records what reaches each of the helper nodes `ids`: { id: [msg, ...] }. */
function record(ids) {
  const got = {};
  for (const id of ids) got[id] = collect(helper.getNode(id));
  return got;
}

/** Status calls a node made, newest last. */
function statuses(node) {
  return node.status.getCalls ? node.status.getCalls().map((c) => c.args[0]) : [];
}

/**
 * Clears the test helper's record of every send, status and log call (sinon spies that grow with
 * each msg), so a long test measures the nodes' memory, not the harness's. The helper has no
 * public call for this: this is the one place that knows its sandbox.
 */
function forgetHistory() {
  helper._sandbox.resetHistory();
}

/**
 * Sends `msg` into node `id` and resolves with the first msg that arrives in any of `outcomes`
 * (name -> the array a helper node collects into) after it: `{ kind: name, msg }`.
 */
function answer(id, msg, outcomes, ms = 15000) {
  const seen = Object.entries(outcomes).map(([kind, list]) => ({ kind, list, before: list.length }));
  helper.getNode(id).receive(msg);
  return waitFor(
    () => {
      const got = seen.find((o) => o.list.length > o.before);
      return got && { kind: got.kind, msg: got.list[got.before] };
    },
    ms,
    `an answer from ${id} to ${JSON.stringify(msg)}`,
  );
}

/**
 * Mocha hooks for a describe block: one Node-RED runtime for the block, started with `settings`
 * (default: the quiet simulator), every flow unloaded after each test.
 */
function useRuntime(settings = { alpacaSimulator: QUIET_SIMULATOR }) {
  before(async () => {
    helper.settings(settings);
    await helper.startServer();
  });
  after(async () => {
    helper.settings({});
    await helper.stopServer();
  });
  afterEach(() => helper.unload());
}

module.exports = { helper, packNodes, accountNode, positionsNode, collect, record, statuses, forgetHistory, useRuntime, answer };
