// Places, cancels and replaces orders through the account's order gateway, exactly once per msg,
// and optionally follows each order to its final state. The work is in lib/orders/; this file
// adapts it to Node-RED.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { accountOf, useConnection } from './lib/node-red/account';
import { connectionStatus, status } from './lib/node-red/status';
import { deriveClientOrderId } from './lib/orders/client-order-id';
import { describeOrder } from './lib/orders/describe';
import { OrderBlocked, type OrderOrigin } from './lib/orders/gateway';
import { resolveOrder, type OrderSettings } from './lib/orders/resolve';
import { OrderFailure, type OrderDetails, type PlacementResult } from './lib/orders/types';
import { OrderWatcher, type FinalState, type OrderWatch } from './lib/orders/wait';

/** An order node as the breaker node sees it: the settings it resolves msgs with. */
export interface OrderNode extends Node {
  orderSettings?: OrderSettings;
}

interface OrderDef extends NodeDef, OrderSettings {
  account: string;
  waitForFinal: boolean;
  /** Seconds to wait for the final state. */
  timeout: string | number;
}

type Msg = NodeMessageInFlow & Record<string, unknown>;
type Send = (msg: Array<NodeMessageInFlow | null>) => void;
type Done = (err?: Error) => void;

const DEFAULT_TIMEOUT_S = 60;

function timeoutMs(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 86_400) * 1000 : DEFAULT_TIMEOUT_S * 1000;
}

function finalText(o: OrderDetails): string {
  if (o.status === 'filled') return `filled ${o.filledQty} ${o.symbol}${o.filledAvgPrice !== null ? ` @ ${o.filledAvgPrice}` : ''}`;
  return `${o.status} ${o.symbol}${o.filledQty > 0 ? ` (${o.filledQty} filled)` : ''}`;
}

