// The New York Stock Exchange's calendar by rule, for any year: holidays with their observed days,
// early closes at 13:00, pre-market from 04:00 and post-market to 20:00. New York wall-clock maths
// goes through Intl (America/New_York), so nothing depends on the machine's time zone.
import type { SessionPhase, SimSession } from './types';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const PRE_OPEN = 4 * 60;
const OPEN = 9 * 60 + 30;
const CLOSE = 16 * 60;
const EARLY_CLOSE = 13 * 60;
const POST_CLOSE = 20 * 60;
const EARLY_POST_CLOSE = 17 * 60;

/** Full-day closures no rule predicts (national mourning, storms, 9/11). */
const SPECIAL_CLOSURES = new Set([
  '1985-09-27', '1994-04-27', '2001-09-11', '2001-09-12', '2001-09-13', '2001-09-14', '2004-06-11',
  '2007-01-02', '2012-10-29', '2012-10-30', '2018-12-05', '2025-01-09',
]);

const nyFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** New York's offset from UTC in ms at the start of a UTC hour, from Intl. */
function offsetAt(hourStart: number): number {
  const parts = nyFormat.formatToParts(new Date(hourStart));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - hourStart;
}

// New York changes its offset at most once a UTC day, on a whole hour: a day whose first and
// last hours agree has one offset throughout; the two changeover days a year are looked up by hour.
const dayOffsets = new Map<number, [number, number]>();

/** New York's offset from UTC in ms at an instant (-4 h in summer, -5 h in winter). */
export function newYorkOffset(at: number): number {
  const day = Math.floor(at / DAY);
  let ends = dayOffsets.get(day);
  if (!ends) {
    ends = [offsetAt(day * DAY), offsetAt(day * DAY + 23 * HOUR)];
    if (dayOffsets.size > 100_000) dayOffsets.clear();
    dayOffsets.set(day, ends);
  }
  return ends[0] === ends[1] ? ends[0] : offsetAt(Math.floor(at / HOUR) * HOUR);
}

/** The New York date (YYYY-MM-DD), weekday (0 = Sunday) and minute of the day of an instant. */
export function newYorkTime(at: number): { date: string; weekday: number; minute: number } {
  const wall = new Date(at + newYorkOffset(at));
  return { date: wall.toISOString().slice(0, 10), weekday: wall.getUTCDay(), minute: wall.getUTCHours() * 60 + wall.getUTCMinutes() };
}

export const newYorkDate = (at: number): string => newYorkTime(at).date;

/** The instant of `minute` minutes after midnight, New York time, on `date` (YYYY-MM-DD). */
export function newYorkInstant(date: string, minute = 0): number {
  const wall = Date.parse(`${date}T00:00:00Z`) + minute * MINUTE;
  const first = wall - newYorkOffset(wall);
  return wall - newYorkOffset(first);
}

// New York days begin on whole UTC hours, so every instant of one UTC hour shares a midnight.
const midnights = new Map<number, number>();

/** Midnight New York of the day holding `at`: where Alpaca stamps stock daily bars. */
export function newYorkMidnight(at: number): number {
  const hour = Math.floor(at / HOUR);
  let midnight = midnights.get(hour);
  if (midnight === undefined) {
    midnight = newYorkInstant(newYorkDate(at));
    if (midnights.size > 50_000) midnights.clear();
    midnights.set(hour, midnight);
  }
  return midnight;
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
}

const weekdayOf = (date: string) => new Date(`${date}T00:00:00Z`).getUTCDay();
const ymd = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day)).toISOString().slice(0, 10);

/** The n-th (1-based; -1 = last) given weekday of a month. */
function nthWeekday(year: number, month: number, weekday: number, n: number): string {
  if (n > 0) {
    const first = ymd(year, month, 1);
    return addDays(first, ((weekday - weekdayOf(first) + 7) % 7) + (n - 1) * 7);
  }
  const last = ymd(year, month + 1, 0);
  return addDays(last, -((weekdayOf(last) - weekday + 7) % 7));
}

/** Easter Sunday (Gregorian computus, the anonymous algorithm). */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(year, month, day);
}

/** A Saturday holiday is observed on the Friday before, a Sunday one on the Monday after. */
function observed(date: string): string {
  const weekday = weekdayOf(date);
  return weekday === 6 ? addDays(date, -1) : weekday === 0 ? addDays(date, 1) : date;
}

const holidayCache = new Map<number, Set<string>>();

