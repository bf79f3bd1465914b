'use strict';
// The simulator's market model: seeded random walk, quotes and trades, minute bars built in
// simulated time, synthetic history, timeframes, market hours, CSV replay and cleanup.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Market, parseTimeframe, bucketStart, MINUTE, DAY } = require('../../dist/lib/sim/market');
const { Clock } = require('../../dist/lib/sim/clock');
const { newYorkMidnight } = require('../../dist/lib/sim/calendar');
const { sleep } = require('../support/wait');

const START = Date.UTC(2024, 5, 12, 14, 0, 0); // a Wednesday, 10:00 New York

/** A clock the test moves by hand (simulated time only; the market under test is real). */
function manualClock(start = START, open = () => true) {
  const c = {
    t: start,
    speed: 1,
    now: () => c.t,
    isMarketOpen: (at) => open(at ?? c.t),
    phase: (at) => (open(at ?? c.t) ? 'core' : 'closed'),
    session: () => undefined,
    nextOpenClose: () => ({ nextOpen: 0, nextClose: 0 }),
  };
  return c;
}

function path50(seed) {
  const m = new Market({ clock: manualClock(), seed, tickMs: 1000 });
  const out = [];
  for (let i = 0; i < 50; i++) {
    m.step();
    out.push(m.lastTrade('AAPL').price, m.quote('BTC/USD').bid);
  }
  return out;
}

