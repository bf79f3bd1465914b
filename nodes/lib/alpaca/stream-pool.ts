// The account's SDK streams, one per kind (Alpaca allows one stream connection per key and
// endpoint), shared by every feed that needs it: taken with acquire(), given back with release();
// the last release disconnects it. Every stream reconnects forever with backoff.
import { WebSocket } from 'ws';
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import type { StreamTuning } from '../core/broker';
import { BrokerError } from '../core/errors';
import { streamUrls, type StockFeed } from './client';

export type StreamKind = 'trading' | 'stocks' | 'crypto' | 'options' | 'news';

export type SdkStream = ReturnType<Alpaca['trading']['stream']> | ReturnType<Alpaca['marketData']['stockStream']>;

/** A share of one stream: `forceReconnect()` drops its socket so the SDK reconnects (the watchdog's tool). */
export interface StreamLease {
  stream: SdkStream;
  release: () => void;
  forceReconnect: () => void;
}

/** What the feeds are given to take a share of a stream. */
export interface StreamSource {
  acquire(kind: StreamKind): Promise<StreamLease>;
}

export interface StreamDiagnostics {
  holders: number;
  state: string;
  listeners: Record<string, number>;
  /** Market data: the subscriptions the server acknowledged. */
  subscriptions?: Record<string, string[]>;
}

interface SharedStream {
  stream: SdkStream;
  holders: number;
  /** The socket the SDK uses now (from our wsFactory), to force a reconnect. */
  socket?: WebSocket;
}

type WsFactory = NonNullable<NonNullable<Parameters<Alpaca['marketData']['stockStream']>[0]>['wsFactory']>;

export interface StreamPoolOptions {
  client: () => Promise<Alpaca>;
  /** Base URL in use (the simulator's in sim mode), once open; undefined = Alpaca. */
  endpoint: () => string | undefined;
  paper: boolean;
  feed: StockFeed;
  /** Kinds this server does not serve (the built-in simulator has no options or news). */
  unavailable: () => string | undefined;
  tuning?: StreamTuning;
}

export class StreamPool implements StreamSource {
  private readonly streams = new Map<StreamKind, SharedStream>();
  private tuning: StreamTuning;

  constructor(private readonly options: StreamPoolOptions) {
    this.tuning = { ...options.tuning };
  }

  /** Changes the reconnect tuning of streams opened from now on. */
  tune(tuning: StreamTuning): void {
    this.tuning = { ...this.tuning, ...tuning };
  }

  /** Takes a share of the one stream of that kind, opening it on first use. */
  async acquire(kind: StreamKind): Promise<StreamLease> {
    const client = await this.options.client();
    const refusal = kind === 'options' || kind === 'news' ? this.options.unavailable() : undefined;
    if (refusal) throw new BrokerError(`${kind} data ${refusal}`, 'refused');
    let shared = this.streams.get(kind);
    if (!shared) {
      shared = this.open(client, kind);
      this.streams.set(kind, shared);
      shared.stream.connect();
    }
    shared.holders++;
    const held = shared;
    let released = false;
    return {
      stream: held.stream,
      forceReconnect: () => {
        if (!released) held.socket?.terminate();
      },
      release: () => {
        if (released) return;
        released = true;
        held.holders--;
        if (held.holders === 0 && this.streams.get(kind) === held) {
          this.streams.delete(kind);
          held.stream.disconnect();
          held.socket = undefined;
        }
      },
    };
  }

  /** Each open stream: its holders, the SDK's state, its listeners per event and what the server acknowledged. */
  describe(): Record<string, StreamDiagnostics> {
    const out: Record<string, StreamDiagnostics> = {};
    for (const [kind, shared] of this.streams) {
      const stream = shared.stream as unknown as {
        getState(): string;
        eventNames(): Array<string | symbol>;
        listenerCount(name: string | symbol): number;
        getSubscriptions?(): Record<string, string[]>;
      };
      const listeners: Record<string, number> = {};
      for (const name of stream.eventNames()) listeners[String(name)] = stream.listenerCount(name);
      out[kind] = { holders: shared.holders, state: stream.getState(), listeners, subscriptions: stream.getSubscriptions?.() };
    }
    return out;
  }

  /** Disconnects every stream. */
  close(): void {
    for (const shared of this.streams.values()) shared.stream.disconnect();
    this.streams.clear();
  }

  private open(client: Alpaca, kind: StreamKind): SharedStream {
    const urls = streamUrls(this.options.paper, this.options.endpoint(), this.options.feed);
    const t = this.tuning;
    const entry: SharedStream = { stream: undefined as unknown as SdkStream, holders: 0 };
    // Never give up reconnecting; back off 1 s doubling to 60 s with jitter (the SDK's default stops after 10).
    const common = {
      maxReconnectAttempts: -1,
      initialReconnectMs: t.initialReconnectMs ?? 1000,
      maxReconnectMs: t.maxReconnectMs ?? 60_000,
      reconnectJitter: t.reconnectJitter ?? 0.2,
      ...(t.pingIntervalMs !== undefined ? { pingIntervalMs: t.pingIntervalMs } : {}),
      ...(t.pongWaitMs !== undefined ? { pongWaitMs: t.pongWaitMs } : {}),
      // Our own socket factory (same settings as the SDK's) so a silent socket can be dropped.
      wsFactory: ((url: string, codec: string) => {
        const ws = new WebSocket(url, {
          perMessageDeflate: false,
          // One frame per event-loop turn: a burst waits in the socket (TCP backpressure), not as
          // thousands of msgs in Node-RED's delivery queue that outlive the young heap.
          allowSynchronousEvents: false,
          headers: codec === 'msgpack' ? { 'Content-Type': 'application/msgpack' } : undefined,
        });
        entry.socket = ws;
        ws.once('close', () => {
          if (entry.socket === ws) entry.socket = undefined;
        });
        return ws;
      }) as unknown as WsFactory,
    };
    const md = client.marketData;
    entry.stream =
      kind === 'trading'
        ? client.trading.stream({ ...common, url: urls.trading })
        : kind === 'crypto'
          ? md.cryptoStream({ ...common, url: urls.crypto })
          : kind === 'options'
            ? (md.optionStream({ ...common, url: urls.options }) as unknown as SdkStream)
            : kind === 'news'
              ? (md.newsStream({ ...common, url: urls.news }) as unknown as SdkStream)
              : md.stockStream({ ...common, url: urls.stocks });
    return entry;
  }
}
