'use strict';
// The stream nodes' plain modules on their own: ref-counted subscriptions, msg commands, the
// output gate (conflation, bounded queue), batching and the delivery chain, normalising SDK
// events, the market feed's routing and gap fill (fake SDK stream and REST), stream health
// (watchdog, polling, gap fill, alarm) with a fake clock, and exactly-once order tracking.
const assert = require('assert');
const { EventEmitter } = require('events');
const { SubscriptionBook } = require('../../dist/lib/streams/subscriptions');
const { parseStreamCommand, resolveStreamSettings, parseOrderFilter, matchesOrderFilter, effectiveChannels } = require('../../dist/lib/streams/input');
const { OutputGate, Batcher } = require('../../dist/lib/streams/output');
const { MarketOutput } = require('../../dist/lib/streams/delivery');
const { AlpacaMarketFeed, normaliseTrade } = require('../../dist/lib/alpaca/market-feed');
const { StreamHealth, OutageAlarm } = require('../../dist/lib/streams/health');
const { OrderTracker, eventKey } = require('../../dist/lib/streams/order-tracker');
const { AlpacaTradeUpdates } = require('../../dist/lib/alpaca/trade-updates');

/** A fake clock: timers run only when advance() passes their time. */
function fakeTimers(start = 1_000_000) {
  let now = start;
  let seq = 0;
  const pending = new Map();
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => pending.delete(id),
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        await new Promise((r) => setImmediate(r));
      }
      now = until;
      await new Promise((r) => setImmediate(r));
    },
    get count() {
      return pending.size;
    },
  };
}

function order(id, status, filledQty, updatedAt, submittedAt = updatedAt - 1000) {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol: 'AAPL',
    side: 'buy',
    type: 'market',
    orderClass: 'simple',
    timeInForce: 'day',
    status,
    qty: 10,
    notional: null,
    filledQty,
    filledAvgPrice: filledQty ? 100 : null,
    limitPrice: null,
    stopPrice: null,
    createdAt: new Date(submittedAt).toISOString(),
    updatedAt: new Date(updatedAt).toISOString(),
    submittedAt: new Date(submittedAt).toISOString(),
    filledAt: null,
  };
}

