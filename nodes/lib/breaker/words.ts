// How the breaker puts things in words: rule and state names, money, percentages, durations, and
// how the equity is kept current.
import { hhmmss } from '../core/time';
import type { Marking } from './mark-to-market';
import type { EquitySource } from './portfolio';
import type { BreakerState, RuleId } from './settings';

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
export const pct = (n: number): string => `${round(n, 2)}%`;
export const money = (n: number): string => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const minutesText = (m: number): string => (m >= 60 && m % 60 === 0 ? `${m / 60} h` : `${round(m, 1)} min`);

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

/** A duration as people say it: "45 s", "12 min", "3 h". */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

const utcTime = (ms: number): string => `${new Date(ms).toISOString().slice(11, 23)} UTC`;

/** What set a loss trip off: "on AAPL at 174.78 (trade at 14:03:05.120 UTC)", or the poll. */
export function tripCause(from: EquitySource): string {
  if (from.source === 'poll') return `on the account polled at ${utcTime(from.at)}`;
  const m = from.move;
  return `on ${m.symbol} at ${round(m.price, 8)} (${m.channel === 'trades' ? 'trade' : 'quote midpoint'} at ${utcTime(m.priceAt)})`;
}

/** The status words on how the equity is kept current; `polledAt`: real time of the last account poll. */
export function markingText(m: Marking, polledAt: number | undefined): string {
  const polled = polledAt ? `polled at ${hhmmss(polledAt)}` : 'not polled yet';
  switch (m.mode) {
    case 'stream':
      return `marked to market at ${hhmmss(m.markedAt)}`;
    case 'flat':
      return `flat · ${polled}`;
    default:
      if (m.why === 'down') return `${m.kind} stream down · ${polled}`;
      if (m.why === 'stale') return `${m.symbol} ${m.ageMs === undefined ? 'not streamed yet' : `price ${age(m.ageMs)} old`} · ${polled}`;
      return `${m.symbol} not streamed · ${polled}`;
  }
}
