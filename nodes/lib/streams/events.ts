// Broker-neutral shapes of what the stream nodes emit, and the small time helpers they share.

export type MarketKind = 'stocks' | 'crypto' | 'options' | 'news';
export const MARKET_KINDS: readonly MarketKind[] = ['stocks', 'crypto', 'options', 'news'];

export type MarketChannel = 'trades' | 'quotes' | 'bars' | 'updatedBars' | 'dailyBars' | 'statuses' | 'news';

/** Channels each kind offers. */
export const KIND_CHANNELS: Record<MarketKind, readonly MarketChannel[]> = {
  stocks: ['trades', 'quotes', 'bars', 'updatedBars', 'dailyBars', 'statuses'],
  crypto: ['trades', 'quotes', 'bars', 'updatedBars', 'dailyBars'],
  options: ['trades', 'quotes'],
  news: ['news'],
};

export const BAR_CHANNELS: readonly MarketChannel[] = ['bars', 'updatedBars', 'dailyBars'];

/** One market-data event, normalised: a plain object with numbers and both timestamp forms. */
export interface MarketEvent {
  channel: MarketChannel;
  symbol: string;
  payload: Record<string, unknown> & { timestamp: string; time: number };
}

/** A market event as delivered to a node: live, recovered (backfilled) or polled over REST. */
export interface FeedEvent extends MarketEvent {
  recovered?: boolean;
  polled?: boolean;
}

/** A node listening to a market feed. */
export interface MarketSubscriber {
  id: string;
  onEvent(event: FeedEvent): void;
  onStatus(status: StreamStatus): void;
  onConnectionEvent(event: ConnectionEvent): void;
  /** Silence before the watchdog probes (ms, 0 = off); the feed uses the smallest of its nodes. */
  watchdogMs: number;
  /** Outage length before REST polling starts (ms, 0 = never); the smallest wins. */
  pollAfterMs: number;
}

/** The state of one shared stream, for status dots. */
export type StreamState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'stale' | 'auth_failed' | 'unavailable' | 'closed';

export interface StreamStatus {
  kind: string;
  state: StreamState;
  /** Short text for a status dot; never a secret. */
  text: string;
  /** Epoch ms when this state (or this outage) began. */
  since: number;
  attempt?: number;
  reason?: string;
}

export type ConnectionEventName =
  | 'connected'
  | 'disconnected'
  | 'reconnecting'
  | 'reconnected'
  | 'stale'
  | 'polling'
  | 'recovered'
  | 'alert'
  | 'restored'
  | 'auth_failed'
  | 'unavailable'
  | 'error';

/** What a stream node sends on its second output. */
export interface ConnectionEvent {
  event: ConnectionEventName;
  /** stocks, crypto, options, news or trading. */
  kind: string;
  state: StreamState;
  /** ISO time of the event. */
  timestamp: string;
  time: number;
  /** Start of the outage (epoch ms), while or after being down. */
  downSince?: number;
  /** How long the outage lasted or has lasted (ms). */
  downMs?: number;
  attempt?: number;
  reason?: string;
  /** Events recovered over REST after an outage (recovered / reconnected). */
  count?: number;
}

/** Epoch ms of a Date, ISO string or number; NaN when unusable. */
export function epochMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value) return Date.parse(value);
  if (value && typeof (value as { toDate?: unknown }).toDate === 'function') return (value as { toDate(): Date }).toDate().getTime();
  return NaN;
}

/**
 * Both forms of an SDK object's time. The SDK has already parsed it: its Date gives the epoch ms
 * (read, never parsed again) and its lossless RFC-3339 string is kept as it came. `date` may also
 * be text or a number (raw wire keys); without any usable time, now stands in.
 */
export function brokerTime(date: unknown, text: unknown): { timestamp: string; time: number } {
  let time = epochMs(date);
  if (!Number.isFinite(time)) time = epochMs(text);
  if (!Number.isFinite(time)) {
    const now = Date.now();
    return { timestamp: new Date(now).toISOString(), time: now };
  }
  if (typeof text === 'string' && text) return { timestamp: text, time };
  return { timestamp: typeof date === 'string' ? date : new Date(time).toISOString(), time };
}

export function connectionEvent(event: ConnectionEventName, status: StreamStatus, now: number, extra: Partial<ConnectionEvent> = {}): ConnectionEvent {
  return {
    event,
    kind: status.kind,
    state: status.state,
    timestamp: new Date(now).toISOString(),
    time: now,
    ...(status.attempt ? { attempt: status.attempt } : {}),
    ...(status.reason ? { reason: status.reason } : {}),
    ...extra,
  };
}
