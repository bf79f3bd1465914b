// How the breaker puts things in words: rule and state names, money, percentages and durations.
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
