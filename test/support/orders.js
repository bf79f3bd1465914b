'use strict';
// Shared harness of the alpaca-order end-to-end tests: a flow with order nodes wired to helper
// nodes (one per output) and a catch node, plus the account's simulator.
const { helper, packNodes } = require('./nodered');
const { waitFor } = require('./wait');
const { accountSim } = require('./sim');
const { ACCOUNT, BLANK } = require('./fixtures');

const orderNode = require('../../dist/alpaca-order.js').default;
const nodes = [...packNodes, orderNode];

function flow(orders) {
  return [
    ACCOUNT,
    { id: 'f1', type: 'tab', label: 'orders' },
    ...orders.map((o, i) => ({ id: `order${i}`, type: 'alpaca-order', z: 'f1', account: 'acct', ...BLANK, ...o, wires: [[`acc${i}`], [`fill${i}`], [`end${i}`]] })),
    ...orders.flatMap((o, i) => [
      { id: `acc${i}`, type: 'helper', z: 'f1' },
      { id: `fill${i}`, type: 'helper', z: 'f1' },
      { id: `end${i}`, type: 'helper', z: 'f1' },
    ]),
    { id: 'catcher', type: 'catch', z: 'f1', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
  ];
}

/**
 * Loads the flow (with more settings.js properties in `settings`); returns { account, rec, send,
 * next, control: the simulator's control API, sdk: the official SDK on it under another key }.
 */
async function start(orders, simSettings = {}, settings = {}) {
  helper.settings({ alpacaSimulator: { seed: 7, tickMs: 50, marketHours: 'always', ...simSettings }, ...settings });
  await helper.load(nodes, flow(orders));
  const account = helper.getNode('acct');
  const rec = orders.map(() => ({ accepted: [], filled: [], ended: [], error: [] }));
  orders.forEach((o, i) => {
    helper.getNode(`acc${i}`).on('input', (m) => rec[i].accepted.push(m));
    helper.getNode(`fill${i}`).on('input', (m) => rec[i].filled.push(m));
    helper.getNode(`end${i}`).on('input', (m) => rec[i].ended.push(m));
  });
  helper.getNode('caught').on('input', (m) => {
    const i = Number(String(m.error.source.id).replace('order', ''));
    if (rec[i]) rec[i].error.push(m);
  });
  await waitFor(() => account.connection.status.state === 'connected', 10000, 'the connection');
  const control = await accountSim(account);
  // The official SDK on the same simulator, under another key (as another program would).
  const sdk = control.sdk();
  /** Sends msg to order node i; resolves with the next msg on `port` (accepted, filled, ended, error). */
  const send = (i, msg, port = 'accepted') => {
    const before = rec[i][port].length;
    const other = port === 'error' ? 'accepted' : 'error';
    const otherBefore = rec[i][other].length;
    helper.getNode(`order${i}`).receive(msg);
    return waitFor(() => {
      if (rec[i][other].length > otherBefore) {
        const m = rec[i][other][otherBefore];
        throw new Error(`expected ${port} but got ${other}: ${JSON.stringify(m.error || m.payload)}`);
      }
      return rec[i][port].length > before && rec[i][port][before];
    }, 15000, `order${i} ${port}`);
  };
  const next = (i, port, count, ms = 15000) => waitFor(() => rec[i][port].length >= count && rec[i][port][count - 1], ms, `order${i} ${port} #${count}`);
  return { account, rec, send, next, control, sdk };
}

/** Waits until the order's status on the simulator satisfies `want`. */
async function orderStatus(sdk, id, want, ms = 10000) {
  let last;
  await waitFor(async () => {
    last = await sdk.trading.orders.getOrderByOrderID({ orderId: id });
    return want.includes(last.status);
  }, ms, `order ${id} to be ${want.join(' or ')}`).catch((err) => {
    throw new Error(`${err.message}; its status: ${last && last.status}`);
  });
  return last;
}

module.exports = { helper, nodes, start, orderStatus };
