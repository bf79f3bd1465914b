// The circuit breaker's rules with no Node-RED and no clock of its own: the settings, how an
// order msg is read, what each rule measures, and the words the node shows and sends. Time comes
// in as `now` (epoch ms) so tests cover 30-minute windows instantly.

export const BREAKER_STATES = ['ACTIVE', 'REDUCING', 'HALTED'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];
/** What a trip leads to. */
export type TripTarget = 'REDUCING' | 'HALTED';

/** How much a state restricts: a trip only ever moves up this scale; only a reset moves down. */
export const SEVERITY: Record<BreakerState, number> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/** The exact text `msg.reset` (and the dialog's reset request) must carry. */
export const RESET_CONFIRMATION = 'RESET BREAKER';

export type RuleId =
  | 'rollingLoss'
  | 'dailyLoss'
  | 'drawdown'
  | 'errorRate'
  | 'rejections'
  | 'orderRate'
  | 'streamDown'
  | 'inputs'
  | 'manual'
  | 'config';

/** Per-order checks: they block one order and never trip. */
export type OrderCheckId = 'concentration' | 'maxNotional' | 'reducingOnly' | 'unreadable';

export interface BreakerSettings {
  rollingLoss: { enabled: boolean; pct: number; minutes: number; target: TripTarget };
  dailyLoss: { enabled: boolean; pct: number; target: TripTarget };
  drawdown: { enabled: boolean; pct: number; target: TripTarget };
  errorRate: { enabled: boolean; pct: number; minutes: number; minRequests: number; target: TripTarget };
  rejections: { enabled: boolean; count: number; target: TripTarget };
  orderRate: { enabled: boolean; perMinute: number; target: TripTarget };
  streamDown: { enabled: boolean; minutes: number; target: TripTarget };
  concentration: { enabled: boolean; pct: number };
  maxNotional: { enabled: boolean; amount: number };
  /** market: the exchange's trading day from the broker's clock; utc: a UTC calendar day (crypto). */
  session: 'market' | 'utc';
  /** Account checks: while positions are open, and while flat. */
  pollOpenSeconds: number;
  pollFlatSeconds: number;
  /** Fails closed when no fresh equity arrived for this long, or after this many failed fetches in a row. */
  staleSeconds: number;
  maxFetchFailures: number;
  actions: { cancelOrders: boolean; closePositions: boolean };
}

/** Field practice: stop fast losses and runaway loops hard; stop adding risk on a bad day. */
export const DEFAULT_SETTINGS: BreakerSettings = {
  rollingLoss: { enabled: true, pct: 1, minutes: 30, target: 'HALTED' },
  dailyLoss: { enabled: true, pct: 2, target: 'REDUCING' },
  drawdown: { enabled: true, pct: 3, target: 'REDUCING' },
  errorRate: { enabled: true, pct: 10, minutes: 5, minRequests: 20, target: 'HALTED' },
  rejections: { enabled: true, count: 5, target: 'HALTED' },
  orderRate: { enabled: true, perMinute: 30, target: 'HALTED' },
  streamDown: { enabled: false, minutes: 5, target: 'REDUCING' },
  concentration: { enabled: true, pct: 25 },
  maxNotional: { enabled: false, amount: 10000 },
  session: 'market',
  pollOpenSeconds: 10,
  pollFlatSeconds: 60,
  staleSeconds: 120,
  maxFetchFailures: 3,
  actions: { cancelOrders: true, closePositions: false },
};

/** The node's saved dialog fields (strings or numbers as the editor stores them). */
export interface BreakerDef {
  rollingOn?: boolean;
  rollingPct?: string | number;
  rollingMinutes?: string | number;
  rollingTarget?: string;
  dailyOn?: boolean;
  dailyPct?: string | number;
  dailyTarget?: string;
  drawdownOn?: boolean;
  drawdownPct?: string | number;
  drawdownTarget?: string;
  errorsOn?: boolean;
  errorsPct?: string | number;
  errorsMinutes?: string | number;
  errorsMin?: string | number;
  errorsTarget?: string;
  rejectsOn?: boolean;
  rejectsCount?: string | number;
  rejectsTarget?: string;
  rateOn?: boolean;
  ratePerMinute?: string | number;
  rateTarget?: string;
  streamOn?: boolean;
  streamMinutes?: string | number;
  streamTarget?: string;
  concOn?: boolean;
  concPct?: string | number;
  notionalOn?: boolean;
  notionalMax?: string | number;
  session?: string;
  pollOpen?: string | number;
  pollFlat?: string | number;
  staleSeconds?: string | number;
  cancelOnTrip?: boolean;
  flattenOnTrip?: boolean;
}

