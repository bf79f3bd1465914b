// Config node: credentials, mode (sim / paper / live) and data feed. It owns the ONE connection
// that every node using this account shares, and the account's one circuit breaker.
import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { BreakerHolder } from './lib/breaker/holder';
import { DATA_PLAN_BUDGETS, sharedBudgetKey, type BudgetOptions, type SharedStoreOptions } from './lib/budget/settings';
import type { BudgetShape } from './lib/budget/types';
import type { TradingMode } from './lib/core/broker';
import { AlpacaConnection, configProblem, type AlpacaConnectionOptions } from './lib/alpaca/connection';
import type { StockFeed } from './lib/alpaca/client';
import type { OrderTuning } from './lib/alpaca/orders';
import { testConnection } from './lib/alpaca/test-connection';
import type { AccountConfigNode } from './lib/node-red/account';
import { Listeners } from './lib/node-red/listeners';
import type { SimulatorOptions } from './lib/sim/simulator';

export interface AccountDef extends NodeDef {
  mode: TradingMode;
  feed: StockFeed;
  endpoint: string;
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

export function connectionOptions(def: Partial<AccountDef>, credentials: AccountCredentials, sim?: SimulatorOptions, orders?: OrderTuning): AlpacaConnectionOptions {
  return {
    orders,
    mode: def.mode ?? 'sim',
    feed: FEEDS.includes(def.feed as StockFeed) ? (def.feed as StockFeed) : 'iex',
    endpoint: def.endpoint ?? '',
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
  // settings.js may tune how orders are settled after a doubtful answer: alpacaOrders: { lookupDelaysMs, rateLimitRetryMs }
  const orderTuning = (): OrderTuning | undefined => (RED.settings as unknown as { alpacaOrders?: OrderTuning }).alpacaOrders;

  function AlpacaAccountNode(this: AccountConfigNode & { credentials?: AccountCredentials }, def: AccountDef): void {
    RED.nodes.createNode(this, def);
    this.mode = def.mode ?? 'sim';
    const connection = new AlpacaConnection(connectionOptions(def, this.credentials ?? {}, simSettings(), orderTuning()));
    this.connection = connection;
    this.breakers = new BreakerHolder(connection.orders);
    const label = `Alpaca account "${def.name || this.id}"`;
    // A breaker in the flows binds every order of this account from the first msg on: until it
    // has started (and loaded its stored state), orders wait for it.
    const breakers = breakersOf(RED, this.id);
    if (breakers.length) this.breakers.expect(`circuit breaker "${breakers[0]}"`);
    const problem = connection.status.state === 'refused' ? connection.status.reason : undefined;
    if (problem) this.error(`${label}: ${problem}`);
    else if (this.mode === 'live') this.warn(`${label} trades LIVE: real money`);
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
      connection.close().then(done, done);
    });
  }

  RED.nodes.registerType<AccountConfigNode, AccountDef, {}, AccountCredentials>('alpaca-account', AlpacaAccountNode as never, {
    credentials: {
      keyId: { type: 'text' },
      secret: { type: 'password' },
      redisUrl: { type: 'password' },
    },
  });

  // The dialog's "Test connection" button. Unsaved keys come in the body; otherwise the stored
  // ones of that node are used. The secret never travels back.
  RED.httpAdmin.post('/alpaca-account/test', RED.auth.needsPermission('alpaca-account.write'), (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Partial<AccountDef> & AccountCredentials & { id?: string };
    const stored: AccountCredentials = (body.id && (RED.nodes.getCredentials(body.id) as AccountCredentials)) || {};
    const credentials: AccountCredentials = {
      keyId: body.keyId || stored.keyId,
      // The editor sends "__PWRD__" for a password it has but does not show.
      secret: body.secret && body.secret !== '__PWRD__' ? body.secret : stored.secret,
    };
    const options = connectionOptions(body, credentials, simSettings());
    const problem = configProblem({ ...options, liveAcknowledged: true });
    if (problem) {
      res.json({ ok: false, mode: options.mode, error: problem, kind: 'refused' });
      return;
    }
    testConnection(options).then(
      (result) => res.json(result),
      (err: Error) => res.json({ ok: false, mode: options.mode, error: err.message }),
    );
  });
}
