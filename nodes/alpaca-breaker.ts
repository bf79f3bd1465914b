// The circuit breaker: where a person sees the account's breaker state, resets it, halts it and
// gets its alerts, and an explicit gate in the flow. The state binds EVERY order of the account
// in its order gateway (lib/orders/gateway.ts), wired behind this node or not; as a gate this
// node asks the same gateway about the order the next order node would send, resolved with that
// node's own settings, so the two never disagree. Rules: lib/breaker/; this file adapts them.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import type { OrderNode } from './alpaca-order';
import { BreakerGuard, type ActionsReport, type StateChange } from './lib/breaker/guard';
import { actionsAlert, stateChangeAlert } from './lib/breaker/alert';
import type { BreakerRecord } from './lib/breaker/record';
import { parseSettings, RESET_CONFIRMATION, type BreakerDef, type BreakerSettings } from './lib/breaker/settings';
import { own, refuseForbiddenFields, show } from './lib/core/values';
import { accountOf, type AccountConfigNode } from './lib/node-red/account';
import { breakerContextKey, contextStore, storeModule, type GlobalContext } from './lib/node-red/context';
import { Listeners } from './lib/node-red/listeners';
import { breakerStatus } from './lib/node-red/status';
import type { OrderGateway, PolicyVerdict } from './lib/orders/gateway';
import { resolveOrder, type OrderSettings } from './lib/orders/resolve';
import { ORDER_ACTIONS, type OrderChange, type OrderOrigin, type ResolvedAction } from './lib/orders/types';

interface BreakerNodeDef extends NodeDef, BreakerDef {
  account: string;
  /** Context store name; empty = the default store. */
  store?: string;
  wires?: string[][];
}

interface BreakerNode extends Node {
  breakerGuard?: BreakerGuard;
}

type Msg = NodeMessageInFlow & { breaker?: unknown; topic?: unknown };
type Send = (msg: Array<NodeMessageInFlow | null>) => void;
type Done = (err?: Error) => void;

/** How a msg is read when no order node follows the breaker: the msg alone decides (msg.topic names the action, else submit). */
function msgOnlySettings(msg: Msg): OrderSettings {
  return { action: typeof msg.topic === 'string' && (ORDER_ACTIONS as readonly string[]).includes(msg.topic) ? 'msg' : 'submit' };
}

/** The change a resolved msg asks for (the client order id does not matter to a check). */
function changeOf(r: ResolvedAction): OrderChange {
  switch (r.action) {
    case 'submit':
      return { action: 'submit', order: r.order, clientOrderId: r.clientOrderId ?? '' };
    case 'replace':
      return { action: 'replace', ref: r.ref, changes: r.changes, clientOrderId: r.clientOrderId ?? '' };
    case 'cancel':
      return { action: 'cancel', ref: r.ref };
    case 'cancelAll':
      return { action: 'cancelAll' };
  }
}

/**
 * Reads `msg` as each order node wired after the breaker would (or by the msg alone) and asks the
 * gateway about every resulting change; the first refusal wins. A msg no order node could read is
 * refused too: the breaker does not pass what it cannot check.
 */
async function decide(gateway: OrderGateway, settingsList: OrderSettings[], msg: Msg, origin: OrderOrigin): Promise<PolicyVerdict> {
  for (const settings of settingsList) {
    let resolved: ResolvedAction;
    try {
      resolved = resolveOrder(settings, msg).resolved;
    } catch (err) {
      return { pass: false, check: 'unreadable', reason: `the msg is not an order the order node would send: ${(err as Error).message}` };
    }
    const verdict = await gateway.check(changeOf(resolved), origin);
    if (!verdict.pass) return verdict;
  }
  return { pass: true };
}

/** The module's flows:started listener per runtime: registered again (test harnesses do), it replaces its own. */
const startListeners = new WeakMap<object, () => void>();