export class SettingsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'SettingsError';
  }
}

function num(field: string, v: unknown, fallback: number, min: number, max: number, integer = false): number {
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return fallback;
  const n = typeof v === 'string' ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new SettingsError(field, `${field} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got ${JSON.stringify(v)})`);
  }
  return n;
}

function target(field: string, v: unknown, fallback: TripTarget): TripTarget {
  if (v === undefined || v === '') return fallback;
  if (v === 'REDUCING' || v === 'HALTED') return v;
  throw new SettingsError(field, `${field} must be REDUCING or HALTED (got ${JSON.stringify(v)})`);
}

const on = (v: unknown, fallback: boolean): boolean => (typeof v === 'boolean' ? v : fallback);

/** Reads and checks the dialog fields; an empty field takes its default. Throws SettingsError. */
export function parseSettings(def: BreakerDef): BreakerSettings {
  const d = DEFAULT_SETTINGS;
  const session = def.session === undefined || def.session === '' ? d.session : def.session;
  if (session !== 'market' && session !== 'utc') throw new SettingsError('session', `session must be "market" or "utc" (got ${JSON.stringify(def.session)})`);
  const s: BreakerSettings = {
    rollingLoss: {
      enabled: on(def.rollingOn, d.rollingLoss.enabled),
      pct: num('rollingPct', def.rollingPct, d.rollingLoss.pct, 0.01, 100),
      minutes: num('rollingMinutes', def.rollingMinutes, d.rollingLoss.minutes, 1, 24 * 60),
      target: target('rollingTarget', def.rollingTarget, d.rollingLoss.target),
    },
    dailyLoss: {
      enabled: on(def.dailyOn, d.dailyLoss.enabled),
      pct: num('dailyPct', def.dailyPct, d.dailyLoss.pct, 0.01, 100),
      target: target('dailyTarget', def.dailyTarget, d.dailyLoss.target),
    },
    drawdown: {
      enabled: on(def.drawdownOn, d.drawdown.enabled),
      pct: num('drawdownPct', def.drawdownPct, d.drawdown.pct, 0.01, 100),
      target: target('drawdownTarget', def.drawdownTarget, d.drawdown.target),
    },
    errorRate: {
      enabled: on(def.errorsOn, d.errorRate.enabled),
      pct: num('errorsPct', def.errorsPct, d.errorRate.pct, 0, 100),
      minutes: num('errorsMinutes', def.errorsMinutes, d.errorRate.minutes, 0.1, 24 * 60),
      minRequests: num('errorsMin', def.errorsMin, d.errorRate.minRequests, 1, 100000, true),
      target: target('errorsTarget', def.errorsTarget, d.errorRate.target),
    },
    rejections: {
      enabled: on(def.rejectsOn, d.rejections.enabled),
      count: num('rejectsCount', def.rejectsCount, d.rejections.count, 1, 10000, true),
      target: target('rejectsTarget', def.rejectsTarget, d.rejections.target),
    },
    orderRate: {
      enabled: on(def.rateOn, d.orderRate.enabled),
      perMinute: num('ratePerMinute', def.ratePerMinute, d.orderRate.perMinute, 1, 100000, true),
      target: target('rateTarget', def.rateTarget, d.orderRate.target),
    },
    streamDown: {
      enabled: on(def.streamOn, d.streamDown.enabled),
      minutes: num('streamMinutes', def.streamMinutes, d.streamDown.minutes, 0.1, 24 * 60),
      target: target('streamTarget', def.streamTarget, d.streamDown.target),
    },
    concentration: {
      enabled: on(def.concOn, d.concentration.enabled),
      pct: num('concPct', def.concPct, d.concentration.pct, 0.1, 10000),
    },
    maxNotional: {
      enabled: on(def.notionalOn, d.maxNotional.enabled),
      amount: num('notionalMax', def.notionalMax, d.maxNotional.amount, 0.01, 1e12),
    },
    session,
    pollOpenSeconds: num('pollOpen', def.pollOpen, d.pollOpenSeconds, 1, 3600),
    pollFlatSeconds: num('pollFlat', def.pollFlat, d.pollFlatSeconds, 1, 3600),
    staleSeconds: num('staleSeconds', def.staleSeconds, d.staleSeconds, 5, 86400),
    maxFetchFailures: d.maxFetchFailures,
    actions: { cancelOrders: on(def.cancelOnTrip, d.actions.cancelOrders), closePositions: on(def.flattenOnTrip, d.actions.closePositions) },
  };
  if (s.staleSeconds < Math.max(s.pollOpenSeconds, s.pollFlatSeconds) * 2) {
    throw new SettingsError(
      'staleSeconds',
      `"fail closed after" (${s.staleSeconds} s) must be at least twice the slowest account check (${Math.max(s.pollOpenSeconds, s.pollFlatSeconds)} s), or the breaker would halt between two checks`,
    );
  }
  return s;
}

