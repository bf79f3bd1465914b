'use strict';
// The breaker's valuation on its own: positions marked to market by prices, moved by fills,
// reconciled by the poll; the bounded equity series; the subscriptions it holds on the feeds.
const assert = require('assert');
const { Portfolio, readsAgree, streamSymbol } = require('../../dist/lib/breaker/portfolio');
const { EquitySeries, bucketFor } = require('../../dist/lib/breaker/equity-series');
const { MarkToMarket } = require('../../dist/lib/breaker/mark-to-market');
const { markingText } = require('../../dist/lib/breaker/words');
const { checkRollingLoss } = require('../../dist/lib/breaker/rules');
const { parseSettings } = require('../../dist/lib/breaker/settings');

const position = (symbol, qty, price, over = {}) => ({
  symbol, assetClass: 'us_equity', side: qty < 0 ? 'short' : 'long', qty, currentPrice: price, marketValue: qty * price, ...over,
});
/** An account read agreeing with `positions`, with `cash` on top. */
const account = (cash, positions) => {
  const long = positions.filter((p) => p.qty > 0).reduce((s, p) => s + p.qty * p.currentPrice, 0);
  const short = positions.filter((p) => p.qty < 0).reduce((s, p) => s + p.qty * p.currentPrice, 0);
  return { equity: cash + long + short, longMarketValue: long, shortMarketValue: short };
};

