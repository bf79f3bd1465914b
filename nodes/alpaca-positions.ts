// Account, positions, open orders and the market clock through the shared connection; closes a
// position or all of them. The work is in lib/positions.ts; this file adapts it to Node-RED.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { AccountConfigNode } from './alpaca-account';
import type { ConnectionUser } from './lib/core/broker';
import { describeResult, resolveRequest, runRequest, type PositionsSettings } from './lib/positions/request';
import { connectionStatus, status } from './lib/node-red/status';

interface PositionsDef extends NodeDef, Omit<PositionsSettings, 'cancelOrders'> {
  account: string;
  cancelOrders: boolean;
}

type Send = (msg: NodeMessageInFlow | NodeMessageInFlow[]) => void;

export default function (RED: NodeAPI): void {
  function AlpacaPositionsNode(this: Node, def: PositionsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const account = RED.nodes.getNode(def.account) as AccountConfigNode | null;
    const settings: PositionsSettings = {
      action: def.action || 'account',
      symbol: def.symbol,
      qty: def.qty,
      percentage: def.percentage,
      cancelOrders: def.cancelOrders === true,
    };

    if (!account?.connection) {
      node.status(status.failed('no account configured'));
      node.on('input', (msg: NodeMessageInFlow, _send: Send, done: (err?: Error) => void) => {
        node.error(new Error('no Alpaca account is configured for this node: choose one in its dialog'), msg);
        done();
      });
      return;
    }

    const connection = account.connection;
    const user: ConnectionUser = {
      id: node.id,
      onConnectionStatus: (s) => {
        node.status(connectionStatus(s));
      },
    };
    connection.register(user);

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: (err?: Error) => void) => {
      let resolved;
      try {
        resolved = resolveRequest(settings, msg as unknown as Record<string, unknown>);
      } catch (err) {
        node.status(status.failed((err as Error).message));
        node.error(err, msg);
        done();
        return;
      }
      for (const warning of resolved.warnings) node.warn(warning);
      const request = resolved.request;
      node.status(status.working(`${request.action}…`));
      runRequest(connection, request).then(
        (result) => {
          const out = msg as NodeMessageInFlow & { action?: string };
          out.payload = result;
          out.action = request.action;
          send(out);
          node.status(status.success(describeResult(request, result)));
          done();
        },
        (err: Error) => {
          node.status(status.failed(err.message));
          node.error(err, msg);
          done();
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      node.status({});
      connection.deregister(user).then(done, done);
    });
  }

  RED.nodes.registerType('alpaca-positions', AlpacaPositionsNode);
}
