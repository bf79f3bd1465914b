// How a stream node turns the events its feed hands it into msgs: one msg per event, or conflated
// (the latest quote per symbol per interval), or batched (many events to one msg), and never more
// msgs per second than the node allows. The steps are those of output.ts; this file chains them
// for the node's settings and builds the msgs. No Node-RED here: `send` is given.
import { randomBytes } from 'node:crypto';
import type { FeedEvent, MarketKind } from './events';
import type { BatchMode, StreamSettings } from './input';
import { Batcher, OutputGate } from './output';
import type { Timers } from './health';

/** What output 1 of a stream node carries. */
export interface MarketMessage {
  /** Node-RED's msg id, made here: see messageIds. */
  _msgid: string;
  /** The symbol; `*` for a batch of every symbol. */
  topic: string;
  /** The channel: trades, quotes, bars… (a batch holds one channel only). */
  event: string;
  kind: MarketKind;
  /** The event's payload, or an array of them for a batch. */
  payload: unknown;
  recovered?: true;
  polled?: true;
}

/**
 * Msg ids as Node-RED writes them (16 hex digits): a random half and a counter. The runtime makes
 * one from 8 random numbers for every msg sent without one, a cost as large as all of the pack's
 * own work per event; these are as unique, for a fraction of it.
 */
export function messageIds(): () => string {
  let prefix = '';
  let next = 0x1_0000_0000;
  return () => {
    if (next === 0x1_0000_0000) {
      prefix = randomBytes(4).toString('hex');
      next = 0;
    }
    return prefix + (next++).toString(16).padStart(8, '0');
  };
}

/** The msg of one event. Its payload is the event's own: the feed built it for this node alone. */
export function eventMessage(e: FeedEvent, kind: MarketKind, id: string): MarketMessage {
  const msg: MarketMessage = { _msgid: id, topic: e.symbol, event: e.channel, kind, payload: e.payload };
  if (e.recovered) msg.recovered = true;
  if (e.polled) msg.polled = true;
  return msg;
}

/** The msg of a batch: events of one channel (and one symbol when batching per symbol), oldest first. */
export function batchMessage(events: FeedEvent[], by: BatchMode, kind: MarketKind, id: string): MarketMessage {
  const first = events[0];
  const payload = new Array<unknown>(events.length);
  for (let i = 0; i < events.length; i++) payload[i] = events[i].payload;
  const msg: MarketMessage = { _msgid: id, topic: by === 'symbol' ? first.symbol : '*', event: first.channel, kind, payload };
  if (first.recovered) msg.recovered = true;
  if (first.polled) msg.polled = true;
  return msg;
}

/** The delivery chain of one stream node: conflation, then batching, then the rate cap. */
export class MarketOutput {
  /** Hands one event of the feed to the chain. */
  readonly push: (e: FeedEvent) => void;
  private readonly conflation?: OutputGate<FeedEvent>;
  private readonly batcher?: Batcher<FeedEvent>;
  private readonly queue: OutputGate<MarketMessage>;

  constructor(settings: StreamSettings, send: (msg: MarketMessage) => void, timers?: Timers) {
    const { kind, batch } = settings;
    const nextId = messageIds();
    this.queue = new OutputGate<MarketMessage>({ deliver: send, maxPerSecond: settings.maxRate, capacity: 1000, timers });
    let next: (e: FeedEvent) => void;
    if (batch === 'off') {
      next = (e) => this.queue.push(eventMessage(e, kind, nextId()));
    } else {
      const batcher = new Batcher<FeedEvent>({
        size: settings.batchSize,
        ms: settings.batchMs,
        key: batch === 'symbol' ? (e) => `${e.channel}|${e.symbol}` : (e) => e.channel,
        // Recovered and polled events travel in batches of their own, in order with the live ones.
        joins: (first, e) => first.recovered === e.recovered && first.polled === e.polled,
        deliver: (events) => this.queue.push(batchMessage(events, batch, kind, nextId())),
        timers,
      });
      this.batcher = batcher;
      next = (e) => batcher.push(e);
    }
    if (settings.output === 'conflate') {
      const conflation = new OutputGate<FeedEvent>({
        deliver: next,
        conflateKey: (e) => (e.channel === 'quotes' || (settings.conflateTrades && e.channel === 'trades') ? `${e.channel}|${e.symbol}` : undefined),
        intervalMs: settings.conflateMs,
        timers,
      });
      this.conflation = conflation;
      this.push = (e) => conflation.push(e);
    } else {
      this.push = next;
    }
  }

  /** Events or msgs waiting anywhere in the chain. */
  get pending(): number {
    return (this.conflation?.pending ?? 0) + (this.batcher?.pending ?? 0) + this.queue.pending;
  }

  /** Msgs dropped by the rate cap's full queue. */
  get dropped(): number {
    return this.queue.dropped;
  }

  close(): void {
    this.conflation?.close();
    this.batcher?.close();
    this.queue.close();
  }
}
