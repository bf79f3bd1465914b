// The account's equity over time, for GET /v2/account/portfolio/history: one sample per simulated
// minute (the last 31 days) and each day's closing equity (the last ten years), queried with
// Alpaca's period, timeframe, start/end, intraday_reporting and pnl_reset.
import { addDays, newYorkDate, newYorkInstant } from '../calendar';
import { round } from '../decimal';
import { badRequest, timestampParam } from '../input';
import type { SimClock } from '../types';
import { ACTIVITY_TYPES } from './activities';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const MINUTE_SAMPLES = 31 * 1440;
const DAILY_CLOSES = 3660;
const TIMEFRAMES: Record<string, number> = { '1Min': MINUTE, '5Min': 5 * MINUTE, '15Min': 15 * MINUTE, '1H': 60 * MINUTE, '1D': DAY };
const REPORTING = new Set(['market_hours', 'extended_hours', 'continuous']);

export interface PortfolioHistoryJson {
  timestamp: number[];
  equity: number[];
  profit_loss: number[];
  profit_loss_pct: number[];
  base_value: number;
  base_value_asof?: string;
  timeframe: string;
  cashflow?: Record<string, number[]>;
}

export class EquityHistory {
  private readonly times = new Float64Array(MINUTE_SAMPLES);
  private readonly values = new Float64Array(MINUTE_SAMPLES);
  private head = 0;
  private size = 0;
  /** New York date -> the day's last equity (insertion order is date order). */
  private readonly closes = new Map<string, number>();

  constructor(private readonly clock: SimClock) {}

  clear(): void {
    this.head = 0;
    this.size = 0;
    this.closes.clear();
  }

  /** Notes the equity at `at`: the minute's sample and the day's close so far. */
  record(at: number, equity: number): void {
    const minute = at - (at % MINUTE);
    const last = (this.head - 1 + MINUTE_SAMPLES) % MINUTE_SAMPLES;
    if (this.size > 0 && this.times[last] === minute) this.values[last] = equity;
    else if (this.size === 0 || minute > this.times[last]) {
      this.times[this.head] = minute;
      this.values[this.head] = equity;
      this.head = (this.head + 1) % MINUTE_SAMPLES;
      if (this.size < MINUTE_SAMPLES) this.size++;
    }
    const date = newYorkDate(at);
    this.closes.set(date, equity);
    if (this.closes.size > DAILY_CLOSES) this.closes.delete(this.closes.keys().next().value as string);
  }

  query(q: URLSearchParams): PortfolioHistoryJson {
    const now = this.clock.now();
    const period = q.get('period');
    const startText = q.get('start');
    const endText = q.get('end');
    if (period !== null && startText !== null && endText !== null) throw badRequest('only two of start, end and period can be specified');
    const span = period === null ? undefined : /^([1-9]\d{0,3})([DWMA])$/.exec(period);
    if (period !== null && !span) throw badRequest(`invalid period: ${period} (a number and D, W, M or A, e.g. 1M)`);
    const end = Math.min(now, endText === null ? now : timestampParam(endText, 'end'));
    const amount = span ? Number(span[1]) : 1;
    const unit = span ? span[2] : 'M';
    const start = startText !== null ? timestampParam(startText, 'start') : this.periodStart(end, amount, unit, period === null || unit !== 'D');
    const days = (end - start) / DAY;
    const timeframe = q.get('timeframe') ?? (days < 7 ? '1Min' : days < 30 ? '15Min' : '1D');
    const step = TIMEFRAMES[timeframe];
    if (!step) throw badRequest(`invalid timeframe: ${timeframe} (1Min, 5Min, 15Min, 1H or 1D)`);
    if (step < DAY && days > 30) throw badRequest('timeframes under 1D can be queried for 30 days or less');
    const extended = q.get('extended_hours');
    if (extended !== null && extended !== 'true' && extended !== 'false') throw badRequest(`invalid extended_hours: ${extended}`);
    const reporting = q.get('intraday_reporting') ?? (extended === 'true' ? 'extended_hours' : 'market_hours');
    if (!REPORTING.has(reporting)) throw badRequest(`invalid intraday_reporting: ${reporting}`);
    const pnlReset = q.get('pnl_reset') ?? 'per_day';
    if (pnlReset !== 'per_day' && pnlReset !== 'no_reset') throw badRequest(`invalid pnl_reset: ${pnlReset}`);
    const cashflowTypes = q.get('cashflow_types');
    if (cashflowTypes !== null && cashflowTypes !== 'ALL' && cashflowTypes !== 'NONE') {
      for (const t of cashflowTypes.split(',')) if (!ACTIVITY_TYPES.has(t.trim())) throw badRequest(`invalid cashflow_types: ${t}`);
    }

    const points = step === DAY ? this.daily(start, end) : this.intraday(start, end, step, reporting);
    const out: PortfolioHistoryJson = { timestamp: [], equity: [], profit_loss: [], profit_loss_pct: [], base_value: 0, timeframe };
    // 1D: P/L from the first point. Intraday: from the previous day's close, restarting each day
    // (per_day) or kept from the first day (no_reset).
    const closes = new Map<string, { value: number; asof: string } | undefined>();
    const closeBefore = (t: number) => {
      const date = newYorkDate(t);
      if (!closes.has(date)) closes.set(date, this.closeBefore(date));
      return closes.get(date);
    };
    let base: { value: number; asof?: string } | undefined;
    let firstBase: typeof base;
    for (const [t, equity] of points) {
      if (!base) base = (step < DAY && closeBefore(t)) || { value: equity };
      else if (step < DAY && pnlReset === 'per_day') base = closeBefore(t) ?? base;
      firstBase ??= base;
      const pl = equity - base.value;
      out.timestamp.push(Math.floor(t / 1000));
      out.equity.push(round(equity, 2));
      out.profit_loss.push(round(pl, 2));
      out.profit_loss_pct.push(base.value ? round(pl / base.value, 4) : 0);
    }
    out.base_value = round(firstBase?.value ?? 0, 2);
    if (firstBase?.asof) out.base_value_asof = firstBase.asof;
    if (cashflowTypes !== null && cashflowTypes !== 'NONE') out.cashflow = {};
    return out;
  }