export default function (RED: NodeAPI): void {
  // A Status node hears only the statuses set after the flows started (Node-RED wires Status nodes
  // up last): every deployed breaker says its state once more then, so a flow can show it.
  const restate = new Set<() => void>();
  const onStarted = () => {
    for (const again of restate) again();
  };
  const previous = startListeners.get(RED.events);
  if (previous) RED.events.off('flows:started', previous);
  RED.events.on('flows:started', onStarted);
  startListeners.set(RED.events, onStarted);
  const warnedMemory = new Set<string>();

  function AlpacaBreakerNode(this: BreakerNode, def: BreakerNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const name = def.name || 'breaker';
    const origin: OrderOrigin = { nodeId: node.id, name: `breaker node "${name}"` };

    let parsed: BreakerSettings | undefined;
    let problem: string | undefined;
    try {
      parsed = parseSettings(def);
    } catch (err) {
      problem = `invalid settings: ${(err as Error).message}`;
    }

    const block = (msg: Msg, state: string | undefined, check: string, reason: string) => {
      msg.breaker = { state, check, reason };
      node.error(new Error(`order blocked by the circuit breaker${state ? ` (${state})` : ''}: ${reason}`), msg);
    };

    // Fails closed: a breaker that cannot work passes only cancels and says why.
    const account = accountOf(RED, node, def.account, problem, (msg, send, done, why) => {
      let resolved: ResolvedAction | undefined;
      try {
        resolved = resolveOrder(msgOnlySettings(msg as Msg), msg as Msg).resolved;
      } catch {
        resolved = undefined;
      }
      if (resolved?.action === 'cancel' || resolved?.action === 'cancelAll') send(msg);
      else block(msg as Msg, 'HALTED', 'config', why);
      done();
    });
    if (!account || !parsed) return;
    const settings = parsed;

    const accountName = account.name || 'Alpaca account';
    const connection = account.connection;
    const storeName = def.store?.trim() || undefined;
    const contextStorage = (RED.settings as unknown as { contextStorage?: unknown }).contextStorage;
    if (storeModule(contextStorage, storeName) === 'memory' && !warnedMemory.has(account.id)) {
      warnedMemory.add(account.id);
      node.warn(
        'the breaker state is kept in the memory context store: a halt survives a redeploy but NOT a restart of Node-RED. ' +
          'Add a persistent store to settings.js, e.g. contextStorage: { default: { module: "localfilesystem" } }',
      );
    }

    const guard = (account as AccountConfigNode).breakers.acquire(
      () =>
        new BreakerGuard({
          accountName,
          connection,
          store: contextStore(node.context().global as unknown as GlobalContext, breakerContextKey(account.id), storeName),
          // In simulator mode the rules measure the simulator's time, so a rehearsal at speed 60 runs a 30-minute window in 30 s.
          now: () => connection.now(),
        }),
    );
    node.breakerGuard = guard;
    guard.attach({ id: node.id, name, settings });

    const display = (r: BreakerRecord) => node.status(breakerStatus(r, guard.markingStatus));
    display(guard.record);
    void guard.whenLoaded().then(() => display(guard.record));
    const showAgain = () => display(guard.record);
    restate.add(showAgain);

    const listeners = new Listeners();
    listeners.on(guard, 'change', (change: StateChange) => {
      display(change.record);
      const alert = stateChangeAlert(change, accountName, node.id);
      if (change.origin === node.id || change.origin === undefined) {
        const line = `${change.record.state}: ${change.record.reason}`;
        if (change.record.state === 'ACTIVE') node.log(line);
        else node.warn(line);
      }
      node.send([null, alert as unknown as NodeMessageInFlow]);
    });
    listeners.on(guard, 'actions', (report: ActionsReport) => {
      const alert = actionsAlert(report, guard.record, accountName, guard.record.by === name);
      if (report.results.some((a) => !a.ok)) node.warn(alert.payload);
      else node.log(alert.payload);
      node.send([null, alert as unknown as NodeMessageInFlow]);
    });
    listeners.on(guard, 'blocked', (r: BreakerRecord) => display(r));
    listeners.on(guard, 'marking', () => display(guard.record));
    listeners.on(guard, 'warning', (text: string) => node.warn(text));

    /** The settings of the order nodes wired to output 1 (looked up per msg: they may start after this node). */
    const downstream = (msg: Msg): OrderSettings[] => {
      const list: OrderSettings[] = [];
      for (const id of def.wires?.[0] ?? []) {
        const next = RED.nodes.getNode(id) as OrderNode | null;
        if (next?.type === 'alpaca-order' && next.orderSettings) list.push(next.orderSettings);
      }
      return list.length ? list : [msgOnlySettings(msg)];
    };

    node.on('input', (input: NodeMessageInFlow, send: Send, done: Done) => {
      const msg = input as Msg;
      try {
        // Read through a prototype, a "__proto__" key in JSON could reset the breaker.
        refuseForbiddenFields(msg, ['reset', 'halt']);
      } catch (err) {
        node.error(err, msg);
        return done();
      }
      const reset = own(msg, 'reset');
      const halt = own(msg, 'halt');
      if (reset !== undefined) {
        if (reset !== RESET_CONFIRMATION) {
          node.error(new Error(`reset refused: msg.reset must be exactly "${RESET_CONFIRMATION}" (got ${show(reset)})`), msg);
          return done();
        }
        void guard.whenLoaded().then(() => {
          if (!guard.reset(`msg.reset on breaker "${name}"`, node.id)) node.log('reset: the breaker is already ACTIVE');
          done();
        });
        return;
      }
      if (halt !== undefined && halt !== false) {
        const reason = typeof halt === 'string' && halt.trim() ? halt.trim().slice(0, 200) : `msg.halt on breaker "${name}"`;
        void guard.whenLoaded().then(() => {
          guard.halt(reason, node.id);
          done();
        });
        return;
      }
      decide(connection.orders, downstream(msg), msg, origin).then(
        (verdict) => {
          if (verdict.pass) send([msg, null]);
          else block(msg, verdict.state ?? guard.state, verdict.check, verdict.reason);
          done();
        },
        (err: Error) => {
          block(msg, guard.state, 'error', `the breaker could not check the order (${err.message})`);
          done();
        },
      );
    });

    node.on('close', (removed: boolean, done: () => void) => {
      listeners.removeAll();
      restate.delete(showAgain);
      guard.detach(node.id);
      node.breakerGuard = undefined;
      node.status({});
      (account as AccountConfigNode).breakers.release(guard, removed).then(done, done);
    });
  }

  RED.nodes.registerType('alpaca-breaker', AlpacaBreakerNode);

  const guardOf = (req: Request, res: Response): { guard: BreakerGuard; node: BreakerNode } | undefined => {
    const node = RED.nodes.getNode(String(req.params.id)) as BreakerNode | null;
    if (!node || node.type !== 'alpaca-breaker' || !node.breakerGuard) {
      res.status(404).json({ error: 'this breaker is not deployed (deploy it first)' });
      return undefined;
    }
    return { guard: node.breakerGuard, node };
  };
  const who = (req: Request): string => {
    const user = (req as Request & { user?: { username?: string } }).user;
    return user?.username ? `${user.username} in the editor` : 'the editor';
  };

  // The dialog's state panel.
  RED.httpAdmin.get('/alpaca-breaker/:id/state', RED.auth.needsPermission('alpaca-breaker.read'), (req: Request, res: Response) => {
    // A dialog opened before the first deploy asks too: that is an answer, not an error.
    const node = RED.nodes.getNode(String(req.params.id)) as BreakerNode | null;
    if (!node || node.type !== 'alpaca-breaker' || !node.breakerGuard) {
      res.json({ deployed: false });
      return;
    }
    res.json({ ...node.breakerGuard.record, live: node.breakerGuard.figures() });
  });

  // The dialog's Reset button: manual only, with the same confirmation text as msg.reset.
  RED.httpAdmin.post('/alpaca-breaker/:id/reset', RED.auth.needsPermission('alpaca-breaker.write'), (req: Request, res: Response) => {
    const found = guardOf(req, res);
    if (!found) return;
    const confirm = (req.body as { confirm?: unknown } | undefined)?.confirm;
    if (confirm !== RESET_CONFIRMATION) {
      res.status(400).json({ error: `the reset needs the confirmation "${RESET_CONFIRMATION}"` });
      return;
    }
    void found.guard.whenLoaded().then(() => {
      const changed = found.guard.reset(who(req), found.node.id);
      res.json({ state: found.guard.state, changed });
    });
  });

  // The dialog's Halt button: a kill switch.
  RED.httpAdmin.post('/alpaca-breaker/:id/halt', RED.auth.needsPermission('alpaca-breaker.write'), (req: Request, res: Response) => {
    const found = guardOf(req, res);
    if (!found) return;
    const reason = (req.body as { reason?: unknown } | undefined)?.reason;
    void found.guard.whenLoaded().then(() => {
      const changed = found.guard.halt(typeof reason === 'string' && reason.trim() ? reason.trim().slice(0, 200) : `button pressed by ${who(req)}`, found.node.id);
      res.json({ state: found.guard.state, changed });
    });
  });
}
