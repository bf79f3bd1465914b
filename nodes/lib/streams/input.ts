// Settings and msg commands of the stream nodes, validated in one place: a malformed command is
// refused with a clear message before anything changes. Msgs may be hostile: only their own
// properties are read, prototype keys are refused, symbol lists are capped and echoes cut short.
import { InputError } from '../core/errors';
import { MAX_SYMBOLS_PER_MSG, parseSymbolList, type AssetKind } from '../core/symbols';
import { own, refuseForbiddenFields, show } from '../core/values';
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

/** The symbol grammar each kind takes (lib/core/symbols.ts); news is about tickers. */
const SYMBOL_KINDS: Record<MarketKind, readonly AssetKind[]> = {
  stocks: ['stock'],
  crypto: ['crypto'],
  options: ['option'],
  news: ['stock'],
};

export function isMarketKind(v: unknown): v is MarketKind {
  return typeof v === 'string' && (MARKET_KINDS as readonly string[]).includes(v);
}

/** "AAPL, msft" or ["AAPL"] -> ["AAPL", "MSFT"] ("*" for all), linear and capped; throws InputError on anything malformed. */
export function parseSymbols(input: unknown, kind: MarketKind, what = 'symbols'): string[] {
  return parseSymbolList(what, input, SYMBOL_KINDS[kind], true);
}

export function parseChannels(input: unknown, kind: MarketKind, what = 'channels'): MarketChannel[] {
  const offered = KIND_CHANNELS[kind] as readonly string[];
  const list = typeof input === 'string' ? input.split(/[\s,;]+/).filter(Boolean) : input;
  if (!Array.isArray(list)) throw new InputError(what, `${what} must be a list of channels: ${offered.join(', ')} (got ${show(input)})`);
  const out = new Set<MarketChannel>();
  for (const c of list) {
    if (typeof c !== 'string' || !offered.includes(c)) throw new InputError(what, `${what}: ${show(c)} is not a ${kind} channel (${offered.join(', ')})`);
    out.add(c as MarketChannel);
  }
  return [...out];
}

function seconds(v: unknown, fallback: number, what: string, min = 0): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InputError(what, `${what} must be a number of at least ${min} (got ${show(v)})`);
  return n;
}

function whole(v: unknown, fallback: number, what: string, min: number, max: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(what, `${what} must be a whole number from ${min} to ${max} (got ${show(v)})`);
  return n;
}

/** The dialog's settings, checked. Throws with what is wrong. */
export function resolveStreamSettings(def: StreamDef): StreamSettings {
  const kind = def.kind || 'stocks';
  if (!isMarketKind(kind)) throw new InputError('kind', `unknown data kind ${show(kind)}: use ${MARKET_KINDS.join(', ')}`);
  const channels = parseChannels(def.channels && def.channels.length ? def.channels : KIND_CHANNELS[kind].slice(0, 1), kind);
  if (channels.length === 0) throw new InputError('channels', 'choose at least one channel');
  const output = (def.output || 'all') as OutputMode;
  if (!['all', 'bars', 'conflate'].includes(output)) throw new InputError('output', `unknown output mode ${show(output)}`);
  const batch = (def.batch || 'off') as BatchMode;
  if (!BATCH_MODES.includes(batch)) throw new InputError('batch', `unknown batch mode ${show(batch)}: use ${BATCH_MODES.join(', ')}`);
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
  refuseForbiddenFields(msg, ['kind', 'action', 'payload', 'channels']);
  const kind = own(msg, 'kind');
  if (kind !== undefined && kind !== s.kind) {
    if (!isMarketKind(kind)) throw new InputError('msg.kind', `unknown data kind ${show(kind)}: use ${MARKET_KINDS.join(', ')}`);
    throw new InputError('msg.kind', `this node streams ${s.kind}, not ${kind}: use another alpaca-stream node set to ${kind}`);
  }
  const action = own(msg, 'action') ?? 'subscribe';
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    throw new InputError('msg.action', `msg.action must be one of ${ACTIONS.join(', ')} (got ${show(action)})`);
  }
  if (action === 'list') return { action, wanted: {} };
  const command = action as StreamAction;
  const payload = own(msg, 'payload');
  const allowedChannels = effectiveChannels(s);
  let wanted: Wanted;
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    wanted = {};
    const entries = Object.entries(payload as Record<string, unknown>);
    if (entries.length === 0 && command !== 'replace') throw new InputError('msg.payload', 'msg.payload has no channels: use e.g. { "trades": ["AAPL"] }');
    let count = 0;
    for (const [channel, list] of entries) {
      const [c] = parseChannels([channel], s.kind, 'msg.payload');
      if (!allowedChannels.includes(c)) {
        throw new InputError('msg.payload', `msg.payload: channel "${c}" is not enabled on this node (${allowedChannels.join(', ')})`);
      }
      wanted[c] = parseSymbols(list, s.kind, `msg.payload.${c}`);
      count += wanted[c].length;
      if (count > MAX_SYMBOLS_PER_MSG) throw new InputError('msg.payload', `msg.payload: more than the ${MAX_SYMBOLS_PER_MSG} symbols allowed in one msg`);
    }
  } else {
    const channelsValue = own(msg, 'channels');
    const channels = channelsValue === undefined ? allowedChannels : parseChannels(channelsValue, s.kind, 'msg.channels');
    for (const c of channels) {
      if (!allowedChannels.includes(c)) throw new InputError('msg.channels', `msg.channels: "${c}" is not enabled on this node (${allowedChannels.join(', ')})`);
    }
    if (payload === undefined || payload === null || payload === '') {
      if (command !== 'replace') throw new InputError('msg.payload', `msg.payload must name the symbols to ${command} (e.g. "AAPL,MSFT")`);
      wanted = {};
    } else {
      wanted = wantedFor(parseSymbols(payload, s.kind, 'msg.payload'), channels);
    }
    if (command !== 'replace' && Object.values(wanted).every((l) => l.length === 0)) {
      throw new InputError('msg.payload', `msg.payload must name at least one symbol to ${command}`);
    }
  }
  return { action: command, wanted };
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
  const out: OrderUpdatesFilter = { symbols: new Set(), events: new Set() };
  if (typeof symbols === 'string' ? symbols.trim() : Array.isArray(symbols) && symbols.length) {
    for (const s of parseSymbolList('symbol filter', symbols, ['stock', 'crypto', 'option'])) out.symbols.add(s);
  }
  const evList = typeof events === 'string' ? events.split(/[\s,;]+/).filter(Boolean) : Array.isArray(events) ? events : [];
  for (const e of evList) {
    if (typeof e !== 'string' || !(TRADE_EVENTS as readonly string[]).includes(e)) {
      throw new InputError('event filter', `event filter: ${show(e)} is not a trade event (${TRADE_EVENTS.join(', ')})`);
    }
    out.events.add(e);
  }
  return out;
}

export function matchesOrderFilter(f: OrderUpdatesFilter, symbol: string, event: string): boolean {
  if (f.events.size && !f.events.has(event)) return false;
  if (!f.symbols.size) return true;
  // Alpaca reports crypto positions and some orders without the slash: BTCUSD matches BTC/USD.
  return f.symbols.has(symbol) || f.symbols.has(symbol.replace('/', '')) || [...f.symbols].some((s) => s.replace('/', '') === symbol);
}
