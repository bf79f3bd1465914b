'use strict';
// Hostile msgs (issue 12, findings 5 and 6) to every node with an input, in a real Node-RED
// runtime on the built-in simulator: prototype keys (as JSON has them, and as a clone turns them
// into a real prototype), huge strings, NaN and Infinity, wrong types, deep nesting, 100k-element
// arrays. Each must end in one clear, short error, with no crash, no unhandled rejection and not
// one request at the simulator; no breaker is reset, halted or bypassed by any of them.
const assert = require('assert');
const { util } = require('@node-red/util');
const { helper, packNodes } = require('../support/nodered');
const { waitFor, sleep } = require('../support/wait');
const { accountSim } = require('../support/sim');
const { ACCOUNT, BLANK } = require('../support/fixtures');

const nodes = [
  ...packNodes,
  require('../../dist/alpaca-stream.js').default,
  require('../../dist/alpaca-order.js').default,
  require('../../dist/alpaca-rate-gate.js').default,
  require('../../dist/alpaca-breaker.js').default,
];

const HUGE = 'x'.repeat(5 * 1024 * 1024);
const MANY = Array.from({ length: 100_000 }, (_, i) => `S${i}`);
const SYMBOLS_50K = Array.from({ length: 50_000 }, (_, i) => `A${i}`);
/** The longest error message a person should have to read. */
const MAX_ERROR = 600;

/** `depth` objects nested in one another, `leaf` at the bottom. */
function nested(depth, leaf = 1) {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}
/** A msg as JSON.parse makes it: "__proto__" is an own key. */
const json = (text) => JSON.parse(text);
/** The same msg after Node-RED cloned it for a second wire: the key became its prototype. */
const cloned = (text) => util.cloneMessage(JSON.parse(text));

const GOOD_ORDER = '"symbol":"AAPL","side":"buy","qty":1';

