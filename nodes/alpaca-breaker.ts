// The circuit breaker: the last gate before the order node. The rules are in lib/breaker-rules.ts,
// the shared per-account state machine in lib/breaker-guard.ts; this file adapts them to Node-RED
// (global context as the store, status, the alert output, the dialog's reset button).
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import type { AccountConfigNode } from './alpaca-account';
import { acquireGuard, releaseGuard, BreakerGuard, type ActionsReport, type BreakerRecord, type StateChange, type StateStore } from './lib/breaker/guard';
import { actionsAlert, breakerStatus, stateChangeAlert } from './lib/breaker/alert';
import { parseSettings, readOrderMsg, RESET_CONFIRMATION, type BreakerDef, type BreakerSettings } from './lib/breaker/rules';
import { latestPrice } from './lib/alpaca/latest-price';
import { status } from './lib/node-red/status';

interface BreakerNodeDef extends NodeDef, BreakerDef {
  account: string;
  /** Context store name; empty = the default store. */
  store?: string;
}

interface BreakerNode extends Node {
  breakerGuard?: BreakerGuard;
}

type Send = (msg: Array<NodeMessageInFlow | null>) => void;
type Done = (err?: Error) => void;
type ContextCallback = (err: Error | null | undefined, value?: unknown) => void;
interface GlobalContext {
  get(key: string, store: string | undefined, cb: ContextCallback): void;
  get(key: string, cb: ContextCallback): void;
  set(key: string, value: unknown, store: string | undefined, cb: (err?: Error | null) => void): void;
  set(key: string, value: unknown, cb: (err?: Error | null) => void): void;
}

