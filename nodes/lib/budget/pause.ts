// What the broker's answers do to a budget: a 429 pauses it until Retry-After or
// X-RateLimit-Reset (capped, against nonsense headers); an X-RateLimit-Remaining below the
// budget's own count says someone else uses the key.
import type { BudgetFeedback } from './types';

export interface PauseLimits {
  /** Pause after a 429 without Retry-After or X-RateLimit-Reset. */
  defaultPauseMs: number;
  /** Longest single pause honoured. */
  maxPauseMs: number;
}

export class Pause {
  until = 0;
  reason = '';

  active(now: number): boolean {
    return now < this.until;
  }

  /**
   * Pauses until `until`; true when that is a new or longer pause. Several answers of one burst
   * carry the same hint a few ms apart: one pause, not many.
   */
  extend(until: number, reason: string): boolean {
    if (until <= this.until + 250) return false;
    this.until = until;
    this.reason = reason;
    return true;
  }
}

/** When a 429 says to come back: Retry-After, else the reset, else the default; never beyond the cap. */
export function pauseEnd(feedback: BudgetFeedback, now: number, limits: PauseLimits): number {
  let until = feedback.retryAfterMs !== undefined ? now + feedback.retryAfterMs : feedback.resetAt;
  if (until === undefined || !(until > now)) until = now + limits.defaultPauseMs;
  return Math.min(until, now + limits.maxPauseMs);
}

/**
 * Tokens the broker says we have fewer of than we think: its remaining count, less the calls still
 * under way that it may not have counted yet, against our own `left`. 0 when it agrees.
 */
export function excessTokens(left: number, remaining: number | undefined, othersInFlight: number): number {
  if (remaining === undefined || !Number.isFinite(remaining)) return 0;
  const apparent = Math.max(0, Math.floor(remaining) - Math.max(0, othersInFlight));
  return Math.max(0, left - apparent);
}
