'use strict';
// The health verdict on its own: which facts make an account down or degraded, and the two formats.
const assert = require('assert');
const { assess, worst, prometheus } = require('../../dist/lib/health/health');

const NOW = Date.parse('2026-11-30T12:00:00Z');
const budget = (over = {}) => ({ name: 'b', limit: 180, windowMs: 60000, shape: 'window', store: 'local', storeOk: true, tokens: 170, queued: 0, running: 0, rateLimited: 0, dropped: 0, lowered: 0, ...over });
const input = (over = {}) => ({
  account: 'Main "paper"',
  mode: 'paper',
  connection: { state: 'connected', text: 'connected · paper', since: NOW - 60000 },
  streams: { trading: { kind: 'trading', state: 'connected', text: 'connected', since: NOW - 60000 } },
  budgets: { trading: budget(), data: budget() },
  now: NOW,
  ...over,
});

describe('account health', function () {
  it('is ok when connected with every stream up, and says nothing is wrong', function () {
    const h = assess(input({ lastOrderAt: '2026-11-30T11:59:00.000Z' }));
    assert.strictEqual(h.status, 'ok');
    assert.strictEqual(h.tradingPossible, true);
    assert.deepStrictEqual(h.reasons, []);
    assert.strictEqual(h.checkedAt, '2026-11-30T12:00:00.000Z');
  });

  it('is down when no order can go out: connection not connected, or the breaker HALTED', function () {
    for (const state of ['reconnecting', 'auth_failed', 'refused', 'connecting', 'idle', 'closed']) {
      const h = assess(input({ connection: { state, text: state, since: NOW } }));
      assert.strictEqual(h.status, 'down', state);
      assert.match(h.reasons[0], new RegExp(`^connection ${state}`));
    }
    const halted = assess(input({ breaker: { state: 'HALTED', reason: 'loss 1.2% in 30 min', since: '2026-11-30T11:00:00Z' } }));
    assert.strictEqual(halted.status, 'down');
    assert.strictEqual(halted.tradingPossible, false);
    assert.deepStrictEqual(halted.reasons, ['circuit breaker HALTED: loss 1.2% in 30 min']);
  });

  it('is degraded, still trading, with a reason for each thing to look at', function () {
    const h = assess(
      input({
        breaker: { state: 'REDUCING', reason: 'daily loss 2%', since: '' },
        streams: { trading: { kind: 'trading', state: 'reconnecting', text: 'reconnecting (attempt 2)', since: NOW } },
        budgets: { trading: budget({ pausedUntil: NOW + 5000 }), data: budget({ store: 'redis', storeOk: false }) },
        journalBacklog: 2,
      }),
    );
    assert.strictEqual(h.status, 'degraded');
    assert.strictEqual(h.tradingPossible, true);
    assert.strictEqual(h.reasons.length, 5, h.reasons.join('\n'));
    assert.strictEqual(h.budgets.trading.pausedUntil, '2026-11-30T12:00:05.000Z');
    // A pause that is over is no reason.
    assert.strictEqual(assess(input({ budgets: { trading: budget({ pausedUntil: NOW - 1 }) } })).status, 'ok');
    assert.strictEqual(worst([assess(input()), h]), 'degraded');
    assert.strictEqual(worst([h, assess(input({ connection: { state: 'refused', text: 'x', since: NOW } }))]), 'down');
  });

  it('speaks Prometheus: one HELP and TYPE per family, labels escaped, times in seconds', function () {
    const text = prometheus([assess(input({ breaker: { state: 'ACTIVE', reason: 'r', since: '' }, lastOrderAt: '2026-11-30T11:59:00.000Z', recoveryRequests: { trading: 3, stocks: 1, orders: 0 } }))]);
    const lines = text.trim().split('\n');
    assert.strictEqual(lines.filter((l) => l === '# TYPE alpaca_trading_up gauge').length, 1);
    assert.ok(lines.includes('alpaca_trading_up{account="Main \\"paper\\"",mode="paper"} 1'), text);
    assert.ok(lines.includes('alpaca_breaker_state{account="Main \\"paper\\"",mode="paper",state="ACTIVE"} 1'));
    assert.ok(lines.includes('alpaca_breaker_state{account="Main \\"paper\\"",mode="paper",state="HALTED"} 0'));
    assert.ok(lines.includes('alpaca_budget_tokens{account="Main \\"paper\\"",mode="paper",api="trading"} 170'));
    assert.ok(lines.includes(`alpaca_last_order_timestamp_seconds{account="Main \\"paper\\"",mode="paper"} ${Date.parse('2026-11-30T11:59:00Z') / 1000}`));
    assert.strictEqual(lines.filter((l) => l === '# TYPE alpaca_recovery_requests_total counter').length, 1, 'recovery requests are a counter');
    assert.ok(lines.includes('alpaca_recovery_requests_total{account="Main \\"paper\\"",mode="paper",source="trading"} 3'), text);
    // Every sample line is name{labels} value.
    for (const l of lines.filter((x) => !x.startsWith('#'))) assert.match(l, /^[a-z_]+\{[^}]*\} -?\d+(\.\d+)?$/, l);
  });
});
