'use strict';
const assert = require('assert');
const http = require('http');
const { configProblem } = require('../../dist/lib/alpaca/connection');
const { normaliseEndpoint, streamUrls, rewriteOrigin, observedFetch, observeExchanges } = require('../../dist/lib/alpaca/client');
const { toBrokerError, redact } = require('../../dist/lib/alpaca/errors');
const { BrokerError } = require('../../dist/lib/core/errors');
const { planConnectionTest, requestRefusal } = require('../../dist/lib/alpaca/test-connection');

describe('account settings', function () {
  it('accepts sim mode with no keys', function () {
    assert.strictEqual(configProblem({ mode: 'sim' }), undefined);
  });
  it('refuses live trading without the acknowledgement', function () {
    assert.match(configProblem({ mode: 'live', keyId: 'K', secret: 'S' }), /live trading refused/);
    assert.strictEqual(configProblem({ mode: 'live', keyId: 'K', secret: 'S', liveAcknowledged: true }), undefined);
  });
  it('requires keys for paper and live', function () {
    assert.match(configProblem({ mode: 'paper' }), /key id and secret are required/);
    assert.match(configProblem({ mode: 'live', liveAcknowledged: true, keyId: 'K' }), /required/);
  });
  it('refuses an unknown mode and a malformed endpoint', function () {
    assert.match(configProblem({ mode: 'yolo' }), /unknown mode/);
    assert.match(configProblem({ mode: 'sim', endpoint: 'ftp://x' }), /http/);
    assert.match(configProblem({ mode: 'sim', endpoint: 'not a url' }), /not a URL/);
  });
  it('echoes a huge bad endpoint cut short', function () {
    const problem = configProblem({ mode: 'sim', endpoint: `http://127.0.0.1:8765/${'x'.repeat(100000)}` });
    assert.match(problem, /origin only/);
    assert.ok(problem.length < 400, problem.length);
  });
});

describe('Test connection requests', function () {
  const deployed = { mode: 'paper', endpoint: 'http://127.0.0.1:8765', keyId: 'PKSAVED', secret: 'saved-secret' };
  it('reuse the saved secret only with the saved mode, endpoint and key id', function () {
    const same = planConnectionTest({ mode: 'paper', endpoint: 'http://127.0.0.1:8765/', keyId: 'PKSAVED', secret: '__PWRD__' }, deployed);
    assert.strictEqual(same.options.secret, 'saved-secret');
    assert.strictEqual(same.storedSecret, true);
    assert.strictEqual(planConnectionTest({ mode: 'paper', endpoint: 'http://127.0.0.1:8765' }, deployed).options.secret, 'saved-secret');
    for (const other of [{ mode: 'live' }, { endpoint: 'http://127.0.0.1:9999' }, { endpoint: '' }, { keyId: 'PKOTHER' }]) {
      const plan = planConnectionTest({ mode: 'paper', endpoint: 'http://127.0.0.1:8765', secret: '__PWRD__', ...other }, deployed);
      assert.match(plan.error, /type the secret again/, JSON.stringify(other));
    }
    const typed = planConnectionTest({ mode: 'paper', endpoint: 'http://127.0.0.1:9999', keyId: 'K', secret: 'typed' }, deployed);
    assert.deepStrictEqual([typed.options.secret, typed.storedSecret], ['typed', false]);
  });
  it('refuse a bad mode or endpoint before anything else', function () {
    assert.match(planConnectionTest({ mode: { toString: null } }).error, /unknown mode/);
    assert.match(planConnectionTest({ mode: 'paper', endpoint: 'http://127.0.0.1:1/x#' }).error, /origin only/);
    assert.strictEqual(planConnectionTest(undefined).options.mode, 'sim');
  });
  it('come as JSON from the editor\'s own origin', function () {
    assert.strictEqual(requestRefusal({ isJson: false }).status, 415);
    assert.strictEqual(requestRefusal({ isJson: true, origin: 'http://evil.example', host: '127.0.0.1:1880' }).status, 403);
    assert.strictEqual(requestRefusal({ isJson: true, origin: 'null', host: '127.0.0.1:1880' }).status, 403);
    assert.strictEqual(requestRefusal({ isJson: true, fetchSite: 'same-site' }).status, 403);
    assert.strictEqual(requestRefusal({ isJson: true, origin: 'http://127.0.0.1:1880', host: '127.0.0.1:1880', fetchSite: 'same-origin' }), undefined);
    assert.strictEqual(requestRefusal({ isJson: true }), undefined);
  });
});

