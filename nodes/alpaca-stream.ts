// Market data (stocks, crypto, options, news) from the account's shared socket of that kind: one
// msg per event on output 1, connection events on output 2. Subscriptions change by msg. The
// work is in lib/alpaca/market-feed.ts and the lib/stream-*.ts modules; this file adapts them.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { AccountConfigNode } from './alpaca-account';
import type { ConnectionStatus, ConnectionUser } from './lib/core/broker';
import type { StreamTuning } from './lib/alpaca/connection';
import type { FeedEvent, MarketSubscriber } from './lib/alpaca/market-feed';
import type { ConnectionEvent, StreamStatus } from './lib/streams/events';
import { effectiveChannels, parseStreamCommand, resolveStreamSettings, wantedFor, type StreamDef, type StreamSettings } from './lib/streams/input';
import { OutageAlarm } from './lib/streams/health';
import { OutputGate } from './lib/streams/output';
import { streamNodeStatus } from './lib/node-red/stream-status';
import { status } from './lib/node-red/status';

interface StreamNodeDef extends NodeDef, StreamDef {
  account: string;
}

type Send = (msg: Array<NodeMessageInFlow | Record<string, unknown> | null>) => void;

export default function (RED: NodeAPI): void {
  function AlpacaStreamNode(this: Node, def: StreamNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const account = RED.nodes.getNode(def.account) as AccountConfigNode | null;

    let settings: StreamSettings;
    let problem: string | undefined;
    try {
      settings = resolveStreamSettings(def);
    } catch (err) {
      problem = (err as Error).message;
      settings = undefined as unknown as StreamSettings;
    }
    if (!problem && !account?.connection) problem = 'no Alpaca account is configured for this node: choose one in its dialog';
    if (problem) {
      const reason = problem;
      node.status(status.failed(reason));
      node.error(reason);
      node.on('input', (msg: NodeMessageInFlow, _send: Send, done: () => void) => {
        node.error(new Error(reason), msg);
        done();
      });
      return;
    }

    const connection = (account as AccountConfigNode).connection;
    // settings.js may tune stream reconnects: alpacaStreams: { initialReconnectMs, maxReconnectMs, reconnectJitter }
    const tuning = (RED.settings as unknown as { alpacaStreams?: StreamTuning }).alpacaStreams;
    if (tuning) connection.tuneStreams(tuning);
    const feed = connection.marketFeed(settings.kind);

    let connState: ConnectionStatus | undefined;
    let streamState: StreamStatus = feed.status;
    let detail = '';
    const showStatus = () => node.status(streamNodeStatus(streamState, connState, detail));
    const describeSubs = () => {
      const subs = feed.subscriptionsOf(node.id);
      const symbols = new Set(Object.values(subs).flat());
      detail = symbols.size === 0 ? 'no symbols' : symbols.size <= 3 ? [...symbols].join(' ') : `${symbols.size} symbols`;
    };

    const sendEvent = (e: FeedEvent) => {
      const msg: Record<string, unknown> = { topic: e.symbol, event: e.channel, kind: settings.kind, payload: { ...e.payload } };
      if (e.recovered) msg.recovered = true;
      if (e.polled) msg.polled = true;
      node.send([msg as unknown as NodeMessageInFlow, null]);
    };
    const gate = new OutputGate<FeedEvent>({
      deliver: sendEvent,
      conflateKey:
        settings.output === 'conflate'
          ? (e) => (e.channel === 'quotes' || (settings.conflateTrades && e.channel === 'trades') ? `${e.channel}|${e.symbol}` : undefined)
          : undefined,
      intervalMs: settings.output === 'conflate' ? settings.conflateMs : 0,
      maxPerSecond: settings.maxRate,
      capacity: 1000,
    });
    const sendConnection = (payload: ConnectionEvent) => {
      node.send([null, { topic: 'connection', event: payload.event, kind: settings.kind, payload } as unknown as NodeMessageInFlow]);
    };
    const alarm = new OutageAlarm(settings.alertAfterMs, (event, downSince, downMs) => {
      sendConnection({
        event,
        kind: settings.kind,
        state: streamState.state,
        timestamp: new Date().toISOString(),
        time: Date.now(),
        downSince,
        downMs,
        reason: event === 'alert' ? `${settings.kind} stream down for ${Math.round(downMs / 1000)} s` : undefined,
      });
    });

    const subscriber: MarketSubscriber = {
      id: node.id,
      watchdogMs: settings.watchdogMs,
      pollAfterMs: settings.pollAfterMs,
      onEvent: (e) => gate.push(e),
      onStatus: (s) => {
        streamState = s;
        showStatus();
      },
      onConnectionEvent: (e) => {
        alarm.note(e);
        sendConnection(e);
      },
    };
    const user: ConnectionUser = {
      id: node.id,
      onConnectionStatus: (s) => {
        connState = s;
        showStatus();
      },
    };
    connection.register(user);
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
      out.kind = settings.kind;
      out.payload = feed.subscriptionsOf(node.id);
      send([null, out]);
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      gate.close();
      alarm.stop();
      feed.detach(node.id);
      node.status({});
      connection.deregister(user).then(done, done);
    });
  }

  RED.nodes.registerType('alpaca-stream', AlpacaStreamNode);
}
