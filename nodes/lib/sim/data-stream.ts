// Alpaca's real-time market-data WebSocket (stocks /v2/{iex,sip,delayed_sip}, crypto
// /v1beta3/crypto/us): JSON text frames, or msgpack when the upgrade asked for it; auth by message
// or by headers; cumulative subscriptions with `*`; one frame array per socket per tick; the data
// plan's entitlement; and Alpaca's error codes (400/401/402/403/404/406/407/409).
import { decode, encode } from '@msgpack/msgpack';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import type { Market } from './market';
import { barJson, cryptoQuoteJson, cryptoTradeJson, stockQuoteJson, stockTradeJson } from './data-routes';
import { streamPermits } from './data-plan';
import type { DataPlan, SimAsset, SimBar, SimQuote, SimTrade, StreamContext, StreamEndpoint } from './types';

export interface DataStreamOptions {
  /** Close sockets that have not authenticated within this long (Alpaca: 10 s). */
  authTimeoutMs?: number;
  /** A socket whose unsent data exceeds this is a slow client: error 407 and closed. */
  maxBufferedBytes?: number;
  /** The account's market-data plan: on `basic` (default, as a new account has) the live SIP feed answers 409. */
  dataPlan?: DataPlan;
}


type Kind = 'iex' | 'sip' | 'crypto';
type Frame = Record<string, unknown>;

const STOCK_CHANNELS = ['trades', 'quotes', 'bars', 'updatedBars', 'dailyBars', 'statuses', 'lulds', 'imbalances'] as const;
const CRYPTO_CHANNELS = ['trades', 'quotes', 'orderbooks', 'bars', 'updatedBars', 'dailyBars'] as const;
/** Keys a client may send that this endpoint accepts and ignores (news, or the other asset's). */
const IGNORED_CHANNELS = new Set(['news', 'orderbooks', 'statuses', 'lulds', 'imbalances', 'corrections', 'cancelErrors']);

const PATH_KIND: Record<string, Kind> = {
  '/v2/iex': 'iex',
  '/v2/sip': 'sip',
  '/v2/delayed_sip': 'sip',
  '/v2/test': 'sip',
  '/v1beta3/crypto/us': 'crypto',
};

interface Client {
  ws: WebSocket;
  path: string;
  kind: Kind;
  authed: boolean;
  closed: boolean;
  subs: Map<string, Set<string>>;
  pending: Frame[];
  /** The shell's context: its live `faults` object decides whether data frames go out. */
  ctx: StreamContext;
  authTimer?: NodeJS.Timeout;
}

// Frames share the REST shapes, plus the type tag T and the symbol S.
function tradeFrame(tr: SimTrade, asset: SimAsset | undefined, kind: Kind): Frame {
  if (kind === 'crypto' || !asset) return { T: 't', S: tr.symbol, ...cryptoTradeJson(tr) };
  return { T: 't', S: tr.symbol, ...stockTradeJson(tr, asset, kind) };
}

function quoteFrame(q: SimQuote, asset: SimAsset | undefined, kind: Kind): Frame {
  if (kind === 'crypto' || !asset) return { T: 'q', S: q.symbol, ...cryptoQuoteJson(q) };
  return { T: 'q', S: q.symbol, ...stockQuoteJson(q, asset, kind) };
}

function barFrame(T: 'b' | 'u' | 'd', b: SimBar): Frame {
  return { T, S: b.symbol, ...barJson(b) };
}

