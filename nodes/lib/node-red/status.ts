// One status vocabulary for every node: green dot working, yellow ring on the way or retrying,
// red ring broken or refused, grey ring idle. Text stays short: it shows under the node.
import type { ConnectionStatus } from '../core/broker';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

const MAX_TEXT = 60;

function short(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

function hhmmss(ms = Date.now()): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

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

export const status = {
  working: (text: string): NodeStatus => ({ fill: 'blue', shape: 'dot', text: short(text) }),
  success: (text: string): NodeStatus => ({ fill: 'green', shape: 'dot', text: short(`${text} · ${hhmmss()}`) }),
  failed: (text: string): NodeStatus => ({ fill: 'red', shape: 'ring', text: short(text) }),
  idle: (text: string): NodeStatus => ({ fill: 'grey', shape: 'ring', text: short(text) }),
};
