'use strict';
// The soak workload written with the official SDK alone, as a careful hand-written bot would:
// trades and quotes of the symbols, the trade-updates stream, a market order every few seconds
// (buy and sell in turn), positions every few seconds, both streams reconnecting forever.
// Config: one JSON argument { url, symbols, orderEveryMs, positionsEveryMs }.
const { root } = require('./common');
const { createClient, streamUrls } = require(`${root}/dist/lib/alpaca/client`);

const config = JSON.parse(process.argv[2]);
const alpaca = createClient({ keyId: 'SOAKSDK', secret: 'soak-secret', paper: true, endpoint: config.url, rateLimit: false });
const urls = streamUrls(true, config.url, 'iex');
const last = new Map();

const market = alpaca.marketData.stockStream({ url: urls.stocks, maxReconnectAttempts: -1 });
market.onTrade((t) => last.set(t.symbol, t.price));
market.onQuote((q) => last.set(q.symbol, (q.bidPrice + q.askPrice) / 2));
market.subscribeForTrades(config.symbols);
market.subscribeForQuotes(config.symbols);
market.connect();

const updates = alpaca.trading.stream({ url: urls.trading, maxReconnectAttempts: -1 });
updates.onTradeUpdate((u) => last.set(`order ${u.order?.symbol}`, u.event));
updates.subscribeTradeUpdates();
updates.connect();

let n = 0;
setInterval(() => {
  const side = n++ % 2 === 0 ? 'buy' : 'sell';
  alpaca.trading.orders.market({ symbol: 'AAPL', qty: 1, side, timeInForce: 'day' }).catch((err) => console.error(`order: ${err.message}`));
}, config.orderEveryMs);
setInterval(() => {
  alpaca.trading.positions.getAllOpenPositions().catch((err) => console.error(`positions: ${err.message}`));
}, config.positionsEveryMs);

process.on('SIGTERM', () => {
  market.disconnect();
  updates.disconnect();
  process.exit(0);
});