  /** Where a period ending at `end` starts: `D` counts trading days for intraday data, else calendar time. */
  private periodStart(end: number, amount: number, unit: string, calendarTime: boolean): number {
    if (unit === 'D' && !calendarTime) {
      let date = newYorkDate(end);
      for (let found = 0, guard = 0; guard < amount * 7 + 14; guard++, date = addDays(date, -1)) {
        if (this.isTradingDay(date) && ++found === amount) break;
      }
      return newYorkInstant(date);
    }
    if (unit === 'D' || unit === 'W') return end - amount * (unit === 'W' ? 7 : 1) * DAY;
    const d = new Date(end);
    if (unit === 'M') d.setUTCMonth(d.getUTCMonth() - amount);
    else d.setUTCFullYear(d.getUTCFullYear() - amount);
    return d.getTime();
  }

  private isTradingDay(date: string): boolean {
    return this.clock.isMarketOpen(newYorkInstant(date, 10 * 60 + 30));
  }

  /** The closing equity of the last day before `date` with one. */
  private closeBefore(date: string): { value: number; asof: string } | undefined {
    let found: { value: number; asof: string } | undefined;
    for (const [d, value] of this.closes) {
      if (d >= date) break;
      found = { value, asof: d };
    }
    return found;
  }

  /** One point per trading day: the day's closing equity, stamped at midnight New York. */
  private daily(start: number, end: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const last = newYorkDate(end);
    for (let date = newYorkDate(start); date <= last; date = addDays(date, 1)) {
      const equity = this.closes.get(date);
      if (equity !== undefined && this.isTradingDay(date)) out.push([newYorkInstant(date), equity]);
    }
    return out;
  }

  /** Left-labelled windows of `step` with the equity at each window's end, in the hours `reporting` covers. */
  private intraday(start: number, end: number, step: number, reporting: string): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const first = (this.head - this.size + MINUTE_SAMPLES) % MINUTE_SAMPLES;
    let k = 0;
    let equity: number | undefined;
    for (let t = start - (start % step); t <= end; t += step) {
      while (k < this.size && this.times[(first + k) % MINUTE_SAMPLES] < t + step) equity = this.values[(first + k++) % MINUTE_SAMPLES];
      if (equity === undefined) continue;
      const phase = this.clock.phase(t);
      if (reporting === 'market_hours' ? phase !== 'core' : reporting === 'extended_hours' ? phase === 'closed' : false) continue;
      out.push([t, equity]);
    }
    return out;
  }
}
