// Every trade update of the account (new, fill, partial_fill, canceled, ...) from the one shared
// trading stream, filtered by symbol and event; connection events on output 2. Updates missed
// during an outage are recovered over REST and sent once, in order, with recovered: true.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { ConnectionStatus } from './lib/core/broker';
import type { TradeUpdate } from './lib/core/snapshots';
import { accountOf, applyStreamTuning, useConnection } from './lib/node-red/account';
import { connectionOutput } from './lib/node-red/connection-output';
import { streamStatus } from './lib/node-red/status';
import type { StreamStatus } from './lib/streams/events';
import { matchesOrderFilter, parseOrderFilter, type OrderUpdatesFilter } from './lib/streams/input';

interface OrderUpdatesDef extends NodeDef {
  account: string;
  symbols?: string;
  events?: string | string[];
  watchdog?: string | number;
  alertAfter?: string | number;
  pollAfter?: string | number;
}

function number(v: unknown, fallback: number, what: string): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} must be a number of at least 0`);
  return n;
}

export default function (RED: NodeAPI): void {
  function AlpacaOrderUpdatesNode(this: Node, def: OrderUpdatesDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let filter: OrderUpdatesFilter | undefined;
    let watchdogMs = 0;
    let alertAfterMs = 0;
    let pollAfterMs = 0;
    let problem: string | undefined;
    try {
      filter = parseOrderFilter(def.symbols ?? '', def.events ?? []);
      watchdogMs = number(def.watchdog, 60, 'watchdog (s)') * 1000;
      alertAfterMs = number(def.alertAfter, 2, 'alert after (min)') * 60_000;
      pollAfterMs = number(def.pollAfter, 30, 'poll REST after (s)') * 1000;
    } catch (err) {
      problem = (err as Error).message;
    }
    const account = accountOf(RED, node, def.account, problem);
    if (!account || !filter) return;
    const connection = account.connection;
    applyStreamTuning(RED, connection);
    const feed = connection.tradeUpdates;
    const activeFilter = filter;

    let connState: ConnectionStatus | undefined;
    let streamState: StreamStatus = feed.status;
    let count = 0;
    const showStatus = () => node.status(streamStatus(streamState, connState, count ? `${count} updates` : undefined));

    const output2 = connectionOutput(node, 'trading', 'trade updates', alertAfterMs, () => streamState.state);

    const onUpdate = (u: TradeUpdate) => {
      if (!matchesOrderFilter(activeFilter, u.order.symbol, u.event)) return;
      count++;
      // A status write per update would cost more than the update: refresh on the first few only.
      if (count <= 3 || count % 50 === 0) showStatus();
      const payload = { ...u, time: Date.parse(u.timestamp), order: { ...u.order } };
      const msg: Record<string, unknown> = { topic: u.order.symbol, event: u.event, payload };
      if (u.recovered) msg.recovered = true;
      node.send([msg as unknown as NodeMessageInFlow, null]);
    };

    useConnection(node, connection, (s) => {
      connState = s;
      showStatus();
    });
    const unsubscribe = feed.subscribe(onUpdate, {
      watchdogMs,
      pollAfterMs,
      onStatus: (s) => {
        streamState = s;
        showStatus();
      },
      onConnectionEvent: (e) => output2.note(e),
    });

    node.on('close', () => {
      output2.stop();
      unsubscribe();
      node.status({});
    });
  }

  RED.nodes.registerType('alpaca-order-updates', AlpacaOrderUpdatesNode);
}
