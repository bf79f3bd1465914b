// Status dot of a stream node: the account connection's verdict when it is terminal (refused,
// keys rejected), otherwise the state of the node's shared socket. Same vocabulary as status.ts.
import type { ConnectionStatus } from '../core/broker';
import type { StreamStatus } from '../streams/events';
import { connectionStatus, type NodeStatus } from './status';

const MAX_TEXT = 60;
const short = (t: string) => (t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t);

export function streamNodeStatus(stream: StreamStatus, connection?: ConnectionStatus, detail?: string): NodeStatus {
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
