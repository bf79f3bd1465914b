'use strict';
// The breaker's rules on their own: settings, the order a request sends, per-order checks and
// the account rules over windows measured with a fake clock (30 minutes take no time).
const assert = require('assert');
const r = {
  ...require('../../dist/lib/breaker/settings'),
  ...require('../../dist/lib/breaker/order-rules'),
  ...require('../../dist/lib/breaker/rules'),
};

const MIN = 60_000;
const T0 = Date.parse('2025-03-03T15:00:00Z');
const settings = (over = {}) => ({ ...r.parseSettings({}), ...over });

describe('breaker rules', function () {
  describe('settings', function () {
    it('uses the field-practice defaults for empty fields', function () {
      const s = r.parseSettings({});
      assert.deepStrictEqual(s.rollingLoss, { enabled: true, pct: 1, minutes: 30, target: 'HALTED' });
      assert.strictEqual(s.dailyLoss.pct, 2);
      assert.strictEqual(s.errorRate.pct, 10);
      assert.strictEqual(s.errorRate.minRequests, 20);
      assert.strictEqual(s.session, 'market');
      assert.deepStrictEqual([s.pollOpenSeconds, s.pollMarkedSeconds, s.pollFlatSeconds], [10, 30, 60]);
    });
    it('reads the dialog strings and refuses bad values with the field name', function () {
      const s = r.parseSettings({ rollingPct: '0.5', rollingMinutes: '15', rollingTarget: 'REDUCING', rateOn: false });
      assert.strictEqual(s.rollingLoss.pct, 0.5);
      assert.strictEqual(s.rollingLoss.minutes, 15);
      assert.strictEqual(s.rollingLoss.target, 'REDUCING');
      assert.strictEqual(s.orderRate.enabled, false);
      assert.throws(() => r.parseSettings({ rollingPct: '-1' }), /rollingPct/);
      assert.throws(() => r.parseSettings({ errorsMin: '2.5' }), /errorsMin.*whole/);
      assert.throws(() => r.parseSettings({ dailyTarget: 'ACTIVE' }), /dailyTarget/);
      assert.throws(() => r.parseSettings({ session: 'weekly' }), /session/);
      assert.throws(() => r.parseSettings({ pollFlat: '120', staleSeconds: '60' }), /twice/);
      assert.throws(() => r.parseSettings({ pollMarked: '90', staleSeconds: '150' }), /twice the slowest account check \(90 s\)/);
      assert.strictEqual(r.parseSettings({ pollMarked: '5' }).pollMarkedSeconds, 5);
      // Flows saved before the field existed keep their fail-closed limit valid.
      assert.strictEqual(r.parseSettings({ pollOpen: '1', pollFlat: '1', staleSeconds: '30' }).pollMarkedSeconds, 15);
    });
  });

  describe('the order a request sends', function () {
    const order = { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'limit', timeInForce: 'day', orderClass: 'simple', qty: 5, limitPrice: 101.5, extendedHours: false };
    it('a submit is valued as sent; an option counts 100 units per contract', function () {
      const i = r.intentOf({ change: { action: 'submit', order, clientOrderId: 'c' }, origin: { name: 't' }, dryRun: false });
      assert.deepStrictEqual(i, { symbol: 'AAPL', side: 'buy', qty: 5, notional: undefined, type: 'limit', limitPrice: 101.5, stopPrice: undefined, multiplier: 1 });
      const opt = r.intentOf({ change: { action: 'submit', order: { ...order, symbol: 'AAPL250117C00150000', assetKind: 'option', limitPrice: 2.5 }, clientOrderId: 'c' }, origin: { name: 't' }, dryRun: false });
      assert.strictEqual(opt.multiplier, 100);
    });
    it('a replace is the original order with the changes applied', function () {
      const original = { id: 'o1', symbol: 'AAPL', side: 'buy', type: 'limit', qty: 1, filledQty: 0, notional: null, limitPrice: 100, stopPrice: null, assetClass: 'us_equity' };
      const i = r.intentOf({ change: { action: 'replace', ref: { orderId: 'o1' }, changes: { qty: 5000 }, clientOrderId: 'c' }, origin: { name: 't' }, original, dryRun: false });
      assert.deepStrictEqual(i, { symbol: 'AAPL', side: 'buy', qty: 5000, notional: undefined, type: 'limit', limitPrice: 100, stopPrice: undefined, multiplier: 1 });
      assert.strictEqual(r.remainingQty({ qty: 10, filledQty: 4 }), 6);
      // Without the original (not read), there is nothing to value.
      assert.strictEqual(r.intentOf({ change: { action: 'replace', ref: { orderId: 'o1' }, changes: { qty: 2 }, clientOrderId: 'c' }, origin: { name: 't' }, dryRun: false }), undefined);
    });
  });

  describe('per-order checks', function () {
    const order = (side, qty, extra = {}) => ({ symbol: 'AAPL', side, qty, type: 'market', multiplier: 1, ...extra });
    const ctx = (over) => ({ state: 'ACTIVE', equity: 100000, positionQty: 0, pendingReduceQty: 0, marketPrice: 200, ...over });

    it('REDUCING: a closing order passes, an opening one and one that would flip the position are blocked', function () {
      const s = settings();
      const long10 = ctx({ state: 'REDUCING', positionQty: 10 });
      assert.deepStrictEqual(r.checkOrder(s, order('sell', 4), long10), { pass: true });
      assert.deepStrictEqual(r.checkOrder(s, order('sell', 10), long10), { pass: true });
      const opening = r.checkOrder(s, order('buy', 1), long10);
      assert.strictEqual(opening.pass, false);
      assert.match(opening.reason, /add to the long AAPL position/);
      const flip = r.checkOrder(s, order('sell', 11), long10);
      assert.strictEqual(flip.pass, false);
      assert.match(flip.reason, /flip the long position of 10 AAPL/);
      const fresh = r.checkOrder(s, order('buy', 1), ctx({ state: 'REDUCING', positionQty: 0 }));
      assert.match(fresh.reason, /would open a position/);
      // A short position is reduced by buying.
      assert.deepStrictEqual(r.checkOrder(s, order('buy', 3), ctx({ state: 'REDUCING', positionQty: -5 })), { pass: true });
      assert.strictEqual(r.checkOrder(s, order('buy', 6), ctx({ state: 'REDUCING', positionQty: -5 })).pass, false);
    });
    it('REDUCING counts the orders already on their way out, and refuses notional exits', function () {
      const s = settings();
      const v = r.checkOrder(s, order('sell', 5), ctx({ state: 'REDUCING', positionQty: 10, pendingReduceQty: 6 }));
      assert.strictEqual(v.pass, false);
      assert.match(v.reason, /6 already on the way out.*at most 4/);
      assert.strictEqual(r.checkOrder(s, order('sell', 4), ctx({ state: 'REDUCING', positionQty: 10, pendingReduceQty: 6 })).pass, true);
      const n = r.checkOrder(s, { symbol: 'AAPL', side: 'sell', notional: 100, type: 'market', multiplier: 1 }, ctx({ state: 'REDUCING', positionQty: 10 }));
      assert.match(n.reason, /needs a qty/);
    });
    it('concentration blocks an order that makes one position too large, never one that shrinks it', function () {
      const s = settings();
      assert.strictEqual(r.checkOrder(s, order('buy', 125), ctx()).pass, true); // 25,000 = 25%
      const big = r.checkOrder(s, order('buy', 126), ctx());
      assert.strictEqual(big.check, 'concentration');
      assert.match(big.reason, /25.2% of equity/);
      // Already over the limit: selling some passes, buying more does not.
      assert.strictEqual(r.checkOrder(s, order('sell', 10), ctx({ positionQty: 200 })).pass, true);
      assert.strictEqual(r.checkOrder(s, order('buy', 1), ctx({ positionQty: 200 })).pass, false);
      // A limit price is the order's own valuation.
      assert.strictEqual(r.checkOrder(s, order('buy', 126, { limitPrice: 100 }), ctx()).pass, true);
      // No price at all: blocked, not guessed.
      assert.match(r.checkOrder(s, order('buy', 1), ctx({ marketPrice: undefined })).reason, /no price/);
      assert.strictEqual(r.checkOrder(settings({ concentration: { enabled: false, pct: 25 } }), order('buy', 1000), ctx()).pass, true);
    });
    it('max notional blocks an order worth more than the limit', function () {
      const s = settings({ maxNotional: { enabled: true, amount: 1000 }, concentration: { enabled: false, pct: 25 } });
      assert.strictEqual(r.checkOrder(s, order('buy', 5), ctx()).pass, true);
      const v = r.checkOrder(s, order('buy', 6), ctx());
      assert.strictEqual(v.check, 'maxNotional');
      assert.match(v.reason, /1,200.00, over the 1,000.00 limit/);
      assert.strictEqual(r.checkOrder(s, { symbol: 'AAPL', side: 'buy', notional: 1500, type: 'market', multiplier: 1 }, ctx()).pass, false);
      // Options: 3 contracts at 4.00 are worth 1,200.
      const opt = r.checkOrder(s, { symbol: 'AAPL250117C00150000', side: 'buy', qty: 3, type: 'limit', limitPrice: 4, multiplier: 100 }, ctx());
      assert.match(opt.reason, /1,200.00, over the 1,000.00 limit/);
    });
    it('REDUCING: a replace that does not raise the open quantity passes; one that raises it is checked as an exit', function () {
      const s = settings();
      const flat = ctx({ state: 'REDUCING', positionQty: 0 });
      assert.deepStrictEqual(r.checkOrder(s, order('buy', 1, { type: 'limit', limitPrice: 100 }), { ...flat, replacesQty: 1 }), { pass: true });
      const raised = r.checkOrder(s, order('buy', 5000, { type: 'limit', limitPrice: 100 }), { ...flat, replacesQty: 1 });
      assert.strictEqual(raised.pass, false);
      assert.match(raised.reason, /the replace to buy 5000 AAPL.*would open a position/);
      assert.deepStrictEqual(r.checkOrder(s, order('sell', 8), ctx({ state: 'REDUCING', positionQty: 10, replacesQty: 5 })), { pass: true });
    });
  });

  describe('account rules', function () {
    it('loss in a rolling window: trips on the first sample past 1% within 30 minutes', function () {
      const s = settings();
      const samples = [];
      const path = [100000, 99800, 99500, 99100, 99010, 98950, 98800];
      let trip;
      let at;
      for (let i = 0; i < path.length && !trip; i++) {
        at = T0 + i * 100_000; // every 100 s: the whole path fits in 10 minutes
        samples.push({ at, equity: path[i] });
        trip = r.checkRollingLoss(s, samples, path[i], at);
        if (!trip) assert.ok(path[i] > 99000, `no trip at ${path[i]}`);
      }
      assert.ok(trip, 'tripped');
      assert.strictEqual(trip.figures.equity, 98950);
      assert.strictEqual(trip.figures.reference, 100000);
      assert.strictEqual(trip.figures.loss, 1050);
      assert.strictEqual(trip.figures.threshold, 1);
      assert.strictEqual(trip.figures.window, '30 min');
      assert.strictEqual(trip.target, 'HALTED');
      assert.match(trip.reason, /1.05%.*within 30 min/);
    });
    it('loss in a rolling window: the same loss spread over more than 30 minutes does not trip', function () {
      const s = settings();
      const samples = [];
      for (let i = 0; i <= 12; i++) samples.push({ at: T0 + i * 5 * MIN, equity: 100000 - i * 100 }); // -0.1% every 5 min
      const { at: now, equity } = samples[samples.length - 1];
      // 1.2% down over 60 min, but only 0.6% within the last 30.
      assert.strictEqual(r.checkRollingLoss(s, samples, equity, now), undefined);
      assert.ok(r.checkRollingLoss(settings({ rollingLoss: { enabled: true, pct: 1, minutes: 60, target: 'HALTED' } }), samples, equity, now));
    });
    it('daily loss and drawdown measure from the session start and the session peak', function () {
      const s = settings();
      const session = { key: '2025-03-03', startEquity: 100000, peakEquity: 103000, startedAt: '' };
      assert.strictEqual(r.checkDailyLoss(s, session, 98100), undefined);
      assert.strictEqual(r.checkDailyLoss(s, session, 98000).rule, 'dailyLoss');
      assert.strictEqual(r.checkDailyLoss(s, session, 98000).target, 'REDUCING');
      assert.strictEqual(r.checkDrawdown(s, session, 100000), undefined); // 2.9% from the peak
      const dd = r.checkDrawdown(s, session, 99900);
      assert.strictEqual(dd.rule, 'drawdown');
      assert.strictEqual(dd.figures.reference, 103000);
    });
    it('API error rate trips only past its minimum sample, and only over the limit', function () {
      const s = settings({ errorRate: { enabled: true, pct: 10, minutes: 5, minRequests: 20, target: 'HALTED' } });
      const reqs = [];
      for (let i = 0; i < 19; i++) reqs.push({ at: T0 + i, ok: false });
      assert.strictEqual(r.checkErrorRate(s, reqs, T0 + 100), undefined, '19 failures of 19 is below the minimum sample');
      reqs.push({ at: T0 + 20, ok: false });
      assert.strictEqual(r.checkErrorRate(s, reqs, T0 + 100).figures.requests, 20);
      // 2 of 20 is exactly 10%: not over the limit; 3 of 20 is.
      const mixed = Array.from({ length: 20 }, (_, i) => ({ at: T0 + i, ok: i >= 2 }));
      assert.strictEqual(r.checkErrorRate(s, mixed, T0 + 100), undefined);
      mixed[2].ok = false;
      assert.strictEqual(r.checkErrorRate(s, mixed, T0 + 100).figures.errorPct, 15);
      // Old failures leave the 5-minute window.
      assert.strictEqual(r.checkErrorRate(s, mixed, T0 + 6 * MIN), undefined);
    });
    it('order rate: the order past N a minute trips; rejections in a row; stream down', function () {
      const s = settings({ orderRate: { enabled: true, perMinute: 3, target: 'HALTED' } });
      assert.strictEqual(r.checkOrderRate(s, [T0, T0 + 1, T0 + 2].slice(0, 2), T0 + 3), undefined);
      assert.strictEqual(r.checkOrderRate(s, [T0, T0 + 1, T0 + 2], T0 + 3).figures.orders, 4);
      assert.strictEqual(r.checkOrderRate(s, [T0, T0 + 1, T0 + 2], T0 + MIN + 1), undefined);
      assert.strictEqual(r.checkRejections(s, 4), undefined);
      assert.strictEqual(r.checkRejections(s, 5).rule, 'rejections');
      const st = settings({ streamDown: { enabled: true, minutes: 5, target: 'REDUCING' } });
      assert.strictEqual(r.checkStreamDown(st, undefined, T0), undefined);
      assert.strictEqual(r.checkStreamDown(st, T0 - 4 * MIN, T0), undefined);
      assert.strictEqual(r.checkStreamDown(st, T0 - 5 * MIN, T0).target, 'REDUCING');
    });
    it('the market session is the New York trading day; when closed, the day of the next open', function () {
      // 2025-03-04 02:00 UTC is still 3 March in New York.
      assert.strictEqual(r.marketSessionKey({ isOpen: true, nextOpen: '' }, Date.parse('2025-03-04T02:00:00Z')), '2025-03-03');
      assert.strictEqual(r.marketSessionKey({ isOpen: false, nextOpen: '2025-03-04T14:30:00Z' }, Date.parse('2025-03-03T22:00:00Z')), '2025-03-04');
      assert.strictEqual(r.utcDate(Date.parse('2025-03-04T02:00:00Z')), '2025-03-04');
    });
  });
});