describe('stream modules', () => {
  describe('SubscriptionBook', () => {
    it('subscribes on the first owner and unsubscribes after the last', () => {
      const b = new SubscriptionBook();
      assert.deepStrictEqual(b.add('a', { trades: ['AAPL', 'MSFT'] }).subscribe, { trades: ['AAPL', 'MSFT'] });
      assert.deepStrictEqual(b.add('b', { trades: ['AAPL'], quotes: ['AAPL'] }).subscribe, { quotes: ['AAPL'] });
      assert.deepStrictEqual(b.remove('a', { trades: ['AAPL'] }).unsubscribe, {});
      assert.deepStrictEqual([...b.holders('trades', 'AAPL')], ['b']);
      assert.deepStrictEqual(b.removeOwner('b').unsubscribe, { trades: ['AAPL'], quotes: ['AAPL'] });
      assert.deepStrictEqual(b.all(), { trades: ['MSFT'] });
      assert.deepStrictEqual(b.removeOwner('a').unsubscribe, { trades: ['MSFT'] });
      assert.strictEqual(b.size, 0);
      assert.strictEqual(b.ownerCount, 0);
    });

    it('replace keeps shared pairs and reports only the net change; * matches every symbol', () => {
      const b = new SubscriptionBook();
      b.add('a', { trades: ['AAPL', 'MSFT'] });
      const d = b.replace('a', { trades: ['MSFT', 'TSLA'] });
      assert.deepStrictEqual(d, { subscribe: { trades: ['TSLA'] }, unsubscribe: { trades: ['AAPL'] } });
      b.add('b', { trades: ['*'] });
      assert.deepStrictEqual([...b.holders('trades', 'TSLA')].sort(), ['a', 'b']);
      assert.deepStrictEqual([...b.holders('trades', 'NVDA')], ['b']);
      assert.strictEqual(b.holders('quotes', 'TSLA'), undefined);
      assert.deepStrictEqual(b.replace('a', {}).unsubscribe, { trades: ['MSFT', 'TSLA'] });
    });
  });

  describe('stream msg commands', () => {
    const s = resolveStreamSettings({ kind: 'stocks', symbols: 'aapl', channels: ['trades', 'quotes'] });
    it('reads the forms documented in the help', () => {
      assert.deepStrictEqual(s.symbols, ['AAPL']);
      assert.deepStrictEqual(parseStreamCommand({ payload: 'msft, tsla' }, s), { action: 'subscribe', wanted: { trades: ['MSFT', 'TSLA'], quotes: ['MSFT', 'TSLA'] } });
      assert.deepStrictEqual(parseStreamCommand({ action: 'unsubscribe', payload: ['MSFT'], channels: 'quotes' }, s).wanted, { quotes: ['MSFT'] });
      assert.deepStrictEqual(parseStreamCommand({ action: 'replace', payload: { trades: ['SPY'] } }, s).wanted, { trades: ['SPY'] });
      assert.deepStrictEqual(parseStreamCommand({ action: 'replace', payload: '' }, s).wanted, {});
      assert.strictEqual(parseStreamCommand({ action: 'list' }, s).action, 'list');
      const crypto = resolveStreamSettings({ kind: 'crypto', symbols: 'btc/usd', channels: 'bars' });
      assert.deepStrictEqual(crypto.symbols, ['BTC/USD']);
      assert.throws(() => parseStreamCommand({ payload: 'AAPL' }, crypto), /not a crypto pair/);
    });
    it('refuses malformed commands and settings with a clear message', () => {
      assert.throws(() => parseStreamCommand({ action: 'buy', payload: 'AAPL' }, s), /msg.action must be one of/);
      assert.throws(() => parseStreamCommand({ payload: { bars: ['AAPL'] } }, s), /not enabled/);
      assert.throws(() => parseStreamCommand({ payload: {} }, s), /no channels/);
      assert.throws(() => parseStreamCommand({ kind: 'forex', payload: 'EURUSD' }, s), /unknown data kind "forex"/);
      assert.throws(() => resolveStreamSettings({ kind: 'forex' }), /unknown data kind/);
      assert.throws(() => resolveStreamSettings({ kind: 'news', channels: ['trades'] }), /not a news channel/);
      assert.throws(() => resolveStreamSettings({ kind: 'stocks', watchdog: -1 }), /watchdog/);
    });
    it('bars-only mode subscribes bar channels only', () => {
      const bars = resolveStreamSettings({ kind: 'stocks', channels: ['trades', 'quotes', 'dailyBars'], output: 'bars' });
      assert.deepStrictEqual(effectiveChannels(bars), ['dailyBars']);
      assert.deepStrictEqual(effectiveChannels(resolveStreamSettings({ kind: 'stocks', channels: ['trades'], output: 'bars' })), ['bars']);
    });
    it('order filters match symbols with or without the crypto slash', () => {
      const f = parseOrderFilter('BTC/USD, aapl', ['fill']);
      assert.ok(matchesOrderFilter(f, 'BTCUSD', 'fill'));
      assert.ok(matchesOrderFilter(f, 'AAPL', 'fill'));
      assert.ok(!matchesOrderFilter(f, 'AAPL', 'new'));
      assert.ok(!matchesOrderFilter(f, 'MSFT', 'fill'));
      assert.throws(() => parseOrderFilter('', ['filled']), /not a trade event/);
    });
  });

  describe('OutputGate', () => {
    it('conflates to the latest per key per interval, passing other items straight through', async () => {
      const t = fakeTimers();
      const out = [];
      const gate = new OutputGate({ deliver: (x) => out.push(x), conflateKey: (x) => (x.k === 'q' ? x.s : undefined), intervalMs: 100, timers: t });
      gate.push({ k: 'q', s: 'A', v: 1 });
      gate.push({ k: 't', s: 'A', v: 2 });
      gate.push({ k: 'q', s: 'A', v: 3 });
      gate.push({ k: 'q', s: 'B', v: 4 });
      assert.deepStrictEqual(out.map((x) => x.v), [2]);
      await t.advance(100);
      assert.deepStrictEqual(out.map((x) => x.v), [2, 3, 4]);
      assert.strictEqual(gate.conflated, 1);
      gate.close();
      assert.strictEqual(t.count, 0);
    });
    it('a rate limit drains a bounded queue and drops the oldest beyond capacity', async () => {
      const t = fakeTimers();
      const out = [];
      const gate = new OutputGate({ deliver: (x) => out.push(x), maxPerSecond: 20, capacity: 5, timers: t });
      for (let i = 0; i < 12; i++) gate.push(i);
      assert.strictEqual(gate.dropped, 7);
      assert.strictEqual(gate.pending, 5);
      await t.advance(1000);
      assert.deepStrictEqual(out, [7, 8, 9, 10, 11]);
      assert.strictEqual(gate.pending, 0);
    });
  });

  describe('normalising SDK events', () => {
    it('reads the time from the Date the SDK parsed and keeps its nanosecond text: no second parse', () => {
      const at = Date.parse('2025-01-02T15:04:05.678Z');
      const sdkTrade = { symbol: 'AAPL', id: 7, exchange: 'V', price: 101.5, size: 100, timestamp: new Date(at), timestampRaw: '2025-01-02T15:04:05.678099211Z', conditions: ['@'], tape: 'C' };
      const parse = Date.parse;
      Date.parse = () => {
        throw new Error('Date.parse called on the hot path');
      };
      let e;
      try {
        e = normaliseTrade(sdkTrade);
      } finally {
        Date.parse = parse;
      }
      assert.deepStrictEqual(e.payload, { symbol: 'AAPL', price: 101.5, size: 100, exchange: 'V', id: 7, conditions: ['@'], tape: 'C', timestamp: '2025-01-02T15:04:05.678099211Z', time: at });
      // Raw wire keys (REST fallbacks) still work, text parsed once.
      const wire = normaliseTrade({ S: 'MSFT', p: '2.5', s: 3, t: '2025-01-02T15:04:05Z', tks: 'B' });
      assert.strictEqual(wire.payload.time, Date.parse('2025-01-02T15:04:05Z'));
      assert.strictEqual(wire.payload.timestamp, '2025-01-02T15:04:05Z');
      assert.strictEqual(wire.payload.price, 2.5);
      assert.strictEqual(wire.payload.takerSide, 'B');
    });
  });

  describe('delivery: per event, batched, conflated, rate-capped', () => {
    const settings = (over) => resolveStreamSettings({ kind: 'stocks', symbols: 'AAPL', channels: ['trades', 'quotes'], ...over });
    const ev = (channel, symbol, id, extra = {}) => ({ channel, symbol, payload: { symbol, id, time: id }, ...extra });

    it('one msg per event carries the payload the feed built for this node: no copy', () => {
      const out = [];
      const o = new MarketOutput(settings({}), (m) => out.push(m));
      const e = ev('trades', 'AAPL', 1);
      o.push(e);
      o.push(ev('quotes', 'MSFT', 2, { polled: true }));
      assert.strictEqual(out[0].payload, e.payload, 'the very object, not a copy');
      assert.match(out[0]._msgid, /^[0-9a-f]{16}$/, "a msg id as Node-RED writes them, so the runtime need not make one");
      assert.notStrictEqual(out[0]._msgid, out[1]._msgid);
      assert.deepStrictEqual(out.map((m) => [m.topic, m.event, m.kind, m.polled]), [
        ['AAPL', 'trades', 'stocks', undefined],
        ['MSFT', 'quotes', 'stocks', true],
      ]);
      o.close();
    });

    it('batches every symbol of a channel: N events or T ms, whichever first, oldest first', async () => {
      const t = fakeTimers();
      const out = [];
      const o = new MarketOutput(settings({ batch: 'all', batchSize: 3, batchMs: 50 }), (m) => out.push(m), t);
      for (let i = 1; i <= 4; i++) o.push(ev('trades', i % 2 ? 'AAPL' : 'MSFT', i));
      o.push(ev('quotes', 'AAPL', 5));
      assert.deepStrictEqual(out.map((m) => [m.topic, m.event, m.payload.map((p) => p.id)]), [['*', 'trades', [1, 2, 3]]], 'full batch out at once');
      assert.strictEqual(o.pending, 2);
      await t.advance(49);
      assert.strictEqual(out.length, 1);
      await t.advance(1);
      assert.deepStrictEqual(out.slice(1).map((m) => [m.event, m.payload.map((p) => p.id)]), [
        ['trades', [4]],
        ['quotes', [5]],
      ]);
      assert.strictEqual(o.pending, 0);
      o.close();
      assert.strictEqual(t.count, 0);
    });

    it('batches per symbol, and keeps recovered events in batches of their own, in order', async () => {
      const t = fakeTimers();
      const out = [];
      const o = new MarketOutput(settings({ batch: 'symbol', batchSize: 10, batchMs: 100, channels: ['bars'] }), (m) => out.push(m), t);
      o.push(ev('bars', 'AAPL', 1));
      o.push(ev('bars', 'MSFT', 2));
      o.push(ev('bars', 'AAPL', 3, { recovered: true }));
      o.push(ev('bars', 'AAPL', 4, { recovered: true }));
      o.push(ev('bars', 'AAPL', 5));
      await t.advance(100);
      assert.deepStrictEqual(out.map((m) => [m.topic, m.recovered, m.payload.map((p) => p.id)]), [
        ['AAPL', undefined, [1]],
        ['AAPL', true, [3, 4]],
        ['MSFT', undefined, [2]],
        ['AAPL', undefined, [5]],
      ]);
      o.close();
    });

    it('conflates first, then batches, and caps msgs (not events) per second', async () => {
      const t = fakeTimers();
      const out = [];
      const o = new MarketOutput(settings({ output: 'conflate', conflateMs: 100, batch: 'all', batchSize: 2, batchMs: 10, maxRate: 20 }), (m) => out.push(m), t);
      o.push(ev('quotes', 'AAPL', 1));
      o.push(ev('quotes', 'AAPL', 2));
      o.push(ev('quotes', 'MSFT', 3));
      o.push(ev('trades', 'AAPL', 4));
      await t.advance(100);
      assert.deepStrictEqual(out.map((m) => [m.event, m.payload.map((p) => p.id)]), [
        ['trades', [4]],
        ['quotes', [2, 3]],
      ]);
      o.close();
      assert.strictEqual(t.count, 0, 'no timer left');
    });

    it('a Batcher hands out a batch that a newcomer cannot join before starting the next', () => {
      const out = [];
      const b = new Batcher({ size: 5, ms: 1000, key: () => 'k', joins: (a, x) => a.kind === x.kind, deliver: (items) => out.push(items.map((x) => x.v)), timers: fakeTimers() });
      b.push({ kind: 'a', v: 1 });
      b.push({ kind: 'b', v: 2 });
      assert.deepStrictEqual(out, [[1]]);
      assert.strictEqual(b.pending, 1);
      b.close();
      b.push({ kind: 'b', v: 3 });
      assert.strictEqual(b.pending, 0, 'closed: nothing taken');
    });
  });

  describe('market feed: routing and gap fill (fake SDK stream and REST)', () => {
    const MIN = 60_000;
    const T0 = Date.parse('2025-01-02T15:00:00Z');

    function fakeStream() {
      const s = new EventEmitter();
      s.state = 'authenticated';
      s.getState = () => s.state;
      s.subscribed = {};
      for (const ch of ['Trades', 'Quotes', 'Bars', 'UpdatedBars', 'DailyBars', 'Statuses', 'News']) {
        s[`subscribeFor${ch}`] = (list) => (s.subscribed[ch] = [...new Set([...(s.subscribed[ch] ?? []), ...list])]);
        s[`unsubscribeFrom${ch}`] = (list) => (s.subscribed[ch] = (s.subscribed[ch] ?? []).filter((x) => !list.includes(x)));
      }
      s.drop = async () => {
        s.state = 'waiting to reconnect';
        s.emit('state_change', 'disconnected');
        await new Promise((r) => setImmediate(r));
      };
      s.up = () => {
        s.state = 'authenticated';
        s.emit('authenticated');
      };
      s.bar = (symbol, start) => s.emit('bar', { symbol, open: 1, high: 2, low: 0.5, close: 1.5, volume: 10, timestamp: new Date(start), timestampRaw: new Date(start).toISOString() });
      s.trade = (symbol, id) => s.emit('trade', { symbol, id, price: 1, size: 1, exchange: 'V', conditions: ['@'], tape: 'C', timestamp: new Date(T0 + id), timestampRaw: new Date(T0 + id).toISOString() });
      return s;
    }

    async function setup() {
      const stream = fakeStream();
      const requests = [];
      const broker = { now: T0 + MIN + 2000 };
      const rest = {
        rest: (call) =>
          call({
            marketData: {
              stocks: {
                stockBars: (params) =>
                  new Promise((resolve) => {
                    requests.push({ params, resolve });
                  }),
              },
            },
          }),
      };
      const source = { acquire: async () => ({ stream, release: () => undefined, forceReconnect: () => undefined }) };
      const feed = new AlpacaMarketFeed(rest, source, 'iex', 'stocks', undefined, () => broker.now);
      const got = { a: [], b: [], conn: [] };
      const sub = (id) => ({ id, watchdogMs: 0, pollAfterMs: 0, onEvent: (e) => got[id].push(e), onStatus: () => undefined, onConnectionEvent: (e) => id === 'a' && got.conn.push(e.event) });
      feed.attach(sub('a'));
      feed.attach(sub('b'));
      await new Promise((r) => setImmediate(r));
      stream.up();
      return { stream, requests, broker, feed, got };
    }
    const tick = () => new Promise((r) => setImmediate(r));

    it('every further node holding a pair gets a payload of its own', async () => {
      const { stream, feed, got } = await setup();
      feed.subscribe('a', { trades: ['AAPL'] });
      feed.subscribe('b', { trades: ['*'] });
      stream.trade('AAPL', 1);
      stream.trade('MSFT', 2);
      assert.deepStrictEqual([got.a.length, got.b.length], [1, 2]);
      assert.deepStrictEqual(got.a[0].payload, got.b[0].payload);
      assert.notStrictEqual(got.a[0].payload, got.b[0].payload);
      assert.notStrictEqual(got.a[0].payload.conditions, got.b[0].payload.conditions);
      feed.unsubscribe('b', { trades: ['*'] });
      stream.trade('MSFT', 3);
      assert.strictEqual(got.b.length, 2, 'b let go of the wildcard');
      assert.strictEqual(feed.stats.tracked, 1, 'symbols seen only through the wildcard are forgotten');
      feed.close();
    });

    it('tells the last trade of a pair some node subscribes, while the stream is up and the trade is recent enough', async () => {
      const { stream, broker, feed } = await setup();
      feed.subscribe('a', { trades: ['AAPL'], quotes: ['MSFT'] });
      const trade = (symbol, price, at) => stream.emit('trade', { symbol, id: 9, price, size: 1, exchange: 'V', conditions: ['@'], tape: 'C', timestamp: new Date(at), timestampRaw: new Date(at).toISOString() });
      assert.strictEqual(feed.lastTrade('AAPL', 5000), undefined, 'no trade yet');
      trade('AAPL', 187.5, broker.now - 1000);
      trade('MSFT', 410, broker.now - 1000);
      assert.strictEqual(feed.lastTrade('AAPL', 5000), 187.5);
      assert.strictEqual(feed.lastTrade('AAPL', 500), undefined, 'older than the caller allows');
      assert.strictEqual(feed.lastTrade('MSFT', 5000), undefined, 'nobody subscribes MSFT trades (its quotes are no trade)');
      broker.now += 10_000;
      assert.strictEqual(feed.lastTrade('AAPL', 5000), undefined, '11 s old on the broker clock');
      trade('AAPL', 188, broker.now);
      await stream.drop();
      assert.strictEqual(feed.lastTrade('AAPL', 5000), undefined, 'the stream is down: a trade may be missing');
      stream.up();
      await tick();
      assert.strictEqual(feed.lastTrade('AAPL', 5000), 188);
      feed.unsubscribe('a', { trades: ['AAPL'] });
      assert.strictEqual(feed.lastTrade('AAPL', 5000), undefined, 'nobody subscribes AAPL trades any more');
      feed.close();
    });

    it('asks REST for missed bars only when a bar can have been missed, once per feed, folding reconnects during a fill', async () => {
      const { stream, requests, broker, feed, got } = await setup();
      feed.subscribe('a', { bars: ['AAPL', 'MSFT'] });
      stream.bar('AAPL', T0);
      stream.bar('MSFT', T0);
      // 15:01:05 -> 15:01:07: the 15:00 bars (the newest possible) were already here.
      broker.now = T0 + MIN + 5000;
      await stream.drop();
      broker.now = T0 + MIN + 7000;
      stream.up();
      await tick();
      // 15:01:40 -> 15:01:45: no minute boundary during the outage.
      broker.now = T0 + MIN + 40_000;
      await stream.drop();
      broker.now = T0 + MIN + 45_000;
      stream.up();
      await tick();
      assert.strictEqual(requests.length, 0, 'no REST request for outages that cannot hide a bar');
      assert.deepStrictEqual(got.conn.filter((e) => e === 'recovered').length, 2, 'each reconnect still reports its (empty) recovery');
      // 15:01:58 -> 15:02:03: the 15:01 bars came out meanwhile.
      broker.now = T0 + MIN + 58_000;
      await stream.drop();
      broker.now = T0 + 2 * MIN + 3000;
      stream.up();
      await tick();
      assert.strictEqual(requests.length, 1);
      assert.strictEqual(requests[0].params.start.getTime(), T0 + MIN, 'from the minute after the last bar seen');
      assert.strictEqual(requests[0].params.symbols, 'AAPL,MSFT', 'one request for every symbol');
      // Two more drops while the fill runs, and a live bar: folded into one more (empty) pass; the live bar waits.
      for (let i = 0; i < 2; i++) {
        await stream.drop();
        stream.up();
        await tick();
      }
      stream.bar('AAPL', T0 + 2 * MIN);
      requests[0].resolve({ bars: { AAPL: [{ open: 1, high: 1, low: 1, close: 1, volume: 1, timestamp: new Date(T0 + MIN) }] } });
      for (let i = 0; i < 5; i++) await tick();
      assert.strictEqual(requests.length, 1, 'the folded reconnects found nothing more to ask');
      assert.deepStrictEqual(
        got.a.filter((e) => e.symbol === 'AAPL').map((e) => [(e.payload.time - T0) / MIN, e.recovered === true]),
        [
          [0, false],
          [1, true],
          [2, false],
        ],
      );
      assert.deepStrictEqual(feed.stats.recovery, { requests: 1, gapFills: 1, gapFillsSkipped: 3, gapFillsCoalesced: 2, probes: 0, polls: 0 });
      assert.strictEqual(feed.stats.held, 0);
      feed.close();
    });
  });

  describe('StreamHealth', () => {
    function make(t, over = {}) {
      const calls = { probe: 0, force: 0, poll: 0, recover: [] };
      const h = new StreamHealth({
        kind: 'stocks',
        timers: t,
        watchdogMs: () => 1000,
        pollAfterMs: () => 3000,
        pollEveryMs: 1000,
        probe: async () => {
          calls.probe++;
          return over.stale ?? true;
        },
        forceReconnect: () => calls.force++,
        poll: async () => {
          calls.poll++;
        },
        recover: async (since) => {
          calls.recover.push(since);
          return 2;
        },
      });
      const events = [];
      const statuses = [];
      h.on('event', (e) => events.push(e));
      h.on('status', (s) => statuses.push(s));
      return { h, calls, events, statuses };
    }

    it('the watchdog probes after silence and forces a reconnect when REST is ahead', async () => {
      const t = fakeTimers();
      const { h, calls, events } = make(t);
      h.connecting();
      h.authenticated();
      await t.advance(600);
      h.data();
      await t.advance(600);
      assert.strictEqual(calls.probe, 0, 'data within the period: no probe');
      await t.advance(1500);
      assert.strictEqual(calls.probe, 1);
      assert.strictEqual(calls.force, 1);
      assert.strictEqual(h.status.state, 'stale');
      assert.deepStrictEqual(events.map((e) => e.event), ['connected', 'stale']);
      h.close();
      assert.strictEqual(t.count, 0, 'no timer left');
    });

    it('a quiet but current feed (market closed) is left alone', async () => {
      const t = fakeTimers();
      const { h, calls } = make(t, { stale: false });
      h.authenticated();
      await t.advance(5000);
      assert.ok(calls.probe >= 2);
      assert.strictEqual(calls.force, 0);
      assert.strictEqual(h.status.state, 'connected');
      h.close();
    });

    it('reconnecting shows attempt and since; polls after the threshold; gap-fills once back', async () => {
      const t = fakeTimers();
      const { h, calls, events } = make(t);
      h.authenticated();
      const downAt = t.now();
      h.disconnected('socket closed');
      h.reconnecting(1);
      h.reconnecting(2);
      assert.match(h.status.text, /^reconnecting \(attempt 2, since \d\d:\d\d:\d\d\)$/);
      assert.strictEqual(h.status.since, downAt);
      await t.advance(2900);
      assert.strictEqual(calls.poll, 0);
      await t.advance(2200);
      assert.strictEqual(calls.poll, 3, 'polls at 3 s, 4 s and 5 s');
      assert.strictEqual(calls.probe, 0, 'no watchdog while down');
      h.authenticated();
      await t.advance(0);
      assert.deepStrictEqual(calls.recover, [downAt]);
      const names = events.map((e) => e.event);
      assert.deepStrictEqual(names, ['connected', 'disconnected', 'reconnecting', 'reconnecting', 'polling', 'reconnected', 'recovered']);
      assert.strictEqual(events.find((e) => e.event === 'recovered').count, 2);
      assert.strictEqual(events.find((e) => e.event === 'reconnected').downMs, 5100);
      await t.advance(3000);
      assert.strictEqual(calls.poll, 3, 'polling stopped');
      h.close();
    });

    it('auth failure is terminal and stops every timer', async () => {
      const t = fakeTimers();
      const { h, calls } = make(t);
      h.authenticated();
      h.authFailed('auth failed');
      assert.strictEqual(h.status.state, 'auth_failed');
      assert.strictEqual(h.status.text, 'auth failed: auth failed');
      h.disconnected();
      await t.advance(10000);
      assert.strictEqual(calls.poll + calls.probe, 0);
      assert.strictEqual(h.status.state, 'auth_failed');
    });

    it('OutageAlarm alerts once per outage longer than the threshold and reports the restore', async () => {
      const t = fakeTimers();
      const fired = [];
      const alarm = new OutageAlarm(120000, (e, since, ms) => fired.push([e, since, ms]), t);
      const ev = (event) => ({ event, time: t.now(), downSince: t.now() });
      alarm.note(ev('disconnected'));
      await t.advance(60000);
      alarm.note(ev('connected'));
      assert.deepStrictEqual(fired, [], 'a one-minute blip is no alert');
      const since = t.now();
      alarm.note(ev('disconnected'));
      alarm.note(ev('reconnecting'));
      await t.advance(300000);
      assert.deepStrictEqual(fired, [['alert', since, 120000]]);
      alarm.note(ev('reconnected'));
      assert.deepStrictEqual(fired[1], ['restored', since, 300000]);
      alarm.stop();
      assert.strictEqual(t.count, 0);
    });
  });

  describe('trade-updates feed: what it remembers (fake SDK stream and REST)', () => {
    const MIN = 60_000;
    async function setup() {
      const timers = fakeTimers(Date.parse('2025-01-02T15:00:00Z'));
      const stream = new EventEmitter();
      stream.state = 'connecting';
      stream.getState = () => stream.state;
      stream.onTradeUpdate = (fn) => stream.on('trade_update', fn);
      stream.subscribeTradeUpdates = () => undefined;
      const listings = [];
      const rest = { rest: (call) => call({ trading: { orders: { getAllOrders: async (params) => (listings.push(params), []) } } }) };
      const source = { acquire: async () => ({ stream, release: () => undefined, forceReconnect: () => undefined }) };
      const reads = { clock: async () => ({ timestamp: new Date(timers.now()).toISOString() }), openOrders: async () => [] };
      const feed = new AlpacaTradeUpdates(rest, source, reads, timers);
      const got = [];
      feed.subscribe((u) => got.push(u), { watchdogMs: 0, pollAfterMs: 0 });
      await new Promise((r) => setImmediate(r));
      stream.state = 'authenticated';
      stream.emit('authenticated');
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      const fill = (id) => {
        const at = new Date(timers.now()).toISOString();
        stream.emit('trade_update', { event: 'fill', timestamp: at, execution_id: `x-${id}`, order: { id, status: 'filled', filled_qty: '1', updated_at: at, submitted_at: at } });
      };
      const drop = async () => {
        stream.state = 'waiting to reconnect';
        stream.emit('state_change', 'disconnected');
        await new Promise((r) => setImmediate(r));
      };
      return { timers, stream, feed, got, fill, drop, listings };
    }

    it('forgets filled orders once no gap fill can reach back to them, and not while the stream is down', async () => {
      const { timers, stream, feed, got, fill, drop, listings } = await setup();
      assert.strictEqual(listings.length, 1, 'the gap since the feed started, once');
      for (let i = 0; i < 5; i++) fill(`early-${i}`);
      assert.strictEqual(feed.stats.tracked, 5);
      // Past the margin and the slack behind the newest possible cutoff: forgotten on the next update.
      await timers.advance(7 * MIN);
      fill('later');
      assert.strictEqual(feed.stats.tracked, 1, 'the early fills are forgotten');
      // An outage: what it may have to look back to stays, however long it lasts.
      await drop();
      await timers.advance(30 * MIN);
      stream.state = 'authenticated';
      stream.emit('authenticated');
      fill('during-recovery');
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      assert.strictEqual(listings.length, 2, 'one gap fill after the outage');
      assert.strictEqual(feed.stats.tracked, 2, 'nothing forgotten while recovering');
      await timers.advance(7 * MIN);
      fill('after');
      assert.strictEqual(feed.stats.tracked, 1, 'healthy again: only what a later gap fill could still find');
      assert.deepStrictEqual(got.map((u) => u.order.id), ['early-0', 'early-1', 'early-2', 'early-3', 'early-4', 'later', 'during-recovery', 'after']);
      feed.close();
    });
  });

  describe('OrderTracker', () => {
    it('drops duplicate live updates and recovers missed ones exactly once, oldest first', () => {
      const tr = new OrderTracker();
      const T = Date.parse('2025-01-02T15:00:00Z');
      tr.seed([order('old', 'new', 0, T - 3600_000)]);
      const live = { event: 'new', timestamp: new Date(T).toISOString(), order: order('a', 'new', 0, T) };
      assert.ok(tr.live(live));
      assert.ok(!tr.live({ ...live }), 'same order, event and time: a duplicate');
      const rest = [
        order('old', 'filled', 10, T + 5000, T - 3600_000),
        order('a', 'filled', 10, T + 3000),
        order('b', 'filled', 10, T + 4000, T + 2000),
        order('ancient', 'filled', 10, T - 7200_000),
      ];
      const got = tr.recover(rest, T - 60_000);
      assert.deepStrictEqual(got.map((u) => [u.order.id, u.event]), [['a', 'fill'], ['b', 'fill'], ['old', 'fill']]);
      assert.ok(got.every((u) => u.recovered === true && u.qty === 10 && u.price === 100));
      assert.deepStrictEqual(tr.recover(rest, T - 60_000), [], 'a second pass finds nothing new');
      // The live fill of a recovered order arriving late is a duplicate.
      assert.ok(!tr.live({ event: 'fill', timestamp: new Date(T + 3000).toISOString(), executionId: 'x1', order: order('a', 'filled', 10, T + 3000) }));
      assert.ok(tr.queryAfter(T) <= T - 1000);
    });

    it('leaves an order to a held live update with the same or a newer state', () => {
      const tr = new OrderTracker();
      const T = Date.parse('2025-01-02T15:00:00Z');
      const held = [{ event: 'fill', timestamp: new Date(T + 5000).toISOString(), executionId: 'e', order: order('c', 'filled', 10, T + 5000) }];
      assert.deepStrictEqual(tr.recover([order('c', 'partially_filled', 4, T + 2000)], T - 1000, held), []);
      assert.ok(tr.live(held[0]));
      assert.strictEqual(eventKey(held[0]), 'fill|e');
      assert.ok(!tr.live(held[0]), 'the same update again');
    });

    it('forgets final orders changed before the floor, never an open one; a forgotten order changed before a cutoff is not recovered', () => {
      const tr = new OrderTracker();
      const T = Date.parse('2025-01-02T15:00:00Z');
      const fill = (id, at) => ({ event: 'fill', timestamp: new Date(at).toISOString(), executionId: `x-${id}`, order: order(id, 'filled', 10, at) });
      assert.ok(tr.live(fill('done-early', T)));
      assert.ok(tr.live(fill('done-late', T + 60_000)));
      assert.ok(tr.live({ event: 'new', timestamp: new Date(T).toISOString(), order: order('open', 'new', 0, T) }));
      assert.strictEqual(tr.forget(T + 1), 1);
      assert.strictEqual(tr.size, 2);
      assert.ok(tr.queryAfter(T + 120_000) <= T - 1000, 'the open order still bounds the listing');
      const listing = [order('done-early', 'filled', 10, T), order('done-late', 'filled', 10, T + 60_000), order('open', 'new', 0, T)];
      assert.deepStrictEqual(tr.recover(listing, T + 1), [], 'nothing to recover: the forgotten order changed before the cutoff');
      assert.strictEqual(tr.forget(T + 60_000), 0, 'the floor is exclusive');
    });

    it('stays bounded', () => {
      const tr = new OrderTracker(50);
      for (let i = 0; i < 500; i++) tr.live({ event: 'new', timestamp: new Date(1e12 + i).toISOString(), order: order(`o${i}`, 'new', 0, 1e12 + i) });
      assert.strictEqual(tr.size, 50);
    });
  });
});
