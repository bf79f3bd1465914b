// The simulator's market model: a fixed universe of US stocks, ETFs and crypto pairs whose
// prices follow a seeded geometric random walk (or replay a CSV), with quotes, trades, live
// one-minute bars in bounded ring buffers and deterministic synthetic history before start.
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { addDays, newYorkDate, newYorkInstant, newYorkMidnight } from './calendar';
import { decimalString } from './decimal';
import type { MarketView, SimAsset, SimBar, SimClock, SimQuote, SimTrade } from './types';

/** Least notional (USD) shown at the touch of a crypto book. */
const CRYPTO_TOUCH_NOTIONAL = 5_000;

export interface MarketOptions {
  clock: SimClock;
  /** Seed of every random walk: the same seed gives the same prices. */
  seed?: number;
  /** Real milliseconds between ticks (default 1000). */
  tickMs?: number;
  /**
   * CSV of bars to replay instead of the random walk, header
   * `symbol,timestamp,open,high,low,close,volume` (timestamp ISO-8601 or epoch ms). Rows are
   * replayed per symbol in timestamp order, one row per tick, looping at the end; the row's
   * close becomes the price. Symbols not in the universe are added (a `/` makes it crypto).
   * Symbols without rows keep their random walk.
   */
  csv?: string;
  /** Multiplies every asset's volatility (default 1 = realistic; 10 makes demos lively). */
  volatility?: number;
  /** Completed live minute bars kept per symbol (default 1440 = one day). */
  liveMinuteBars?: number;
  /** Completed live daily bars kept per symbol (default 400). */
  liveDailyBars?: number;
  /** Days of synthetic minute history before the start (default 5). */
  historyDays?: number;
  /** Days of synthetic daily history before the minute history (default 365). */
  historyDailyDays?: number;
  /** Fraction 0..1 of completed minute bars a late trade corrects afterwards (`updatedBar`; default 0.05). */
  lateTradeRate?: number;
}

/** A trade with the aggressor side, which crypto frames carry as `tks`. */
export interface MarketTrade extends SimTrade {
  takerSide: 'B' | 'S';
}

