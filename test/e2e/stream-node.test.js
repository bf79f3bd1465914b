'use strict';
// alpaca-stream in a real Node-RED runtime with the official SDK and the built-in simulator over
// real sockets: shared sockets, ref-counted subscriptions, bad input, the watchdog on a silent
// socket, bar gap fill after a drop. Nothing of ours is mocked.
const assert = require('assert');
const { helper, packNodes, record } = require('../support/nodered');
const { waitFor } = require('../support/wait');

const streamNode = require('../../dist/alpaca-stream.js').default;
const orderUpdatesNode = require('../../dist/alpaca-order-updates.js').default;
const NODES = [...packNodes, streamNode, orderUpdatesNode];

const ACCOUNT = { id: 'acct', type: 'alpaca-account', name: 'sim', mode: 'sim', feed: 'iex', endpoint: '', liveAck: false };

function streamDef(id, over) {
  return {
    id,
    type: 'alpaca-stream',
    z: 'tab',
    account: 'acct',
    kind: 'stocks',
    symbols: 'AAPL',
    channels: ['trades'],
    output: 'all',
    conflateMs: 1000,
    maxRate: 0,
    watchdog: 60,
    alertAfter: 2,
    pollAfter: 30,
    wires: [[`${id}-data`], [`${id}-conn`]],
    ...over,
  };
}

function flow(nodes) {
  const out = [ACCOUNT, { id: 'tab', type: 'tab', label: 'stream test' }];
  for (const n of nodes) {
    out.push(n, { id: `${n.id}-data`, type: 'helper', z: 'tab' }, { id: `${n.id}-conn`, type: 'helper', z: 'tab' });
  }
  out.push({ id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] }, { id: 'caught', type: 'helper', z: 'tab' });
  return out;
}


async function sim() {
  const account = helper.getNode('acct');
  await waitFor(() => account.connection.sim, 8000, 'the simulator');
  return account.connection.sim;
}

async function post(s, path, body) {
  const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json();
}

