// Output 2 of the stream nodes: every connection event of the node's stream, and an alert when
// an outage lasts longer than the node allows (then "restored" when it ends).
import type { Node, NodeMessageInFlow } from 'node-red';
import type { ConnectionEvent, StreamState } from '../streams/events';
import { OutageAlarm } from '../streams/health';

export interface ConnectionOutput {
  /** Feed it every connection event of the node's stream. */
  note(event: ConnectionEvent): void;
  stop(): void;
}

/** `what` names the stream in the alert ("stocks stream", "trade updates"). */
export function connectionOutput(node: Node, kind: string, what: string, alertAfterMs: number, state: () => StreamState): ConnectionOutput {
  const send = (payload: ConnectionEvent) => {
    node.send([null, { topic: 'connection', event: payload.event, kind, payload } as unknown as NodeMessageInFlow]);
  };
  const alarm = new OutageAlarm(alertAfterMs, (event, downSince, downMs) => {
    const now = Date.now();
    send({
      event,
      kind,
      state: state(),
      timestamp: new Date(now).toISOString(),
      time: now,
      downSince,
      downMs,
      reason: event === 'alert' ? `${what} down for ${Math.round(downMs / 1000)} s` : undefined,
    });
  });
  return {
    note(event) {
      alarm.note(event);
      send(event);
    },
    stop: () => alarm.stop(),
  };
}
