'use strict';
const assert = require('assert');
const { configProblem } = require('../../dist/lib/alpaca/connection');
const { normaliseEndpoint, streamUrls, rewriteOrigin } = require('../../dist/lib/alpaca/client');
const { toBrokerError, redact } = require('../../dist/lib/alpaca/errors');
const { BrokerError } = require('../../dist/lib/core/errors');

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

describe('broker errors', function () {
  it('never carry a secret', function () {
    const e = toBrokerError(new Error('failed with key PKSECRETVALUE123 and secret s3cr3t-value'), ['s3cr3t-value', 'PKSECRETVALUE123']);
    assert.ok(e instanceof BrokerError);
    assert.ok(!e.message.includes('s3cr3t-value') && !e.message.includes('PKSECRETVALUE123'), e.message);
    assert.strictEqual(redact('abc SECRET abc', ['SECRET']), 'abc *** abc');
  });
});