export type TimeframeUnit = 'Min' | 'Hour' | 'Day' | 'Week' | 'Month';
export interface Timeframe {
  amount: number;
  unit: TimeframeUnit;
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
const YEAR = 365 * DAY;

/**
 * Parses Alpaca's timeframe forms: `{1-59}Min|T`, `{1-23}Hour|H`, `1Day|D`, `1Week|W`,
 * `{1,2,3,4,6,12}Month|M`. Returns undefined when invalid.
 */
export function parseTimeframe(text: string): Timeframe | undefined {
  const m = /^(\d{1,2})?(Min|T|Hour|H|Day|D|Week|W|Month|M)$/.exec(text.trim());
  if (!m) return undefined;
  const amount = m[1] === undefined ? 1 : Number(m[1]);
  const units: Record<string, TimeframeUnit> = { T: 'Min', H: 'Hour', D: 'Day', W: 'Week', M: 'Month' };
  const unit: TimeframeUnit = units[m[2]] ?? (m[2] as TimeframeUnit);
  const ok =
    (unit === 'Min' && amount >= 1 && amount <= 59) ||
    (unit === 'Hour' && amount >= 1 && amount <= 23) ||
    ((unit === 'Day' || unit === 'Week') && amount === 1) ||
    (unit === 'Month' && [1, 2, 3, 4, 6, 12].includes(amount));
  return ok ? { amount, unit } : undefined;
}

/**
 * Start (epoch ms) of the timeframe bucket holding `t`. Weeks start on Monday. Days, weeks and
 * months begin at midnight UTC, or at midnight New York with `newYork` (as Alpaca stamps stock bars).
 */
export function bucketStart(t: number, tf: Timeframe, newYork = false): number {
  switch (tf.unit) {
    case 'Min':
      return t - (t % (tf.amount * MINUTE));
    case 'Hour':
      return t - (t % (tf.amount * HOUR));
    case 'Day':
      return newYork ? newYorkMidnight(t) : t - (t % DAY);
    case 'Week': {
      if (newYork) {
        const date = newYorkDate(t);
        return newYorkInstant(addDays(date, -((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7)));
      }
      const day = Math.floor(t / DAY);
      return (day - ((day + 3) % 7)) * DAY; // 1970-01-01 was a Thursday
    }
    case 'Month': {
      const d = new Date(newYork ? newYorkMidnight(t) + 12 * HOUR : t);
      const month = d.getUTCMonth() - (d.getUTCMonth() % tf.amount);
      const first = Date.UTC(d.getUTCFullYear(), month, 1);
      return newYork ? newYorkInstant(new Date(first).toISOString().slice(0, 10)) : first;
    }
  }
}

// symbol|name|exchange|base price|annual volatility|spread bps
const UNIVERSE = `
AAPL|Apple Inc. Common Stock|NASDAQ|190|0.25|1
MSFT|Microsoft Corporation Common Stock|NASDAQ|420|0.24|1
NVDA|NVIDIA Corporation Common Stock|NASDAQ|120|0.5|1
AMZN|Amazon.com, Inc. Common Stock|NASDAQ|185|0.32|1
GOOGL|Alphabet Inc. Class A Common Stock|NASDAQ|170|0.3|1
GOOG|Alphabet Inc. Class C Capital Stock|NASDAQ|171|0.3|1
META|Meta Platforms, Inc. Class A Common Stock|NASDAQ|500|0.38|1
TSLA|Tesla, Inc. Common Stock|NASDAQ|240|0.6|1
AVGO|Broadcom Inc. Common Stock|NASDAQ|165|0.45|1.5
AMD|Advanced Micro Devices, Inc. Common Stock|NASDAQ|160|0.5|1
NFLX|Netflix, Inc. Common Stock|NASDAQ|680|0.38|2
INTC|Intel Corporation Common Stock|NASDAQ|22|0.45|4
ADBE|Adobe Inc. Common Stock|NASDAQ|500|0.33|2
CSCO|Cisco Systems, Inc. Common Stock|NASDAQ|55|0.22|2
PEP|PepsiCo, Inc. Common Stock|NASDAQ|165|0.16|1.5
COST|Costco Wholesale Corporation Common Stock|NASDAQ|880|0.2|2
QCOM|QUALCOMM Incorporated Common Stock|NASDAQ|170|0.38|1.5
PYPL|PayPal Holdings, Inc. Common Stock|NASDAQ|70|0.4|2
SBUX|Starbucks Corporation Common Stock|NASDAQ|95|0.28|2
PLTR|Palantir Technologies Inc. Class A Common Stock|NASDAQ|40|0.65|3
COIN|Coinbase Global, Inc. Class A Common Stock|NASDAQ|230|0.75|3
WMT|Walmart Inc. Common Stock|NASDAQ|75|0.17|2
QQQ|Invesco QQQ Trust, Series 1|NASDAQ|480|0.19|0.5
TLT|iShares 20+ Year Treasury Bond ETF|NASDAQ|95|0.15|1
JPM|JPMorgan Chase & Co. Common Stock|NYSE|210|0.22|1
BAC|Bank of America Corporation Common Stock|NYSE|40|0.26|2.5
WFC|Wells Fargo & Company Common Stock|NYSE|60|0.27|2
GS|The Goldman Sachs Group, Inc. Common Stock|NYSE|500|0.26|2
V|Visa Inc. Class A Common Stock|NYSE|280|0.18|1
MA|Mastercard Incorporated Class A Common Stock|NYSE|470|0.19|1.5
JNJ|Johnson & Johnson Common Stock|NYSE|155|0.15|1
PFE|Pfizer Inc. Common Stock|NYSE|28|0.25|3.5
UNH|UnitedHealth Group Incorporated Common Stock|NYSE|520|0.22|2
LLY|Eli Lilly and Company Common Stock|NYSE|850|0.32|2
XOM|Exxon Mobil Corporation Common Stock|NYSE|115|0.24|1
CVX|Chevron Corporation Common Stock|NYSE|155|0.24|1.5
KO|The Coca-Cola Company Common Stock|NYSE|68|0.14|1.5
DIS|The Walt Disney Company Common Stock|NYSE|100|0.27|1.5
HD|The Home Depot, Inc. Common Stock|NYSE|360|0.22|1.5
BA|The Boeing Company Common Stock|NYSE|175|0.35|2
CAT|Caterpillar Inc. Common Stock|NYSE|350|0.28|2
IBM|International Business Machines Corporation Common Stock|NYSE|200|0.22|1.5
ORCL|Oracle Corporation Common Stock|NYSE|140|0.32|1.5
CRM|Salesforce, Inc. Common Stock|NYSE|270|0.33|1.5
NKE|Nike, Inc. Common Stock|NYSE|80|0.3|2
F|Ford Motor Company Common Stock|NYSE|11|0.35|9
GE|GE Aerospace Common Stock|NYSE|170|0.3|1.5
T|AT&T Inc. Common Stock|NYSE|20|0.2|5
SPY|SPDR S&P 500 ETF Trust|ARCA|560|0.15|0.3
IWM|iShares Russell 2000 ETF|ARCA|215|0.22|0.5
DIA|SPDR Dow Jones Industrial Average ETF Trust|ARCA|420|0.14|1
VTI|Vanguard Total Stock Market ETF|ARCA|275|0.15|1
GLD|SPDR Gold Shares|ARCA|220|0.15|1
XLF|Financial Select Sector SPDR Fund|ARCA|45|0.2|2.5
ARKK|ARK Innovation ETF|ARCA|50|0.5|3
BTC/USD|Bitcoin / US Dollar|CRYPTO|65000|0.55|8
ETH/USD|Ethereum / US Dollar|CRYPTO|3200|0.65|10
SOL/USD|Solana / US Dollar|CRYPTO|150|0.85|20
LTC/USD|Litecoin / US Dollar|CRYPTO|75|0.7|20
DOGE/USD|Dogecoin / US Dollar|CRYPTO|0.15|0.9|25
AVAX/USD|Avalanche / US Dollar|CRYPTO|30|0.9|25
LINK/USD|Chainlink / US Dollar|CRYPTO|15|0.8|25
DOT/USD|Polkadot / US Dollar|CRYPTO|6|0.8|25
UNI/USD|Uniswap / US Dollar|CRYPTO|8|0.85|30
XRP/USD|XRP / US Dollar|CRYPTO|0.55|0.8|20
BCH/USD|Bitcoin Cash / US Dollar|CRYPTO|380|0.7|25
AAVE/USD|Aave / US Dollar|CRYPTO|150|0.85|30
BTC/USDT|Bitcoin / USD Tether|CRYPTO|65000|0.55|10
ETH/USDT|Ethereum / USD Tether|CRYPTO|3200|0.65|12
BTC/USDC|Bitcoin / USD Coin|CRYPTO|65000|0.55|10
USDT/USD|USD Tether / US Dollar|CRYPTO|1|0.01|4
`;

/** Deterministic UUID-shaped id per symbol, so asset ids survive restarts. */
export function assetId(symbol: string): string {
  const h = createHash('sha1').update(`alpaca-sim-asset:${symbol}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** mulberry32: a tiny seeded PRNG with uniform output in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Standard normal draw (Box-Muller); two uniforms per draw keeps the stream easy to reason about. */
function gauss(rng: () => number): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

function roundTo(value: number, step: number): number {
  return Number((Math.round(value / step) * step).toFixed(Math.max(0, Math.ceil(-Math.log10(step)))));
}

/** Completed minute bars of one symbol in fixed typed arrays: memory stays flat forever. */
class BarRing {
  private readonly cols: Float64Array[];
  private head = 0; // next write position
  size = 0;
  constructor(readonly capacity: number) {
    this.cols = Array.from({ length: 8 }, () => new Float64Array(capacity));
  }
  push(b: SimBar): void {
    const [t, o, h, l, c, v, n, vw] = this.cols;
    const i = this.head;
    t[i] = b.t; o[i] = b.o; h[i] = b.h; l[i] = b.l; c[i] = b.c; v[i] = b.v; n[i] = b.n; vw[i] = b.vw;
    this.head = (i + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }
  last(symbol: string): SimBar | undefined {
    if (this.size === 0) return undefined;
    const [t, o, h, l, c, v, n, vw] = this.cols;
    const i = (this.head - 1 + this.capacity) % this.capacity;
    return { symbol, t: t[i], o: o[i], h: h[i], l: l[i], c: c[i], v: v[i], n: n[i], vw: vw[i] };
  }
  /** Overwrites the newest bar (a late correction). */
  replaceLast(b: SimBar): void {
    if (this.size === 0) return;
    const i = (this.head - 1 + this.capacity) % this.capacity;
    const [t, o, h, l, c, v, n, vw] = this.cols;
    t[i] = b.t; o[i] = b.o; h[i] = b.h; l[i] = b.l; c[i] = b.c; v[i] = b.v; n[i] = b.n; vw[i] = b.vw;
  }
  /** Oldest first. */
  forEach(symbol: string, fn: (bar: SimBar) => void): void {
    const [t, o, h, l, c, v, n, vw] = this.cols;
    const first = (this.head - this.size + this.capacity) % this.capacity;
    for (let k = 0; k < this.size; k++) {
      const i = (first + k) % this.capacity;
      fn({ symbol, t: t[i], o: o[i], h: h[i], l: l[i], c: c[i], v: v[i], n: n[i], vw: vw[i] });
    }
  }
}

/** A bar being built from trades (vwap kept as price*volume sum). */
interface OpenBar {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  n: number;
  pv: number;
}

/** Synthetic history of one symbol, generated backwards from the start price. */
interface History {
  days: SimBar[];
  minutes: SimBar[];
}

interface Instrument {
  asset: SimAsset;
  crypto: boolean;
  vol: number; // annualised
  spreadBps: number;
  priceStep: number;
  sizeStep: number;
  rng: () => number;
  /** Draws for late trades only, so they never change a seed's price path. */
  lateRng: () => number;
  startPrice: number;
  mid: number;
  quote: SimQuote;
  trade: MarketTrade;
  tradeSeq: number;
  bar?: OpenBar; // the running minute
  day?: OpenBar; // the running day, from live minutes only
  minutes?: BarRing; // lazily: assets nobody trades cost nothing
  days: SimBar[];
  replay?: { closes: number[]; next: number };
}

function mergeInto(into: OpenBar, b: SimBar | OpenBar): void {
  if (into.n === 0 && into.v === 0) {
    into.o = b.o;
    into.h = b.h;
    into.l = b.l;
  } else {
    if (b.h > into.h) into.h = b.h;
    if (b.l < into.l) into.l = b.l;
  }
  into.c = b.c;
  into.v += b.v;
  into.n += b.n;
  into.pv += 'pv' in b ? b.pv : b.vw * b.v;
}

function closeBar(symbol: string, b: OpenBar, crypto: boolean): SimBar {
  const vw = b.v > 0 ? b.pv / b.v : b.c;
  return {
    symbol,
    t: b.t,
    o: b.o,
    h: b.h,
    l: b.l,
    c: b.c,
    v: crypto ? Number(b.v.toFixed(9)) : Math.round(b.v),
    n: b.n,
    vw: Number(Math.min(b.h, Math.max(b.l, vw)).toFixed(6)),
  };
}

function openBar(t: number): OpenBar {
  return { t, o: 0, h: 0, l: 0, c: 0, v: 0, n: 0, pv: 0 };
}

export class Market extends EventEmitter implements MarketView {
  private readonly clock: SimClock;
  private readonly seed: number;
  private readonly tickMs: number;
  private readonly volScale: number;
  private readonly liveMinuteBars: number;
  private readonly liveDailyBars: number;
  private readonly historyDays: number;
  private readonly historyDailyDays: number;
  private readonly lateTradeRate: number;
  /** Instruments whose newest minute bar a late trade corrects at the next tick. */
  private lateTrades: Instrument[] = [];
  private readonly list: SimAsset[] = [];
  private readonly bySymbol = new Map<string, Instrument>();
  private readonly byId = new Map<string, Instrument>();
  private readonly historyCache = new Map<string, History>(); // small LRU
  private readonly startDayPart = new Map<string, OpenBar>();
  private sessionMask?: Uint8Array;
  private timer?: NodeJS.Timeout;
  private currentMinute = -1;
  /** Simulated time the live market began; history ends here. */
  readonly startedAt: number;

  constructor(opts: MarketOptions) {
    super();
    this.clock = opts.clock;
    this.seed = (opts.seed ?? 1) >>> 0;
    this.tickMs = opts.tickMs && opts.tickMs > 0 ? opts.tickMs : 1000;
    this.volScale = opts.volatility && opts.volatility > 0 ? opts.volatility : 1;
    this.liveMinuteBars = Math.max(1, Math.floor(opts.liveMinuteBars ?? 1440));
    this.liveDailyBars = Math.max(1, Math.floor(opts.liveDailyBars ?? 400));
    this.historyDays = Math.max(0, Math.floor(opts.historyDays ?? 5));
    this.historyDailyDays = Math.max(0, Math.floor(opts.historyDailyDays ?? 365));
    this.lateTradeRate = Math.min(1, Math.max(0, opts.lateTradeRate ?? 0.05));
    this.setMaxListeners(0); // one listener per stream socket is expected, not a leak
    for (const line of UNIVERSE.trim().split('\n')) {
      const [symbol, name, exchange, price, vol, spread] = line.split('|');
      this.addAsset(symbol, name, exchange, Number(price), Number(vol), Number(spread));
    }
    if (opts.csv) this.loadCsv(opts.csv);
    this.startedAt = this.clock.now();
    for (const inst of this.bySymbol.values()) this.resetQuote(inst, inst.startPrice, this.startedAt);
  }

  // --- MarketView ---------------------------------------------------------

  asset(symbolOrId: string): SimAsset | undefined {
    if (typeof symbolOrId !== 'string') return undefined;
    return (this.bySymbol.get(symbolOrId.toUpperCase()) ?? this.byId.get(symbolOrId.toLowerCase()))?.asset;
  }

  assets(): SimAsset[] {
    return this.list.slice();
  }

  quote(symbol: string): SimQuote | undefined {
    return this.inst(symbol)?.quote;
  }

  lastTrade(symbol: string): MarketTrade | undefined {
    return this.inst(symbol)?.trade;
  }

  setPrice(symbol: string, price: number): void {
    const inst = this.inst(symbol);
    if (!inst) throw new Error(`unknown symbol ${symbol}`);
    if (!(price > 0) || !Number.isFinite(price)) throw new Error(`price must be a positive number`);
    const now = this.clock.now();
    this.rollMinute(now);
    inst.mid = price;
    this.printTick(inst, now, price);
  }

  // --- lifecycle ------------------------------------------------------------

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.step(), this.tickMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick now: every open market moves once. The timer calls this; tests may too. */
  step(): void {
    const now = this.clock.now();
    for (const inst of this.lateTrades.splice(0)) this.printLateTrade(inst);
    this.rollMinute(now);
    // Nominal simulated time per tick (not measured) keeps a seed's path independent of timer jitter.
    const years = (this.tickMs * this.clock.speed) / YEAR;
    let stocksTrade: boolean | undefined;
    for (const inst of this.bySymbol.values()) {
      if (!inst.crypto) {
        // Stocks trade in the pre-market, the core session and the post-market.
        stocksTrade ??= this.clock.phase(now) !== 'closed';
        if (!stocksTrade) continue;
      }
      if (inst.replay) {
        const r = inst.replay;
        inst.mid = r.closes[r.next];
        r.next = (r.next + 1) % r.closes.length;
      } else {
        const sigma = inst.vol * this.volScale * Math.sqrt(years);
        inst.mid *= Math.exp(sigma * gauss(inst.rng) - (sigma * sigma) / 2);
      }
      this.printTick(inst, now);
    }
  }

  // --- queries for the REST routes -----------------------------------------

  /** Current running minute bar (for snapshots); undefined when no trade this minute. */
  minuteBar(symbol: string): SimBar | undefined {
    const inst = this.inst(symbol);
    return inst?.bar && inst.bar.n > 0 ? closeBar(inst.asset.symbol, inst.bar, inst.crypto) : undefined;
  }

  /** The latest completed minute bar (live, else the last synthetic one). */
  latestBar(symbol: string): SimBar | undefined {
    const inst = this.inst(symbol);
    if (!inst) return undefined;
    const last = inst.minutes?.last(inst.asset.symbol);
    if (last) return last;
    const hist = this.history(inst).minutes;
    return hist[hist.length - 1] ?? this.minuteBar(symbol);
  }

  /** The running daily bar including today's synthetic part before the start. */
  dailyBar(symbol: string): SimBar | undefined {
    const inst = this.inst(symbol);
    if (!inst) return undefined;
    const bars = this.bars(symbol, { amount: 1, unit: 'Day' }, this.clock.now() - DAY * 7, this.clock.now());
    return bars[bars.length - 1];
  }

  /** The daily bar before the running one. */
  prevDailyBar(symbol: string): SimBar | undefined {
    const bars = this.bars(symbol, { amount: 1, unit: 'Day' }, this.clock.now() - DAY * 14, this.clock.now());
    return bars[bars.length - 2];
  }

  /**
   * Bars of `tf` whose start lies in [from, to], oldest first: synthetic history, then live
   * minutes (intraday) or live days (daily and longer). In-progress buckets are included.
   */
  bars(symbol: string, tf: Timeframe, from: number, to: number): SimBar[] {
    const inst = this.inst(symbol);
    if (!inst) return [];
    const out: SimBar[] = [];
    const sym = inst.asset.symbol;
    let open: OpenBar | undefined;
    const feed = (b: SimBar) => {
      const start = bucketStart(b.t, tf, !inst.crypto);
      if (start < from || start > to) return;
      if (open && open.t !== start) {
        out.push(closeBar(sym, open, inst.crypto));
        open = undefined;
      }
      open ??= openBar(start);
      mergeInto(open, b);
    };
    const hist = this.history(inst);
    const daily = tf.unit === 'Day' || tf.unit === 'Week' || tf.unit === 'Month';
    if (daily) {
      for (const b of hist.days) feed(b);
      for (const b of hist.minutes) feed(b);
      for (const b of inst.days) feed(b);
      if (inst.day && inst.day.n > 0) feed(closeBar(sym, inst.day, inst.crypto));
    } else {
      for (const b of hist.minutes) feed(b);
      inst.minutes?.forEach(sym, feed);
    }
    if (open) out.push(closeBar(sym, open, inst.crypto));
    return out;
  }

  /**
   * Historical trades derived from minute bars: four prints per bar (open, high/low, low/high,
   * close) at fixed seconds, so pages are stable across requests.
   */
  historicalTrades(symbol: string, from: number, to: number): MarketTrade[] {
    const inst = this.inst(symbol);
    if (!inst) return [];
    const out: MarketTrade[] = [];
    this.forEachPrint(inst, from, to, (t, price, size, k) => {
      out.push({ symbol: inst.asset.symbol, price, size, id: Math.floor(t / 1000) * 4 + k, t, takerSide: k % 2 ? 'S' : 'B' });
    });
    return out;
  }

  /** Historical quotes derived like the trades: the book around each print. */
  historicalQuotes(symbol: string, from: number, to: number): SimQuote[] {
    const inst = this.inst(symbol);
    if (!inst) return [];
    const out: SimQuote[] = [];
    this.forEachPrint(inst, from, to, (t, price, size) => {
      const { bid, ask } = this.book(inst, price);
      const qs = this.quoteSize(inst, size);
      out.push({ symbol: inst.asset.symbol, bid, ask, bidSize: qs, askSize: qs, t: t - 1 });
    });
    return out;
  }

  // --- internals -------------------------------------------------------------

  private inst(symbol: string): Instrument | undefined {
    if (typeof symbol !== 'string') return undefined;
    return this.bySymbol.get(symbol.toUpperCase()) ?? this.byId.get(symbol.toLowerCase());
  }

  private addAsset(symbol: string, name: string, exchange: string, price: number, vol: number, spreadBps: number): Instrument {
    const crypto = exchange === 'CRYPTO';
    const magnitude = Math.floor(Math.log10(price));
    const asset: SimAsset = {
      id: assetId(symbol),
      symbol,
      name,
      assetClass: crypto ? 'crypto' : 'us_equity',
      exchange,
      fractionable: true,
      basePrice: price,
    };
    if (crypto) {
      // Powers of ten from their decimal text: 10 ** -5 is 0.000009999999999999999 in binary.
      asset.minOrderSize = Number(`1e${Math.ceil(Math.log10(1 / price))}`);
      asset.minTradeIncrement = 1e-9;
      asset.priceIncrement = Number(`1e${Math.min(0, magnitude - 4)}`);
    }
    const priceStep = crypto ? (asset.priceIncrement as number) : price >= 1 ? 0.01 : 0.0001;
    const inst: Instrument = {
      asset,
      crypto,
      vol,
      spreadBps,
      priceStep,
      sizeStep: crypto ? 10 ** Math.max(-6, Math.min(0, -(magnitude + 1))) : 1,
      rng: mulberry32(this.seed ^ fnv1a(symbol)),
      lateRng: mulberry32(this.seed ^ fnv1a(`late:${symbol}`)),
      startPrice: price,
      mid: price,
      quote: { symbol, bid: price, ask: price, bidSize: 0, askSize: 0, t: 0 },
      trade: { symbol, price, size: 0, id: 0, t: 0, takerSide: 'B' },
      tradeSeq: fnv1a(`${symbol}:${this.seed}`) % 100_000,
      days: [],
    };
    this.list.push(asset);
    this.bySymbol.set(symbol, inst);
    this.byId.set(asset.id, inst);
    return inst;
  }

  private loadCsv(path: string): void {
    const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim());
    const header = (lines.shift() ?? '').split(',').map((h) => h.trim().toLowerCase());
    const col = (name: string) => {
      const i = header.indexOf(name);
      if (i < 0) throw new Error(`CSV ${path}: missing column "${name}" (expected symbol,timestamp,open,high,low,close,volume)`);
      return i;
    };
    const [iSym, iTs, iClose] = [col('symbol'), col('timestamp'), col('close')];
    const rows = new Map<string, Array<{ t: number; close: number }>>();
    lines.forEach((line, n) => {
      const cells = line.split(',').map((c) => c.trim());
      const symbol = (cells[iSym] ?? '').toUpperCase();
      const ts = cells[iTs] ?? '';
      const t = /^\d+$/.test(ts) ? Number(ts) : Date.parse(ts);
      const close = Number(cells[iClose]);
      if (!symbol || !Number.isFinite(t) || !(close > 0)) {
        throw new Error(`CSV ${path} line ${n + 2}: expected symbol, timestamp and a positive close`);
      }
      const list = rows.get(symbol) ?? [];
      list.push({ t, close });
      rows.set(symbol, list);
    });
    for (const [symbol, list] of rows) {
      list.sort((a, b) => a.t - b.t);
      const inst =
        this.bySymbol.get(symbol) ??
        this.addAsset(symbol, symbol, symbol.includes('/') ? 'CRYPTO' : 'NYSE', list[0].close, 0.3, symbol.includes('/') ? 15 : 2);
      inst.startPrice = list[0].close;
      inst.mid = list[0].close;
      inst.asset.basePrice = list[0].close;
      // The first row is the start price; ticks replay from the second one.
      inst.replay = { closes: list.map((r) => r.close), next: list.length > 1 ? 1 : 0 };
    }
  }

  /** Bid and ask around a price: half the spread each side, never crossed. */
  private book(inst: Instrument, price: number): { bid: number; ask: number } {
    const step = inst.priceStep;
    const half = Math.max(step / 2, (price * inst.spreadBps) / 20_000);
    const bid = roundTo(Math.floor((price - half) / step) * step, step);
    let ask = roundTo(Math.ceil((price + half) / step) * step, step);
    if (ask <= bid) ask = roundTo(bid + step, step);
    return { bid: Math.max(step, bid), ask };
  }

  private quoteSize(inst: Instrument, tradeSize: number): number {
    // Crypto books show at least ~$5,000 at the touch, as the venues behind Alpaca do: a $500
    // market order fills at once; only big orders walk across several ticks.
    const cryptoFloor = CRYPTO_TOUCH_NOTIONAL / inst.mid;
    return inst.crypto
      ? roundTo(Math.max(tradeSize * 3, cryptoFloor) + inst.sizeStep, inst.sizeStep)
      : 100 * (1 + (Math.floor(tradeSize) % 9));
  }

  private tradeSize(inst: Instrument): number {
    const u = inst.rng();
    if (inst.crypto) {
      const notional = 25 * Math.exp(u * 7); // $25 .. $27k, mostly small
      return Math.max(inst.sizeStep, roundTo(notional / inst.mid, inst.sizeStep));
    }
    return u < 0.55 ? 100 * (1 + Math.floor(inst.rng() * 5)) : 1 + Math.floor(inst.rng() * 99);
  }

  private resetQuote(inst: Instrument, price: number, now: number): void {
    const { bid, ask } = this.book(inst, price);
    const size = this.quoteSize(inst, inst.crypto ? 1000 / price : 3);
    inst.quote = { symbol: inst.asset.symbol, bid, ask, bidSize: size, askSize: size, t: now };
    inst.trade = { symbol: inst.asset.symbol, price: roundTo(price, inst.priceStep), size: inst.crypto ? inst.sizeStep : 100, id: inst.tradeSeq, t: now, takerSide: 'B' };
  }

  /** Quote and trade at the current mid; `exact` prints that price (a manual price move). */
  private printTick(inst: Instrument, now: number, exact?: number): void {
    const { bid, ask } = this.book(inst, inst.mid);
    const size = this.tradeSize(inst);
    const buyer = inst.rng() < 0.5;
    const quote: SimQuote = {
      symbol: inst.asset.symbol,
      bid,
      ask,
      bidSize: this.quoteSize(inst, size * (1 + inst.rng())),
      askSize: this.quoteSize(inst, size * (1 + inst.rng())),
      t: now,
    };
    // Fresh objects each tick (not reused): listeners such as the broker may keep them.
    const trade: MarketTrade = {
      symbol: inst.asset.symbol,
      price: exact ?? (buyer ? ask : bid),
      size,
      id: ++inst.tradeSeq,
      t: now,
      takerSide: buyer ? 'B' : 'S',
    };
    inst.quote = quote;
    inst.trade = trade;
    const minute = now - (now % MINUTE);
    if (!inst.bar || inst.bar.t !== minute) inst.bar = openBar(minute);
    const b = inst.bar;
    if (b.n === 0) {
      b.o = b.h = b.l = trade.price;
    } else {
      if (trade.price > b.h) b.h = trade.price;
      if (trade.price < b.l) b.l = trade.price;
    }
    b.c = trade.price;
    b.v += size;
    b.n++;
    b.pv += size * trade.price;
    this.emit('quote', quote);
    this.emit('trade', trade);
    this.emit('tick', inst.asset.symbol, quote, trade);
  }

  /** On a new simulated minute, completes every symbol's previous minute bar. */
  private rollMinute(now: number): void {
    const minute = now - (now % MINUTE);
    if (minute === this.currentMinute) return;
    this.currentMinute = minute;
    for (const inst of this.bySymbol.values()) {
      const b = inst.bar;
      if (!b || b.t >= minute) continue;
      inst.bar = undefined;
      if (b.n === 0) continue;
      const bar = closeBar(inst.asset.symbol, b, inst.crypto);
      (inst.minutes ??= new BarRing(this.liveMinuteBars)).push(bar);
      if (this.lateTradeRate > 0 && inst.lateRng() < this.lateTradeRate) this.lateTrades.push(inst);
      const day = this.dayStart(inst, b.t);
      if (inst.day && inst.day.t !== day) {
        if (inst.day.n > 0) inst.days.push(closeBar(inst.asset.symbol, inst.day, inst.crypto));
        if (inst.days.length > this.liveDailyBars) inst.days.shift();
        inst.day = undefined;
      }
      inst.day ??= openBar(day);
      mergeInto(inst.day, bar);
      this.emit('bar', bar);
      this.emit('dailyBar', this.runningDay(inst));
    }
  }

  /**
   * A trade reported after its minute's bar was sent: the bar is corrected and sent again as an
   * `updatedBar` (Alpaca's T:"u"). The print lies inside the bar's range, so only volume, count and
   * VWAP change.
   */
  private printLateTrade(inst: Instrument): void {
    const bar = inst.minutes?.last(inst.asset.symbol);
    if (!bar) return;
    const price = roundTo(bar.l + (bar.h - bar.l) * inst.lateRng(), inst.priceStep);
    const size = inst.crypto ? Math.max(inst.sizeStep, roundTo((200 * inst.lateRng()) / inst.mid, inst.sizeStep)) : 1 + Math.floor(inst.lateRng() * 99);
    const volume = inst.crypto ? Number(decimalString(bar.v + size)) : bar.v + size;
    const vw = Number(Math.min(bar.h, Math.max(bar.l, (bar.vw * bar.v + price * size) / volume)).toFixed(6));
    const updated: SimBar = { ...bar, v: volume, n: bar.n + 1, vw };
    inst.minutes?.replaceLast(updated);
    if (inst.day && inst.day.t === this.dayStart(inst, bar.t)) {
      inst.day.v += size;
      inst.day.n += 1;
      inst.day.pv += price * size;
    }
    this.emit('updatedBar', updated);
  }

  /** Where a daily bar starts: midnight New York for stocks, midnight UTC for crypto (as Alpaca stamps them). */
  private dayStart(inst: Instrument, t: number): number {
    return inst.crypto ? t - (t % DAY) : newYorkMidnight(t);
  }

  /** The running daily bar; on the start day it includes the synthetic minutes before the start. */
  private runningDay(inst: Instrument): SimBar {
    const day = inst.day as OpenBar;
    const startDay = this.dayStart(inst, this.startedAt);
    if (day.t !== startDay) return closeBar(inst.asset.symbol, day, inst.crypto);
    let part = this.startDayPart.get(inst.asset.symbol);
    if (!part) {
      part = openBar(startDay);
      const todays: SimBar[] = [];
      this.walkBack(inst, startDay, false, (b) => todays.push(b));
      for (let i = todays.length - 1; i >= 0; i--) mergeInto(part, todays[i]);
      this.startDayPart.set(inst.asset.symbol, part);
    }
    const merged = openBar(startDay);
    if (part.n > 0) mergeInto(merged, part);
    mergeInto(merged, day);
    return closeBar(inst.asset.symbol, merged, inst.crypto);
  }

  /** Which history minutes US equities traded in (extended hours too), by the clock's policy (shared). */
  private sessions(first: number, count: number): Uint8Array {
    if (!this.sessionMask) {
      const mask = new Uint8Array(count);
      for (let i = 0; i < count; i++) mask[i] = this.clock.phase(first + i * MINUTE) !== 'closed' ? 1 : 0;
      this.sessionMask = mask;
    }
    return this.sessionMask;
  }

  /**
   * Walks backwards from the start price, calling `fn` with synthetic minute bars (newest first)
   * down to `until`, then with daily bars when `days` is set. Deterministic per seed and symbol,
   * so a partial walk yields exactly the newest bars of the full one.
   */
  private walkBack(inst: Instrument, until: number, days: boolean, fn: (bar: SimBar) => void): void {
    const rng = mulberry32((this.seed ^ fnv1a(inst.asset.symbol)) + 0x9e3779b9);
    const startMinute = this.startedAt - (this.startedAt % MINUTE);
    const first = this.startedAt - (this.startedAt % DAY) - this.historyDays * DAY;
    const count = (startMinute - first) / MINUTE;
    const mask = inst.crypto ? undefined : this.sessions(first, count);
    // Volume per minute as the live ticks would print it, so history and live bars look alike.
    const ticksPerMinute = Math.max(1, MINUTE / (this.tickMs * this.clock.speed));
    const avgTrade = inst.crypto ? 3900 / inst.startPrice : 190;
    const avgVolume = ticksPerMinute * avgTrade;
    // A stock market open on a Sunday runs around the clock ('always'); else a 390-minute session.
    const dayMinutes = inst.crypto || this.clock.isMarketOpen(Date.UTC(2024, 0, 7, 12)) ? 1440 : 390;
    const step = inst.priceStep;
    let price = inst.startPrice;
    const sigmaMinute = inst.vol * this.volScale * Math.sqrt(MINUTE / YEAR);
    const makeBar = (t: number, sigma: number, volume: number): SimBar => {
      const c = price;
      const o = c * Math.exp(-sigma * gauss(rng));
      const h = Math.max(o, c) * Math.exp(Math.abs(gauss(rng)) * sigma * 0.4);
      const l = Math.min(o, c) * Math.exp(-Math.abs(gauss(rng)) * sigma * 0.4);
      price = o;
      const bar = { symbol: inst.asset.symbol, t, o: roundTo(o, step), h: roundTo(h, step), l: roundTo(l, step), c: roundTo(c, step), v: 0, n: 0, vw: 0 };
      bar.h = Math.max(bar.h, bar.o, bar.c);
      bar.l = Math.max(step, Math.min(bar.l, bar.o, bar.c));
      const v = volume * (0.3 + 1.4 * rng());
      bar.v = inst.crypto ? roundTo(v, inst.sizeStep) || inst.sizeStep : Math.max(1, Math.round(v));
      bar.n = Math.max(1, Math.round((bar.v / avgVolume) * ticksPerMinute * (sigma === sigmaMinute ? 1 : dayMinutes)));
      bar.vw = Number(Math.min(bar.h, Math.max(bar.l, (bar.o + bar.h + bar.l + bar.c) / 4)).toFixed(6));
      return bar;
    };
    for (let i = count - 1; i >= 0; i--) {
      const t = first + i * MINUTE;
      if (t < until) return;
      if (mask && !mask[i]) continue;
      fn(makeBar(t, sigmaMinute, avgVolume));
    }
    if (!days) return;
    const sigmaDay = inst.vol * this.volScale * Math.sqrt(DAY / YEAR);
    // Stock days are New York dates, stamped at New York midnight; `first` is late evening in New York.
    const firstDate = newYorkDate(first + 12 * HOUR);
    for (let d = 1; d <= this.historyDailyDays; d++) {
      if (inst.crypto) {
        fn(makeBar(first - d * DAY, sigmaDay, avgVolume * dayMinutes));
        continue;
      }
      const date = addDays(firstDate, -d);
      // Stocks skip days the policy keeps closed (weekends and holidays under 'nyse'): probe 10:30 New York.
      if (!this.clock.isMarketOpen(newYorkInstant(date, 10 * 60 + 30))) continue;
      fn(makeBar(newYorkInstant(date), sigmaDay, avgVolume * dayMinutes));
    }
  }

  /**
   * Synthetic history ending at the start price: minute bars for `historyDays` whole UTC days
   * plus the start day so far, daily bars before that. Regenerated on demand (a few ms) and
   * cached for a handful of symbols only, so memory stays bounded.
   */
  private history(inst: Instrument): History {
    const symbol = inst.asset.symbol;
    const cached = this.historyCache.get(symbol);
    if (cached) {
      this.historyCache.delete(symbol);
      this.historyCache.set(symbol, cached);
      return cached;
    }
    const first = this.startedAt - (this.startedAt % DAY) - this.historyDays * DAY;
    const history: History = { days: [], minutes: [] };
    this.walkBack(inst, first, true, (bar) => (bar.t >= first ? history.minutes : history.days).push(bar));
    history.minutes.reverse();
    history.days.reverse();
    this.historyCache.set(symbol, history);
    if (this.historyCache.size > 8) this.historyCache.delete(this.historyCache.keys().next().value as string);
    return history;
  }

  /** Four prints per minute bar whose time lies in [from, to]. */
  private forEachPrint(inst: Instrument, from: number, to: number, fn: (t: number, price: number, size: number, k: number) => void): void {
    const intraday = this.bars(inst.asset.symbol, { amount: 1, unit: 'Min' }, from - MINUTE, to);
    for (const b of intraday) {
      const up = b.c >= b.o;
      const prices = [b.o, up ? b.l : b.h, up ? b.h : b.l, b.c];
      const size = inst.crypto ? Math.max(inst.sizeStep, roundTo(b.v / 4, inst.sizeStep)) : Math.max(1, Math.floor(b.v / 4));
      for (let k = 0; k < 4; k++) {
        const t = b.t + 1_000 + k * 15_000;
        if (t >= from && t <= to) fn(t, prices[k], size, k);
      }
    }
  }
}
