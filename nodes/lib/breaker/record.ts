// The persisted state of one account's circuit breaker, and its transitions: a trip moves only
// to a more restrictive state, only a person's reset moves back to ACTIVE. Pure functions: the
// guard keeps the record and stores it through a StateStore the node provides.
import type { EquitySample, Session, Trip, TripFigures } from './rules';
import { BREAKER_STATES, SEVERITY, type BreakerState, type RuleId } from './settings';

/** Where the shared state lives between deploys and restarts (the node: Node-RED global context). */
export interface StateStore {
  load(): Promise<unknown>;
  save(record: BreakerRecord): Promise<void>;
}

export interface HistoryEntry {
  state: BreakerState;
  rule?: RuleId;
  reason: string;
  at: string;
  by?: string;
}

export interface BreakerRecord {
  version: 1;
  state: BreakerState;
  rule?: RuleId;
  reason: string;
  short: string;
  /** ISO time of the last state change. */
  since: string;
  /** Name of the breaker node (or person) that caused the last change, when one did. */
  by?: string;
  figures: TripFigures;
  /** Orders blocked since the last state change. */
  blocked: number;
  session?: Session;
  /** Equity samples of the rolling windows, so a restart does not forget a loss in progress. */
  samples?: EquitySample[];
  /** The last state changes, newest last. */
  history: HistoryEntry[];
}

const HISTORY = 20;
/** Equity samples kept in the stored record, newest last. */
export const STORED_SAMPLES = 500;

export function initialRecord(at: string): BreakerRecord {
  return { version: 1, state: 'ACTIVE', reason: 'not tripped', short: '', since: at, figures: {}, blocked: 0, history: [] };
}

const isSample = (v: unknown): v is EquitySample =>
  typeof v === 'object' && v !== null && Number.isFinite((v as EquitySample).at) && Number.isFinite((v as EquitySample).equity);

/** A stored value as a record, or undefined when it is not one (the caller fails closed). */
export function restoreRecord(stored: unknown): BreakerRecord | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const r = stored as Record<string, unknown>;
  if (r.version !== 1 || !(BREAKER_STATES as readonly string[]).includes(r.state as string) || typeof r.since !== 'string') return undefined;
  const record = stored as BreakerRecord;
  return {
    ...record,
    history: Array.isArray(record.history) ? record.history : [],
    figures: record.figures ?? {},
    blocked: record.blocked ?? 0,
    samples: Array.isArray(record.samples) ? record.samples.filter(isSample).slice(-STORED_SAMPLES) : [],
  };
}

/** The record after `trip`, or undefined when the trip is not more restrictive than now. */
export function tripped(record: BreakerRecord, trip: Trip, at: string, by?: string): BreakerRecord | undefined {
  if (SEVERITY[trip.target] <= SEVERITY[record.state]) return undefined;
  return {
    ...record,
    state: trip.target,
    rule: trip.rule,
    reason: trip.reason,
    short: trip.short,
    since: at,
    by,
    figures: trip.figures,
    blocked: 0,
    history: [...record.history, { state: trip.target, rule: trip.rule, reason: trip.reason, at, by }].slice(-HISTORY),
  };
}

/** The record after a person's reset: ACTIVE, measuring afresh from `equity`. */
export function resetTo(record: BreakerRecord, at: string, by: string, equity: number | undefined): BreakerRecord {
  const reason = `reset by ${by}`;
  const session = record.session && equity !== undefined ? { ...record.session, startEquity: equity, peakEquity: equity } : record.session;
  return {
    ...record,
    state: 'ACTIVE',
    rule: undefined,
    reason,
    short: '',
    since: at,
    by,
    figures: { equity },
    blocked: 0,
    session,
    samples: equity !== undefined ? [{ at: Date.parse(at), equity }] : [],
    history: [...record.history, { state: 'ACTIVE' as BreakerState, reason, at, by }].slice(-HISTORY),
  };
}
