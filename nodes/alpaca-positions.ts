// Account, positions, open orders and the market clock through the shared connection; closes a
// position or all of them through the account's order gateway. The work is in
// lib/positions/request.ts; this file adapts it to Node-RED.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { accountOf, useConnection } from './lib/node-red/account';
import { connectionStatus, status } from './lib/node-red/status';
import { OrderBlocked } from './lib/orders/gateway';
import { describeResult, resolveRequest, runRequest, type PositionsSettings } from './lib/positions/request';

interface PositionsDef extends NodeDef, Omit<PositionsSettings, 'cancelOrders'> {
  account: string;
  cancelOrders: boolean;
}

type Send = (msg: NodeMessageInFlow | NodeMessageInFlow[]) => void;

export default function (RED: NodeAPI): void {
  function AlpacaPositionsNode(this: Node, def: PositionsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settings: PositionsSettings = {
      action: def.action || 'account',
      symbol: def.symbol,
      qty: def.qty,
      percentage: def.percentage,
      cancelOrders: def.cancelOrders === true,
    };

    const account = accountOf(RED, node, def.account);
    if (!account) return;
    const connection = account.connection;
    const origin = { nodeId: node.id, name: `positions node "${def.name || node.id}"` };
    useConnection(node, connection, (s) => node.status(connectionStatus(s)));

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
      runRequest(connection, request, origin).then(
        (result) => {
          const out = msg as NodeMessageInFlow & { action?: string };
          out.payload = result;
          out.action = request.action;
          send(out);
          node.status(status.success(describeResult(request, result)));
          done();
        },
        (err: Error) => {
          if (err instanceof OrderBlocked) (msg as NodeMessageInFlow & { breaker?: unknown }).breaker = { state: err.state, check: err.check, reason: err.message };
          node.status(status.failed(err.message));
          node.error(err, msg);
          done();
        },
      );
    });

    node.on('close', () => node.status({}));
  }

  RED.nodes.registerType('alpaca-positions', AlpacaPositionsNode);
}
