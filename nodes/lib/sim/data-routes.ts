// Alpaca's market-data REST API (data.alpaca.markets) served from the simulated market: stock
// and crypto bars, trades, quotes, latest values and snapshots, with Alpaca's query parameters,
// pagination and error bodies. Prices here are JSON numbers (unlike the trading API's strings).
import { defaultStockFeed, feedPermits, RECENT_SIP_REFUSED } from './data-plan';
import { parseTimeframe, type Market, type MarketTrade, type Timeframe } from './market';
import { SimHttpError, type DataPlan, type Route, type SimAsset, type SimBar, type SimClock, type SimQuote, type SimRequest, type SimTrade } from './types';

const DAY = 86_400_000;
const BAD_REQUEST = 40010001;
const CRYPTO_LOCS = new Set(['us', 'us-1', 'us-2', 'eu-1', 'bs-1']);
const STOCK_FEEDS = new Set(['iex', 'sip', 'delayed_sip', 'boats', 'overnight']);

export type StockFeedKind = 'iex' | 'sip';

function bad(message: string): never {
  throw new SimHttpError(400, BAD_REQUEST, message);
}

const iso = (t: number) => new Date(t).toISOString();

/** Listing venue code and SIP tape of a stock; the IEX feed reports every print on IEX (V). */
function venue(asset: SimAsset, feed: StockFeedKind): { x: string; z: string } {
  const tape = asset.exchange === 'NYSE' ? 'A' : asset.exchange === 'NASDAQ' ? 'C' : 'B';
  if (feed === 'iex') return { x: 'V', z: tape };
  return { x: asset.exchange === 'NYSE' ? 'N' : asset.exchange === 'NASDAQ' ? 'Q' : 'P', z: tape };
}

export function barJson(b: SimBar) {
  return { t: iso(b.t), o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, n: b.n, vw: b.vw };
}

export function stockTradeJson(tr: SimTrade, asset: SimAsset, feed: StockFeedKind) {
  const { x, z } = venue(asset, feed);
  return { t: iso(tr.t), x, p: tr.price, s: tr.size, c: ['@'], i: tr.id, z };
}

export function cryptoTradeJson(tr: SimTrade) {
  return { t: iso(tr.t), p: tr.price, s: tr.size, i: tr.id, tks: (tr as MarketTrade).takerSide ?? 'B' };
}

export function stockQuoteJson(q: SimQuote, asset: SimAsset, feed: StockFeedKind) {
  const { x, z } = venue(asset, feed);
  return { t: iso(q.t), bx: x, bp: q.bid, bs: q.bidSize, ax: x, ap: q.ask, as: q.askSize, c: ['R'], z };
}

export function cryptoQuoteJson(q: SimQuote) {
  return { t: iso(q.t), bp: q.bid, bs: q.bidSize, ap: q.ask, as: q.askSize };
}

// --- query parsing -----------------------------------------------------------

function symbolsParam(req: SimRequest): string[] {
  const raw = req.query.get('symbols');
  const list = (raw ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (!list.length) bad('missing symbols');
  return [...new Set(list)];
}

/** Known symbols of one asset class, canonical spelling; others are simply absent (as on Alpaca). */
function known(market: Market, symbols: string[], cls: SimAsset['assetClass']): SimAsset[] {
  const out: SimAsset[] = [];
  for (const s of symbols) {
    const a = market.asset(s);
    if (a && a.assetClass === cls && a.symbol === s.toUpperCase()) out.push(a);
  }
  return out;
}

/**
 * The stock feed a request reads (the plan's default when absent); 403 when the plan does not
 * permit SIP data as recent as `until` (latest values and snapshots are as recent as now).
 */
function stockFeed(req: SimRequest, plan: DataPlan, clock: SimClock, until = clock.now()): StockFeedKind {
  const feed = req.query.get('feed') || defaultStockFeed(plan);
  if (!STOCK_FEEDS.has(feed)) bad(`invalid feed: ${feed}`);
  if (!feedPermits(plan, feed, until, clock.now())) throw new SimHttpError(403, 40310000, RECENT_SIP_REFUSED);
  return feed === 'iex' ? 'iex' : 'sip';
}

function cryptoLoc(req: SimRequest): void {
  if (!CRYPTO_LOCS.has(req.params.loc)) bad(`invalid location: ${req.params.loc}`);
}

/** RFC-3339 (any fraction digits) or YYYY-MM-DD; a bare date as `end` means the whole day. */
function timeParam(req: SimRequest, name: 'start' | 'end'): number | undefined {
  const text = req.query.get(name);
  if (text === null || text === '') return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const t = Date.parse(`${text}T00:00:00Z`);
    if (Number.isNaN(t)) bad(`invalid ${name}: ${text}`);
    return name === 'end' ? t + DAY - 1 : t;
  }
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  const t = m ? Date.parse(`${m[1]}${m[2] ? m[2].slice(0, 4) : ''}${m[3].toUpperCase()}`) : NaN;
  if (Number.isNaN(t)) bad(`invalid ${name}: ${text} (expected RFC-3339 or YYYY-MM-DD)`);
  return t;
}

