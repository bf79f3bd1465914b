// Places, cancels and replaces orders through the account's order gateway: one order per msg,
// exactly once per idempotency key; optionally follows each order to its final state; reports
// what an earlier run (or this node before a redeploy) left unreported, marked recovered. The
// work is in lib/orders/; this file adapts it to Node-RED.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { accountOf, useConnection } from './lib/node-red/account';
import { connectionStatus, status } from './lib/node-red/status';
import { keyedClientOrderId, newClientOrderId } from './lib/orders/client-order-id';
import { describeOrder } from './lib/orders/describe';
import { OrderBlocked, type JournalTicket } from './lib/orders/gateway';
import type { OrderReport } from './lib/orders/recovery';
import { isKeyPath, resolveKey, resolveMaxWaitMs, resolveOrder, type OrderSettings } from './lib/orders/resolve';
import { OrderFailure, type OrderDetails, type OrderOrigin, type PlacementResult } from './lib/orders/types';
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

const noop = (): void => undefined;

/** What the journal keeps of a msg to report on it after a restart: no payload (it may hold a secret). */
function journalEcho(msg: Msg, key?: { property: string; key: string }): Record<string, unknown> {
  return {
    _msgid: typeof msg._msgid === 'string' ? msg._msgid : undefined,
    topic: typeof msg.topic === 'string' ? msg.topic.slice(0, 200) : undefined,
    ...(key ? { keyProperty: key.property, key: key.key } : {}),
  };
}

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

    /** The outcome is out (an output or an error): the journal entry is done. */
    const reported = (ticket?: JournalTicket) => {
      if (ticket) orders.reported(ticket);
    };

    const fail = (err: Error, msg: Msg, done: Done, ticket?: JournalTicket) => {
      if (closed) {
        if (ticket) orders.handOver(ticket, { error: err });
        return done();
      }
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
      reported(ticket);
      done();
    };

    /** Output 1 now; with "wait for final state", output 2 (filled) or 3 (anything else) later. */
    const accepted = (result: PlacementResult, msg: Msg, send: Send, done: Done, watch: OrderWatch | undefined, ticket?: JournalTicket) => {
      if (closed) {
        watch?.end();
        if (ticket) orders.handOver(ticket, { result });
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
      reported(ticket);
      const label = `${result.outcome === 'duplicate' ? 'already placed' : 'placed'} ${describeOrder(result.order)}`;
      if (!watch || !later) {
        node.status(status.success(label));
        return done();
      }
      node.status(status.working(`${label} · waiting`));
      watch.wait(result, waitMs, (id) => orders.fetch({ orderId: id }, later.attempts as PlacementResult['attempts'])).then(
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

    /** A request of an earlier run (or of this node before a redeploy), settled: reported once, marked recovered. */
    const recovered = (report: OrderReport) => {
      const { entry } = report;
      const echo = entry.msg ?? {};
      const msg: Msg = { _msgid: typeof echo._msgid === 'string' ? echo._msgid : RED.util.generateId() } as Msg;
      if (typeof echo.topic === 'string') msg.topic = echo.topic;
      // The journal file is read back from disk: only a plain property path is followed.
      if (typeof echo.keyProperty === 'string' && isKeyPath(echo.keyProperty) && typeof echo.key === 'string') RED.util.setMessageProperty(msg, echo.keyProperty, echo.key, true);
      msg.action = entry.action;
      msg.recovered = true;
      msg.recoveredFrom = report.cause;
      msg.outcome = report.outcome;
      msg.attempts = report.attempts;
      msg.detail = report.detail;
      if (entry.action === 'submit' || entry.action === 'replace') msg.clientOrderId = entry.id;
      const found = report.found;
      if (report.outcome === 'canceled') {
        msg.payload = found?.order ?? entry.ref ?? null;
        msg.alpaca = found?.raw ?? null;
        node.status(status.success(`canceled ${found?.order.symbol ?? ''}`));
        sendLater([msg, null, null]);
        orders.settledReport(report);
        return;
      }
      if (found && report.outcome === 'placed') {
        node.warn(`recovered after a ${report.cause}: ${report.detail}`);
        const result: PlacementResult = { ...found, outcome: 'placed', reconciled: false, clientOrderId: entry.id, attempts: report.attempts };
        accepted(result, msg, sendLater, noop, watcher?.watch(entry.id));
        orders.settledReport(report);
        return;
      }
      msg.payload = found?.order ?? entry.order ?? entry.ref ?? null;
      node.status(status.failed(report.detail));
      node.error(new Error(`recovered after a ${report.cause}: ${report.detail}`), msg);
      orders.settledReport(report);
    };
    const sendLater: Send = (msgs) => node.send(msgs);
    const unclaim = orders.reports.claim(node.id, recovered);

    node.on('input', (input: NodeMessageInFlow, send: Send, done: Done) => {
      const msg = input as Msg;
      let resolution;
      try {
        resolution = resolveOrder(settings, msg);
      } catch (err) {
        return fail(err as Error, msg, done);
      }
      const r = resolution.resolved;
      let key: ReturnType<typeof resolveKey>;
      let maxWaitMs: number | undefined;
      try {
        key = r.action === 'submit' || r.action === 'replace' ? resolveKey(settings, msg) : undefined;
        maxWaitMs = resolveMaxWaitMs(settings, msg, resolution.warnings);
      } catch (err) {
        return fail(err as Error, msg, done);
      }
      for (const warning of resolution.warnings) node.warn(warning);
      msg.action = r.action;
      const ticket: JournalTicket = {};
      const options = { maxWaitMs, msg: journalEcho(msg, key), ticket };
      const clientOrderIdOf = (given: string | undefined, action: 'submit' | 'replace') => {
        if (key && given && given !== keyedClientOrderId(node.id, action, key.key)) node.warn(`msg.payload's client order id ignored: the node's idempotency key (msg.${key.property}) decides it`);
        return key ? keyedClientOrderId(node.id, action, key.key) : (given ?? newClientOrderId());
      };

      switch (r.action) {
        case 'submit': {
          const clientOrderId = clientOrderIdOf(r.clientOrderId, 'submit');
          node.status(status.working(`sending ${describeOrder(r.order)}…`));
          const watch = watcher?.watch(clientOrderId);
          orders.submit(r.order, clientOrderId, origin, options).then(
            (result) => accepted(result, msg, send, done, watch, ticket),
            (err: Error) => {
              watch?.end();
              fail(err, msg, done, ticket);
            },
          );
          return;
        }
        case 'replace': {
          const clientOrderId = clientOrderIdOf(r.clientOrderId, 'replace');
          node.status(status.working('replacing…'));
          const watch = watcher?.watch(clientOrderId);
          orders.replace(r.ref, r.changes, clientOrderId, origin, options).then(
            (result) => {
              msg.replaces = result.order.replaces;
              accepted(result, msg, send, done, watch, ticket);
            },
            (err: Error) => {
              watch?.end();
              fail(err, msg, done, ticket);
            },
          );
          return;
        }
        case 'cancel': {
          node.status(status.working('canceling…'));
          orders.cancel(r.ref, origin, options).then(
            (result) => {
              if (closed) {
                orders.handOver(ticket, { result });
                return done();
              }
              msg.payload = result.order ?? { id: result.orderId, status: 'pending_cancel' };
              msg.alpaca = result.raw ?? null;
              msg.outcome = result.canceledNow ? 'canceled' : 'already_canceled';
              msg.attempts = result.attempts;
              if (!result.canceledNow) node.warn(`order ${result.orderId} was already canceled`);
              node.status(status.success(`canceled ${result.order?.symbol ?? result.orderId}`));
              send([msg, null, null]);
              reported(ticket);
              done();
            },
            (err: Error) => fail(err, msg, done, ticket),
          );
          return;
        }
        case 'cancelAll': {
          node.status(status.working('canceling all orders…'));
          orders.cancelAll(origin, options).then(
            (results) => {
              if (closed) {
                orders.handOver(ticket, {});
                return done();
              }
              msg.payload = results;
              msg.outcome = 'canceled';
              const failed = results.filter((x) => !x.ok).length;
              node.status(status.success(`canceled ${results.length - failed} orders${failed ? `, ${failed} failed` : ''}`));
              send([msg, null, null]);
              reported(ticket);
              done();
            },
            (err: Error) => fail(err, msg, done, ticket),
          );
          return;
        }
      }
    });

    node.on('close', () => {
      closed = true;
      unclaim();
      watcher?.close();
      node.status({});
      node.orderSettings = undefined;
    });
  }

  RED.nodes.registerType('alpaca-order', AlpacaOrderNode);
}
