// The glue between a node and its account config node: finding the account's connection (and
// failing closed when there is none), registering as one of its users for the status dot, and
// the settings.js tuning every stream node applies.
import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import type { BreakerHolder } from '../breaker/holder';
import type { BrokerConnection, ConnectionStatus, StreamTuning, TradingMode } from '../core/broker';
import { status } from './status';

/** The alpaca-account config node as the other nodes see it. */
export interface AccountConfigNode extends Node {
  connection: BrokerConnection;
  mode: TradingMode;
  /** The account's one circuit breaker, shared by its breaker nodes. */
  breakers: BreakerHolder;
}

type Send = (msg: Array<NodeMessageInFlow | null> | NodeMessageInFlow) => void;
type Done = (err?: Error) => void;

/** What a node that cannot work does with each msg (default: a Catch-able error naming `why`). */
export type FailedInput = (msg: NodeMessageInFlow, send: Send, done: Done, why: string) => void;

export const NO_ACCOUNT = 'no Alpaca account is configured for this node: choose one in its dialog';

/**
 * The node's account, or undefined after making the node fail closed: a red status, the reason
 * logged once, and every msg answered by `failed` (by default a Catch-able error). `problem`
 * fails the node for a reason of its own (e.g. invalid settings).
 */
export function accountOf(RED: NodeAPI, node: Node, accountId: string | undefined, problem?: string, failed?: FailedInput): AccountConfigNode | undefined {
  const account = accountId ? (RED.nodes.getNode(accountId) as AccountConfigNode | null) : null;
  const why = problem ?? (account?.connection ? undefined : NO_ACCOUNT);
  if (!why) return account as AccountConfigNode;
  node.status(status.failed(why));
  node.error(why);
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    if (failed) return failed(msg, send, done, why);
    node.error(new Error(why), msg);
    done();
  });
  return undefined;
}

/**
 * Registers the node as a user of the connection (its status follows the connection's) until
 * the node closes; the last user leaving closes the connection.
 */
export function useConnection(node: Node, connection: BrokerConnection, onStatus: (s: ConnectionStatus) => void): void {
  const user = { id: node.id, onConnectionStatus: onStatus };
  connection.register(user);
  node.on('close', (_removed: boolean, done: () => void) => {
    connection.deregister(user).then(done, done);
  });
}

/** settings.js may tune stream reconnects: alpacaStreams: { initialReconnectMs, maxReconnectMs, reconnectJitter } */
export function applyStreamTuning(RED: NodeAPI, connection: BrokerConnection): void {
  const tuning = (RED.settings as unknown as { alpacaStreams?: StreamTuning }).alpacaStreams;
  if (tuning) connection.tuneStreams(tuning);
}
