// What the breaker says: the alert msg sent on every state change and after trip actions.
// Plain functions, no Node-RED.
import type { ActionsReport, StateChange } from './guard';
import type { BreakerRecord } from './record';
import type { TripFigures } from './rules';
import type { BreakerState, RuleId } from './settings';
import { RULE_NAMES, STATE_MEANING, money } from './words';

/** msg.breaker on an alert msg. */
export interface AlertDetails {
  /** state: a state change; actions: what the trip actions did. */
  event: 'state' | 'actions';
  state: BreakerState;
  previousState?: BreakerState;
  rule?: RuleId;
  ruleName?: string;
  reason: string;
  figures: TripFigures;
  /** ISO time of the change. */
  time: string;
  account: string;
  /** Name of the breaker whose rule or button caused it, when one did. */
  by?: string;
  /** True on the breaker that caused the change; false on the others sharing the account. */
  local: boolean;
  actions?: ActionsReport['results'];
}

export interface AlertMsg {
  topic: string;
  payload: string;
  breaker: AlertDetails;
}

function when(isoTime: string): string {
  return `${isoTime.replace('T', ' ').slice(0, 19)} UTC`;
}

export function stateChangeAlert(change: StateChange, account: string, selfId: string): AlertMsg {
  const r = change.record;
  const local = change.origin === selfId;
  const details: AlertDetails = {
    event: 'state',
    state: r.state,
    previousState: change.previous,
    rule: r.rule,
    ruleName: r.rule ? RULE_NAMES[r.rule] : undefined,
    reason: r.reason,
    figures: r.figures,
    time: r.since,
    account,
    by: r.by,
    local,
  };
  if (r.state === 'ACTIVE') {
    const equity = r.figures.equity !== undefined ? ` Every rule measures afresh from equity ${money(r.figures.equity)}.` : '';
    return {
      topic: `Alpaca breaker ACTIVE again on ${account}`,
      payload: `Trading on ${account} is ACTIVE again since ${when(r.since)}: ${r.reason} (it was ${change.previous}).${equity}`,
      breaker: details,
    };
  }
  const rule = r.rule ? RULE_NAMES[r.rule] : 'a rule';
  return {
    topic: `Alpaca breaker ${r.state} on ${account}: ${r.short || rule}`,
    payload: `Trading on ${account} is ${r.state} since ${when(r.since)}: ${r.reason}. Rule: ${rule}${r.by ? ` (breaker "${r.by}")` : ''}. Now ${STATE_MEANING[r.state]}.`,
    breaker: details,
  };
}

export function actionsAlert(report: ActionsReport, record: BreakerRecord, account: string, local: boolean): AlertMsg {
  const parts = report.results.map((a) => {
    const what = a.action === 'closePositions' ? 'close all positions (open orders canceled first)' : 'cancel all open orders';
    if (a.ok) return a.action === 'closePositions' ? `closed ${a.count} position${a.count === 1 ? '' : 's'}` : `canceled ${a.count} open order${a.count === 1 ? '' : 's'}`;
    return `${what} FAILED${a.failed ? ` for ${a.failed}` : ''}: ${a.error ?? 'unknown error'}`;
  });
  const ok = report.results.every((a) => a.ok);
  return {
    topic: `Alpaca breaker ${report.state} on ${account}: trip actions ${ok ? 'done' : 'FAILED'}`,
    payload: `After the breaker went ${report.state} on ${account} (${report.rule ? RULE_NAMES[report.rule] : 'trip'}): ${parts.join('; ')}.`,
    breaker: {
      event: 'actions',
      state: record.state,
      rule: report.rule,
      ruleName: report.rule ? RULE_NAMES[report.rule] : undefined,
      reason: record.reason,
      figures: record.figures,
      time: report.at,
      account,
      by: record.by,
      local,
      actions: report.results,
    },
  };
}