describe('breaker marks to market', function () {
  describe('the portfolio', function () {
    it('equity is cash plus long value less short value, re-valued by each price', function () {
      const p = new Portfolio();
      assert.strictEqual(p.equity, undefined, 'nothing before the first poll');
      const held = [position('AAPL', 100, 200), position('TSLA', -10, 300)];
      p.reconcile(account(83000, held), held, 1000, 1000);
      assert.strictEqual(p.equity, 83000 + 20000 - 3000);
      assert.strictEqual(p.mark('AAPL', 190, 5, 2000), true);
      assert.strictEqual(p.equity, 99000);
      assert.strictEqual(p.mark('TSLA', 310, 6, 2000), true, 'a short loses when the price rises');
      assert.strictEqual(p.equity, 98900);
      assert.strictEqual(p.mark('MSFT', 400, 7, 2000), false, 'a symbol not held moves nothing');
      assert.strictEqual(p.mark('AAPL', 180, 4, 2000), false, 'a late print does not move the mark');
      assert.strictEqual(p.equity, 98900);
    });

    it('a fill moves the position and cash at once; the same fill seen after the poll counted it moves nothing', function () {
      const p = new Portfolio();
      p.reconcile(account(100000, []), undefined, 0, 0);
      assert.strictEqual(p.applyFill({ symbol: 'AAPL', assetClass: 'us_equity', positionQty: 10, price: 200, signedQty: 10, at: 1, now: 1 }), true);
      assert.strictEqual(p.position('AAPL'), 10);
      assert.strictEqual(p.equity, 100000, 'buying at the mark changes no equity');
      p.mark('AAPL', 190, 2, 2);
      assert.strictEqual(p.equity, 99900);
      // The poll already counts a second fill (20 held now); its late report changes nothing.
      const held = [position('AAPL', 20, 190)];
      p.reconcile(account(96000, held), held, 3, 3);
      assert.strictEqual(p.applyFill({ symbol: 'AAPL', assetClass: 'us_equity', positionQty: 20, price: 195, signedQty: 10, at: 1, now: 4 }), false);
      assert.strictEqual(p.equity, 99800);
      assert.strictEqual(p.applyFill({ symbol: 'AAPL', assetClass: 'us_equity', positionQty: 0, price: 190, signedQty: -20, at: 5, now: 5 }), true);
      assert.strictEqual(p.holdings.size, 0);
      assert.strictEqual(p.equity, 99800, 'selling at the mark turns the position into cash');
    });

    it('a stream price newer than the poll is kept by the reconciliation, an older one is replaced', function () {
      const p = new Portfolio();
      const held = [position('AAPL', 100, 200)];
      p.reconcile(account(80000, held), held, 0, 0);
      p.mark('AAPL', 195, 10, 500); // arrived at real time 500
      p.reconcile(account(80000, held), held, 400, 600); // a read started at 400: the price came after it
      assert.strictEqual(p.price('AAPL'), 195);
      assert.strictEqual(p.equity, 99500);
      p.reconcile(account(80000, held), held, 700, 800);
      assert.strictEqual(p.price('AAPL'), 200);
      assert.strictEqual(p.holdings.get('AAPL').source, 'poll');
    });

    it('the account and positions reads agree unless a fill fell between them; crypto positions stream as pairs', function () {
      const held = [position('AAPL', 100, 200)];
      assert.strictEqual(readsAgree(account(0, held), held), true);
      assert.strictEqual(readsAgree(account(0, held), [position('AAPL', 150, 200)]), false);
      assert.strictEqual(readsAgree(account(0, held), [position('AAPL', 100, 200.05)]), true, 'a small move between the reads is no fill');
      assert.strictEqual(streamSymbol('BTCUSD', 'crypto'), 'BTC/USD');
      assert.strictEqual(streamSymbol('ETHUSDT', 'crypto'), 'ETH/USDT');
      assert.strictEqual(streamSymbol('BRK.B', 'us_equity'), 'BRK.B');
    });
  });

  describe('the equity series', function () {
    it('stays bounded whatever the price rate and keeps every peak a loss is measured from', function () {
      const windowMs = 30 * 60_000;
      const series = new EquitySeries();
      const t0 = Date.parse('2025-03-03T15:00:00Z');
      let at = t0;
      // 20 prices a second for 30 minutes, with one spike to 101,000 in the middle.
      for (let i = 0; i < 36_000; i++) {
        at = t0 + i * 50;
        series.add(at, i === 18_000 ? 101000 : 100000 - (i % 7), bucketFor(windowMs));
        series.trim(at - windowMs);
      }
      assert.ok(series.samples.length <= 241, `${series.samples.length} samples`);
      assert.ok(series.samples.some((x) => x.equity === 101000), 'the spike is still there');
      const s = parseSettings({});
      const trip = checkRollingLoss(s, series.samples, 99980, at);
      assert.ok(trip, 'a loss of 1% from the spike trips');
      assert.strictEqual(trip.figures.reference, 101000);
    });
  });

  describe('following prices on the shared feeds', function () {
    function setup() {
      const feeds = {};
      const feed = (kind) => (feeds[kind] ??= {
        attached: [], wanted: {}, detached: 0,
        attach(sub) { this.attached.push(sub); sub.onStatus({ kind, state: 'connected', text: '', since: 0 }); },
        detach() { this.detached++; this.attached = []; this.wanted = {}; },
        replace(_id, w) { this.wanted = w; },
      });
      const portfolio = new Portfolio();
      const real = { t: 0 };
      const moves = [];
      const marks = new MarkToMarket({ id: 'brk', feed, portfolio, realNow: () => real.t, onMove: (m) => moves.push(m) });
      return { feeds, portfolio, marks, moves, real };
    }
    const event = (channel, symbol, payload) => ({ channel, symbol, payload: { symbol, time: 1, timestamp: '', ...payload } });

    it('subscribes the held symbols and those with open orders or traded in the last 10 min, each on its own kind, and lets go when flat', function () {
      const { feeds, portfolio, marks, real } = setup();
      const held = [position('AAPL', 10, 200), position('BTCUSD', 0.5, 60000, { assetClass: 'crypto' }), position('AAPL250117C00150000', 1, 5, { assetClass: 'us_option' })];
      portfolio.reconcile(account(0, held), held, 0, 0);
      marks.follow();
      marks.noteUpdate({ event: 'new', order: { id: 'o1', symbol: 'MSFT', status: 'new' } });
      assert.deepStrictEqual(feeds.stocks.wanted, { trades: ['AAPL', 'MSFT'], quotes: ['AAPL', 'MSFT'] });
      assert.deepStrictEqual(feeds.crypto.wanted, { trades: ['BTC/USD'], quotes: ['BTC/USD'] });
      assert.strictEqual(feeds.options, undefined, 'options are valued by the poll');
      real.t = 60_000;
      marks.noteUpdate({ event: 'canceled', order: { id: 'o1', symbol: 'MSFT', status: 'canceled' } });
      assert.deepStrictEqual(feeds.stocks.wanted, { trades: ['AAPL', 'MSFT'], quotes: ['AAPL', 'MSFT'] }, 'the next order in MSFT is priced from the stream');
      real.t = 60_000 + 599_999;
      marks.expire();
      assert.deepStrictEqual(feeds.stocks.wanted.trades, ['AAPL', 'MSFT']);
      real.t = 60_000 + 600_000;
      marks.expire();
      assert.deepStrictEqual(feeds.stocks.wanted, { trades: ['AAPL'], quotes: ['AAPL'] }, 'ten minutes after its last order');
      portfolio.reconcile(account(100000, []), undefined, 0, 0);
      marks.follow();
      assert.strictEqual(feeds.stocks.detached, 1, 'a flat account holds no market-data subscription');
      assert.strictEqual(feeds.crypto.detached, 1);
    });

    it('a trade prices a position, so does a sane quote midpoint; a one-sided or stub quote does not', function () {
      const { feeds, portfolio, marks, moves } = setup();
      const held = [position('AAPL', 10, 200)];
      portfolio.reconcile(account(0, held), held, 0, 0);
      marks.follow();
      const sub = feeds.stocks.attached[0];
      sub.onEvent(event('quotes', 'AAPL', { bid: 198, ask: 199, time: 2 }));
      assert.strictEqual(portfolio.price('AAPL'), 198.5);
      sub.onEvent(event('quotes', 'AAPL', { bid: 0, ask: 199, time: 3 }));
      sub.onEvent(event('quotes', 'AAPL', { bid: 100, ask: 300, time: 4 }));
      assert.strictEqual(portfolio.price('AAPL'), 198.5);
      sub.onEvent(event('trades', 'AAPL', { price: 197, time: 5 }));
      assert.strictEqual(portfolio.price('AAPL'), 197);
      assert.deepStrictEqual(moves.map((m) => [m.channel, m.price]), [['quotes', 198.5], ['trades', 197]]);
    });

    it('says whether the stream marks the equity, and why not: a stream down, a price too old, a symbol no stream prices', function () {
      const { feeds, portfolio, marks, real } = setup();
      const held = [position('AAPL', 10, 200)];
      portfolio.reconcile(account(0, held), held, 0, 0);
      marks.follow();
      const sub = feeds.stocks.attached[0];
      real.t = 5_000;
      sub.onEvent(event('trades', 'AAPL', { price: 201, time: 5 }));
      real.t = 9_000;
      assert.deepStrictEqual(marks.marking(10_000), { mode: 'stream', markedAt: 5_000 });
      assert.match(markingText(marks.marking(10_000), 0), /^marked to market at \d\d:\d\d:\d\d$/);
      real.t = 65_000;
      const stale = marks.marking(10_000);
      assert.deepStrictEqual([stale.mode, stale.why, stale.symbol, stale.ageMs], ['poll', 'stale', 'AAPL', 60_000]);
      assert.match(markingText(stale, 60_000), /^AAPL price 60 s old · polled at \d\d:\d\d:\d\d$/);
      sub.onEvent(event('trades', 'AAPL', { price: 202, time: 6 }));
      real.t = 66_000;
      sub.onEvent(event('trades', 'AAPL', { price: 202, time: 66_000 }));
      sub.onStatus({ kind: 'stocks', state: 'reconnecting', text: '', since: 0 });
      real.t = 70_999;
      assert.strictEqual(marks.marking(10_000).mode, 'stream', 'a drop shorter than 5 s marks by the last prices while they are fresh');
      real.t = 71_000;
      assert.match(markingText(marks.marking(10_000), 60_000), /^stocks stream down · polled at/);
      sub.onStatus({ kind: 'stocks', state: 'connected', text: '', since: 0 });
      assert.strictEqual(marks.marking(10_000).mode, 'stream', 'back up with a fresh price');
      const options = [position('AAPL250117C00150000', 1, 5, { assetClass: 'us_option' })];
      portfolio.reconcile(account(0, options), options, 0, 0);
      assert.deepStrictEqual(marks.marking(10_000), { mode: 'poll', why: 'unpriced', symbol: 'AAPL250117C00150000' });
    });
  });
});