describe('endpoint override', function () {
  it('normalises the endpoint and derives every stream URL from it', function () {
    const endpoint = normaliseEndpoint(' http://127.0.0.1:8765/ ');
    assert.strictEqual(endpoint, 'http://127.0.0.1:8765');
    assert.deepStrictEqual(streamUrls(true, endpoint, 'sip'), {
      trading: 'ws://127.0.0.1:8765/stream',
      stocks: 'ws://127.0.0.1:8765/v2/sip',
      crypto: 'ws://127.0.0.1:8765/v1beta3/crypto/us',
      options: 'ws://127.0.0.1:8765/v1beta1/indicative',
      news: 'ws://127.0.0.1:8765/v1beta1/news',
    });
  });
  it('uses Alpaca hosts without an override, live and paper apart', function () {
    assert.strictEqual(streamUrls(true, undefined, 'iex').trading, 'wss://paper-api.alpaca.markets/stream');
    assert.strictEqual(streamUrls(false, undefined, 'iex').trading, 'wss://api.alpaca.markets/stream');
    assert.strictEqual(streamUrls(false, undefined, 'iex').stocks, 'wss://stream.data.alpaca.markets/v2/iex');
  });
  it('rewrites trading and market-data origins but leaves other URLs alone', async function () {
    const mw = rewriteOrigin('http://127.0.0.1:9');
    assert.strictEqual((await mw.pre({ url: 'https://paper-api.alpaca.markets/v2/account', init: {} })).url, 'http://127.0.0.1:9/v2/account');
    assert.strictEqual((await mw.pre({ url: 'https://data.alpaca.markets/v2/stocks/bars?symbols=AAPL', init: {} })).url, 'http://127.0.0.1:9/v2/stocks/bars?symbols=AAPL');
    assert.strictEqual(await mw.pre({ url: 'https://example.com/x', init: {} }), undefined);
  });
});

describe('the client\'s fetch', function () {
  it('reports each exchange from its status and headers (rate limit, Date), to the budget and to the request\'s observer, and leaves the body unread', async function () {
    const server = http.createServer((req, res) => {
      res.writeHead(429, { 'Content-Type': 'application/json', 'X-RateLimit-Limit': '200', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '1700000060', 'Retry-After': '3', Date: new Date(1700000000000).toUTCString() });
      res.end('{"message":"too many requests"}');
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${server.address().port}/v2/orders`;
    try {
      const feedback = [];
      const seen = [];
      const observer = { answered: (status) => seen.push(status), noAnswer: (err) => seen.push(err) };
      const fetch = observedFetch((f, at) => feedback.push([f, at]));
      const { init } = await observeExchanges(observer).pre({ url, init: { method: 'POST' } });
      const res = await fetch(url, init);
      assert.deepStrictEqual(feedback, [[{ status: 429, date: 1700000000000, limit: 200, remaining: 0, resetAt: 1700000060000, retryAfterMs: 3000 }, url]]);
      assert.deepStrictEqual(seen, [429]);
      // The response is handed on as it came: its body is still there to read, once.
      assert.strictEqual(res.bodyUsed, false);
      assert.deepStrictEqual(await res.json(), { message: 'too many requests' });
      // A request without an observer is reported to the budget alone.
      await (await fetch(url, { method: 'GET' })).text();
      assert.strictEqual(feedback.length, 2);
      assert.deepStrictEqual(seen, [429]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('tells the observer about a request that got no answer, and still fails it', async function () {
    const server = http.createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${server.address().port}/v2/account`;
    await new Promise((resolve) => server.close(resolve));
    const seen = [];
    const feedback = [];
    const { init } = await observeExchanges({ answered: (s) => seen.push(s), noAnswer: (err) => seen.push(err) }).pre({ url, init: {} });
    await assert.rejects(observedFetch((f) => feedback.push(f))(url, init), TypeError);
    assert.strictEqual(seen.length, 1);
    assert.ok(seen[0] instanceof TypeError, String(seen[0]));
    assert.deepStrictEqual(feedback, []);
  });
});

describe('broker errors', function () {
  it('never carry a secret', function () {
    const e = toBrokerError(new Error('failed with key PKSECRETVALUE123 and secret s3cr3t-value'), ['s3cr3t-value', 'PKSECRETVALUE123']);
    assert.ok(e instanceof BrokerError);
    assert.ok(!e.message.includes('s3cr3t-value') && !e.message.includes('PKSECRETVALUE123'), e.message);
    assert.strictEqual(redact('abc SECRET abc', ['SECRET']), 'abc *** abc');
  });
});