// --- Order msgs -------------------------------------------------------------------------------

/** An order as the breaker checks it: what the alpaca-order node would submit. */
export interface OrderIntent {
  symbol: string;
  side: 'buy' | 'sell';
  qty?: number;
  notional?: number;
  type: string;
  limitPrice?: number;
  stopPrice?: number;
}

export type ReadMsg =
  | { kind: 'passThrough'; action: 'cancel' | 'cancelAll' | 'replace' }
  | { kind: 'order'; order: OrderIntent }
  | { kind: 'unreadable'; reason: string };

const SYMBOL = /^[A-Z][A-Z0-9.]{0,9}(\/[A-Z]{2,6})?$/;

function pickNumber(p: Record<string, unknown>, ...keys: string[]): number | undefined | 'bad' {
  for (const k of keys) {
    const v = p[k];
    if (v === undefined || v === null || v === '') continue;
    const n = typeof v === 'string' ? Number(v.trim()) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return 'bad';
    return n;
  }
  return undefined;
}

const PASS_ACTIONS = ['cancel', 'cancelAll', 'replace'];

/**
 * Reads an order msg in the alpaca-order node's shape: the action in `msg.action` or `msg.topic`
 * (submit | cancel | cancelAll | replace; default submit) and `msg.payload = { symbol, side,
 * qty | notional, type, limitPrice | limit_price, stopPrice | stop_price, ... }`. Cancels and
 * replaces pass in every state.
 */
export function readOrderMsg(msg: { action?: unknown; topic?: unknown; payload?: unknown }): ReadMsg {
  const action = [msg.action, msg.topic].find((a) => typeof a === 'string' && PASS_ACTIONS.includes(a));
  if (action) return { kind: 'passThrough', action: action as 'cancel' | 'cancelAll' | 'replace' };
  const p = msg.payload;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) {
    return {
      kind: 'unreadable',
      reason: 'the breaker needs the order in msg.payload ({ symbol, side, qty or notional }) to check it; set them in the msg, not only in the order node',
    };
  }
  const o = p as Record<string, unknown>;
  const symbol = typeof o.symbol === 'string' ? o.symbol.trim().toUpperCase() : '';
  if (!SYMBOL.test(symbol)) return { kind: 'unreadable', reason: `msg.payload.symbol must be a ticker like AAPL or a pair like BTC/USD (got ${JSON.stringify(o.symbol)})` };
  const side = typeof o.side === 'string' ? o.side.trim().toLowerCase() : '';
  if (side !== 'buy' && side !== 'sell') return { kind: 'unreadable', reason: `msg.payload.side must be "buy" or "sell" (got ${JSON.stringify(o.side)})` };
  const qty = pickNumber(o, 'qty');
  const notional = pickNumber(o, 'notional');
  if (qty === 'bad' || notional === 'bad') return { kind: 'unreadable', reason: 'msg.payload.qty / notional must be a number greater than 0' };
  if ((qty === undefined) === (notional === undefined)) {
    return { kind: 'unreadable', reason: 'msg.payload needs exactly one of qty and notional for the breaker to check the order' };
  }
  const limitPrice = pickNumber(o, 'limit_price', 'limitPrice');
  const stopPrice = pickNumber(o, 'stop_price', 'stopPrice');
  if (limitPrice === 'bad' || stopPrice === 'bad') return { kind: 'unreadable', reason: 'msg.payload limit / stop price must be a number greater than 0' };
  const rawType = o.type ?? o.order_type;
  const type = typeof rawType === 'string' && rawType ? rawType : 'market';
  return { kind: 'order', order: { symbol, side, qty, notional, type, limitPrice, stopPrice } };
}

