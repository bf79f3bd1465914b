'use strict';
// The test support layer itself: a wait that says what it waited for, and a simulator control
// that fails loudly and reads every order once.
const assert = require('assert');
const { waitFor } = require('../support/wait');
const { startSim, simControl } = require('../support/sim');

describe('test support', function () {
  this.timeout(20000);

  describe('waitFor', function () {
    it('resolves with the first truthy value', async function () {
      let n = 0;
      assert.strictEqual(await waitFor(() => (++n >= 3 ? `after ${n}` : 0), 1000, 'three asks', 1), 'after 3');
    });

    it('rejects after its time, naming what it waited for and the last value seen', async function () {
      const answers = [0, ''];
      await assert.rejects(waitFor(() => (answers.length ? answers.shift() : null), 100, 'the impossible', 5), (err) => {
        assert.strictEqual(err.message, 'timed out after 100 ms waiting for the impossible (last value: null)');
        return true;
      });
    });

    it('rejects at once when the predicate throws', async function () {
      const t0 = Date.now();
      await assert.rejects(waitFor(() => { throw new Error('never coming'); }, 5000, 'x'), /never coming/);
      assert.ok(Date.now() - t0 < 1000);
    });
  });

  describe('simControl', function () {
    let s;
    afterEach(async () => {
      if (s) await s.stop();
      s = undefined;
    });

    it('asks with the key pair the simulator was given, and throws with the status when refused', async function () {
      s = await startSim({ key: 'PKSUPPORT', secret: 'support-secret' });
      assert.strictEqual((await s.faults({ latencyMs: 1 })).latencyMs, 1);
      assert.strictEqual((await s.faults()).latencyMs, 1);
      await assert.rejects(simControl(s.url).stats(), /GET \/sim\/stats: 401/);
      await assert.rejects(s.price('NOSUCH', 1), /POST \/sim\/prices: 404/);
    });

    it('lists every order once across pages of 500', async function () {
      s = await startSim({ faults: { rateLimitPerMinute: 100000 } });
      const placed = [];
      for (let i = 0; i < 501; i++) {
        const res = await s.rest('POST', '/v2/orders', { symbol: 'AAPL', qty: '1', side: 'buy', type: 'limit', limit_price: '1', time_in_force: 'gtc', client_order_id: `page-${i}` });
        assert.strictEqual(res.status, 200, JSON.stringify(res.body));
        placed.push(res.body.client_order_id);
      }
      const listed = (await s.orders()).map((o) => o.client_order_id);
      assert.strictEqual(listed.length, 501);
      assert.deepStrictEqual(listed, placed, 'oldest first, each once');
      assert.strictEqual((await s.orders('open')).length, 501);
    });
  });
});
