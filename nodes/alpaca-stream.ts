// Market data (stocks, crypto, options, news) from the account's shared socket of that kind: one
// msg per event (or per batch) on output 1, connection events on output 2. Subscriptions change by
// msg. The work is in lib/alpaca/market-feed.ts and lib/streams/; this file adapts them.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { ConnectionStatus } from './lib/core/broker';
import { accountOf, applyStreamTuning, useConnection } from './lib/node-red/account';
import { connectionOutput } from './lib/node-red/connection-output';
import { status, streamStatus } from './lib/node-red/status';
import { MarketOutput } from './lib/streams/delivery';
import type { MarketSubscriber, StreamStatus } from './lib/streams/events';
import { effectiveChannels, parseStreamCommand, resolveStreamSettings, wantedFor, type StreamDef, type StreamSettings } from './lib/streams/input';

interface StreamNodeDef extends NodeDef, StreamDef {
  account: string;
}

type Send = (msg: Array<NodeMessageInFlow | Record<string, unknown> | null>) => void;

export default function (RED: NodeAPI): void {
  function AlpacaStreamNode(this: Node, def: StreamNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    let parsed: StreamSettings | undefined;
    let problem: string | undefined;
    try {
      parsed = resolveStreamSettings(def);
    } catch (err) {
      problem = (err as Error).message;
    }
    const account = accountOf(RED, node, def.account, problem);
    if (!account || !parsed) return;
    const settings = parsed;
    const connection = account.connection;
    applyStreamTuning(RED, connection);
    const feed = connection.marketFeed(settings.kind);
    const kind = settings.kind;

    let connState: ConnectionStatus | undefined;
    let streamState: StreamStatus = feed.status;
    let detail = '';
    const showStatus = () => node.status(streamStatus(streamState, connState, detail));
    const describeSubs = () => {
      const subs = feed.subscriptionsOf(node.id);
      const symbols = new Set(Object.values(subs).flat());
      detail = symbols.size === 0 ? 'no symbols' : symbols.size <= 3 ? [...symbols].join(' ') : `${symbols.size} symbols`;
    };

    const output = new MarketOutput(settings, (msg) => node.send(msg as unknown as NodeMessageInFlow));
    const output2 = connectionOutput(node, kind, `${kind} stream`, settings.alertAfterMs, () => streamState.state);

    const subscriber: MarketSubscriber = {
      id: node.id,
      watchdogMs: settings.watchdogMs,
      pollAfterMs: settings.pollAfterMs,
      onEvent: output.push,
      onStatus: (s) => {
        streamState = s;
        showStatus();
      },
      onConnectionEvent: (e) => output2.note(e),
    };
    useConnection(node, connection, (s) => {
      connState = s;
      showStatus();
    });
    feed.attach(subscriber);
    feed.subscribe(node.id, wantedFor(settings.symbols, effectiveChannels(settings)));
    describeSubs();
    showStatus();

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: () => void) => {
      let command;
      try {
        command = parseStreamCommand(msg as unknown as Record<string, unknown>, settings);
      } catch (err) {
        node.status(status.failed((err as Error).message));
        node.error(err, msg);
        done();
        return;
      }
      if (command.action === 'subscribe') feed.subscribe(node.id, command.wanted);
      else if (command.action === 'unsubscribe') feed.unsubscribe(node.id, command.wanted);
      else if (command.action === 'replace') feed.replace(node.id, command.wanted);
      describeSubs();
      showStatus();
      const out = msg as NodeMessageInFlow & Record<string, unknown>;
      out.topic = 'subscriptions';
      out.event = 'subscriptions';
      out.kind = kind;
      out.payload = feed.subscriptionsOf(node.id);
      send([null, out]);
      done();
    });

    node.on('close', () => {
      output.close();
      output2.stop();
      feed.detach(node.id);
      node.status({});
    });
  }

  RED.nodes.registerType('alpaca-stream', AlpacaStreamNode);
}
