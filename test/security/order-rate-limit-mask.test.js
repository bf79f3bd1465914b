'use strict';
// A 429 on an order (issue 12, finding 8): whatever the server's text says, the error and the
// attempts the order node reports carry neither the key id nor the secret.
const assert = require('assert');
const { AlpacaConnection } = require('../../dist/lib/alpaca/connection');
const { fakeBroker, ACCOUNT } = require('./fake-broker');

const KEY_ID = 'PKECHOED42';
const SECRET = 'echoed-secret-99';

describe('security: the order 429 path masks the keys', function () {
  this.timeout(20000);
  let broker;
  let connection;
  const user = { id: 'probe', onConnectionStatus: () => undefined };
  after(async function () {
    if (connection) await connection.deregister(user);
    if (broker) await broker.stop();
  });

  it('an order refused with 429 and the keys in its text reports them masked', async function () {
    broker = await fakeBroker({
      'GET /v2/account': { status: 200, body: ACCOUNT },
      'POST /v2/orders': { status: 429, headers: { 'retry-after': '3600' }, body: { code: 42910000, message: `too many requests for key ${KEY_ID} (secret ${SECRET})` } },
    });
    connection = new AlpacaConnection({ mode: 'paper', keyId: KEY_ID, secret: SECRET, endpoint: broker.url });
    connection.register(user);
    const order = { symbol: 'AAPL', assetKind: 'stock', side: 'buy', type: 'market', timeInForce: 'day', orderClass: 'simple', qty: 1, extendedHours: false };
    const err = await connection.orders.submit(order, 'cid-429', { nodeId: 'n1', name: 'test' }).then(
      () => assert.fail('the order was placed'),
      (e) => e,
    );
    assert.strictEqual(err.kind, 'rate_limit');
    assert.ok(broker.requests.some((r) => r.method === 'POST' && r.url === '/v2/orders'), 'the order reached the broker');
    const reported = `${err.message} ${err.stack} ${JSON.stringify(err)}`;
    assert.match(reported, /too many requests for key \*\*\*/);
    assert.ok(!reported.includes(KEY_ID) && !reported.includes(SECRET), reported);
  });
});
