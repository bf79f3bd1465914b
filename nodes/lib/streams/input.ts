// Settings and msg commands of the stream nodes, validated in one place: a malformed command is
// refused with a clear message before anything changes.
import { BAR_CHANNELS, KIND_CHANNELS, MARKET_KINDS, type MarketChannel, type MarketKind } from './events';
import type { Wanted } from './subscriptions';

export type OutputMode = 'all' | 'bars' | 'conflate';
/** Batching: off (one msg per event), every symbol of a channel in one msg, or one msg per symbol. */
export type BatchMode = 'off' | 'all' | 'symbol';
export const BATCH_MODES: readonly BatchMode[] = ['off', 'all', 'symbol'];

export interface StreamSettings {
  kind: MarketKind;
  symbols: string[];
  channels: MarketChannel[];
  output: OutputMode;
  /** Conflation interval for quotes (and trades when conflateTrades). */
  conflateMs: number;
  conflateTrades: boolean;
  batch: BatchMode;
  /** A batch goes out when it holds this many events… */
  batchSize: number;
  /** …or this long after its first event, whichever comes first. */
  batchMs: number;
  /** Most msgs per second (0 = unlimited); beyond it a bounded queue drops the oldest. */
  maxRate: number;
  watchdogMs: number;
  alertAfterMs: number;
  pollAfterMs: number;
}

export interface StreamDef {
  kind?: string;
  symbols?: string;
  channels?: string | string[];
  output?: string;
  conflateMs?: string | number;
  conflateTrades?: boolean;
  batch?: string;
  batchSize?: string | number;
  batchMs?: string | number;
  maxRate?: string | number;
  watchdog?: string | number;
  alertAfter?: string | number;
  pollAfter?: string | number;
}

const SYMBOL_RE: Record<MarketKind, RegExp> = {
  stocks: /^[A-Z][A-Z0-9.]{0,9}$/,
  crypto: /^[A-Z0-9]{2,10}\/[A-Z0-9]{2,6}$/,
  options: /^[A-Z]{1,6}\d{6}[CP]\d{8}$/,
  news: /^[A-Z][A-Z0-9.]{0,9}$/,
};

const EXAMPLE: Record<MarketKind, string> = {
  stocks: 'AAPL',
  crypto: 'BTC/USD',
  options: 'AAPL240621C00190000',
  news: 'AAPL',
};

export function isMarketKind(v: unknown): v is MarketKind {
  return typeof v === 'string' && (MARKET_KINDS as readonly string[]).includes(v);
}