export default function (RED: NodeAPI): void {
  function AlpacaOrderNode(this: OrderNode, def: OrderDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settings: OrderSettings = { ...def, action: def.action || 'submit' };
    node.orderSettings = settings;
    const wait = def.waitForFinal === true;
    const waitMs = timeoutMs(def.timeout);
    const account = accountOf(RED, node, def.account);
    if (!account) return;

    const connection = account.connection;
    const orders = connection.orders;
    const origin: OrderOrigin = { nodeId: node.id, name: `order node "${def.name || node.id}"` };
    useConnection(node, connection, (s) => node.status(connectionStatus(s)));
    // Subscribing now opens the shared trade-updates stream before the first order goes out.
    const watcher = wait ? new OrderWatcher(connection.tradeUpdates) : undefined;
    watcher?.start();
    let closed = false;

    const fail = (err: Error, msg: Msg, done: Done) => {
      if (closed) return done();
      if (err instanceof OrderBlocked) {
        msg.breaker = { state: err.state, check: err.check, reason: err.message };
      }
      if (err instanceof OrderFailure) {
        msg.outcome = err.outcome;
        msg.attempts = err.attempts;
        if (err.clientOrderId) msg.clientOrderId = err.clientOrderId;
        if (err.kind === 'rate_limit') {
          msg.rateLimit = { retryAfterMs: err.retryAfterMs ?? null, resetAt: err.resetAt !== undefined ? new Date(err.resetAt).toISOString() : null };
        }
      }
      node.status(status.failed(err.message));
      node.error(err, msg);
      done();
    };

    /** Output 1 now; with "wait for final state", output 2 (filled) or 3 (anything else) later. */
    const accepted = (result: PlacementResult, msg: Msg, send: Send, done: Done, watch: OrderWatch | undefined) => {
      if (closed) {
        watch?.end();
        return done();
      }
      msg.payload = result.order;
      msg.alpaca = result.raw;
      msg.outcome = result.outcome;
      msg.reconciled = result.reconciled;
      msg.clientOrderId = result.clientOrderId;
      msg.attempts = result.attempts;
      if (result.outcome === 'duplicate') {
        node.warn(`order ${result.clientOrderId} was already placed by an earlier delivery of this msg (status ${result.order.status}): not placed again`);
      } else if (result.reconciled) {
        node.warn(`order ${result.clientOrderId}: the broker's answer was lost, but the order was found by its client order id: placed once`);
      }
      const later = watch ? RED.util.cloneMessage(msg) : undefined;
      send([msg, null, null]);
      const label = `${result.outcome === 'duplicate' ? 'already placed' : 'placed'} ${describeOrder(result.order)}`;
      if (!watch || !later) {
        node.status(status.success(label));
        return done();
      }
      node.status(status.working(`${label} · waiting`));
      watch.wait(result, waitMs, (id) => orders.fetch({ orderId: id })).then(
        (final: FinalState) => {
          if (closed) return done();
          later.payload = final.order;
          later.alpaca = final.raw;
          later.final = final.final;
          later.timedOut = final.timedOut;
          later.event = final.lastUpdate ?? null;
          const filled = final.order.status === 'filled';
          if (filled) node.status(status.success(finalText(final.order)));
          else if (final.order.status === 'rejected') node.status(status.failed(finalText(final.order)));
          else node.status(status.idle(final.timedOut ? `timed out: ${finalText(final.order)}` : finalText(final.order)));
          send(filled ? [null, later, null] : [null, null, later]);
          done();
        },
        (err: Error) => fail(err, later, done),
      );
    };

    node.on('input', (input: NodeMessageInFlow, send: Send, done: Done) => {
      const msg = input as Msg;
      let resolution;
      try {
        resolution = resolveOrder(settings, msg);
      } catch (err) {
        return fail(err as Error, msg, done);
      }
      for (const warning of resolution.warnings) node.warn(warning);
      const r = resolution.resolved;
      msg.action = r.action;

      switch (r.action) {
        case 'submit': {
          const clientOrderId = r.clientOrderId ?? deriveClientOrderId(node.id, msg._msgid, r.order);
          node.status(status.working(`sending ${describeOrder(r.order)}…`));
          const watch = watcher?.watch(clientOrderId);
          orders.submit(r.order, clientOrderId, origin).then(
            (result) => accepted(result, msg, send, done, watch),
            (err: Error) => {
              watch?.end();
              fail(err, msg, done);
            },
          );
          return;
        }
        case 'replace': {
          const clientOrderId = r.clientOrderId ?? deriveClientOrderId(node.id, msg._msgid, { replace: r.ref, changes: r.changes });
          node.status(status.working('replacing…'));
          const watch = watcher?.watch(clientOrderId);
          orders.replace(r.ref, r.changes, clientOrderId, origin).then(
            (result) => {
              msg.replaces = result.order.replaces;
              accepted(result, msg, send, done, watch);
            },
            (err: Error) => {
              watch?.end();
              fail(err, msg, done);
            },
          );
          return;
        }
        case 'cancel': {
          node.status(status.working('canceling…'));
          orders.cancel(r.ref, origin).then(
            (result) => {
              if (closed) return done();
              msg.payload = result.order ?? { id: result.orderId, status: 'pending_cancel' };
              msg.alpaca = result.raw ?? null;
              msg.outcome = result.canceledNow ? 'canceled' : 'already_canceled';
              msg.attempts = result.attempts;
              if (!result.canceledNow) node.warn(`order ${result.orderId} was already canceled`);
              node.status(status.success(`canceled ${result.order?.symbol ?? result.orderId}`));
              send([msg, null, null]);
              done();
            },
            (err: Error) => fail(err, msg, done),
          );
          return;
        }
        case 'cancelAll': {
          node.status(status.working('canceling all orders…'));
          orders.cancelAll(origin).then(
            (results) => {
              if (closed) return done();
              msg.payload = results;
              msg.outcome = 'canceled';
              const failed = results.filter((x) => !x.ok).length;
              node.status(status.success(`canceled ${results.length - failed} orders${failed ? `, ${failed} failed` : ''}`));
              send([msg, null, null]);
              done();
            },
            (err: Error) => fail(err, msg, done),
          );
          return;
        }
      }
    });

    node.on('close', () => {
      closed = true;
      watcher?.close();
      node.status({});
      node.orderSettings = undefined;
    });
  }

  RED.nodes.registerType('alpaca-order', AlpacaOrderNode);
}
