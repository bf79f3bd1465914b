import type { SimClock } from './types';

export type MarketHours = 'always' | 'nyse';

export interface ClockOptions {
  /** Simulated ms per real ms. 60 makes a one-minute bar every real second. */
  speed?: number;
  /** Simulated start time (epoch ms); defaults to now. */
  start?: number;
  /** `always`: the stock market never closes (rehearse any time); `nyse`: 9:30-16:00 New York, weekdays. */
  marketHours?: MarketHours;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const OPEN_MINUTE = 9 * 60 + 30;
const CLOSE_MINUTE = 16 * 60;

const nyParts = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  weekday: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

/** Minutes since New York midnight and the New York weekday (0 = Sunday) of an instant. */
function newYorkTime(at: number): { minute: number; weekday: number } {
  const parts = nyParts.formatToParts(new Date(at));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '0';
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  return { minute: Number(get('hour')) * 60 + Number(get('minute')), weekday };
}

export class Clock implements SimClock {
  readonly speed: number;
  readonly marketHours: MarketHours;
  private readonly simStart: number;
  private readonly realStart: number;
  private offset = 0;

  constructor(options: ClockOptions = {}) {
    this.speed = options.speed && options.speed > 0 ? options.speed : 1;
    this.marketHours = options.marketHours ?? 'always';
    this.realStart = Date.now();
    this.simStart = options.start ?? this.realStart;
  }

  now(): number {
    return Math.floor(this.simStart + (Date.now() - this.realStart) * this.speed + this.offset);
  }

  /** Jump simulated time forward (tests and rehearsals of long windows). */
  advance(ms: number): void {
    this.offset += ms;
  }

  isMarketOpen(at = this.now()): boolean {
    if (this.marketHours === 'always') return true;
    const { minute, weekday } = newYorkTime(at);
    return weekday >= 1 && weekday <= 5 && minute >= OPEN_MINUTE && minute < CLOSE_MINUTE;
  }

  nextOpenClose(at = this.now()): { nextOpen: number; nextClose: number } {
    if (this.marketHours === 'always') {
      // Report a session that is always under way: opened a minute ago, closes in a day.
      const startOfMinute = at - (at % MINUTE);
      return { nextOpen: startOfMinute + DAY, nextClose: startOfMinute + DAY };
    }
    // Opens and closes fall on half hours: walk half-hour steps (bounded to a week).
    const step = 30 * MINUTE;
    const start = at - (at % step) + step;
    let nextOpen = 0;
    let nextClose = 0;
    let prev = this.isMarketOpen(at);
    for (let t = start; t < at + 8 * DAY && (!nextOpen || !nextClose); t += step) {
      const open = this.isMarketOpen(t);
      if (open && !prev && !nextOpen) nextOpen = t;
      if (!open && prev && !nextClose) nextClose = t;
      prev = open;
    }
    return { nextOpen, nextClose };
  }
}