/** Alpaca names crypto positions without the slash (BTCUSD) although orders say BTC/USD. */
export function positionKey(symbol: string): string {
  return symbol.replace('/', '').toUpperCase();
}

export function describeOrder(o: OrderIntent): string {
  return o.qty !== undefined ? `${o.side} ${o.qty} ${o.symbol}` : `${o.side} $${o.notional} of ${o.symbol}`;
}

/** The price an order is valued at: its own limit (or stop) price, else the market's. */
export function orderPrice(o: OrderIntent, marketPrice: number | undefined): number | undefined {
  return o.limitPrice ?? o.stopPrice ?? marketPrice;
}

export interface OrderContext {
  state: BreakerState;
  equity: number;
  /** Signed position in the order's symbol (long > 0, short < 0), 0 when flat. */
  positionQty: number;
  /** Quantity of orders already on their way that reduce this position (open or just passed). */
  pendingReduceQty: number;
  /** The market price of the symbol, when known. */
  marketPrice?: number;
}

export type OrderVerdict = { pass: true } | { pass: false; check: OrderCheckId; reason: string };

/**
 * Checks one order against the per-order rules and, in REDUCING, against the position. Knows
 * nothing about HALTED (the caller blocks everything then) or the order rate (a trip, not a check).
 */
export function checkOrder(s: BreakerSettings, o: OrderIntent, ctx: OrderContext): OrderVerdict {
  const price = orderPrice(o, ctx.marketPrice);
  const signed = o.side === 'buy' ? 1 : -1;
  const qty = o.qty ?? (price ? (o.notional as number) / price : undefined);

  if (ctx.state === 'REDUCING') {
    const pos = ctx.positionQty;
    const reduces = (pos > 0 && o.side === 'sell') || (pos < 0 && o.side === 'buy');
    if (!reduces) {
      return {
        pass: false,
        check: 'reducingOnly',
        reason:
          pos === 0
            ? `${describeOrder(o)} would open a position: the breaker is REDUCING and lets only orders that reduce an existing position through`
            : `${describeOrder(o)} would add to the ${pos > 0 ? 'long' : 'short'} ${o.symbol} position: the breaker is REDUCING`,
      };
    }
    if (o.qty === undefined) {
      return {
        pass: false,
        check: 'reducingOnly',
        reason: `${describeOrder(o)} is given as a notional amount: while REDUCING the breaker needs a qty to make sure the order cannot flip the position`,
      };
    }
    const available = Math.abs(pos) - ctx.pendingReduceQty;
    if (o.qty > available + 1e-9) {
      return {
        pass: false,
        check: 'reducingOnly',
        reason: `${describeOrder(o)} would flip the ${pos > 0 ? 'long' : 'short'} position of ${Math.abs(pos)} ${o.symbol} through zero${
          ctx.pendingReduceQty > 0 ? ` (${ctx.pendingReduceQty} already on the way out)` : ''
        }: at most ${Math.max(0, round(available, 8))} may be ${o.side === 'sell' ? 'sold' : 'bought'} while REDUCING`,
      };
    }
  }

  if (s.maxNotional.enabled) {
    const value = o.notional ?? (price !== undefined && qty !== undefined ? qty * price : undefined);
    if (value === undefined) {
      return { pass: false, check: 'maxNotional', reason: `${describeOrder(o)}: no price to value it at, so the max notional rule cannot check it` };
    }
    if (value > s.maxNotional.amount) {
      return {
        pass: false,
        check: 'maxNotional',
        reason: `${describeOrder(o)} is worth about ${money(value)}, over the ${money(s.maxNotional.amount)} limit per order`,
      };
    }
  }

  if (s.concentration.enabled) {
    if (qty === undefined || price === undefined) {
      return { pass: false, check: 'concentration', reason: `${describeOrder(o)}: no price to value it at, so the concentration rule cannot check it` };
    }
    const after = ctx.positionQty + signed * qty;
    const grows = Math.abs(after) > Math.abs(ctx.positionQty) + 1e-9;
    if (grows) {
      if (!(ctx.equity > 0)) {
        return { pass: false, check: 'concentration', reason: `${describeOrder(o)}: equity is ${ctx.equity}, so no position may grow` };
      }
      const share = (Math.abs(after) * price) / ctx.equity;
      if (share * 100 > s.concentration.pct) {
        return {
          pass: false,
          check: 'concentration',
          reason: `${describeOrder(o)} would make the ${o.symbol} position ${pct(share * 100)} of equity (${money(Math.abs(after) * price)} of ${money(
            ctx.equity,
          )}), over the ${s.concentration.pct}% limit`,
        };
      }
    }
  }
  return { pass: true };
}