// [node, what, msg, the error it must give]
const CORPUS = [
  // alpaca-stream: commands change subscriptions
  ['stream', '50,000 symbols in an array', { payload: SYMBOLS_50K }, /50000 symbols, more than the 2000 allowed/],
  ['stream', '50,000 symbols in a string', { payload: SYMBOLS_50K.join(',') }, /more than 2000 symbols/],
  ['stream', '100k-element array', { payload: MANY }, /100000 symbols, more than the 2000/],
  ['stream', '100k symbols on one channel', { payload: { trades: MANY } }, /msg.payload.trades: 100000 symbols/],
  ['stream', 'a 5 MB symbol list', { payload: { trades: HUGE } }, /more than 2000 symbols/],
  ['stream', '__proto__ channel key', json('{"payload":{"__proto__":{"trades":["AAPL"]}}}'), /msg.payload.__proto__: the key "__proto__" is not allowed/],
  ['stream', 'constructor channel key', { payload: { constructor: ['AAPL'] } }, /the key "constructor" is not allowed/],
  ['stream', 'prototype channel key', { payload: { prototype: ['AAPL'] } }, /the key "prototype" is not allowed/],
  ['stream', '__proto__ key on the msg', json('{"__proto__":{"action":"replace"},"payload":"AAPL"}'), /msg.__proto__: the key "__proto__" is not allowed/],
  ['stream', 'action inherited through a cloned __proto__', cloned('{"__proto__":{"action":"replace","payload":""}}'), /msg must be a plain object \(it inherits properties\)/],
  ['stream', 'a 5 MB data kind', { kind: HUGE, payload: 'AAPL' }, /unknown data kind "x{20}/],
  ['stream', 'a 5 MB action', { action: HUGE, payload: 'AAPL' }, /msg.action must be one of/],
  ['stream', 'a 5 MB channel', { channels: HUGE, payload: 'AAPL' }, /msg.channels: "x{20}.* is not a stocks channel/],
  ['stream', '100k bogus channels', { channels: MANY, payload: 'AAPL' }, /"S0" is not a stocks channel/],
  ['stream', 'NaN payload', { payload: NaN }, /must be a string .* \(got NaN\)/],
  ['stream', 'Infinity payload', { payload: Infinity }, /must be a string .* \(got Infinity\)/],
  ['stream', 'boolean payload', { payload: true }, /must be a string/],
  ['stream', 'object action', { action: {}, payload: 'AAPL' }, /msg.action must be one of/],
  ['stream', 'deep nesting', { payload: { trades: nested(200) } }, /nested more than 20 levels/],
  ['stream', 'symbol with a NUL', { payload: 'AAPL\u0000' }, /is not a ticker/],

  // alpaca-order: the action comes from msg.topic
  ['order', '__proto__ carrying side and qty', json(`{"topic":"submit","payload":{"symbol":"AAPL","__proto__":{"side":"buy","qty":1}}}`), /msg.payload.__proto__: the key "__proto__" is not allowed/],
  ['order', 'payload inheriting through a cloned __proto__', cloned(`{"topic":"submit","payload":{"symbol":"AAPL","__proto__":{"side":"buy","qty":1}}}`), /msg.payload must be a plain object/],
  ['order', 'topic inherited through a cloned __proto__', cloned(`{"__proto__":{"topic":"submit"},"payload":{${GOOD_ORDER}}}`), /msg must be a plain object/],
  ['order', 'constructor key', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: 1, constructor: { x: 1 } } }, /the key "constructor" is not allowed/],
  ['order', 'NaN qty', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: NaN } }, /qty/],
  ['order', 'Infinity qty', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: Infinity } }, /qty/],
  ['order', 'qty beyond a double', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: '1e400' } }, /qty/],
  ['order', 'a 5 MB symbol', { topic: 'submit', payload: { symbol: HUGE, side: 'buy', qty: 1 } }, /symbol/],
  ['order', 'a 5 MB topic', { topic: HUGE, payload: { symbol: 'AAPL', side: 'buy', qty: 1 } }, /msg.topic must name the action/],
  ['order', 'a 5 MB client order id', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: 1, clientOrderId: HUGE } }, /clientOrderId/],
  ['order', '100k-element payload', { topic: 'submit', payload: MANY }, /symbol/],
  ['order', 'deep nesting in a leg', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: 1, orderClass: 'oto', takeProfit: nested(100) } }, /nested more than 20 levels/],
  ['order', 'symbol as an array', { topic: 'submit', payload: { symbol: ['AAPL'], side: 'buy', qty: 1 } }, /symbol/],
  ['order', 'number payload', { topic: 'submit', payload: 42 }, /symbol/],
  ['order', 'object topic', { topic: { action: 'submit' }, payload: { symbol: 'AAPL', side: 'buy', qty: 1 } }, /msg.topic must name the action/],

  // alpaca-positions: the action comes from msg.topic
  ['positions', 'closeAll inherited through a cloned __proto__', cloned('{"__proto__":{"topic":"closeAll"},"payload":{}}'), /msg must be a plain object/],
  ['positions', '__proto__ key on the msg', json('{"__proto__":{"topic":"closeAll"}}'), /msg.__proto__: the key "__proto__" is not allowed/],
  ['positions', '__proto__ carrying a symbol', json('{"topic":"close","payload":{"__proto__":{"symbol":"AAPL"}}}'), /msg.payload.__proto__: the key "__proto__" is not allowed/],
  ['positions', 'a 5 MB topic', { topic: HUGE }, /msg.topic must name the action/],
  ['positions', 'object topic', { topic: {} }, /msg.topic must name the action/],
  ['positions', 'a 5 MB symbol', { topic: 'close', payload: { symbol: HUGE } }, /symbol/],
  ['positions', 'NaN qty', { topic: 'close', payload: { symbol: 'AAPL', qty: NaN } }, /qty must be a number/],
  ['positions', 'Infinity percentage', { topic: 'close', payload: { symbol: 'AAPL', percentage: Infinity } }, /percentage must be a number/],
  ['positions', 'cancelOrders as text', { topic: 'closeAll', payload: { cancelOrders: 'yes' } }, /cancelOrders must be true or false/],
  ['positions', 'deep nesting', { topic: 'position', payload: nested(100, 'AAPL') }, /nested more than 20 levels/],
  ['positions', '100k-element payload', { topic: 'position', payload: MANY }, /needs a symbol/],
  ['positions', 'symbol as a number', { topic: 'position', payload: { symbol: 42 } }, /symbol must be text/],

  // alpaca-rate-gate: msg.priority
  ['gate', 'priority 12', { priority: 12, payload: 1 }, /msg.priority must be a whole number from 0/],
  ['gate', 'priority -1', { priority: -1, payload: 1 }, /msg.priority must be a whole number/],
  ['gate', 'priority 1.5', { priority: 1.5, payload: 1 }, /msg.priority must be a whole number/],
  ['gate', 'priority NaN', { priority: NaN, payload: 1 }, /msg.priority must be a whole number/],
  ['gate', 'priority Infinity', { priority: Infinity, payload: 1 }, /msg.priority must be a whole number/],
  ['gate', 'priority as an object', { priority: { level: 9 }, payload: 1 }, /msg.priority must be a whole number/],
  ['gate', 'priority as an array', { priority: [9], payload: 1 }, /msg.priority must be a whole number/],
  ['gate', 'priority as a word', { priority: 'urgent', payload: 1 }, /msg.priority must be a whole number/],

  // alpaca-breaker: msg.reset, msg.halt, and the orders it gates
  ['breaker', 'reset in the wrong case', { reset: 'reset breaker' }, /reset refused: msg.reset must be exactly "RESET BREAKER"/],
  ['breaker', 'a 5 MB reset', { reset: HUGE }, /reset refused/],
  ['breaker', 'reset as an object', { reset: { confirm: 'RESET BREAKER' } }, /reset refused/],
  ['breaker', 'reset NaN', { reset: NaN }, /reset refused/],
  ['breaker', 'reset true', { reset: true }, /reset refused/],
  ['breaker', '__proto__ key carrying reset', json('{"__proto__":{"reset":"RESET BREAKER"}}'), /msg.__proto__: the key "__proto__" is not allowed/],
  ['breaker', 'reset inherited through a cloned __proto__', cloned('{"__proto__":{"reset":"RESET BREAKER"}}'), /msg must be a plain object/],
  ['breaker', 'constructor key on the msg', { constructor: 'x', reset: 'RESET BREAKER' }, /msg.constructor: the key "constructor" is not allowed/],
  ['breaker', 'halt carrying a __proto__ key', { halt: json('{"__proto__":{"x":1}}') }, /msg.halt.__proto__: the key "__proto__" is not allowed/],
  ['breaker', 'an order with a __proto__ key', json(`{"topic":"submit","payload":{"symbol":"AAPL","__proto__":{"side":"buy","qty":1}}}`), /order blocked by the circuit breaker.*__proto__/],
  ['breaker', 'an order nested 100 deep', { topic: 'submit', payload: nested(100) }, /order blocked by the circuit breaker.*nested more than 20 levels/],
  ['breaker', 'an order with NaN qty', { topic: 'submit', payload: { symbol: 'AAPL', side: 'buy', qty: NaN } }, /order blocked by the circuit breaker.*qty/],
];