describe('alpaca-stream node on the simulator', function () {
  this.timeout(30000);
  before(() => helper.startServer());
  after(() => {
    helper.settings({});
    return helper.stopServer();
  });
  afterEach(() => helper.unload());

  it('shares one socket per kind between nodes and delivers normalised events to the node that asked', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always' } });
    await helper.load(
      NODES,
      flow([
        streamDef('a', { symbols: 'AAPL' }),
        streamDef('b', { symbols: 'AAPL, MSFT', channels: ['trades', 'quotes'] }),
        streamDef('c', { kind: 'crypto', symbols: 'BTC/USD', channels: ['quotes'] }),
        { id: 'ou', type: 'alpaca-order-updates', z: 'tab', account: 'acct', symbols: '', events: [], wires: [['ou-data'], ['ou-conn']] },
        { id: 'ou-data', type: 'helper', z: 'tab' },
        { id: 'ou-conn', type: 'helper', z: 'tab' },
      ]),
    );
    const got = record(['a-data', 'b-data', 'c-data', 'a-conn']);
    const s = await sim();
    await waitFor(
      () => got['a-data'].length > 3 && got['b-data'].some((m) => m.topic === 'MSFT' && m.event === 'quotes') && got['c-data'].length > 0,
      10000,
      'events on every node',
    );
    assert.strictEqual(s.stats.streamConnections, 3, 'one stocks, one crypto, one trading socket');

    const trade = got['a-data'][0];
    assert.strictEqual(trade.topic, 'AAPL');
    assert.strictEqual(trade.event, 'trades');
    assert.strictEqual(typeof trade.payload.price, 'number');
    assert.ok(trade.payload.price > 0);
    assert.strictEqual(typeof trade.payload.size, 'number');
    assert.strictEqual(new Date(trade.payload.timestamp).getTime(), trade.payload.time);
    assert.ok(got['a-data'].every((m) => m.topic === 'AAPL' && m.event === 'trades'), 'node a gets only what it asked for');
    const quote = got['c-data'][0];
    assert.strictEqual(quote.topic, 'BTC/USD');
    assert.strictEqual(quote.event, 'quotes');
    assert.ok(quote.payload.bid > 0 && quote.payload.ask >= quote.payload.bid);
    assert.strictEqual(quote.payload.mid, Number(((quote.payload.bid + quote.payload.ask) / 2).toFixed(8)));
    assert.strictEqual(got['a-conn'][0].payload.event, 'connected');
    assert.strictEqual(helper.getNode('a').status.lastCall.args[0].fill, 'green');
  });

  it('reference-counts subscriptions: the server unsubscribes only when no node wants the symbol', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always' } });
    await helper.load(NODES, flow([streamDef('a', { symbols: 'AAPL' }), streamDef('b', { symbols: 'AAPL, MSFT' })]));
    const got = record(['a-data', 'b-data', 'a-conn', 'b-conn']);
    const account = helper.getNode('acct');
    await sim();
    await waitFor(() => got['a-data'].length > 0 && got['b-data'].some((m) => m.topic === 'MSFT'), 10000, 'trades');
    const feed = account.connection.marketFeed('stocks');
    const sdk = () => account.connection.diagnostics().streams.stocks.subscriptions.trades.slice().sort();
    await waitFor(() => sdk().join() === 'AAPL,MSFT', 5000, 'server ack of AAPL,MSFT');

    helper.getNode('a').receive({ action: 'unsubscribe', payload: 'AAPL' });
    await waitFor(() => got['a-conn'].some((m) => m.topic === 'subscriptions'), 5000, 'subscriptions reply');
    assert.deepStrictEqual(got['a-conn'].find((m) => m.topic === 'subscriptions').payload, {});
    assert.deepStrictEqual(feed.serverSubscriptions.trades, ['AAPL', 'MSFT'], 'b still wants AAPL');
    const aCount = got['a-data'].length;
    const bAapl = got['b-data'].filter((m) => m.topic === 'AAPL').length;
    await waitFor(() => got['b-data'].filter((m) => m.topic === 'AAPL').length > bAapl + 3, 5000, 'b keeps getting AAPL');
    assert.strictEqual(got['a-data'].length, aCount, 'a gets nothing after unsubscribing');
    assert.strictEqual(sdk().join(), 'AAPL,MSFT');

    helper.getNode('b').receive({ action: 'unsubscribe', payload: ['AAPL'] });
    await waitFor(() => sdk().join() === 'MSFT', 5000, 'server unsubscribed AAPL');
    assert.deepStrictEqual(feed.serverSubscriptions.trades, ['MSFT']);

    // replace, then closing b releases only b's interest and the last one closes the socket
    helper.getNode('a').receive({ action: 'replace', payload: { trades: ['TSLA'] } });
    await waitFor(() => sdk().join() === 'MSFT,TSLA', 5000, 'TSLA subscribed');
    await waitFor(() => got['a-data'].some((m) => m.topic === 'TSLA'), 5000, 'TSLA trades to a');
    assert.deepStrictEqual(feed.subscriptionsOf('a'), { trades: ['TSLA'] });
  });

  const badInputs = [
    ['unknown action', { action: 'sell', payload: 'AAPL' }, /msg.action/],
    ['malformed symbol', { payload: 'AAPL, $$$' }, /is not a ticker/],
    ['number payload', { payload: 42 }, /must be a string/],
    ['no symbols', { action: 'subscribe' }, /must name/],
    ['unknown channel', { payload: { candles: ['AAPL'] } }, /not a stocks channel/],
    ['channel not enabled', { payload: { quotes: ['AAPL'] } }, /not enabled/],
    ['unknown data kind', { kind: 'futures', payload: 'ES' }, /unknown data kind/],
    ['another data kind', { kind: 'crypto', payload: 'BTC/USD' }, /streams stocks/],
    ['symbols not strings', { payload: ['AAPL', null] }, /non-empty string/],
  ];
  it('batch mode sends arrays of the same events, in the same order, one channel per msg', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 20, marketHours: 'always' } });
    await helper.load(
      NODES,
      flow([streamDef('a', { symbols: 'AAPL, MSFT' }), streamDef('b', { symbols: 'AAPL, MSFT', channels: ['trades', 'quotes'], batch: 'all', batchSize: 5, batchMs: 200 })]),
    );
    const got = record(['a-data', 'b-data']);
    await sim();
    await waitFor(() => got['b-data'].filter((m) => m.event === 'trades').length >= 4, 10000, 'trade batches');
    const batches = got['b-data'];
    assert.ok(batches.every((m) => m.topic === '*' && Array.isArray(m.payload) && m.payload.length >= 1 && m.payload.length <= 5));
    assert.ok(batches.some((m) => m.event === 'quotes') && batches.every((m) => m.payload.every((p) => (m.event === 'trades' ? 'price' in p : 'bid' in p))), 'one channel per msg');
    const batched = batches.filter((m) => m.event === 'trades').flatMap((m) => m.payload.map((p) => `${p.symbol}:${p.id}`));
    const single = got['a-data'].map((m) => `${m.topic}:${m.payload.id}`);
    assert.deepStrictEqual(batched, single.slice(0, batched.length), 'the per-event node saw the same trades in the same order');
  });

  it('refuses malformed msgs with a Catch-able error and leaves the subscriptions as they were', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always' } });
    await helper.load(NODES, flow([streamDef('a', { symbols: 'AAPL, MSFT' })]));
    const got = record(['caught', 'a-conn']);
    const account = helper.getNode('acct');
    await sim();
    const feed = account.connection.marketFeed('stocks');
    const before = JSON.stringify(feed.subscriptionsOf('a'));
    const serverBefore = JSON.stringify(feed.serverSubscriptions);
    for (const [what, msg, re] of badInputs) {
      const n = got.caught.length;
      helper.getNode('a').receive(msg);
      await waitFor(() => got.caught.length > n, 3000, `error for ${what}`);
      assert.match(got.caught[n].error.message, re, what);
      assert.strictEqual(helper.getNode('a').status.lastCall.args[0].fill, 'red', what);
      assert.strictEqual(JSON.stringify(feed.subscriptionsOf('a')), before, `${what}: subscriptions unchanged`);
      assert.strictEqual(JSON.stringify(feed.serverSubscriptions), serverBefore, what);
    }
    assert.ok(!got['a-conn'].some((m) => m.topic === 'subscriptions'), 'no subscription change was reported');
  });

  it('watchdog: a socket that stays open but goes silent is probed over REST and reconnected', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always' }, alpacaStreams: { initialReconnectMs: 50, reconnectJitter: 0 } });
    await helper.load(NODES, flow([streamDef('a', { symbols: 'AAPL', watchdog: 0.5 })]));
    const got = record(['a-data', 'a-conn']);
    const s = await sim();
    await waitFor(() => got['a-data'].length > 0, 10000, 'first trades');
    const totalBefore = s.stats.streamConnectionsTotal;
    await post(s, '/sim/faults', { silentStreams: true });
    await waitFor(() => got['a-conn'].some((m) => m.event === 'stale'), 10000, 'the watchdog to call it stale');
    await waitFor(() => s.stats.streamConnectionsTotal > totalBefore, 5000, 'a forced reconnect');
    const stale = got['a-conn'].find((m) => m.event === 'stale');
    assert.match(stale.payload.reason, /no data/);
    assert.strictEqual(s.stats.streamConnections, 1, 'still one socket');
    await post(s, '/sim/faults', { silentStreams: false });
    const n = got['a-data'].length;
    await waitFor(() => got['a-data'].length > n, 10000, 'data again after the fault is lifted');
    await waitFor(() => helper.getNode('a').status.lastCall.args[0].fill === 'green', 5000, 'green again');
  });

  it('backfills the minute bars missed while down, in order, marked recovered, without duplicates', async function () {
    // speed 60: one simulated minute (one bar) per real second; reconnect after 2.5 s misses ~2 bars.
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always', speed: 60 }, alpacaStreams: { initialReconnectMs: 2500, reconnectJitter: 0 } });
    await helper.load(NODES, flow([streamDef('a', { symbols: 'AAPL', channels: ['bars'], output: 'bars' })]));
    const got = record(['a-data', 'a-conn']);
    const s = await sim();
    await waitFor(() => got['a-data'].length >= 2, 10000, 'two live bars');
    s.dropStreams();
    await waitFor(() => got['a-conn'].some((m) => m.event === 'recovered'), 10000, 'gap fill');
    const recovered = got['a-conn'].find((m) => m.event === 'recovered');
    assert.ok(recovered.payload.count >= 1, `recovered ${recovered.payload.count} bars`);
    const n = got['a-data'].length;
    await waitFor(() => got['a-data'].length >= n + 2, 10000, 'live bars after the gap');
    const times = got['a-data'].map((m) => m.payload.time);
    for (let i = 1; i < times.length; i++) assert.strictEqual(times[i] - times[i - 1], 60000, `bar ${i} follows bar ${i - 1} by one minute`);
    assert.strictEqual(got['a-data'].filter((m) => m.recovered).length, recovered.payload.count);
    assert.ok(got['a-data'].every((m) => m.event === 'bars' && m.topic === 'AAPL'));
    const { recovery } = helper.getNode('acct').connection.diagnostics().feeds.stocks;
    assert.strictEqual(recovery.gapFills, 1, 'one gap fill for the one reconnect');
    assert.strictEqual(recovery.requests, 1, 'one REST request for it');
  });

  it('a reconnect that cannot have missed a bar asks REST nothing, and says so on the account\'s health', async function () {
    // speed 12: a simulated minute every 5 s. Dropped right after a bar and back within ~1 s, no bar can be missing.
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always', speed: 12 }, alpacaStreams: { initialReconnectMs: 50, reconnectJitter: 0 } });
    await helper.load(NODES, flow([streamDef('a', { symbols: 'AAPL', channels: ['bars'], output: 'bars' })]));
    const got = record(['a-data', 'a-conn']);
    const s = await sim();
    await waitFor(() => got['a-data'].length >= 1, 15000, 'a live bar');
    const dataRequests = async () => (await (await fetch(`${s.url}/sim/requests?since=0`)).json()).requests.filter((r) => r.api === 'data').length;
    const dataBefore = await dataRequests();
    s.dropStreams();
    await waitFor(() => got['a-conn'].some((m) => m.event === 'recovered'), 10000, 'recovery after the drop');
    assert.strictEqual(got['a-conn'].find((m) => m.event === 'recovered').payload.count, 0);
    const { recovery } = helper.getNode('acct').connection.diagnostics().feeds.stocks;
    assert.deepStrictEqual([recovery.gapFills, recovery.gapFillsSkipped, recovery.requests], [0, 1, 0]);
    assert.strictEqual(await dataRequests(), dataBefore, 'no market-data request reached the simulator');
    const n = got['a-data'].length;
    await waitFor(() => got['a-data'].length > n, 15000, 'the next live bar');
    const times = got['a-data'].map((m) => m.payload.time);
    assert.strictEqual(times[times.length - 1] - times[times.length - 2], 60000, 'no bar was missed');
  });

  it('options data on the simulator says clearly that it is not available', async function () {
    helper.settings({ alpacaSimulator: { seed: 3, tickMs: 50, marketHours: 'always' } });
    await helper.load(NODES, flow([streamDef('o', { kind: 'options', symbols: 'AAPL240621C00190000', channels: ['trades'] })]));
    const got = record(['o-conn']);
    await waitFor(() => got['o-conn'].some((m) => m.event === 'unavailable'), 8000, 'unavailable event');
    const st = helper.getNode('o').status.lastCall.args[0];
    assert.strictEqual(st.fill, 'red');
    assert.match(st.text, /simulator/);
  });
});
