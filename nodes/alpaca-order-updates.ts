// Every trade update of the account (new, fill, partial_fill, canceled, ...) from the one shared
// trading stream, filtered by symbol and event; connection events on output 2. Updates missed
// during an outage are recovered over REST and sent once, in order, with recovered: true.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { AccountConfigNode } from './alpaca-account';
import type { ConnectionStatus, ConnectionUser, TradeUpdate } from './lib/core/broker';
import type { StreamTuning } from './lib/alpaca/connection';
import type { AlpacaTradeUpdates } from './lib/alpaca/trade-updates';
import type { ConnectionEvent, StreamStatus } from './lib/streams/events';
import { matchesOrderFilter, parseOrderFilter, type OrderUpdatesFilter } from './lib/streams/input';
import { OutageAlarm } from './lib/streams/health';
import { streamNodeStatus } from './lib/node-red/stream-status';
import { status } from './lib/node-red/status';

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
    const account = RED.nodes.getNode(def.account) as AccountConfigNode | null;

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
    if (!problem && !account?.connection) problem = 'no Alpaca account is configured for this node: choose one in its dialog';
    if (problem || !filter) {
      const reason = problem ?? 'invalid settings';
      node.status(status.failed(reason));
      node.error(reason);
      return;
    }

    const connection = (account as AccountConfigNode).connection;
    const tuning = (RED.settings as unknown as { alpacaStreams?: StreamTuning }).alpacaStreams;
    if (tuning) connection.tuneStreams(tuning);
    const feed = connection.tradeUpdates as AlpacaTradeUpdates;
    const activeFilter = filter;

    let connState: ConnectionStatus | undefined;
    let streamState: StreamStatus = feed.status;
    let count = 0;
    const showStatus = () => node.status(streamNodeStatus(streamState, connState, count ? `${count} updates` : undefined));

    const sendConnection = (payload: ConnectionEvent) => {
      node.send([null, { topic: 'connection', event: payload.event, kind: 'trading', payload } as unknown as NodeMessageInFlow]);
    };
    const alarm = new OutageAlarm(alertAfterMs, (event, downSince, downMs) => {
      sendConnection({
        event,
        kind: 'trading',
        state: streamState.state,
        timestamp: new Date().toISOString(),
        time: Date.now(),
        downSince,
        downMs,
        reason: event === 'alert' ? `trade updates down for ${Math.round(downMs / 1000)} s` : undefined,
      });
    });

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

    const user: ConnectionUser = {
      id: node.id,
      onConnectionStatus: (s) => {
        connState = s;
        showStatus();
      },
    };
    connection.register(user);
    const unsubscribe = feed.subscribe(onUpdate, {
      watchdogMs,
      pollAfterMs,
      onStatus: (s) => {
        streamState = s;
        showStatus();
      },
      onConnectionEvent: (e) => {
        alarm.note(e);
        sendConnection(e);
      },
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      alarm.stop();
      unsubscribe();
      node.status({});
      connection.deregister(user).then(done, done);
    });
  }

  RED.nodes.registerType('alpaca-order-updates', AlpacaOrderUpdatesNode);
}