// --- What the account-level rules measure ------------------------------------------------------

/** Figures of a trip or a state: everything an alert shows. Money in account currency. */
export interface TripFigures {
  equity?: number;
  /** The equity the loss is measured from (window peak, session start or session peak). */
  reference?: number;
  loss?: number;
  lossPct?: number;
  /** The rule's limit, in its own unit (percent, count or per minute). */
  threshold?: number;
  /** The window the rule looks at, e.g. "30 min". */
  window?: string;
  requests?: number;
  failures?: number;
  errorPct?: number;
  rejections?: number;
  orders?: number;
  downMinutes?: number;
}

export interface Trip {
  rule: RuleId;
  target: TripTarget;
  reason: string;
  /** A few words for the status dot. */
  short: string;
  figures: TripFigures;
}

export interface EquitySample {
  at: number;
  equity: number;
}

export interface Session {
  key: string;
  startEquity: number;
  peakEquity: number;
  startedAt: string;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
export const pct = (n: number): string => `${round(n, 2)}%`;
export const money = (n: number): string => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const minutesText = (m: number): string => (m >= 60 && m % 60 === 0 ? `${m / 60} h` : `${round(m, 1)} min`);

function lossTrip(rule: RuleId, target: TripTarget, equity: number, reference: number, threshold: number, window: string, what: string, short: string): Trip | undefined {
  if (!(reference > 0)) return undefined;
  const loss = reference - equity;
  const lossPct = (loss / reference) * 100;
  if (lossPct + 1e-9 < threshold) return undefined;
  return {
    rule,
    target,
    reason: `equity fell ${pct(lossPct)} (${money(reference)} to ${money(equity)}, ${money(loss)}) ${what}, at or over the ${threshold}% limit`,
    short: `${short} ${pct(lossPct)}`,
    figures: { equity, reference, loss: round(loss, 2), lossPct: round(lossPct, 4), threshold, window },
  };
}

/** Loss over the rolling window: from the highest equity seen in it to now. */
export function checkRollingLoss(s: BreakerSettings, samples: EquitySample[], now: number): Trip | undefined {
  if (!s.rollingLoss.enabled || samples.length === 0) return undefined;
  const from = now - s.rollingLoss.minutes * 60_000;
  const inWindow = samples.filter((x) => x.at >= from);
  if (inWindow.length === 0) return undefined;
  const peak = Math.max(...inWindow.map((x) => x.equity));
  const last = samples[samples.length - 1].equity;
  const w = minutesText(s.rollingLoss.minutes);
  return lossTrip('rollingLoss', s.rollingLoss.target, last, peak, s.rollingLoss.pct, w, `within ${w}`, `loss in ${w}`);
}

export function checkDailyLoss(s: BreakerSettings, session: Session | undefined, equity: number): Trip | undefined {
  if (!s.dailyLoss.enabled || !session) return undefined;
  return lossTrip('dailyLoss', s.dailyLoss.target, equity, session.startEquity, s.dailyLoss.pct, `session ${session.key}`, `since the session (${session.key}) began`, 'daily loss');
}

export function checkDrawdown(s: BreakerSettings, session: Session | undefined, equity: number): Trip | undefined {
  if (!s.drawdown.enabled || !session) return undefined;
  return lossTrip('drawdown', s.drawdown.target, equity, session.peakEquity, s.drawdown.pct, `session ${session.key}`, `from the session's peak`, 'drawdown');
}

export interface RequestOutcome {
  at: number;
  ok: boolean;
}

/** Share of failed requests over the window, once at least `minRequests` were made. */
export function checkErrorRate(s: BreakerSettings, requests: RequestOutcome[], now: number): Trip | undefined {
  if (!s.errorRate.enabled) return undefined;
  const from = now - s.errorRate.minutes * 60_000;
  const recent = requests.filter((r) => r.at >= from);
  if (recent.length < s.errorRate.minRequests) return undefined;
  const failures = recent.filter((r) => !r.ok).length;
  const errorPct = (failures / recent.length) * 100;
  if (!(errorPct > s.errorRate.pct)) return undefined;
  const w = minutesText(s.errorRate.minutes);
  return {
    rule: 'errorRate',
    target: s.errorRate.target,
    reason: `${failures} of ${recent.length} API requests failed in ${w} (${pct(errorPct)}), over the ${s.errorRate.pct}% limit`,
    short: `API errors ${pct(errorPct)}`,
    figures: { requests: recent.length, failures, errorPct: round(errorPct, 2), threshold: s.errorRate.pct, window: w },
  };
}

export function checkRejections(s: BreakerSettings, consecutive: number): Trip | undefined {
  if (!s.rejections.enabled || consecutive < s.rejections.count) return undefined;
  return {
    rule: 'rejections',
    target: s.rejections.target,
    reason: `${consecutive} orders in a row were rejected by the broker (limit ${s.rejections.count})`,
    short: `${consecutive} rejections in a row`,
    figures: { rejections: consecutive, threshold: s.rejections.count },
  };
}

/** The order that would be one too many in the last minute. `passed`: times orders went through. */
export function checkOrderRate(s: BreakerSettings, passed: number[], now: number): Trip | undefined {
  if (!s.orderRate.enabled) return undefined;
  const recent = passed.filter((t) => t > now - 60_000).length;
  if (recent < s.orderRate.perMinute) return undefined;
  return {
    rule: 'orderRate',
    target: s.orderRate.target,
    reason: `order number ${recent + 1} within a minute: more than ${s.orderRate.perMinute} orders per minute looks like a runaway loop`,
    short: `over ${s.orderRate.perMinute} orders/min`,
    figures: { orders: recent + 1, threshold: s.orderRate.perMinute, window: '1 min' },
  };
}

export function checkStreamDown(s: BreakerSettings, downSince: number | undefined, now: number): Trip | undefined {
  if (!s.streamDown.enabled || downSince === undefined) return undefined;
  const minutes = (now - downSince) / 60_000;
  if (minutes < s.streamDown.minutes) return undefined;
  return {
    rule: 'streamDown',
    target: s.streamDown.target,
    reason: `the order-updates stream has been disconnected for ${minutesText(minutes)} (limit ${minutesText(s.streamDown.minutes)}): fills and rejections are not being seen`,
    short: `stream down ${minutesText(minutes)}`,
    figures: { downMinutes: round(minutes, 1), threshold: s.streamDown.minutes },
  };
}

/** Fail closed: the breaker cannot see the account, so it cannot tell whether trading is safe. */
export function inputsTrip(why: string, figures: TripFigures = {}): Trip {
  return { rule: 'inputs', target: 'HALTED', reason: `cannot compute its inputs: ${why}`, short: 'no account data', figures };
}

// --- Sessions ---------------------------------------------------------------------------------

const nyDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' });

/** YYYY-MM-DD of an instant in New York (the US market's calendar). */
export function marketDate(at: number): string {
  return nyDate.format(new Date(at));
}

export function utcDate(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/**
 * The market session an instant belongs to, from the broker's clock: while open, today's date in
 * New York; while closed, the date of the next open (pre-market trading counts toward that day).
 */
export function marketSessionKey(clock: { isOpen: boolean; nextOpen: string; timestamp?: string }, now: number): string {
  if (clock.isOpen) return marketDate(now);
  const next = Date.parse(clock.nextOpen);
  return Number.isFinite(next) ? marketDate(next) : marketDate(now);
}

// --- Words ------------------------------------------------------------------------------------

export const RULE_NAMES: Record<RuleId, string> = {
  rollingLoss: 'loss over a rolling window',
  dailyLoss: 'daily loss',
  drawdown: 'drawdown from the session peak',
  errorRate: 'API error rate',
  rejections: 'consecutive order rejections',
  orderRate: 'order rate',
  streamDown: 'stream disconnected',
  inputs: 'cannot compute its inputs (fail closed)',
  manual: 'halted by hand',
  config: 'invalid breaker settings',
};

export const STATE_MEANING: Record<BreakerState, string> = {
  ACTIVE: 'orders pass',
  REDUCING: 'only orders that reduce an existing position pass',
  HALTED: 'every order is blocked until a person resets the breaker',
};