function flow() {
  return [
    ACCOUNT,
    { id: 'f1', type: 'tab', label: 'hostile' },
    { id: 'stream', type: 'alpaca-stream', z: 'f1', account: 'acct', kind: 'stocks', symbols: '', channels: ['trades', 'quotes'], output: 'all', pollAfter: 3600, watchdog: 3600, wires: [['out'], ['events']] },
    { id: 'order', type: 'alpaca-order', z: 'f1', account: 'acct', ...BLANK, action: 'msg', wires: [['out'], ['out'], ['out']] },
    { id: 'positions', type: 'alpaca-positions', z: 'f1', account: 'acct', action: 'msg', symbol: '', qty: '', percentage: '', cancelOrders: false, wires: [['out']] },
    {
      id: 'gate', type: 'alpaca-rate-gate', z: 'f1', account: 'acct', queueSize: 1000, fullPolicy: 'drop-lowest', maxWait: 0, priority: 5, report: 'output',
      categories: [], category: '', shared: false, sharedKey: '', wires: [['out'], ['out']],
    },
    // No account checks while the corpus runs: every request the simulator counts is a finding.
    { id: 'breaker', type: 'alpaca-breaker', z: 'f1', name: 'guard', account: 'acct', pollOpen: '3600', pollFlat: '3600', staleSeconds: '7200', wires: [['out'], ['events']] },
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'out', type: 'helper', z: 'f1' },
    { id: 'events', type: 'helper', z: 'f1' },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

describe('security: hostile msgs to every node', function () {
  this.timeout(120000);
  const rejections = [];
  const onRejection = (reason) => rejections.push(reason);

  before(() => process.on('unhandledRejection', onRejection));
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await helper.unload();
  });

  it(`${CORPUS.length} msgs: one clear error each, no crash, no request at the simulator`, async function () {
    assert.ok(CORPUS.length >= 60);
    helper.settings({ alpacaSimulator: { seed: 5, tickMs: 100, marketHours: 'always' } });
    await helper.load(nodes, flow());
    const account = helper.getNode('acct');
    const caught = [];
    const passed = [];
    helper.getNode('caught').on('input', (m) => caught.push(m));
    helper.getNode('out').on('input', (m) => passed.push(m));
    await waitFor(() => account.connection.status.state === 'connected', 10000, 'the connection');
    // The breaker's state as its dialog reads it.
    const breaker = async () => (await helper.request().get('/alpaca-breaker/breaker/state').expect(200)).body;
    const breakerState = async () => (await breaker()).state;
    await waitFor(async () => {
      const b = await breaker();
      return b.state === 'ACTIVE' && typeof b.live.equity === 'number';
    }, 10000, 'the breaker and its first account figures');
    const sim = await accountSim(account);
    // Start-up reads (the connection check, the breaker's first figures) are over once the count stands still.
    let before = await sim.stats();
    await waitFor(async () => {
      const now = await sim.stats();
      const still = now.requests === before.requests;
      before = now;
      return still;
    }, 10000, 'a quiet simulator', 1500);

    const subscriptions = JSON.stringify(account.connection.marketFeed('stocks').subscriptionsOf('stream'));
    for (const [id, what, msg, re] of CORPUS) {
      const n = caught.length;
      helper.getNode(id).receive(msg);
      await waitFor(() => caught.length > n, 5000, `an error from ${id} for ${what}`);
      const error = caught[n].error;
      assert.strictEqual(error.source.id, id, `${id} ${what}: the error came from ${error.source.id}: ${error.message}`);
      assert.match(error.message, re, `${id} ${what}`);
      assert.ok(error.message.length <= MAX_ERROR, `${id} ${what}: an error of ${error.message.length} characters`);
    }
    await sleep(300);
    assert.strictEqual(caught.length, CORPUS.length, 'one error per msg');
    assert.deepStrictEqual(passed, [], 'nothing passed any node');
    assert.deepStrictEqual(rejections, []);
    const after = await sim.stats();
    assert.strictEqual(after.requests, before.requests, 'requests at the simulator');
    assert.strictEqual(after.orders, before.orders);
    assert.strictEqual(JSON.stringify(account.connection.marketFeed('stocks').subscriptionsOf('stream')), subscriptions);
    assert.strictEqual(await breakerState(), 'ACTIVE');

    // Every node still works.
    helper.getNode('positions').receive({ topic: 'clock' });
    await waitFor(() => passed.length === 1, 10000, 'a clock after the corpus');
    assert.strictEqual(typeof passed[0].payload.isOpen, 'boolean');
  });
});
