'use strict';
// The pack's own share of the per-event work, measured without Node-RED: the account connection's
// market feed (the SDK socket, normalising, routing to the node) and the stream node's delivery
// chain building each msg, counted where the node would call send(). Same process layout as the
// raw SDK consumer, so the difference between the two is the pack's cost per event.
// Config: one JSON argument { url, symbols, total }.
const { root, childReporter } = require('./common');
const { createMeter } = require('./meter');
const { AlpacaConnection } = require(`${root}/dist/lib/alpaca/connection`);
const { MarketOutput } = require(`${root}/dist/lib/streams/delivery`);
const { resolveStreamSettings } = require(`${root}/dist/lib/streams/input`);

const config = JSON.parse(process.argv[2]);
const { report } = childReporter();

const connection = new AlpacaConnection({ mode: 'sim', endpoint: config.url, feed: 'iex' });
connection.register({ id: 'bench', onConnectionStatus: () => undefined });
const settings = resolveStreamSettings({ kind: 'stocks', symbols: config.symbols.join(','), channels: ['trades'], watchdog: 0, pollAfter: 0, alertAfter: 0 });
const meter = createMeter(config.total, (result) => report({ type: 'done', ...result }));
const output = new MarketOutput(settings, (msg) => meter.events(1, msg.payload.id));
const feed = connection.marketFeed('stocks');
feed.attach({ id: 'bench', watchdogMs: 0, pollAfterMs: 0, onEvent: output.push, onStatus: () => undefined, onConnectionEvent: () => undefined });
feed.subscribe('bench', { trades: config.symbols });
report({ type: 'ready' });
process.on('SIGTERM', () => {
  connection.close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
});
