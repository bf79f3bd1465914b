// Config node: credentials, mode (sim / paper / live) and data feed. It owns the ONE connection
// that every node using this account shares, and the account's one circuit breaker.
import path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { BreakerHolder } from './lib/breaker/holder';
import { DATA_PLAN_BUDGETS, sharedBudgetKey, type BudgetOptions, type SharedStoreOptions } from './lib/budget/settings';
import type { BudgetShape } from './lib/budget/types';
import type { TradingMode } from './lib/core/broker';
import { AlpacaConnection, type AlpacaConnectionOptions } from './lib/alpaca/connection';
import { endpointHost, isLoopback, normaliseEndpoint, type StockFeed } from './lib/alpaca/client';
import type { OrderTuning } from './lib/alpaca/orders';
import { planConnectionTest, requestRefusal, testConnection } from './lib/alpaca/test-connection';
import { fileSafe } from './lib/core/journal-file';
import { show } from './lib/core/values';
import type { AccountConfigNode } from './lib/node-red/account';
import type { OrderReport } from './lib/orders/recovery';
import { Listeners } from './lib/node-red/listeners';
import type { SimulatorOptions } from './lib/sim/simulator';

export interface AccountDef extends NodeDef {
  mode: TradingMode;
  feed: StockFeed;
  endpoint: string;
  /** The endpoint origin "Send my API keys to <host>" was ticked for. */
  endpointAck?: string;
  liveAck: boolean;
  /** Trading API budget: requests per window (default 180 per 60 s) and shape (default a sliding window). */
  budgetLimit?: number | string;
  budgetWindow?: number | string;
  budgetShape?: BudgetShape;
  /** Market-data budget: Alpaca's plan ('basic' 180 per 60 s, 'sip' 9,000 per 60 s) or 'custom'. */
  dataBudget?: 'basic' | 'sip' | 'custom';
  dataBudgetLimit?: number | string;
  dataBudgetWindow?: number | string;
  /** Both budgets shared through Redis with the instances expected to share them (default 2). */
  budgetShared?: boolean;
  budgetKey?: string;
  budgetInstances?: number | string;
  /** Built-in simulator: '' (settings.js, else the NYSE calendar), 'nyse' or 'always' (stocks never close). */
  simHours?: string;
  /** Built-in simulator: '' (settings.js, else basic), 'basic' or 'sip'. */
  simDataPlan?: string;
}

export interface AccountCredentials {
  keyId?: string;
  secret?: string;
  /** redis://[:password@]host:port/db of a shared request budget. */
  redisUrl?: string;
}

const FEEDS: StockFeed[] = ['iex', 'sip', 'delayed_sip'];

/** A deployed account: its settings and keys, which Test connection may reuse only as they are. */
interface DeployedAccount extends AccountConfigNode {
  deployedSettings: AlpacaConnectionOptions;
}

/** The log line naming where the keys of a started account go, when not to Alpaca nor the built-in simulator. */
function destinationNote(options: AlpacaConnectionOptions): { warn: boolean; text: string } | undefined {
  const endpoint = normaliseEndpoint(options.endpoint);
  if (!endpoint) return undefined;
  const local = isLoopback(endpoint);
  return { warn: !local, text: `sends its API keys${options.mode === 'sim' ? '' : ' and orders'} to ${endpointHost(endpoint)} (Endpoint${local ? ', this machine' : ''}), not to Alpaca` };
}

export function connectionOptions(def: Partial<AccountDef>, credentials: AccountCredentials, sim?: SimulatorOptions, orders?: OrderTuning): AlpacaConnectionOptions {
  return {
    orders,
    mode: def.mode ?? 'sim',
    feed: FEEDS.includes(def.feed as StockFeed) ? (def.feed as StockFeed) : 'iex',
    endpoint: def.endpoint ?? '',
    endpointAcknowledged: def.endpointAck,
    liveAcknowledged: def.liveAck === true,
    keyId: credentials.keyId?.trim() || undefined,
    secret: credentials.secret || undefined,
    sim: simulatorOptions(def, sim),
    budgetOptions: budgetOptions(def, credentials),
    dataBudgetOptions: dataBudgetOptions(def, credentials),
  };
}

/** The built-in simulator's settings: settings.js `alpacaSimulator`, with the dialog's market hours and data plan on top. */
function simulatorOptions(def: Partial<AccountDef>, sim: SimulatorOptions | undefined): SimulatorOptions {
  return {
    ...sim,
    ...(def.simHours === 'nyse' || def.simHours === 'always' ? { marketHours: def.simHours } : {}),
    ...(def.simDataPlan === 'basic' || def.simDataPlan === 'sip' ? { dataPlan: def.simDataPlan } : {}),
  };
}