/** "AAPL, msft" or ["AAPL"] -> ["AAPL", "MSFT"]; throws on anything malformed. */
export function parseSymbols(input: unknown, kind: MarketKind, what = 'symbols'): string[] {
  let list: unknown[];
  if (typeof input === 'string') list = input.split(/[\s,;]+/).filter(Boolean);
  else if (Array.isArray(input)) list = input;
  else throw new Error(`${what} must be a string like "${EXAMPLE[kind]}" or an array of symbols, not ${describe(input)}`);
  const out: string[] = [];
  for (const raw of list) {
    if (typeof raw !== 'string' || !raw.trim()) throw new Error(`${what}: every symbol must be a non-empty string, got ${describe(raw)}`);
    const symbol = raw.trim().toUpperCase();
    if (symbol !== '*' && !SYMBOL_RE[kind].test(symbol)) {
      throw new Error(`${what}: "${raw}" is not a ${kind} symbol (like ${EXAMPLE[kind]}, or * for all)`);
    }
    if (!out.includes(symbol)) out.push(symbol);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `"${v.slice(0, 30)}"` : typeof v;
}

export function parseChannels(input: unknown, kind: MarketKind, what = 'channels'): MarketChannel[] {
  const list = typeof input === 'string' ? input.split(/[\s,;]+/).filter(Boolean) : input;
  if (!Array.isArray(list)) throw new Error(`${what} must be a list of channels: ${KIND_CHANNELS[kind].join(', ')}`);
  const out: MarketChannel[] = [];
  for (const c of list) {
    if (typeof c !== 'string' || !(KIND_CHANNELS[kind] as readonly string[]).includes(c)) {
      throw new Error(`${what}: "${String(c)}" is not a ${kind} channel (${KIND_CHANNELS[kind].join(', ')})`);
    }
    if (!out.includes(c as MarketChannel)) out.push(c as MarketChannel);
  }
  return out;
}

function seconds(v: unknown, fallback: number, what: string, min = 0): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${what} must be a number of at least ${min}`);
  return n;
}

function whole(v: unknown, fallback: number, what: string, min: number, max: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The dialog's settings, checked. Throws with what is wrong. */
export function resolveStreamSettings(def: StreamDef): StreamSettings {
  const kind = def.kind || 'stocks';
  if (!isMarketKind(kind)) throw new Error(`unknown data kind "${String(kind)}": use ${MARKET_KINDS.join(', ')}`);
  const channels = parseChannels(def.channels && def.channels.length ? def.channels : KIND_CHANNELS[kind].slice(0, 1), kind);
  if (channels.length === 0) throw new Error('choose at least one channel');
  const output = (def.output || 'all') as OutputMode;
  if (!['all', 'bars', 'conflate'].includes(output)) throw new Error(`unknown output mode "${output}"`);
  const batch = (def.batch || 'off') as BatchMode;
  if (!BATCH_MODES.includes(batch)) throw new Error(`unknown batch mode "${batch}": use ${BATCH_MODES.join(', ')}`);
  return {
    kind,
    symbols: parseSymbols(def.symbols ?? '', kind),
    channels,
    output,
    conflateMs: seconds(def.conflateMs, 1000, 'conflation interval (ms)', 10),
    conflateTrades: def.conflateTrades === true,
    batch,
    batchSize: whole(def.batchSize, 100, 'batch size (events)', 1, 10_000),
    batchMs: whole(def.batchMs, 100, 'batch time (ms)', 1, 60_000),
    maxRate: seconds(def.maxRate, 0, 'max msgs per second'),
    watchdogMs: seconds(def.watchdog, 60, 'watchdog (s)') * 1000,
    alertAfterMs: seconds(def.alertAfter, 2, 'alert after (min)') * 60_000,
    pollAfterMs: seconds(def.pollAfter, 30, 'poll REST after (s)') * 1000,
  };
}

/** Channels the node really subscribes: only bar channels in bars-only mode. */
export function effectiveChannels(s: StreamSettings): MarketChannel[] {
  if (s.output !== 'bars') return s.channels;
  const bars = s.channels.filter((c) => BAR_CHANNELS.includes(c));
  return bars.length ? bars : ['bars'];
}

export function wantedFor(symbols: string[], channels: MarketChannel[]): Wanted {
  const w: Wanted = {};
  if (symbols.length) for (const c of channels) w[c] = symbols.slice();
  return w;
}

export type StreamAction = 'subscribe' | 'unsubscribe' | 'replace' | 'list';

export interface StreamCommand {
  action: StreamAction;
  wanted: Wanted;
}

const ACTIONS: StreamAction[] = ['subscribe', 'unsubscribe', 'replace', 'list'];

/**
 * A msg -> a command. msg.action: subscribe (default) | unsubscribe | replace | list.
 * msg.payload: symbols ("AAPL,MSFT" or an array) on the node's channels (or msg.channels), or an
 * object { trades: [...], quotes: [...] } per channel. Throws a clear Error when malformed.
 */
export function parseStreamCommand(msg: Record<string, unknown>, s: StreamSettings): StreamCommand {
  if (msg.kind !== undefined && msg.kind !== s.kind) {
    if (!isMarketKind(msg.kind)) throw new Error(`unknown data kind "${String(msg.kind)}": use ${MARKET_KINDS.join(', ')}`);
    throw new Error(`this node streams ${s.kind}, not ${msg.kind}: use another alpaca-stream node set to ${msg.kind}`);
  }
  const action = (msg.action ?? 'subscribe') as StreamAction;
  if (typeof action !== 'string' || !ACTIONS.includes(action)) {
    throw new Error(`msg.action must be one of ${ACTIONS.join(', ')}, not ${describe(msg.action)}`);
  }
  if (action === 'list') return { action, wanted: {} };
  const payload = msg.payload;
  const allowedChannels = effectiveChannels(s);
  let wanted: Wanted;
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    wanted = {};
    const entries = Object.entries(payload as Record<string, unknown>);
    if (entries.length === 0 && action !== 'replace') throw new Error('msg.payload has no channels: use e.g. { "trades": ["AAPL"] }');
    for (const [channel, list] of entries) {
      const [c] = parseChannels([channel], s.kind, 'msg.payload');
      if (!allowedChannels.includes(c)) {
        throw new Error(`msg.payload: channel "${c}" is not enabled on this node (${allowedChannels.join(', ')})`);
      }
      wanted[c] = parseSymbols(list, s.kind, `msg.payload.${c}`);
    }
  } else {
    const channels = msg.channels === undefined ? allowedChannels : parseChannels(msg.channels, s.kind, 'msg.channels');
    for (const c of channels) {
      if (!allowedChannels.includes(c)) throw new Error(`msg.channels: "${c}" is not enabled on this node (${allowedChannels.join(', ')})`);
    }
    if (payload === undefined || payload === null || payload === '') {
      if (action !== 'replace') throw new Error(`msg.payload must name the symbols to ${action} (e.g. "AAPL,MSFT")`);
      wanted = {};
    } else {
      wanted = wantedFor(parseSymbols(payload, s.kind, 'msg.payload'), channels);
    }
    if (action !== 'replace' && Object.values(wanted).every((l) => l.length === 0)) {
      throw new Error(`msg.payload must name at least one symbol to ${action}`);
    }
  }
  return { action, wanted };
}

// --- order updates ---------------------------------------------------------

export const TRADE_EVENTS = [
  'new',
  'partial_fill',
  'fill',
  'canceled',
  'expired',
  'replaced',
  'rejected',
  'done_for_day',
  'pending_new',
  'pending_cancel',
  'pending_replace',
  'stopped',
  'suspended',
  'calculated',
  'order_replace_rejected',
  'order_cancel_rejected',
] as const;

export interface OrderUpdatesFilter {
  symbols: Set<string>;
  events: Set<string>;
}

/** Dialog filter: symbols "AAPL, BTC/USD" (empty = all), events list (empty = all). Throws when malformed. */
export function parseOrderFilter(symbols: unknown, events: unknown): OrderUpdatesFilter {
  const symList = typeof symbols === 'string' ? symbols.split(/[\s,;]+/).filter(Boolean) : Array.isArray(symbols) ? symbols : [];
  const out: OrderUpdatesFilter = { symbols: new Set(), events: new Set() };
  for (const raw of symList) {
    const s = String(raw).trim().toUpperCase();
    if (!SYMBOL_RE.stocks.test(s) && !SYMBOL_RE.crypto.test(s) && !SYMBOL_RE.options.test(s)) {
      throw new Error(`symbol filter: "${String(raw)}" is not a symbol (like AAPL or BTC/USD)`);
    }
    out.symbols.add(s);
  }
  const evList = typeof events === 'string' ? events.split(/[\s,;]+/).filter(Boolean) : Array.isArray(events) ? events : [];
  for (const e of evList) {
    if (!(TRADE_EVENTS as readonly string[]).includes(String(e))) {
      throw new Error(`event filter: "${String(e)}" is not a trade event (${TRADE_EVENTS.join(', ')})`);
    }
    out.events.add(String(e));
  }
  return out;
}

export function matchesOrderFilter(f: OrderUpdatesFilter, symbol: string, event: string): boolean {
  if (f.events.size && !f.events.has(event)) return false;
  if (!f.symbols.size) return true;
  // Alpaca reports crypto positions and some orders without the slash: BTCUSD matches BTC/USD.
  return f.symbols.has(symbol) || f.symbols.has(symbol.replace('/', '')) || [...f.symbols].some((s) => s.replace('/', '') === symbol);
}
