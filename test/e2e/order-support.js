'use strict';
// Shared harness of the alpaca-order end-to-end tests: a flow with order nodes wired to helper
// nodes (one per output) and a catch node, plus the simulator's control API over HTTP.
const { helper, packNodes } = require('../support/nodered');
const { waitFor } = require('../support/sim');

const orderNode = require('../../dist/alpaca-order.js').default;
const nodes = [...packNodes, orderNode];

const ACCOUNT = { id: 'acct', type: 'alpaca-account', name: 'sim', mode: 'sim', feed: 'iex', endpoint: '', liveAck: false };

const BLANK = {
  action: 'submit', symbol: '', side: '', orderType: '', orderClass: '', timeInForce: '', qty: '', notional: '',
  limitPrice: '', stopPrice: '', trailPrice: '', trailPercent: '', extendedHours: '', takeProfitLimitPrice: '',
  stopLossStopPrice: '', stopLossLimitPrice: '', positionIntent: '', waitForFinal: false, timeout: 60, keyProperty: '', maxWait: '',
};

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

/** Loads the flow (with more settings.js properties in `settings`); returns { account, sim(), rec, send, next, control }. */
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
  const base = account.connection.endpoint;
  const control = {
    stats: () => fetch(`${base}/sim/stats`).then((r) => r.json()),
    faults: (f) => post(`${base}/sim/faults`, f),
    price: (symbol, price) => post(`${base}/sim/prices`, { symbol, price }),
    /** The official SDK on the same simulator, under another key (as another program would). */
    sdk: require('../../dist/lib/alpaca/client').createClient({ keyId: 'OTHERPROGRAM', secret: 'other', paper: true, endpoint: base, rateLimit: false }),
  };
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
  return { account, rec, send, next, control };
}

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${url}: ${JSON.stringify(json)}`);
  return json;
}

/** Waits until the order's status on the simulator satisfies `want`. */
async function orderStatus(sdk, id, want, ms = 10000) {
  let last;
  await waitFor(async () => {
    last = await sdk.trading.orders.getOrderByOrderID({ orderId: id });
    return want.includes(last.status);
  }, ms, `order ${id} to be ${want.join(' or ')} (last ${last && last.status})`);
  return last;
}

module.exports = { helper, nodes, start, waitFor, orderStatus, BLANK };