/** A number field of the dialog; undefined when left empty (the default applies). */
function field(v: number | string | undefined): number | undefined {
  return v === undefined || v === '' ? undefined : Number(v);
}

/** Where both budgets are shared, when the dialog says so (a malformed URL is refused by the connection, never ignored). */
function sharedStore(def: Partial<AccountDef>, credentials: AccountCredentials, suffix: string): SharedStoreOptions | undefined {
  if (!def.budgetShared) return undefined;
  const key = def.budgetKey?.trim() || sharedBudgetKey(credentials.keyId, def.mode ?? 'sim');
  return { url: credentials.redisUrl?.trim() ?? '', key: key + suffix, instances: field(def.budgetInstances) };
}

/** The trading API's budget as the dialog asks for it; the connection checks it. */
export function budgetOptions(def: Partial<AccountDef>, credentials: AccountCredentials): BudgetOptions {
  const windowS = field(def.budgetWindow);
  return {
    limit: field(def.budgetLimit),
    windowMs: windowS === undefined ? undefined : windowS * 1000,
    shape: def.budgetShape === 'bucket' ? 'bucket' : 'window',
    redis: sharedStore(def, credentials, ''),
  };
}

/** The market-data budget: the Alpaca plan's limit less a buffer, or the dialog's own numbers. */
export function dataBudgetOptions(def: Partial<AccountDef>, credentials: AccountCredentials): BudgetOptions {
  const redis = sharedStore(def, credentials, ':data');
  if (def.dataBudget === 'custom') {
    const windowS = field(def.dataBudgetWindow);
    return { limit: field(def.dataBudgetLimit), windowMs: windowS === undefined ? undefined : windowS * 1000, shape: 'window', redis };
  }
  return { limit: DATA_PLAN_BUDGETS[def.dataBudget === 'sip' ? 'sip' : 'basic'], windowMs: 60_000, shape: 'window', redis };
}

/** The names of the enabled breaker nodes of the deployed flows that use `accountId`. */
function breakersOf(RED: NodeAPI, accountId: string): string[] {
  const all = new Map<string, Record<string, unknown>>();
  RED.nodes.eachNode((n) => all.set(n.id, n as unknown as Record<string, unknown>));
  const names: string[] = [];
  for (const n of all.values()) {
    if (n.type !== 'alpaca-breaker' || n.account !== accountId || n.d === true) continue;
    if (typeof n.z === 'string' && all.get(n.z)?.disabled === true) continue;
    names.push(typeof n.name === 'string' && n.name ? n.name : 'breaker');
  }
  return names;
}

