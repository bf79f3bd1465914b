// One status vocabulary for every node: green dot working, blue dot busy, yellow on the way or
// retrying (a ring) or restricted (a dot), red ring broken or refused, grey ring idle. Text stays
// short: it shows under the node.
import type { BudgetState } from '../budget/types';
import type { BreakerRecord } from '../breaker/record';
import type { ConnectionStatus } from '../core/broker';
import { hhmmss } from '../core/time';
import type { StreamStatus } from '../streams/events';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

const MAX_TEXT = 60;

function short(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

export const status = {
  working: (text: string): NodeStatus => ({ fill: 'blue', shape: 'dot', text: short(text) }),
  success: (text: string): NodeStatus => ({ fill: 'green', shape: 'dot', text: short(`${text} · ${hhmmss()}`) }),
  failed: (text: string): NodeStatus => ({ fill: 'red', shape: 'ring', text: short(text) }),
  /** Working, with something to look at. */
  warning: (text: string): NodeStatus => ({ fill: 'yellow', shape: 'dot', text: short(text) }),
  idle: (text: string): NodeStatus => ({ fill: 'grey', shape: 'ring', text: short(text) }),
};

export function connectionStatus(s: ConnectionStatus): NodeStatus {
  switch (s.state) {
    case 'connected':
      return { fill: 'green', shape: 'dot', text: short(s.text) };
    case 'connecting':
    case 'reconnecting':
      return { fill: 'yellow', shape: 'ring', text: short(s.text) };
    case 'auth_failed':
    case 'refused':
      return { fill: 'red', shape: 'ring', text: short(s.text) };
    default:
      return { fill: 'grey', shape: 'ring', text: short(s.text) };
  }
}

/** A stream node: the account's verdict when it is terminal (refused, keys rejected), else its shared socket's state. */
export function streamStatus(stream: StreamStatus, connection?: ConnectionStatus, detail?: string): NodeStatus {
  if (connection && (connection.state === 'refused' || connection.state === 'auth_failed')) return connectionStatus(connection);
  const text = short(detail && stream.state === 'connected' ? `${stream.text} · ${detail}` : stream.text);
  switch (stream.state) {
    case 'connected':
      return { fill: 'green', shape: 'dot', text };
    case 'connecting':
    case 'reconnecting':
    case 'stale':
      return { fill: 'yellow', shape: 'ring', text };
    case 'auth_failed':
    case 'unavailable':
      return { fill: 'red', shape: 'ring', text };
    default:
      return { fill: 'grey', shape: 'ring', text };
  }
}

/**
 * A breaker: its state and why, how many orders it blocked since, and how its equity is kept
 * current (`marking`: "marked to market at 14:03:05"; shown while it can still trip, if it fits).
 */
export function breakerStatus(r: BreakerRecord, marking = ''): NodeStatus {
  const blocked = r.blocked > 0 ? ` · ${r.blocked} blocked` : '';
  const also = (text: string) => (marking && text.length + marking.length + 3 <= MAX_TEXT ? `${text} · ${marking}` : text);
  switch (r.state) {
    case 'ACTIVE':
      return { fill: 'green', shape: 'dot', text: short(marking ? `ACTIVE${blocked} · ${marking}` : `ACTIVE${blocked}`) };
    case 'REDUCING':
      return { fill: 'yellow', shape: 'dot', text: short(also(`REDUCING: ${r.short || r.reason}${blocked}`)) };
    default:
      return { fill: 'red', shape: 'ring', text: short(`HALTED: ${r.short || r.reason}${blocked}`) };
  }
}

/** A rate gate: tokens left, queue depth, a pause, or the local share it runs on while Redis is unreachable. */
export function gateStatus(state: Pick<BudgetState, 'tokens' | 'limit' | 'pausedUntil' | 'storeOk' | 'share'>, depth: number, label = '', dropped = 0): NodeStatus {
  const prefix = label ? `${label} ` : '';
  const drops = dropped ? ` · ${dropped} dropped` : '';
  if (state.pausedUntil) return { fill: 'yellow', shape: 'ring', text: short(`${prefix}paused until ${hhmmss(state.pausedUntil)} · queue ${depth}${drops}`) };
  if (!state.storeOk) return { fill: 'yellow', shape: 'ring', text: short(`${prefix}Redis down: local share ${Math.max(0, state.tokens)}/${state.share ?? state.limit} · queue ${depth}${drops}`) };
  return { fill: depth ? 'blue' : 'green', shape: 'dot', text: short(`${prefix}${Math.max(0, state.tokens)}/${state.limit} tokens · queue ${depth}${drops}`) };
}
