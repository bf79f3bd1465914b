// The account-level rules of the circuit breaker with no Node-RED and no clock of their own: what
// each measures (losses, error rate, rejections, order rate, stream outage) and the trip it leads
// to. Time comes in as `now` (epoch ms) so tests cover 30-minute windows instantly.
import type { EquitySource } from './portfolio';
import type { BreakerSettings, RuleId, TripTarget } from './settings';
import { minutesText, money, pct, round, tripCause } from './words';

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
  /** How the equity of a loss trip was learned: a price on the market-data stream, or the account poll. */
  source?: 'stream' | 'poll';
  /** The price that tripped it (source stream): its symbol, price and the print's ISO time. */
  symbol?: string;
  price?: number;
  priceTime?: string;
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

/** Loss over the rolling window: from the highest equity seen in it (the samples and `equity`, the equity now) to now. */
export function checkRollingLoss(s: BreakerSettings, samples: readonly EquitySample[], equity: number, now: number): Trip | undefined {
  if (!s.rollingLoss.enabled) return undefined;
  const from = now - s.rollingLoss.minutes * 60_000;
  let peak = equity;
  for (const x of samples) if (x.at >= from && x.equity > peak) peak = x.equity;
  const w = minutesText(s.rollingLoss.minutes);
  return lossTrip('rollingLoss', s.rollingLoss.target, equity, peak, s.rollingLoss.pct, w, `within ${w}`, `loss in ${w}`);
}

/** A loss trip says what set it off: the price and the print's time, or the account poll. */
export function withCause(trip: Trip, from: EquitySource): Trip {
  const reason = `${trip.reason}, ${tripCause(from)}`;
  if (from.source === 'poll') return { ...trip, reason, figures: { ...trip.figures, source: 'poll' } };
  const m = from.move;
  return { ...trip, reason, figures: { ...trip.figures, source: 'stream', symbol: m.symbol, price: m.price, priceTime: new Date(m.priceAt).toISOString() } };
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
