// The circuit breaker's states and settings: what each rule watches, its limit and the state it
// trips to, read and checked from the node's dialog fields.

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
  /**
   * Account checks: while positions are open and not marked from the stream (it is down or its
   * prices are older than this), while the stream marks every position (the reconciliation), and
   * while flat.
   */
  pollOpenSeconds: number;
  pollMarkedSeconds: number;
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
  pollMarkedSeconds: 30,
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
  pollMarked?: string | number;
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
  const pollOpenSeconds = num('pollOpen', def.pollOpen, d.pollOpenSeconds, 1, 3600);
  const staleSeconds = num('staleSeconds', def.staleSeconds, d.staleSeconds, 5, 86400);
  // Left empty (as in flows saved before it existed) it fits the fail-closed limit the flow already has.
  const pollMarkedDefault = Math.max(pollOpenSeconds, Math.min(d.pollMarkedSeconds, staleSeconds / 2));
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
    pollOpenSeconds,
    pollMarkedSeconds: num('pollMarked', def.pollMarked, pollMarkedDefault, 1, 3600),
    pollFlatSeconds: num('pollFlat', def.pollFlat, d.pollFlatSeconds, 1, 3600),
    staleSeconds,
    maxFetchFailures: d.maxFetchFailures,
    actions: { cancelOrders: on(def.cancelOnTrip, d.actions.cancelOrders), closePositions: on(def.flattenOnTrip, d.actions.closePositions) },
  };
  const slowest = Math.max(s.pollOpenSeconds, s.pollMarkedSeconds, s.pollFlatSeconds);
  if (s.staleSeconds < slowest * 2) {
    throw new SettingsError(
      'staleSeconds',
      `"fail closed after" (${s.staleSeconds} s) must be at least twice the slowest account check (${slowest} s), or the breaker would halt between two checks`,
    );
  }
  return s;
}