describe('sim market', () => {
  it('has ~60 stocks, ETFs and crypto pairs with deterministic UUID ids', () => {
    const m = new Market({ clock: manualClock() });
    const assets = m.assets();
    assert.ok(assets.length >= 60, `${assets.length} assets`);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.ok(assets.every((a) => uuid.test(a.id)));
    assert.strictEqual(new Set(assets.map((a) => a.id)).size, assets.length, 'ids are unique');
    for (const s of ['AAPL', 'MSFT', 'NVDA', 'SPY', 'QQQ', 'BTC/USD', 'ETH/USD', 'SOL/USD', 'BTC/USDT']) assert.ok(m.asset(s), s);
    const aapl = m.asset('aapl');
    assert.strictEqual(aapl.symbol, 'AAPL');
    assert.strictEqual(aapl.assetClass, 'us_equity');
    assert.strictEqual(m.asset(aapl.id), aapl);
    assert.strictEqual(new Market({ clock: manualClock() }).asset('AAPL').id, aapl.id, 'same id in another market');
    assert.strictEqual(m.asset('SPY').exchange, 'ARCA');
    assert.strictEqual(m.asset('NOPE'), undefined);
    const btc = m.asset('BTC/USD');
    assert.strictEqual(btc.assetClass, 'crypto');
    assert.ok(btc.fractionable && btc.minOrderSize > 0 && btc.minTradeIncrement > 0 && btc.priceIncrement > 0);
  });

  it('the same seed gives the same price path; another seed another one', () => {
    const a = path50(7);
    assert.deepStrictEqual(path50(7), a);
    assert.notDeepStrictEqual(path50(8), a);
    assert.ok(new Set(a).size > 10, 'prices move');
  });

  it('quotes have a positive spread around the trade; events fire per symbol each tick', () => {
    const m = new Market({ clock: manualClock(), seed: 1 });
    const ticks = new Map();
    m.on('tick', (symbol, q, t) => ticks.set(symbol, { q, t }));
    let quotes = 0;
    m.on('quote', () => quotes++);
    m.step();
    assert.strictEqual(ticks.size, m.assets().length, 'every symbol moved');
    assert.strictEqual(quotes, m.assets().length);
    for (const [symbol, { q, t }] of ticks) {
      assert.ok(q.ask > q.bid && q.bid > 0, `${symbol} spread`);
      assert.ok(t.price >= q.bid && t.price <= q.ask, `${symbol} trade inside the quote`);
      assert.ok(q.bidSize > 0 && t.size > 0);
      assert.strictEqual(m.lastTrade(symbol), t);
    }
    const aapl = ticks.get('AAPL').q;
    assert.ok(aapl.ask - aapl.bid < 0.1, 'stock spread a few cents');
    assert.ok(Number.isInteger(ticks.get('AAPL').t.size), 'whole shares');
  });

  it('builds minute bars in simulated time whose OHLCV match the trades', () => {
    const clock = manualClock();
    const m = new Market({ clock, seed: 2, lateTradeRate: 0 });
    const trades = [];
    const bars = [];
    const daily = [];
    m.on('trade', (t) => t.symbol === 'TSLA' && trades.push(t));
    m.on('bar', (b) => b.symbol === 'TSLA' && bars.push(b));
    m.on('dailyBar', (b) => b.symbol === 'TSLA' && daily.push(b));
    for (let i = 0; i < 12 * 10 + 1; i++) {
      m.step();
      clock.t += 5000; // 5 simulated seconds per tick
    }
    assert.strictEqual(bars.length, 10);
    for (const b of bars) {
      const inBar = trades.filter((t) => t.t >= b.t && t.t < b.t + MINUTE);
      assert.strictEqual(b.t % MINUTE, 0);
      assert.strictEqual(inBar.length, 12);
      assert.strictEqual(b.n, 12);
      assert.strictEqual(b.o, inBar[0].price);
      assert.strictEqual(b.c, inBar[inBar.length - 1].price);
      assert.strictEqual(b.h, Math.max(...inBar.map((t) => t.price)));
      assert.strictEqual(b.l, Math.min(...inBar.map((t) => t.price)));
      assert.strictEqual(b.v, inBar.reduce((s, t) => s + t.size, 0));
      assert.ok(b.vw >= b.l && b.vw <= b.h);
    }
    assert.strictEqual(daily.length, 10, 'a running daily bar after each minute');
    const lastDaily = daily[daily.length - 1];
    assert.ok(lastDaily.h >= Math.max(...bars.map((b) => b.h)));
    assert.ok(lastDaily.l <= Math.min(...bars.map((b) => b.l)));
    assert.ok(lastDaily.v > bars.reduce((s, b) => s + b.v, 0), 'includes the synthetic morning before the start');

    // 5-minute aggregation of the live minutes agrees with the minute bars.
    const five = m.bars('TSLA', parseTimeframe('5Min'), START, clock.t).filter((b) => b.t >= START);
    assert.strictEqual(five.length, 2);
    const firstFive = bars.slice(0, 5);
    assert.strictEqual(five[0].o, firstFive[0].o);
    assert.strictEqual(five[0].c, firstFive[4].c);
    assert.strictEqual(five[0].h, Math.max(...firstFive.map((b) => b.h)));
    assert.strictEqual(five[0].v, firstFive.reduce((s, b) => s + b.v, 0));
  });

  it('keeps live minute bars in a bounded buffer', () => {
    const clock = manualClock();
    const m = new Market({ clock, seed: 2, liveMinuteBars: 5 });
    for (let i = 0; i < 20; i++) {
      m.step();
      clock.t += MINUTE;
    }
    m.step();
    const live = m.bars('AAPL', parseTimeframe('1Min'), START, clock.t);
    assert.strictEqual(live.length, 5);
    assert.strictEqual(live[4].t, clock.t - MINUTE - (clock.t % MINUTE));
  });

  it('serves deterministic synthetic history before the start, continuous into the live price', () => {
    const a = new Market({ clock: manualClock(), seed: 9 });
    const b = new Market({ clock: manualClock(), seed: 9 });
    const minutes = a.bars('MSFT', parseTimeframe('1Min'), START - 2 * 3600_000, START);
    assert.strictEqual(minutes.length, 120);
    assert.deepStrictEqual(b.bars('MSFT', parseTimeframe('1Min'), START - 2 * 3600_000, START), minutes);
    for (let i = 1; i < minutes.length; i++) {
      assert.strictEqual(minutes[i].t - minutes[i - 1].t, MINUTE);
      assert.ok(minutes[i].l <= Math.min(minutes[i].o, minutes[i].c) && minutes[i].h >= Math.max(minutes[i].o, minutes[i].c));
    }
    assert.strictEqual(minutes[minutes.length - 1].c, 420, 'history ends at the start price');
    const days = a.bars('MSFT', parseTimeframe('1Day'), START - 30 * DAY, START);
    assert.ok(days.length >= 30 && days.length <= 31, `${days.length} daily bars`);
    assert.ok(days.every((d) => d.t === newYorkMidnight(d.t) && d.v > 0), 'stock days start at midnight New York');
    const weeks = a.bars('MSFT', parseTimeframe('1Week'), START - 60 * DAY, START);
    assert.ok(weeks.every((w) => new Date(w.t).getUTCDay() === 1), 'weeks start on Monday');
    const hours = a.bars('MSFT', parseTimeframe('4Hour'), START - DAY, START);
    assert.ok(hours.every((h) => h.t % (4 * 3600_000) === 0));
  });

  it('setPrice moves the market now and the walk continues from there', () => {
    const m = new Market({ clock: manualClock(), seed: 4 });
    const seen = [];
    m.on('tick', (symbol, q, t) => seen.push([symbol, t.price]));
    m.setPrice('aapl', 123.45);
    assert.deepStrictEqual(seen, [['AAPL', 123.45]], 'one tick emitted at once');
    assert.strictEqual(m.lastTrade('AAPL').price, 123.45);
    assert.ok(m.quote('AAPL').bid < 123.45 && m.quote('AAPL').ask > 123.45);
    m.step();
    assert.ok(Math.abs(m.lastTrade('AAPL').price - 123.45) < 1, 'walks on from the new price');
    assert.throws(() => m.setPrice('NOPE', 1), /unknown symbol/);
    assert.throws(() => m.setPrice('AAPL', -1));
  });

  it('parses Alpaca timeframes and rejects the rest', () => {
    assert.deepStrictEqual(parseTimeframe('1Min'), { amount: 1, unit: 'Min' });
    assert.deepStrictEqual(parseTimeframe('15T'), { amount: 15, unit: 'Min' });
    assert.deepStrictEqual(parseTimeframe('4Hour'), { amount: 4, unit: 'Hour' });
    assert.deepStrictEqual(parseTimeframe('1H'), { amount: 1, unit: 'Hour' });
    assert.deepStrictEqual(parseTimeframe('1Day'), { amount: 1, unit: 'Day' });
    assert.deepStrictEqual(parseTimeframe('1D'), { amount: 1, unit: 'Day' });
    assert.deepStrictEqual(parseTimeframe('1Week'), { amount: 1, unit: 'Week' });
    assert.deepStrictEqual(parseTimeframe('3M'), { amount: 3, unit: 'Month' });
    for (const bad of ['60Min', '0Min', '24Hour', '2Day', '5Month', 'Minute', '', '1min', '1 Min']) {
      assert.strictEqual(parseTimeframe(bad), undefined, bad);
    }
    assert.strictEqual(bucketStart(Date.UTC(2024, 5, 12, 14, 7, 30), parseTimeframe('5Min')), Date.UTC(2024, 5, 12, 14, 5));
    assert.strictEqual(bucketStart(Date.UTC(2024, 5, 12, 14, 7), parseTimeframe('1Week')), Date.UTC(2024, 5, 10));
    assert.strictEqual(bucketStart(Date.UTC(2024, 7, 12), parseTimeframe('3Month')), Date.UTC(2024, 6, 1));
  });

  it("under 'nyse' hours stocks stand still while closed; crypto keeps trading", () => {
    const saturday = Date.UTC(2024, 5, 15, 15, 0);
    const clock = new Clock({ marketHours: 'nyse', start: saturday });
    const m = new Market({ clock, seed: 5 });
    const symbols = new Set();
    m.on('trade', (t) => symbols.add(t.symbol));
    const before = m.lastTrade('AAPL');
    for (let i = 0; i < 5; i++) m.step();
    assert.strictEqual(m.lastTrade('AAPL'), before);
    assert.ok(symbols.has('BTC/USD') && !symbols.has('AAPL') && !symbols.has('SPY'));
    const weekdayOpen = new Market({ clock: new Clock({ marketHours: 'nyse', start: START }), seed: 5 });
    let stockTrades = 0;
    weekdayOpen.on('trade', (t) => t.symbol === 'AAPL' && stockTrades++);
    weekdayOpen.step();
    assert.strictEqual(stockTrades, 1);
    // Synthetic stock history only covers sessions, extended hours included (no weekend bars).
    const hist = m.bars('AAPL', parseTimeframe('1Min'), saturday - 3 * DAY, saturday);
    assert.ok(hist.length > 0 && hist.every((b) => clock.phase(b.t) !== 'closed'));
    assert.ok(hist.some((b) => clock.phase(b.t) === 'pre') && hist.some((b) => clock.phase(b.t) === 'post'));
  });

  it("under 'nyse' hours stocks trade in the pre- and post-market too, not overnight", () => {
    const traded = (iso) => {
      const m = new Market({ clock: new Clock({ marketHours: 'nyse', start: Date.parse(iso) }), seed: 5 });
      let aapl = 0;
      m.on('trade', (t) => t.symbol === 'AAPL' && aapl++);
      m.step();
      return aapl;
    };
    assert.strictEqual(traded('2024-06-12T12:00:00Z'), 1, '08:00 New York: pre-market');
    assert.strictEqual(traded('2024-06-12T22:00:00Z'), 1, '18:00 New York: post-market');
    assert.strictEqual(traded('2024-06-12T07:00:00Z'), 0, '03:00 New York: closed');
    assert.strictEqual(traded('2024-11-28T15:00:00Z'), 0, 'Thanksgiving');
  });

  it('stamps stock daily bars at midnight New York on trading days only; crypto days at midnight UTC', () => {
    const start = Date.parse('2024-12-02T15:00:00Z'); // Monday after Thanksgiving, 10:00 New York
    const m = new Market({ clock: new Clock({ marketHours: 'nyse', start }), seed: 6 });
    const days = m.bars('AAPL', parseTimeframe('1Day'), Date.parse('2024-11-01T00:00:00Z'), start);
    const dates = days.map((d) => new Date(d.t - 5 * 3600_000).toISOString().slice(0, 10));
    assert.ok(days.every((d) => d.t === newYorkMidnight(d.t)), 'midnight New York (05:00Z in winter)');
    assert.ok(!dates.includes('2024-11-28'), 'no bar on Thanksgiving');
    assert.ok(dates.includes('2024-11-27') && dates.includes('2024-11-29') && dates.includes('2024-12-02'));
    assert.ok(dates.every((d) => ![0, 6].includes(new Date(`${d}T12:00:00Z`).getUTCDay())), 'no weekend bars');
    assert.strictEqual(new Set(dates).size, dates.length, 'one bar per day');
    const weeks = m.bars('AAPL', parseTimeframe('1Week'), Date.parse('2024-11-01T00:00:00Z'), start);
    assert.ok(weeks.every((w) => w.t === newYorkMidnight(w.t) && new Date(w.t).getUTCDay() === 1), 'weeks from Monday midnight New York');
    const btc = m.bars('BTC/USD', parseTimeframe('1Day'), Date.parse('2024-11-01T00:00:00Z'), start);
    assert.ok(btc.every((d) => d.t % DAY === 0), 'crypto at midnight UTC');
    assert.ok(btc.some((d) => new Date(d.t).getUTCDay() === 6), 'crypto trades at weekends');
  });

  it('rolls the live stock daily bar at midnight New York', () => {
    const clock = manualClock(Date.parse('2024-06-12T03:57:00Z')); // 23:57 New York
    const m = new Market({ clock, seed: 2, lateTradeRate: 0 });
    const stamps = new Set();
    m.on('dailyBar', (b) => b.symbol === 'AAPL' && stamps.add(new Date(b.t).toISOString()));
    for (let i = 0; i < 6; i++) {
      m.step();
      clock.t += MINUTE;
    }
    assert.deepStrictEqual([...stamps], ['2024-06-11T04:00:00.000Z', '2024-06-12T04:00:00.000Z']);
  });

  it('corrects a completed minute bar with a late trade and announces it as updatedBar', () => {
    const run = (lateTradeRate) => {
      const clock = manualClock();
      const m = new Market({ clock, seed: 3, lateTradeRate });
      const bars = [];
      const updated = [];
      const prices = [];
      m.on('bar', (b) => b.symbol === 'TSLA' && bars.push(b));
      m.on('updatedBar', (b) => b.symbol === 'TSLA' && updated.push(b));
      m.on('trade', (t) => t.symbol === 'TSLA' && prices.push(t.price));
      for (let i = 0; i < 40; i++) {
        m.step();
        clock.t += 5000;
      }
      return { m, bars, updated, prices };
    };
    const late = run(1);
    assert.ok(late.updated.length >= 2, 'every completed bar corrected once');
    const first = late.updated[0];
    const original = late.bars.find((b) => b.t === first.t);
    assert.ok(original, 'the correction is of a bar already sent');
    assert.ok(late.bars.indexOf(original) === 0 && first.v > original.v && first.n === original.n + 1);
    assert.strictEqual(first.o, original.o);
    assert.strictEqual(first.c, original.c);
    assert.ok(first.vw >= first.l && first.vw <= first.h);
    const stored = late.m.bars('TSLA', parseTimeframe('1Min'), first.t, first.t);
    assert.deepStrictEqual(stored[0], first, 'REST serves the corrected bar');
    const none = run(0);
    assert.strictEqual(none.updated.length, 0);
    assert.deepStrictEqual(none.prices, late.prices, 'late trades leave the price path alone');
  });

  it('writes crypto increments as plain decimal strings', () => {
    const { assetJson } = require('../../dist/lib/sim/assets');
    const m = new Market({ clock: manualClock() });
    const decimal = /^(0|[1-9]\d*)(\.\d*[1-9])?$/;
    for (const a of m.assets().filter((x) => x.assetClass === 'crypto')) {
      const json = assetJson(a);
      for (const k of ['min_order_size', 'min_trade_increment', 'price_increment']) assert.match(json[k], decimal, `${a.symbol} ${k} ${json[k]}`);
    }
    assert.strictEqual(assetJson(m.asset('BTC/USD')).min_trade_increment, '0.000000001');
    assert.strictEqual(assetJson(m.asset('DOGE/USD')).price_increment, '0.00001');
    assert.strictEqual(assetJson(m.asset('BTC/USD')).min_order_size, '0.0001');
  });

  it('replays a CSV per symbol, looping, and adds unknown symbols', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-csv-'));
    const file = path.join(dir, 'bars.csv');
    fs.writeFileSync(
      file,
      [
        'symbol,timestamp,open,high,low,close,volume',
        'AAPL,2024-01-02T14:31:00Z,10,10,10,11,100',
        'AAPL,2024-01-02T14:30:00Z,10,10,10,10,100', // out of order: sorted by timestamp
        'AAPL,1704206040000,12,12,12,12,100',
        'ACME,2024-01-02T14:30:00Z,5,5,5,5,10',
        'ACME,2024-01-02T14:31:00Z,6,6,6,6,10',
      ].join('\n'),
    );
    try {
      const m = new Market({ clock: manualClock(), seed: 1, csv: file });
      assert.strictEqual(m.lastTrade('AAPL').price, 10);
      const acme = m.asset('ACME');
      assert.ok(acme && acme.assetClass === 'us_equity');
      const aapl = [];
      const acmeSeen = [];
      m.on('tick', (s, q) => (s === 'AAPL' ? aapl : s === 'ACME' ? acmeSeen : []).push((q.bid + q.ask) / 2));
      for (let i = 0; i < 4; i++) m.step();
      assert.deepStrictEqual(aapl.map((p) => Math.round(p)), [11, 12, 10, 11]);
      assert.deepStrictEqual(acmeSeen.map((p) => Math.round(p)), [6, 5, 6, 5]);
      assert.ok(m.quote('MSFT'), 'symbols without rows keep walking');
      fs.writeFileSync(file, 'sym,when,close\nAAPL,1,2\n');
      assert.throws(() => new Market({ clock: manualClock(), csv: file }), /missing column/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start() ticks on a timer and stop() clears it', async () => {
    const m = new Market({ clock: new Clock({}), seed: 1, tickMs: 10 });
    let trades = 0;
    m.on('trade', () => trades++);
    m.start();
    await sleep(80);
    m.stop();
    assert.ok(trades > 0, 'ticked while started');
    const after = trades;
    await sleep(60);
    assert.strictEqual(trades, after, 'no ticks after stop');
    m.stop(); // idempotent
  });
});