interface Window {
  start: number;
  end: number;
  limit: number;
  desc: boolean;
  token?: { symbol: string; t: number };
}

function windowParams(req: SimRequest, clock: SimClock): Window {
  const now = clock.now();
  const start = timeParam(req, 'start') ?? now - (now % DAY);
  const end = timeParam(req, 'end') ?? now;
  if (end < start) bad('end should not be before start');
  const limitText = req.query.get('limit');
  let limit = 1000;
  if (limitText !== null && limitText !== '') {
    limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > 10_000) bad(`invalid limit: ${limitText} (1 to 10000)`);
  }
  const sort = req.query.get('sort') ?? 'asc';
  if (sort !== 'asc' && sort !== 'desc') bad(`invalid sort: ${sort} (asc or desc)`);
  const pageToken = req.query.get('page_token');
  let token: Window['token'];
  if (pageToken) {
    const decoded = Buffer.from(pageToken, 'base64').toString('utf8');
    const sep = decoded.lastIndexOf('|');
    const t = Number(decoded.slice(sep + 1));
    if (sep <= 0 || !Number.isFinite(t)) bad('invalid page_token');
    token = { symbol: decoded.slice(0, sep), t };
  }
  return { start, end, limit, desc: sort === 'desc', token };
}

function timeframeParam(req: SimRequest): Timeframe {
  const text = req.query.get('timeframe');
  if (!text) bad('missing timeframe');
  const tf = parseTimeframe(text);
  if (!tf) bad(`invalid timeframe: ${text}`);
  return tf;
}

/**
 * One page over symbols (alphabetical) then time, `limit` items in total, as Alpaca pages.
 * The token names the last symbol and timestamp served, so a page is stable while data grows.
 */
function page<T extends { t: number }, J>(
  assets: SimAsset[],
  w: Window,
  items: (asset: SimAsset) => T[],
  json: (item: T, asset: SimAsset) => J,
): { data: Record<string, J[]>; next: string | null } {
  const data: Record<string, J[]> = {};
  let count = 0;
  const sorted = [...assets].sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  let last: { symbol: string; t: number } | undefined;
  for (const asset of sorted) {
    if (w.token && asset.symbol < w.token.symbol) continue;
    let list = items(asset);
    if (w.desc) list = list.slice().reverse();
    if (w.token && asset.symbol === w.token.symbol) {
      const after = w.token.t;
      list = list.filter((it) => (w.desc ? it.t < after : it.t > after));
    }
    if (!list.length) continue;
    if (count >= w.limit) return { data, next: encodeToken(last) };
    const take = list.slice(0, w.limit - count);
    data[asset.symbol] = take.map((it) => json(it, asset));
    count += take.length;
    last = { symbol: asset.symbol, t: take[take.length - 1].t };
    if (take.length < list.length) return { data, next: encodeToken(last) };
  }
  return { data, next: null };
}

function encodeToken(last: { symbol: string; t: number } | undefined): string | null {
  return last ? Buffer.from(`${last.symbol}|${last.t}`).toString('base64') : null;
}

function singleStock(market: Market, req: SimRequest): SimAsset | undefined {
  const a = market.asset(req.params.symbol);
  return a && a.assetClass === 'us_equity' && a.symbol === req.params.symbol.toUpperCase() ? a : undefined;
}

/** Single-symbol latest endpoints document only 200 and 400: an unknown symbol is a bad request. */
function requireStock(market: Market, req: SimRequest): SimAsset {
  const a = singleStock(market, req);
  if (!a) bad(`unknown symbol: ${req.params.symbol}`);
  return a;
}

