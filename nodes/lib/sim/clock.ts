import { nextOpenClose, phaseAt, sessionAfter } from './calendar';
import type { SessionPhase, SimClock, SimSession } from './types';

export type MarketHours = 'always' | 'nyse';

export interface ClockOptions {
  /** Simulated ms per real ms. 60 makes a one-minute bar every real second. */
  speed?: number;
  /** Simulated start time (epoch ms); defaults to now. */
  start?: number;
  /**
   * `nyse` (default): the exchange's real calendar in New York time (holidays, 13:00 early closes,
   * pre-market from 04:00, post-market to 20:00); `always`: stocks never close (demos and tests).
   */
  marketHours?: MarketHours;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export class Clock implements SimClock {
  readonly speed: number;
  readonly marketHours: MarketHours;
  private readonly simStart: number;
  private readonly realStart: number;
  private offset = 0;

  constructor(options: ClockOptions = {}) {
    this.speed = options.speed && options.speed > 0 ? options.speed : 1;
    this.marketHours = options.marketHours ?? 'nyse';
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
    return this.phase(at) === 'core';
  }

  phase(at = this.now()): SessionPhase {
    return this.marketHours === 'always' ? 'core' : phaseAt(at);
  }

  session(at = this.now(), extended = false): SimSession | undefined {
    return this.marketHours === 'always' ? undefined : sessionAfter(at, extended ? 'postClose' : 'close');
  }

  nextOpenClose(at = this.now()): { nextOpen: number; nextClose: number } {
    if (this.marketHours === 'nyse') return nextOpenClose(at);
    // Report a session that is always under way: opened a minute ago, closes in a day.
    const startOfMinute = at - (at % MINUTE);
    return { nextOpen: startOfMinute + DAY, nextClose: startOfMinute + DAY };
  }
}
