'use strict';
// The baseline consumer: the official SDK as a hand-written bot uses it, in a process of its own.
//   count: counts trades until `total` (throughput);
//   order: places a market order for every trade marked as a signal, as fast as it can (tick to order).
// Config: one JSON argument { url, mode, symbols, total?, signal? }. In order mode it reports, per
// signal, when its handler ran and when the SDK handed the order POST to fetch.
const dc = require('diagnostics_channel');
const { root, wallNow, childReporter } = require('./common');
const { createClient, streamUrls } = require(`${root}/dist/lib/alpaca/client`);
const { createMeter } = require('./meter');

const config = JSON.parse(process.argv[2]);
const { report } = childReporter();

const alpaca = createClient({ keyId: 'BENCHSDK', secret: 'bench-secret', paper: true, endpoint: config.url, rateLimit: false });
const stream = alpaca.marketData.stockStream({ url: streamUrls(true, config.url, 'iex').stocks, maxReconnectAttempts: -1 });

if (config.mode === 'count') {
  const meter = createMeter(config.total, (result) => report({ type: 'done', ...result }));
  stream.onTrade((t) => meter.events(1, t.id));
} else {
  // The moment the SDK hands the order POST to fetch: the last step on this side of the socket.
  let fetchAt = 0;
  dc.subscribe('undici:request:create', ({ request }) => {
    if (request.method === 'POST' && request.path.startsWith('/v2/orders')) fetchAt = wallNow();
  });
  let n = 0;
  stream.onTrade((t) => {
    if (!t.conditions.includes(config.signal)) return;
    const handlerAt = wallNow();
    const side = n++ % 2 === 0 ? 'buy' : 'sell';
    alpaca.trading.orders.market({ symbol: t.symbol, qty: 1, side, timeInForce: 'day', clientOrderId: `tto-${t.id}` }).then(
      () => report({ type: 'steps', id: t.id, steps: { 'handler runs': handlerAt, 'fetch starts': fetchAt } }),
      (err) => report({ type: 'steps', id: t.id, error: err.message }),
    );
  });
}
stream.subscribeForTrades(config.symbols);
stream.connect();
report({ type: 'ready' });
process.on('SIGTERM', () => {
  stream.disconnect();
  process.exit(0);
});