/** The NYSE's full-day holidays of a year, on the days the exchange observes them. */
export function holidays(year: number): Set<string> {
  let days = holidayCache.get(year);
  if (days) return days;
  days = new Set<string>();
  // NYSE rule: a Saturday New Year's Day is not observed on the Friday before (another year).
  const newYear = ymd(year, 1, 1);
  if (weekdayOf(newYear) !== 6) days.add(observed(newYear));
  if (year >= 1998) days.add(nthWeekday(year, 1, 1, 3)); // Martin Luther King Jr. Day
  days.add(nthWeekday(year, 2, 1, 3)); // Washington's Birthday
  days.add(addDays(easterSunday(year), -2)); // Good Friday
  days.add(nthWeekday(year, 5, 1, -1)); // Memorial Day
  if (year >= 2022) days.add(observed(ymd(year, 6, 19))); // Juneteenth
  days.add(observed(ymd(year, 7, 4))); // Independence Day
  days.add(nthWeekday(year, 9, 1, 1)); // Labor Day
  days.add(nthWeekday(year, 11, 4, 4)); // Thanksgiving
  days.add(observed(ymd(year, 12, 25))); // Christmas
  for (const date of SPECIAL_CLOSURES) if (date.startsWith(`${year}-`)) days.add(date);
  if (holidayCache.size > 200) holidayCache.clear();
  holidayCache.set(year, days);
  return days;
}

const isWeekday = (date: string) => weekdayOf(date) % 6 !== 0;

export function isTradingDay(date: string): boolean {
  return isWeekday(date) && !holidays(Number(date.slice(0, 4))).has(date);
}

/** 13:00 closes: the day before Independence Day, the day after Thanksgiving, Christmas Eve. */
export function isEarlyClose(date: string): boolean {
  if (!isTradingDay(date)) return false;
  const year = Number(date.slice(0, 4));
  return date === ymd(year, 7, 3) || date === addDays(nthWeekday(year, 11, 4, 4), 1) || date === ymd(year, 12, 24);
}

const sessionCache = new Map<string, SimSession | null>();

/** The trading session of a New York date, or undefined when the exchange is closed all day. */
export function nyseSession(date: string): SimSession | undefined {
  let session = sessionCache.get(date);
  if (session === undefined) {
    const early = isEarlyClose(date);
    session = isTradingDay(date)
      ? {
          date,
          preOpen: newYorkInstant(date, PRE_OPEN),
          open: newYorkInstant(date, OPEN),
          close: newYorkInstant(date, early ? EARLY_CLOSE : CLOSE),
          postClose: newYorkInstant(date, early ? EARLY_POST_CLOSE : POST_CLOSE),
          earlyClose: early,
        }
      : null;
    if (sessionCache.size > 40_000) sessionCache.clear();
    sessionCache.set(date, session);
  }
  return session ?? undefined;
}

/** The first session whose `edge` lies after `at` (sessions are never more than 5 days apart). */
export function sessionAfter(at: number, edge: 'preOpen' | 'open' | 'close' | 'postClose'): SimSession {
  let date = newYorkDate(at);
  for (let i = 0; i < 30; i++, date = addDays(date, 1)) {
    const session = nyseSession(date);
    if (session && session[edge] > at) return session;
  }
  throw new Error(`no NYSE session within 30 days of ${new Date(at).toISOString()}`);
}

export function phaseAt(at: number): SessionPhase {
  const session = nyseSession(newYorkDate(at));
  if (!session || at < session.preOpen || at >= session.postClose) return 'closed';
  if (at < session.open) return 'pre';
  return at < session.close ? 'core' : 'post';
}

/** The next core open and close after `at`, as /v2/clock reports them. */
export function nextOpenClose(at: number): { nextOpen: number; nextClose: number } {
  return { nextOpen: sessionAfter(at, 'open').open, nextClose: sessionAfter(at, 'close').close };
}

/** The trading days from `from` to `to` (YYYY-MM-DD, inclusive), oldest first. */
export function tradingSessions(from: string, to: string): SimSession[] {
  const out: SimSession[] = [];
  for (let date = from; date <= to; date = addDays(date, 1)) {
    const session = nyseSession(date);
    if (session) out.push(session);
  }
  return out;
}

/** When a trade of this date settles: T+1 since 2024-05-28, T+2 since 2017-09-05, T+3 before. */
export function settlementDate(date: string): string {
  const days = date >= '2024-05-28' ? 1 : date >= '2017-09-05' ? 2 : 3;
  let settle = date;
  for (let n = 0; n < days; ) {
    settle = addDays(settle, 1);
    if (isTradingDay(settle)) n++;
  }
  return settle;
}