/** Global-context key of an account's breaker state: one per account config node. */
export function contextKey(accountId: string): string {
  return `alpacaBreaker_${accountId.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

function contextStore(global: GlobalContext, key: string, storeName: string | undefined): StateStore {
  return {
    load: () =>
      new Promise((resolve, reject) => {
        const cb: ContextCallback = (err, value) => (err ? reject(err) : resolve(value));
        if (storeName) global.get(key, storeName, cb);
        else global.get(key, cb);
      }),
    save: (record: BreakerRecord) =>
      new Promise((resolve, reject) => {
        const cb = (err?: Error | null) => (err ? reject(err) : resolve());
        // A copy: the memory store keeps the object itself.
        const value = JSON.parse(JSON.stringify(record)) as unknown;
        if (storeName) global.set(key, value, storeName, cb);
        else global.set(key, value, cb);
      }),
  };
}

/** The module of the context store the state goes to ('memory' when none is configured). */
export function storeModule(contextStorage: unknown, storeName: string | undefined): string {
  if (!contextStorage || typeof contextStorage !== 'object') return 'memory';
  const stores = contextStorage as Record<string, unknown>;
  let name = storeName || 'default';
  let entry = stores[name];
  if (typeof entry === 'string') entry = stores[(name = entry)];
  if (entry === undefined && !storeName) entry = stores[Object.keys(stores)[0]];
  const module = (entry as { module?: unknown } | undefined)?.module;
  return typeof module === 'string' ? module : module ? 'custom' : 'memory';
}

const warnedMemory = new Set<string>();

export default function (RED: NodeAPI): void {
  // A Status node hears only the statuses set after the flows started (Node-RED wires Status nodes
  // up last): every deployed breaker says its state once more then, so a flow can show it.
  const restate = new Set<() => void>();
  RED.events.on('flows:started', () => {
    for (const again of restate) again();
  });

  function AlpacaBreakerNode(this: BreakerNode, def: BreakerNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const name = def.name || 'breaker';
    const account = RED.nodes.getNode(def.account) as AccountConfigNode | null;

    let settings: BreakerSettings | undefined;
    let problem: string | undefined;
    try {
      settings = parseSettings(def);
    } catch (err) {
      problem = `invalid settings: ${(err as Error).message}`;
    }
    if (!account?.connection) problem = 'no Alpaca account is configured for this breaker: choose one in its dialog';

    // Fails closed: a breaker that cannot work blocks every order msg and says why.
    if (problem || !settings || !account) {
      const why = problem as string;
      node.status(status.failed(why));
      node.error(why);
      node.on('input', (msg: NodeMessageInFlow, _send: Send, done: Done) => {
        const read = readOrderMsg(msg as { action?: unknown; payload?: unknown });
        if (read.kind === 'passThrough') {
          _send([msg, null]);
        } else {
          (msg as NodeMessageInFlow & { breaker?: unknown }).breaker = { state: 'HALTED', check: 'config', reason: why };
          node.error(new Error(`order blocked by the circuit breaker: ${why}`), msg);
        }
        done();
      });
      return;
    }

    const accountName = account.name || 'Alpaca account';
    const connection = account.connection;
    const global = node.context().global as unknown as GlobalContext;
    const storeName = def.store?.trim() || undefined;
    const contextStorage = (RED.settings as unknown as { contextStorage?: unknown }).contextStorage;
    if (storeModule(contextStorage, storeName) === 'memory' && !warnedMemory.has(account.id)) {
      warnedMemory.add(account.id);
      node.warn(
        'the breaker state is kept in the memory context store: a halt survives a redeploy but NOT a restart of Node-RED. ' +
          'Add a persistent store to settings.js, e.g. contextStorage: { default: { module: "localfilesystem" } }',
      );
    }

    const guard = acquireGuard(
      account.id,
      () =>
        new BreakerGuard({
          accountId: account.id,
          accountName,
          connection,
          store: contextStore(global, contextKey(account.id), storeName),
          // In simulator mode the rules measure the simulator's time, so a rehearsal at speed 60 runs a 30-minute window in 30 s.
          now: () => connection.sim?.clock.now() ?? Date.now(),
          priceOf: (symbol) => latestPrice(connection, symbol),
        }),
    );
    node.breakerGuard = guard;
    guard.attach({ id: node.id, name, settings });

    const show = (r: BreakerRecord) => node.status(breakerStatus(r));
    show(guard.record);
    void guard.whenLoaded().then(() => show(guard.record));
    const showAgain = () => show(guard.record);
    restate.add(showAgain);

    const onChange = (change: StateChange) => {
      show(change.record);
      const alert = stateChangeAlert(change, accountName, node.id);
      if (change.origin === node.id || change.origin === undefined) {
        const line = `${change.record.state}: ${change.record.reason}`;
        if (change.record.state === 'ACTIVE') node.log(line);
        else node.warn(line);
      }
      node.send([null, alert as unknown as NodeMessageInFlow]);
    };
    const onActions = (report: ActionsReport) => {
      const alert = actionsAlert(report, guard.record, accountName, guard.record.by === name);
      if (report.results.some((a) => !a.ok)) node.warn(alert.payload);
      else node.log(alert.payload);
      node.send([null, alert as unknown as NodeMessageInFlow]);
    };
    const onBlocked = (r: BreakerRecord) => show(r);
    const onWarning = (text: string) => node.warn(text);
    guard.on('change', onChange);
    guard.on('actions', onActions);
    guard.on('blocked', onBlocked);
    guard.on('warning', onWarning);

    const block = (msg: NodeMessageInFlow, state: string, check: string, reason: string) => {
      (msg as NodeMessageInFlow & { breaker?: unknown }).breaker = { state, check, reason };
      guard.noteBlocked();
      node.error(new Error(`order blocked by the circuit breaker (${state}): ${reason}`), msg);
    };

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const m = msg as NodeMessageInFlow & { reset?: unknown; halt?: unknown; action?: unknown };
      if (m.reset !== undefined) {
        if (m.reset !== RESET_CONFIRMATION) {
          node.error(new Error(`reset refused: msg.reset must be exactly "${RESET_CONFIRMATION}" (got ${JSON.stringify(m.reset)})`), msg);
          done();
          return;
        }
        void guard.whenLoaded().then(() => {
          if (!guard.reset(`msg.reset on breaker "${name}"`, node.id)) node.log('reset: the breaker is already ACTIVE');
          done();
        });
        return;
      }
      if (m.halt !== undefined && m.halt !== false) {
        const reason = typeof m.halt === 'string' && m.halt.trim() ? m.halt.trim() : `msg.halt on breaker "${name}"`;
        void guard.whenLoaded().then(() => {
          guard.halt(reason, node.id);
          done();
        });
        return;
      }
      const read = readOrderMsg(m);
      if (read.kind === 'passThrough') {
        send([msg, null]);
        done();
        return;
      }
      if (read.kind === 'unreadable') {
        block(msg, guard.state, 'unreadable', read.reason);
        done();
        return;
      }
      guard.decide(node.id, read.order).then(
        (decision) => {
          if (decision.pass) send([msg, null]);
          else block(msg, decision.state, decision.check, decision.reason);
          done();
        },
        (err: Error) => {
          block(msg, guard.state, 'error', `the breaker could not check the order (${err.message})`);
          done();
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      guard.off('change', onChange);
      guard.off('actions', onActions);
      guard.off('blocked', onBlocked);
      guard.off('warning', onWarning);
      restate.delete(showAgain);
      guard.detach(node.id);
      node.breakerGuard = undefined;
      node.status({});
      releaseGuard(guard).then(done, done);
    });
  }

  RED.nodes.registerType('alpaca-breaker', AlpacaBreakerNode);

  const guardOf = (req: Request, res: Response): { guard: BreakerGuard; node: BreakerNode } | undefined => {
    const node = RED.nodes.getNode(String(req.params.id)) as BreakerNode | null;
    if (!node || !node.breakerGuard) {
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
    if (!node || !node.breakerGuard) {
      res.json({ deployed: false });
      return;
    }
    const found = guardOf(req, res);
    if (!found) return;
    const r = found.guard.record;
    res.json({ ...r, live: found.guard.figures() });
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
      const changed = found.guard.halt(typeof reason === 'string' && reason.trim() ? reason.trim() : `button pressed by ${who(req)}`, found.node.id);
      res.json({ state: found.guard.state, changed });
    });
  });
}
