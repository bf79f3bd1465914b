'use strict';
// Every market-data REST endpoint the simulator serves, through the official SDK client and as
// raw bodies validated against Alpaca's OpenAPI spec, including errors and pagination.
const assert = require('assert');
const { waitFor } = require('../support/wait');
const { startSim } = require('../support/sim');
const { assertConforms } = require('../support/openapi');

describe('simulator market-data REST API', function () {
  this.timeout(20000);
  let s;
  let md;
  const threeDaysAgo = () => new Date(s.sim.clock.now() - 3 * 86400_000);
  const HOUR = 3_600_000;
  /**
   * Hourly bars over the three days before now: every hour from the first after the start, none
   * missing, up to the last complete one (the hour under way has a bar once a minute of it has).
   */
  function assertThreeDaysHourly(bars, what) {
    const times = bars.map((b) => new Date(b.t ?? b.timestamp).getTime());
    const now = s.sim.clock.now();
    const from = now - 3 * 86400_000;
    // The request's start was a moment (a few simulated minutes at speed 60) before now.
    assert.ok(times[0] >= from - 10 * 60_000 && times[0] <= from + HOUR, `${what}: the first hour, ${new Date(times[0]).toISOString()}`);
    times.forEach((t, i) => i && assert.strictEqual(t - times[i - 1], HOUR, `${what}: no hour missing`));
    assert.ok(times[times.length - 1] >= Math.floor(now / HOUR) * HOUR - HOUR, `${what}: up to the last complete hour`);
  }

  /** Raw GET that must succeed and conform to the spec; returns the body. */
  async function conforming(path, status = 200) {
    const r = await s.rest('GET', path);
    assert.strictEqual(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
    assertConforms('data', 'GET', path.split('?')[0], r.status, r.body);
    return r.body;
  }

  before(async () => {
    // The SIP plan reads every feed in real time; the Basic plan's limits have their own tests below.
    s = await startSim({ speed: 60, tickMs: 50, dataPlan: 'sip' });
    md = s.alpaca.marketData;
    await waitFor(() => s.sim.market.minuteBar('AAPL') || s.sim.market.latestBar('AAPL'), 3000, 'ticks');
  });
  after(() => s && s.stop());

  describe('stocks', () => {
    it('historical bars, multi and single symbol', async () => {
      const resp = await md.stocks.stockBars({ symbols: 'AAPL,MSFT,NOPE', timeframe: '1Hour', start: threeDaysAgo(), limit: 10000 });
      assert.deepStrictEqual(Object.keys(resp.bars).sort(), ['AAPL', 'MSFT'], 'unknown symbols are simply absent');
      assertThreeDaysHourly(resp.bars.AAPL, 'AAPL');
      const bar = resp.bars.AAPL[0];
      assert.ok(bar.t instanceof Date || typeof bar.t === 'string');
      assert.ok(bar.l <= bar.o && bar.o <= bar.h && bar.v > 0);
      const body = await conforming(`/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Day&start=${threeDaysAgo().toISOString()}`);
      assert.ok(body.bars.AAPL.every((b) => typeof b.o === 'number' && typeof b.v === 'number'), 'prices are numbers');
      assert.strictEqual(body.next_page_token, null);

      const single = await md.stocks.stockBarSingle({ symbol: 'SPY', timeframe: '15Min', start: threeDaysAgo(), limit: 5 });
      assert.strictEqual(single.symbol, 'SPY');
      assert.strictEqual(single.bars.length, 5);
      assert.ok(single.nextPageToken);
      const raw = await conforming(`/v2/stocks/SPY/bars?timeframe=15T&start=${threeDaysAgo().toISOString()}&limit=5`);
      assert.strictEqual(raw.bars.length, 5);
      assert.strictEqual(Date.parse(raw.bars[1].t) - Date.parse(raw.bars[0].t), 15 * 60_000);
      const none = await conforming('/v2/stocks/NOPE/bars?timeframe=1Min');
      assert.deepStrictEqual(none.bars, []);
    });

    it('ergonomic helpers: getStockBars follows pages, getLatestPrice', async () => {
      const bars = await md.getStockBars({ symbols: ['AAPL', 'TSLA'], timeframe: '1Hour', start: threeDaysAgo(), limit: 20 });
      assertThreeDaysHourly(bars.AAPL, 'AAPL, all pages collected');
      assertThreeDaysHourly(bars.TSLA, 'TSLA, all pages collected');
      assert.strictEqual(bars.AAPL[0].symbol, 'AAPL');
      const times = bars.AAPL.map((b) => b.timestamp.getTime());
      assert.deepStrictEqual(times, [...times].sort((a, b) => a - b));
      assert.strictEqual(new Set(times).size, times.length, 'no duplicates across pages');
      const price = await md.getLatestPrice('AAPL');
      assert.ok(Math.abs(price - s.sim.market.lastTrade('AAPL').price) < 5);
    });

    it('paginates with next_page_token across symbols, both sort orders', async () => {
      const start = new Date(s.sim.clock.now() - 2 * 86400_000).toISOString();
      const all = await conforming(`/v2/stocks/bars?symbols=MSFT,AAPL&timeframe=30Min&start=${start}&limit=10000`);
      const flat = (bars) => Object.entries(bars).flatMap(([sym, list]) => list.map((b) => `${sym}@${b.t}`));
      for (const sort of ['asc', 'desc']) {
        const pages = [];
        let token;
        do {
          const body = await conforming(`/v2/stocks/bars?symbols=MSFT,AAPL&timeframe=30Min&start=${start}&limit=37&sort=${sort}${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
          const n = Object.values(body.bars).reduce((k, l) => k + l.length, 0);
          assert.ok(n <= 37);
          pages.push(...flat(body.bars));
          token = body.next_page_token;
        } while (token);
        assert.strictEqual(pages.length, flat(all.bars).length, `${sort}: every bar once`);
        assert.strictEqual(new Set(pages).size, pages.length);
        assert.ok(pages[0].startsWith('AAPL@'), 'symbols in alphabetical order');
        const aapl = pages.filter((p) => p.startsWith('AAPL@')).map((p) => Date.parse(p.slice(5)));
        const sorted = [...aapl].sort((a, b) => (sort === 'asc' ? a - b : b - a));
        assert.deepStrictEqual(aapl, sorted, `${sort} order`);
      }
    });

    it('latest bars, trades and quotes', async () => {
      const bars = await md.stocks.stockLatestBars({ symbols: 'AAPL,SPY,NOPE' });
      assert.deepStrictEqual(Object.keys(bars.bars).sort(), ['AAPL', 'SPY']);
      await conforming('/v2/stocks/bars/latest?symbols=AAPL,SPY');
      const bar = await md.stocks.stockLatestBarSingle({ symbol: 'AAPL' });
      assert.strictEqual(bar.symbol, 'AAPL');
      await conforming('/v2/stocks/AAPL/bars/latest');

      const trades = await md.stocks.stockLatestTrades({ symbols: 'AAPL,MSFT', feed: 'iex' });
      assert.ok(trades.trades.AAPL.p > 0);
      const rawTrades = await conforming('/v2/stocks/trades/latest?symbols=AAPL,MSFT&feed=iex');
      assert.strictEqual(rawTrades.trades.AAPL.x, 'V');
      const trade = await md.stocks.stockLatestTradeSingle({ symbol: 'MSFT' });
      assert.strictEqual(trade.symbol, 'MSFT');
      await conforming('/v2/stocks/MSFT/trades/latest?feed=sip');

      const quotes = await md.stocks.stockLatestQuotes({ symbols: 'AAPL' });
      assert.ok(quotes.quotes.AAPL.ap > quotes.quotes.AAPL.bp);
      await conforming('/v2/stocks/quotes/latest?symbols=AAPL,QQQ&feed=delayed_sip');
      const quote = await md.stocks.stockLatestQuoteSingle({ symbol: 'QQQ' });
      assert.strictEqual(quote.symbol, 'QQQ');
      await conforming('/v2/stocks/QQQ/quotes/latest');
    });

    it('snapshots', async () => {
      const snaps = await md.stocks.stockSnapshots({ symbols: 'AAPL,TSLA,NOPE' });
      assert.deepStrictEqual(Object.keys(snaps).sort(), ['AAPL', 'TSLA']);
      const body = await conforming('/v2/stocks/snapshots?symbols=AAPL,TSLA');
      for (const k of ['latestTrade', 'latestQuote', 'minuteBar', 'dailyBar', 'prevDailyBar']) assert.ok(body.AAPL[k], k);
      assert.ok(body.AAPL.dailyBar.h >= body.AAPL.minuteBar.h);
      assert.ok(Date.parse(body.AAPL.prevDailyBar.t) < Date.parse(body.AAPL.dailyBar.t));
      const one = await md.stocks.stockSnapshotSingle({ symbol: 'TSLA' });
      assert.strictEqual(one.symbol, 'TSLA');
      const raw = await conforming('/v2/stocks/TSLA/snapshot');
      assert.strictEqual(raw.symbol, 'TSLA');
    });

    it('historical trades and quotes', async () => {
      const trades = await md.stocks.stockTrades({ symbols: 'AAPL,MSFT', limit: 10 });
      assert.strictEqual(Object.values(trades.trades).reduce((n, l) => n + l.length, 0), 10);
      assert.ok(trades.nextPageToken);
      await conforming('/v2/stocks/trades?symbols=AAPL,MSFT&limit=10');
      const single = await md.stocks.stockTradeSingle({ symbol: 'AAPL', limit: 3 });
      assert.strictEqual(single.trades.length, 3);
      await conforming('/v2/stocks/AAPL/trades?limit=3&sort=desc');
      const quotes = await md.stocks.stockQuotes({ symbols: 'AAPL', limit: 4 });
      assert.ok(quotes.quotes.AAPL.every((q) => q.ap > q.bp));
      await conforming('/v2/stocks/quotes?symbols=AAPL&limit=4');
      const q1 = await md.stocks.stockQuoteSingle({ symbol: 'AAPL', limit: 2 });
      assert.strictEqual(q1.quotes.length, 2);
      await conforming('/v2/stocks/AAPL/quotes?limit=2');
    });

    it("answers bad parameters with 400 and Alpaca's {code, message}", async () => {
      for (const q of [
        'symbols=AAPL&timeframe=7Hours',
        'symbols=AAPL&timeframe=60Min',
        'symbols=AAPL',
        'timeframe=1Min',
        'symbols=AAPL&timeframe=1Min&limit=0',
        'symbols=AAPL&timeframe=1Min&limit=10001',
        'symbols=AAPL&timeframe=1Min&start=yesterday',
        'symbols=AAPL&timeframe=1Min&start=2024-01-05&end=2024-01-02',
        'symbols=AAPL&timeframe=1Min&sort=up',
        'symbols=AAPL&timeframe=1Min&feed=otc',
        'symbols=AAPL&timeframe=1Min&page_token=%21%21',
      ]) {
        const r = await s.rest('GET', `/v2/stocks/bars?${q}`);
        assert.strictEqual(r.status, 400, q);
        assert.strictEqual(typeof r.body.code, 'number', q);
        assert.strictEqual(typeof r.body.message, 'string', q);
        assertConforms('data', 'GET', '/v2/stocks/bars', r.status, r.body);
      }
      await assert.rejects(md.stocks.stockBars({ symbols: 'AAPL', timeframe: 'bogus' }), (err) => err.status === 400 && /timeframe/.test(err.message));
      const unknown = await s.rest('GET', '/v2/stocks/NOPE/trades/latest');
      assert.strictEqual(unknown.status, 400);
      await assert.rejects(md.getLatestPrice('NOPE'), (err) => err.status === 400);
      const dates = await conforming('/v2/stocks/AAPL/bars?timeframe=1Day&start=2020-01-01&end=2030-01-01T00:00:00.123456789Z&limit=3');
      assert.strictEqual(dates.bars.length, 3, 'date and nanosecond RFC-3339 forms are accepted');
    });
  });

  describe('data plan (Basic, the default of a new account)', () => {
    let basic;
    before(async () => {
      basic = await startSim({ speed: 60, tickMs: 50 });
    });
    after(() => basic && basic.stop());

    it('defaults stock data to IEX and refuses SIP data younger than 15 minutes with 403', async () => {
      const latest = await basic.rest('GET', '/v2/stocks/trades/latest?symbols=AAPL');
      assert.strictEqual(latest.status, 200);
      assert.strictEqual(latest.body.trades.AAPL.x, 'V', 'IEX prints carry exchange V');
      assertConforms('data', 'GET', '/v2/stocks/trades/latest', 200, latest.body);
      const now = basic.sim.clock.now();
      for (const path of [
        '/v2/stocks/trades/latest?symbols=AAPL&feed=sip',
        '/v2/stocks/AAPL/quotes/latest?feed=sip',
        '/v2/stocks/snapshots?symbols=AAPL&feed=sip',
        `/v2/stocks/bars?symbols=AAPL&timeframe=1Min&feed=sip&start=${new Date(now - 3600_000).toISOString()}`,
        `/v2/stocks/AAPL/trades?feed=sip&start=${new Date(now - 3600_000).toISOString()}&end=${new Date(now - 5 * 60_000).toISOString()}`,
      ]) {
        const r = await basic.rest('GET', path);
        assert.strictEqual(r.status, 403, path);
        assert.deepStrictEqual(r.body, { code: 40310000, message: 'subscription does not permit querying recent SIP data' }, path);
        assertConforms('data', 'GET', path.split('?')[0], 403, r.body);
      }
      await assert.rejects(basic.alpaca.marketData.stocks.stockLatestTrades({ symbols: 'AAPL', feed: 'sip' }), (err) => err.status === 403);
      // SIP data at least 15 minutes old is free.
      const old = await basic.rest('GET', `/v2/stocks/AAPL/bars?timeframe=1Min&feed=sip&start=${new Date(now - 3600_000).toISOString()}&end=${new Date(now - 16 * 60_000).toISOString()}`);
      assert.strictEqual(old.status, 200, JSON.stringify(old.body));
      assert.ok(old.body.bars.length > 0);
      assertConforms('data', 'GET', '/v2/stocks/AAPL/bars', 200, old.body);
    });
  });

  describe('crypto', () => {
    it('historical bars with pagination', async () => {
      const resp = await md.crypto.cryptoBars({ loc: 'us', symbols: 'BTC/USD,ETH/USD,AAPL', timeframe: '1Hour', start: threeDaysAgo(), limit: 50 });
      assert.deepStrictEqual(Object.keys(resp.bars), ['BTC/USD'], 'the first page is all BTC');
      assert.strictEqual(resp.bars['BTC/USD'].length, 50);
      assert.ok(resp.nextPageToken);
      const body = await conforming(`/v1beta3/crypto/us/bars?symbols=BTC/USD,ETH/USD&timeframe=1H&start=${threeDaysAgo().toISOString()}&limit=50`);
      assert.ok(!Number.isInteger(body.bars['BTC/USD'][0].v) || body.bars['BTC/USD'][0].v > 0, 'fractional volume allowed');
      const helper = await md.getCryptoBars({ loc: 'us', symbols: ['BTC/USD', 'ETH/USD'], timeframe: '1Hour', start: threeDaysAgo(), limit: 50 });
      assertThreeDaysHourly(helper['BTC/USD'], 'BTC/USD, all pages collected');
      assertThreeDaysHourly(helper['ETH/USD'], 'ETH/USD, all pages collected');
      const bad = await s.rest('GET', '/v1beta3/crypto/mars/bars?symbols=BTC/USD&timeframe=1Min');
      assert.strictEqual(bad.status, 400);
    });

    it('latest bars, trades, quotes and snapshots', async () => {
      const bars = await md.crypto.cryptoLatestBars({ loc: 'us', symbols: 'BTC/USD,NOPE/USD' });
      assert.deepStrictEqual(Object.keys(bars.bars), ['BTC/USD']);
      await conforming('/v1beta3/crypto/us/latest/bars?symbols=BTC/USD,ETH/USD');
      const trades = await md.crypto.cryptoLatestTrades({ loc: 'us', symbols: 'BTC/USD' });
      assert.ok(['B', 'S'].includes(trades.trades['BTC/USD'].tks));
      await conforming('/v1beta3/crypto/us/latest/trades?symbols=BTC/USD,SOL/USD');
      const quotes = await md.crypto.cryptoLatestQuotes({ loc: 'us', symbols: 'ETH/USD' });
      assert.ok(quotes.quotes['ETH/USD'].ap > quotes.quotes['ETH/USD'].bp);
      await conforming('/v1beta3/crypto/us/latest/quotes?symbols=ETH/USD');
      const snaps = await md.crypto.cryptoSnapshots({ loc: 'us', symbols: 'BTC/USD' });
      assert.ok(snaps.snapshots['BTC/USD'].latestTrade);
      const raw = await conforming('/v1beta3/crypto/us/snapshots?symbols=BTC/USD,DOGE/USD');
      assert.ok(raw.snapshots['DOGE/USD'].dailyBar);
    });

    it('historical trades and quotes', async () => {
      const trades = await md.crypto.cryptoTrades({ loc: 'us', symbols: 'BTC/USD', limit: 5 });
      assert.strictEqual(trades.trades['BTC/USD'].length, 5);
      await conforming('/v1beta3/crypto/us/trades?symbols=BTC/USD&limit=5');
      const quotes = await md.crypto.cryptoQuotes({ loc: 'us', symbols: 'BTC/USD', limit: 5 });
      assert.strictEqual(quotes.quotes['BTC/USD'].length, 5);
      await conforming('/v1beta3/crypto/us/quotes?symbols=BTC/USD&limit=5&sort=desc');
    });
  });
});