export interface DataRoutesOptions {
  /** The account's market-data plan (default `basic`, as a new Alpaca account has). */
  dataPlan?: DataPlan;
}

export function dataRoutes(market: Market, clock: SimClock, options: DataRoutesOptions = {}): Route[] {
  const plan = options.dataPlan ?? 'basic';
  const feedOf = (req: SimRequest, until?: number) => stockFeed(req, plan, clock, until);
  const get = (pattern: string, handler: (req: SimRequest) => unknown): Route => ({
    method: 'GET',
    pattern,
    handler: (req) => ({ body: handler(req) }),
  });

  const stockBars = (req: SimRequest, assets: SimAsset[]) => {
    const tf = timeframeParam(req);
    const w = windowParams(req, clock);
    feedOf(req, w.end);
    return page(assets, w, (a) => market.bars(a.symbol, tf, w.start, w.end), barJson);
  };
  const stockTrades = (req: SimRequest, assets: SimAsset[]) => {
    const w = windowParams(req, clock);
    const feed = feedOf(req, w.end);
    return page(assets, w, (a) => market.historicalTrades(a.symbol, w.start, w.end), (tr, a) => stockTradeJson(tr, a, feed));
  };
  const stockQuotes = (req: SimRequest, assets: SimAsset[]) => {
    const w = windowParams(req, clock);
    const feed = feedOf(req, w.end);
    return page(assets, w, (a) => market.historicalQuotes(a.symbol, w.start, w.end), (q, a) => stockQuoteJson(q, a, feed));
  };
  /** A snapshot in either asset class's shape; only the trade and quote formats differ. */
  const snapshot = (a: SimAsset, tradeJson: (t: SimTrade) => unknown, quoteJson: (q: SimQuote) => unknown) => {
    const trade = market.lastTrade(a.symbol);
    const quote = market.quote(a.symbol);
    const minute = market.latestBar(a.symbol);
    const daily = market.dailyBar(a.symbol);
    const prev = market.prevDailyBar(a.symbol);
    return {
      ...(trade ? { latestTrade: tradeJson(trade) } : {}),
      ...(quote ? { latestQuote: quoteJson(quote) } : {}),
      ...(minute ? { minuteBar: barJson(minute) } : {}),
      ...(daily ? { dailyBar: barJson(daily) } : {}),
      ...(prev ? { prevDailyBar: barJson(prev) } : {}),
    };
  };
  const stockSnapshot = (a: SimAsset, feed: StockFeedKind) =>
    snapshot(a, (t) => stockTradeJson(t, a, feed), (q) => stockQuoteJson(q, a, feed));
  const cryptoAssets = (req: SimRequest) => {
    cryptoLoc(req);
    return known(market, symbolsParam(req), 'crypto');
  };
  const stockAssets = (req: SimRequest) => known(market, symbolsParam(req), 'us_equity');
  const each = <J>(assets: SimAsset[], fn: (a: SimAsset) => J | undefined): Record<string, J> => {
    const out: Record<string, J> = {};
    for (const a of assets) {
      const v = fn(a);
      if (v !== undefined) out[a.symbol] = v;
    }
    return out;
  };

  return [
    // Stocks, multi-symbol (literal paths before the {symbol} ones).
    get('/v2/stocks/bars', (req) => {
      const { data, next } = stockBars(req, stockAssets(req));
      return { bars: data, next_page_token: next };
    }),
    get('/v2/stocks/trades', (req) => {
      const { data, next } = stockTrades(req, stockAssets(req));
      return { trades: data, next_page_token: next };
    }),
    get('/v2/stocks/quotes', (req) => {
      const { data, next } = stockQuotes(req, stockAssets(req));
      return { quotes: data, next_page_token: next };
    }),
    get('/v2/stocks/bars/latest', (req) => {
      feedOf(req);
      return { bars: each(stockAssets(req), (a) => { const b = market.latestBar(a.symbol); return b && barJson(b); }) };
    }),
    get('/v2/stocks/trades/latest', (req) => {
      const feed = feedOf(req);
      return { trades: each(stockAssets(req), (a) => { const t = market.lastTrade(a.symbol); return t && stockTradeJson(t, a, feed); }) };
    }),
    get('/v2/stocks/quotes/latest', (req) => {
      const feed = feedOf(req);
      return { quotes: each(stockAssets(req), (a) => { const q = market.quote(a.symbol); return q && stockQuoteJson(q, a, feed); }) };
    }),
    get('/v2/stocks/snapshots', (req) => {
      const feed = feedOf(req);
      return each(stockAssets(req), (a) => stockSnapshot(a, feed));
    }),
    // Stocks, single symbol.
    get('/v2/stocks/{symbol}/bars', (req) => {
      const a = singleStock(market, req);
      const { data, next } = stockBars(req, a ? [a] : []);
      return { symbol: a?.symbol ?? req.params.symbol.toUpperCase(), bars: (a && data[a.symbol]) || [], next_page_token: next };
    }),
    get('/v2/stocks/{symbol}/trades', (req) => {
      const a = singleStock(market, req);
      const { data, next } = stockTrades(req, a ? [a] : []);
      return { symbol: a?.symbol ?? req.params.symbol.toUpperCase(), trades: (a && data[a.symbol]) || [], next_page_token: next };
    }),
    get('/v2/stocks/{symbol}/quotes', (req) => {
      const a = singleStock(market, req);
      const { data, next } = stockQuotes(req, a ? [a] : []);
      return { symbol: a?.symbol ?? req.params.symbol.toUpperCase(), quotes: (a && data[a.symbol]) || [], next_page_token: next };
    }),
    get('/v2/stocks/{symbol}/bars/latest', (req) => {
      feedOf(req);
      const a = requireStock(market, req);
      const b = market.latestBar(a.symbol);
      if (!b) bad(`no bar for ${a.symbol}`);
      return { symbol: a.symbol, bar: barJson(b) };
    }),
    get('/v2/stocks/{symbol}/trades/latest', (req) => {
      const feed = feedOf(req);
      const a = requireStock(market, req);
      return { symbol: a.symbol, trade: stockTradeJson(market.lastTrade(a.symbol) as SimTrade, a, feed) };
    }),
    get('/v2/stocks/{symbol}/quotes/latest', (req) => {
      const feed = feedOf(req);
      const a = requireStock(market, req);
      return { symbol: a.symbol, quote: stockQuoteJson(market.quote(a.symbol) as SimQuote, a, feed) };
    }),
    get('/v2/stocks/{symbol}/snapshot', (req) => {
      const feed = feedOf(req);
      const a = requireStock(market, req);
      return { symbol: a.symbol, ...stockSnapshot(a, feed) };
    }),
    // Crypto.
    get('/v1beta3/crypto/{loc}/bars', (req) => {
      const assets = cryptoAssets(req);
      const tf = timeframeParam(req);
      const w = windowParams(req, clock);
      const { data, next } = page(assets, w, (a) => market.bars(a.symbol, tf, w.start, w.end), barJson);
      return { bars: data, next_page_token: next };
    }),
    get('/v1beta3/crypto/{loc}/trades', (req) => {
      const assets = cryptoAssets(req);
      const w = windowParams(req, clock);
      const { data, next } = page(assets, w, (a) => market.historicalTrades(a.symbol, w.start, w.end), cryptoTradeJson);
      return { trades: data, next_page_token: next };
    }),
    get('/v1beta3/crypto/{loc}/quotes', (req) => {
      const assets = cryptoAssets(req);
      const w = windowParams(req, clock);
      const { data, next } = page(assets, w, (a) => market.historicalQuotes(a.symbol, w.start, w.end), cryptoQuoteJson);
      return { quotes: data, next_page_token: next };
    }),
    get('/v1beta3/crypto/{loc}/latest/bars', (req) => ({
      bars: each(cryptoAssets(req), (a) => { const b = market.latestBar(a.symbol); return b && barJson(b); }),
    })),
    get('/v1beta3/crypto/{loc}/latest/trades', (req) => ({
      trades: each(cryptoAssets(req), (a) => { const t = market.lastTrade(a.symbol); return t && cryptoTradeJson(t); }),
    })),
    get('/v1beta3/crypto/{loc}/latest/quotes', (req) => ({
      quotes: each(cryptoAssets(req), (a) => { const q = market.quote(a.symbol); return q && cryptoQuoteJson(q); }),
    })),
    get('/v1beta3/crypto/{loc}/snapshots', (req) => ({
      snapshots: each(cryptoAssets(req), (a) => snapshot(a, cryptoTradeJson, cryptoQuoteJson)),
    })),
  ];
}
