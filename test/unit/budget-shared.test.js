'use strict';
// The request budget's module shared through a real redis-server: what Redis holds after a
// stall, and how soon a waiting instance sees a token another gave back.
const assert = require('assert');
const Redis = require('ioredis').default;
const { RequestBudgetImpl } = require('../../dist/lib/budget/budget');
const { PRIORITY } = require('../../dist/lib/core/priority');
const { startRedis, hasRedis } = require('../support/redis');
const { waitFor } = require('../support/wait');

describe('request budget shared through a real redis-server', function () {
  this.timeout(20000);
  let redis;
  let client;
  const budgets = [];
  const make = (key, o = {}) => {
    const b = new RequestBudgetImpl({ limit: 4, windowMs: 600_000, redis: { url: redis.url, key }, ...o });
    budgets.push(b);
    return b;
  };
  const storeUp = (b) => new Promise((resolve) => b.on('store', (s) => s.ok && resolve()));
  const logOf = (key) => client.zrange(`tradeflow:budget:{${key}}:log`, 0, -1);

  before(async function () {
    if (!hasRedis()) {
      if (process.env.CI) throw new Error('redis-server is not installed (.ci/run installs it)');
      this.skip();
    }
    redis = await startRedis();
    client = new Redis(redis.url);
  });

  afterEach(async () => {
    redis?.thaw();
    await Promise.all(budgets.splice(0).map((b) => b.stop()));
  });

  after(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  it('a grant asked for while Redis stalled past the command timeout goes back once Redis answers again', async function () {
    const b = make('stall', { limit: 10 });
    await storeUp(b);
    for (let i = 0; i < 2; i++) await b.schedule(async () => 'sent');
    redis.freeze();
    // The question times out (Redis never answered), so the call goes out on the instance's local share.
    assert.strictEqual(await b.schedule(async () => 'sent'), 'sent');
    const back = storeUp(b);
    redis.thaw();
    await back;
    // Redis ran the timed-out question once it woke: that grant was never used and must not count.
    const log = await waitFor(async () => {
      const members = await logOf('stall');
      return members.length === 3 && members;
    }, 5000, 'three grants in Redis, one per call sent');
    assert.strictEqual(new Set(log).size, 3);
  });

  it('an instance waiting for a token takes one another instance gave back within about a second', async function () {
    const a = make('give-back', { panicReserve: 0 });
    const b = make('give-back', { panicReserve: 0 });
    await Promise.all([storeUp(a), storeUp(b)]);
    const held = await a.requestTicket(PRIORITY.read).promise;
    await a.schedule(async () => 'sent');
    for (let i = 0; i < 2; i++) await b.schedule(async () => 'sent');
    assert.strictEqual((await logOf('give-back')).length, 4, 'the shared budget is spent');
    let sent = false;
    const waiting = b.schedule(async () => (sent = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.strictEqual(sent, false, 'no token for the fifth call');
    // A's msg went nowhere: its token goes back, and B (told to wait ten minutes) takes it.
    held.refund();
    await waitFor(() => sent, 3000, 'the waiting call to take the token given back');
    await waiting;
  });
});