export function dataStreamEndpoint(market: Market, options: DataStreamOptions = {}): StreamEndpoint & { close(): void } {
  const authTimeoutMs = options.authTimeoutMs ?? 10_000;
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  const clients = new Set<Client>();
  const dirty = new Set<Client>();
  let flushHandle: NodeJS.Immediate | undefined;
  let listening = false;

  const dataPlan = options.dataPlan ?? 'basic';

  const send = (c: Client, frames: Frame[]) => {
    if (c.closed || c.ws.readyState !== 1) return;
    if (c.ctx.codec === 'msgpack') c.ws.send(encode(frames));
    else c.ws.send(JSON.stringify(frames));
  };
  const fail = (c: Client, code: number, msg: string, close: boolean) => {
    send(c, [{ T: 'error', code, msg }]);
    if (close) {
      c.closed = true;
      c.ws.close();
    }
  };

  // One flush per event-loop turn batches a whole tick (all symbols) into one array per socket.
  const flush = () => {
    flushHandle = undefined;
    for (const c of dirty) {
      if (c.closed) continue;
      if (c.ws.bufferedAmount > maxBuffered) {
        c.pending.length = 0;
        fail(c, 407, 'slow client', true);
        continue;
      }
      send(c, c.pending);
      c.pending.length = 0;
    }
    dirty.clear();
  };

  /** Queues a frame, built once per feed kind, for every socket subscribed to the symbol. */
  const fanOut = (channel: string, symbol: string, build: (asset: SimAsset | undefined, kind: Kind) => Frame) => {
    const asset = market.asset(symbol);
    const cryptoSymbol = asset ? asset.assetClass === 'crypto' : symbol.includes('/');
    let built: Partial<Record<Kind, Frame>> | undefined;
    for (const c of clients) {
      if (!c.authed || c.closed || (c.kind === 'crypto') !== cryptoSymbol) continue;
      // The silentStreams fault: the socket stays open and answers control messages, but no data flows.
      if (c.ctx.faults.silentStreams) continue;
      const set = c.subs.get(channel);
      if (!set || (set.size === 0) || (!set.has(symbol) && !set.has('*'))) continue;
      built ??= {};
      const frame = (built[c.kind] ??= build(asset, c.kind));
      c.pending.push(frame);
      dirty.add(c);
    }
    if (built && !flushHandle) flushHandle = setImmediate(flush);
  };

  const onTrade = (tr: SimTrade) => fanOut('trades', tr.symbol, (a, k) => tradeFrame(tr, a, k));
  const onQuote = (q: SimQuote) => fanOut('quotes', q.symbol, (a, k) => quoteFrame(q, a, k));
  const onBar = (b: SimBar) => fanOut('bars', b.symbol, () => barFrame('b', b));
  const onUpdatedBar = (b: SimBar) => fanOut('updatedBars', b.symbol, () => barFrame('u', b));
  const onDailyBar = (b: SimBar) => fanOut('dailyBars', b.symbol, () => barFrame('d', b));

  // Attached only while a socket is open, so an idle simulator costs the market nothing.
  const listen = (on: boolean) => {
    if (on === listening) return;
    listening = on;
    const method = on ? 'on' : 'off';
    market[method]('trade', onTrade);
    market[method]('quote', onQuote);
    market[method]('bar', onBar);
    market[method]('updatedBar', onUpdatedBar);
    market[method]('dailyBar', onDailyBar);
  };

  const channelsOf = (c: Client) => (c.kind === 'crypto' ? CRYPTO_CHANNELS : STOCK_CHANNELS);

  const ack = (c: Client): Frame => {
    const frame: Frame = { T: 'subscription' };
    for (const ch of channelsOf(c)) frame[ch] = [...(c.subs.get(ch) ?? [])];
    if (c.kind !== 'crypto') {
      // Alpaca subscribes trade corrections and cancel errors together with trades.
      frame.corrections = frame.trades;
      frame.cancelErrors = frame.trades;
    }
    return frame;
  };

  /** Applies a subscribe/unsubscribe; returns false when the message is malformed. */
  const changeSubscriptions = (c: Client, msg: Record<string, unknown>, add: boolean): boolean => {
    const allowed = new Set<string>(channelsOf(c));
    for (const [key, value] of Object.entries(msg)) {
      if (key === 'action') continue;
      if (!allowed.has(key)) {
        if (IGNORED_CHANNELS.has(key)) continue;
        return false;
      }
      if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && s.trim() !== '')) return false;
      const set = c.subs.get(key) ?? new Set<string>();
      for (const raw of value as string[]) {
        const asset = market.asset(raw);
        // A known symbol of the other asset class never trades here: leave it out.
        if (asset && (asset.assetClass === 'crypto') !== (c.kind === 'crypto')) continue;
        const symbol = raw === '*' ? '*' : (asset?.symbol ?? raw.trim().toUpperCase());
        if (add) set.add(symbol);
        else set.delete(symbol);
      }
      c.subs.set(key, set);
    }
    return true;
  };

  /** Auth by message or by upgrade headers: credentials, then the plan's entitlement, then the one slot per key. */
  const authenticate = (c: Client, keyId: unknown, secret: unknown) => {
    if (c.authed) return fail(c, 403, 'already authenticated', false);
    clearTimeout(c.authTimer);
    if (!c.ctx.checkCredentials(keyId, secret)) return fail(c, 402, 'auth failed', true);
    // delayed_sip is 15 minutes old: the Basic plan may stream it.
    if (!streamPermits(dataPlan, c.path === '/v2/sip' ? 'sip' : 'other')) return fail(c, 409, 'insufficient subscription', true);
    if (!c.ctx.claimConnection(keyId as string, c.path, c.ws)) return fail(c, 406, 'connection limit exceeded', true);
    c.authed = true;
    send(c, [{ T: 'success', msg: 'authenticated' }]);
  };

  const decodeMessage = (c: Client, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): unknown => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    return isBinary && c.ctx.codec === 'msgpack' ? decode(bytes) : JSON.parse(bytes.toString('utf8'));
  };

  const onMessage = (c: Client, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (c.closed) return;
    let msg: unknown;
    try {
      msg = decodeMessage(c, data, isBinary);
    } catch {
      return fail(c, 400, 'invalid syntax', false);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return fail(c, 400, 'invalid syntax', false);
    const m = msg as Record<string, unknown>;
    switch (m.action) {
      case 'auth':
        return authenticate(c, m.key, m.secret);
      case 'subscribe':
      case 'unsubscribe':
        if (!c.authed) return fail(c, 401, 'not authenticated', false);
        if (!changeSubscriptions(c, m, m.action === 'subscribe')) return fail(c, 400, 'invalid syntax', false);
        return send(c, [ack(c)]);
      default:
        return fail(c, 400, 'invalid syntax', false);
    }
  };

  return {
    paths: Object.keys(PATH_KIND),
    accept(ws: WebSocket, _req: IncomingMessage, path: string, ctx: StreamContext) {
      const c: Client = { ws, path, kind: PATH_KIND[path] ?? 'sip', authed: false, closed: false, subs: new Map(), pending: [], ctx };
      clients.add(c);
      listen(true);
      c.authTimer = setTimeout(() => fail(c, 404, 'auth timeout', true), authTimeoutMs);
      ws.on('message', (data, isBinary) => onMessage(c, data as Buffer, isBinary));
      ws.on('error', () => undefined); // a reset peer is routine; 'close' follows and cleans up
      ws.once('close', () => {
        c.closed = true;
        clearTimeout(c.authTimer);
        c.pending.length = 0;
        clients.delete(c);
        dirty.delete(c);
        if (clients.size === 0) listen(false);
      });
      send(c, [{ T: 'success', msg: 'connected' }]);
      if (ctx.headerCredentials) authenticate(c, ctx.headerCredentials.keyId, ctx.headerCredentials.secret);
    },
    close() {
      if (flushHandle) clearImmediate(flushHandle);
      flushHandle = undefined;
      for (const c of clients) {
        clearTimeout(c.authTimer);
        c.closed = true;
      }
      clients.clear();
      dirty.clear();
      listen(false);
    },
  };
}