export default function (RED: NodeAPI): void {
  // settings.js may tune the built-in simulator: alpacaSimulator: { seed, speed, tickMs, startingCash, marketHours, dataPlan, startAt }
  const simSettings = (): SimulatorOptions | undefined => (RED.settings as unknown as { alpacaSimulator?: SimulatorOptions }).alpacaSimulator;
  // settings.js may tune how orders are settled after a doubtful answer: alpacaOrders: { lookupDelaysMs, rateLimitRetryMs, journalDays }
  const orderTuning = (): (OrderTuning & { journalDays?: number }) | undefined => (RED.settings as unknown as { alpacaOrders?: OrderTuning }).alpacaOrders;
  /** The account's order journal in the user directory; none for the built-in simulator (it forgets its orders at a restart). */
  const journalFile = (def: AccountDef, id: string): string | undefined => {
    const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
    if (!userDir || (def.mode === 'sim' && !def.endpoint?.trim())) return undefined;
    return path.join(userDir, 'alpaca-journal', `account-${fileSafe(id)}.jsonl`);
  };

  function AlpacaAccountNode(this: DeployedAccount & { credentials?: AccountCredentials }, def: AccountDef): void {
    RED.nodes.createNode(this, def);
    this.mode = def.mode ?? 'sim';
    const tuning = orderTuning();
    const journal = { file: journalFile(def, this.id), retentionDays: tuning?.journalDays };
    const options = { ...connectionOptions(def, this.credentials ?? {}, simSettings(), tuning), journal };
    const connection = new AlpacaConnection(options);
    this.connection = connection;
    this.deployedSettings = options;
    this.breakers = new BreakerHolder(connection.orders);
    const label = `Alpaca account "${def.name || this.id}"`;
    const stopRecovery = watchRecovery.call(this, connection, label);
    // A breaker in the flows binds every order of this account from the first msg on: until it
    // has started (and loaded its stored state), orders wait for it.
    const breakers = breakersOf(RED, this.id);
    if (breakers.length) this.breakers.expect(`circuit breaker "${breakers[0]}"`);
    const problem = connection.status.state === 'refused' ? connection.status.reason : undefined;
    if (problem) this.error(`${label}: ${problem}`);
    else {
      if (this.mode === 'live') this.warn(`${label} trades LIVE: real money`);
      const destination = destinationNote(options);
      if (destination?.warn) this.warn(`${label} ${destination.text}`);
      else if (destination) this.log(`${label} ${destination.text}`);
    }

    // A shared budget running on its local share says so (the nodes' statuses show it too).
    const budgetListeners = new Listeners();
    for (const [what, budget] of [['request budget', connection.budget], ['market-data budget', connection.dataBudget]] as const) {
      budgetListeners.on(budget, 'store', (e: { ok: boolean; problem?: string; share?: number }) => {
        if (e.ok) this.log(`${label}: ${what} shared through Redis again`);
        else this.warn(`${label}: ${what}: ${e.problem}; each instance now allows itself ${e.share} requests per window until Redis is back`);
      });
    }

    this.on('close', (_removed: boolean, done: () => void) => {
      budgetListeners.removeAll();
      stopRecovery();
      connection.close().then(done, done);
    });
  }

  /**
   * The order journal's glue: its problems as warnings, the reports of an earlier run handed to the
   * nodes once the flows run (a warning when the node is gone). Returns what close must undo.
   */
  function watchRecovery(this: AccountConfigNode, connection: AlpacaConnection, label: string): () => void {
    const orders = connection.orders;
    if (orders.journal.loadProblem) this.warn(`${label}: order journal: ${orders.journal.loadProblem}`);
    const onProblem = (message: string) => this.warn(`${label}: ${message}`);
    const onOrphan = (report: OrderReport) => {
      const why = report.entry.nodeId === undefined ? '' : ` (reported here: the node that sent it, ${report.entry.origin}, no longer exists)`;
      this.warn(`${label}: ${report.detail}${why}`);
      orders.settledReport(report);
    };
    const onStarted = () => orders.reports.start();
    const onStopping = () => orders.reports.stop();
    orders.journal.on('problem', onProblem);
    orders.on('recovery-problem', onProblem);
    orders.reports.on('orphan', onOrphan);
    RED.events.on('flows:started', onStarted);
    RED.events.on('flows:stopping', onStopping);
    void orders.recover();
    return () => {
      RED.events.off('flows:started', onStarted);
      RED.events.off('flows:stopping', onStopping);
      orders.close();
      orders.journal.off('problem', onProblem);
      orders.off('recovery-problem', onProblem);
      orders.reports.off('orphan', onOrphan);
    };
  }

  RED.nodes.registerType<AccountConfigNode, AccountDef, {}, AccountCredentials>('alpaca-account', AlpacaAccountNode as never, {
    credentials: {
      keyId: { type: 'text' },
      secret: { type: 'password' },
      redisUrl: { type: 'password' },
    },
  });

  // The dialog's "Test connection" button: the settings on screen, with the keys typed in or, for
  // the deployed node's own settings only, its stored ones. The secret never travels back.
  RED.httpAdmin.post('/alpaca-account/test', RED.auth.needsPermission('alpaca-account.write'), (req: Request, res: Response) => {
    // audit() sets the level itself; the typings do not know its free-form fields.
    const audit = (outcome: Record<string, unknown>) => RED.log.audit({ event: 'alpaca-account.test', ...outcome } as never, req);
    const refusal = requestRefusal({
      isJson: Boolean(req.is('application/json')),
      origin: req.get('origin'),
      host: req.get('host'),
      fetchSite: req.get('sec-fetch-site'),
    });
    if (refusal) {
      audit({ ok: false, error: refusal.error });
      res.status(refusal.status).json({ ok: false, error: refusal.error });
      return;
    }
    const body: unknown = req.body;
    const id = body && typeof body === 'object' ? (body as { id?: unknown }).id : undefined;
    let deployed: DeployedAccount | undefined;
    if (id !== undefined && id !== '') {
      const node = typeof id === 'string' ? (RED.nodes.getNode(id) as DeployedAccount | null) : null;
      if (typeof id !== 'string' || (node && node.type !== 'alpaca-account')) {
        const error = `${show(id)} is not the id of an Alpaca account`;
        audit({ ok: false, error });
        res.status(400).json({ ok: false, error });
        return;
      }
      deployed = node ?? undefined;
    }
    const plan = planConnectionTest(body, deployed?.deployedSettings, simSettings());
    if ('error' in plan) {
      audit({ node: deployed?.id, ok: false, error: plan.error });
      res.json({ ok: false, error: plan.error, kind: 'refused' });
      return;
    }
    const { options, storedSecret } = plan;
    testConnection(options).then(
      (result) => {
        audit({ node: deployed?.id, mode: options.mode, target: result.target, storedSecret, ok: result.ok, kind: result.kind });
        res.json(result);
      },
      (err: Error) => {
        audit({ node: deployed?.id, mode: options.mode, storedSecret, ok: false });
        res.json({ ok: false, mode: options.mode, error: err.message });
      },
    );
  });
}
