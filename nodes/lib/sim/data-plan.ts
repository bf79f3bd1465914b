// What a market-data subscription entitles to, for the REST routes and the streams alike. A new
// Alpaca account has the free Basic plan: stock data defaults to the IEX feed and SIP data younger
// than 15 minutes is refused; Algo Trader Plus ('sip') reads everything in real time.

import type { DataPlan } from './types';

/** How old SIP data must be for the Basic plan to read it. */
export const SIP_DELAY_MS = 15 * 60_000;

export const RECENT_SIP_REFUSED = 'subscription does not permit querying recent SIP data';

/** The stock feed a request without `feed` gets. */
export function defaultStockFeed(plan: DataPlan): 'iex' | 'sip' {
  return plan === 'sip' ? 'sip' : 'iex';
}

/** Whether `plan` may read `feed` data as recent as `until` (epoch ms) at `now`. */
export function feedPermits(plan: DataPlan, feed: string, until: number, now: number): boolean {
  return plan === 'sip' || feed !== 'sip' || until <= now - SIP_DELAY_MS;
}

/** Whether `plan` may stream a real-time stock feed (`iex`, `sip`); Basic streams IEX only. */
export function streamPermits(plan: DataPlan, feed: string): boolean {
  return plan === 'sip' || feed !== 'sip';
}
