// The health of one account, for an uptime monitor: can it trade right now, and if only in part,
// why. Plain data in, a verdict out, as JSON or in Prometheus' text format. No Node-RED here.
import type { BudgetState } from '../budget/types';
import type { ConnectionStatus, TradingMode } from '../core/broker';
import type { StreamStatus } from '../streams/events';

/** What is known of an account right now (each part from where it lives). */
export interface HealthInput {
  account: string;
  mode: TradingMode;
  connection: ConnectionStatus;
  /** The account's shared streams that are open: trading, stocks, crypto, ... */
  streams: Record<string, StreamStatus>;
  budgets: Record<string, BudgetState>;
  /** The breaker's state, and how it keeps the equity current ("marked to market at 14:03:05"). */
  breaker?: { state: string; reason: string; since: string; markedToMarketAt?: string; marking?: string };
  lastOrderAt?: string;
  lastFillAt?: string;
  /** Orders the journal has not settled yet (after a restart: still being looked up). */
  journalBacklog?: number;
  /** REST requests spent recovering what was missed, by stream and by the order journal. */
  recoveryRequests?: Record<string, number>;
  now: number;
}

/** ok: trading as configured; degraded: trading, with something to look at; down: no order can go out. */
export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface AccountHealth {
  account: string;
  mode: TradingMode;
  status: HealthStatus;
  tradingPossible: boolean;
  /** Why the status is not ok, one line each. */
  reasons: string[];
  connection: { state: string; text: string; since: string };
  streams: Record<string, { state: string; text: string; since: string }>;
  budgets: Record<string, { limit: number; windowMs: number; tokens: number; queued: number; running: number; pausedUntil?: string; store: string; storeOk: boolean }>;
  breaker?: HealthInput['breaker'];
  lastOrderAt?: string;
  lastFillAt?: string;
  journalBacklog?: number;
  recoveryRequests?: Record<string, number>;
  checkedAt: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const CONNECTION_DOWN: ReadonlySet<string> = new Set(['idle', 'connecting', 'reconnecting', 'auth_failed', 'refused', 'closed']);

export function assess(h: HealthInput): AccountHealth {
  const down: string[] = [];
  const degraded: string[] = [];
  if (CONNECTION_DOWN.has(h.connection.state)) down.push(`connection ${h.connection.state}: ${h.connection.reason ?? h.connection.text}`);
  if (h.breaker?.state === 'HALTED') down.push(`circuit breaker HALTED: ${h.breaker.reason}`);
  if (h.breaker?.state === 'REDUCING') degraded.push(`circuit breaker REDUCING: ${h.breaker.reason}`);
  for (const [kind, s] of Object.entries(h.streams)) if (s.state !== 'connected') degraded.push(`${kind} stream ${s.state}: ${s.text}`);
  for (const [api, b] of Object.entries(h.budgets)) {
    if (!b.storeOk) degraded.push(`${api} budget: shared store unreachable, trading on a local share`);
    if (b.pausedUntil && b.pausedUntil > h.now) degraded.push(`${api} budget paused until ${iso(b.pausedUntil)} (rate limited)`);
  }
  if (h.journalBacklog) degraded.push(`${h.journalBacklog} orders not settled yet after a restart`);
  const status: HealthStatus = down.length ? 'down' : degraded.length ? 'degraded' : 'ok';
  const budgets: AccountHealth['budgets'] = {};
  for (const [api, b] of Object.entries(h.budgets)) {
    budgets[api] = {
      limit: b.limit,
      windowMs: b.windowMs,
      tokens: Math.max(0, b.tokens),
      queued: b.queued,
      running: b.running,
      pausedUntil: b.pausedUntil && b.pausedUntil > h.now ? iso(b.pausedUntil) : undefined,
      store: b.store,
      storeOk: b.storeOk,
    };
  }
  const streams: AccountHealth['streams'] = {};
  for (const [kind, s] of Object.entries(h.streams)) streams[kind] = { state: s.state, text: s.text, since: iso(s.since) };
  return {
    account: h.account,
    mode: h.mode,
    status,
    tradingPossible: status !== 'down',
    reasons: [...down, ...degraded],
    connection: { state: h.connection.state, text: h.connection.text, since: iso(h.connection.since) },
    streams,
    budgets,
    breaker: h.breaker,
    lastOrderAt: h.lastOrderAt,
    lastFillAt: h.lastFillAt,
    journalBacklog: h.journalBacklog,
    recoveryRequests: h.recoveryRequests,
    checkedAt: iso(h.now),
  };
}

/** The worst of several statuses (all accounts together). */
export function worst(list: AccountHealth[]): HealthStatus {
  return list.some((h) => h.status === 'down') ? 'down' : list.some((h) => h.status === 'degraded') ? 'degraded' : 'ok';
}

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const seconds = (at: string | undefined): number | undefined => (at ? Date.parse(at) / 1000 : undefined);

/** Prometheus' text exposition format (version 0.0.4), one family per figure. */
export function prometheus(list: AccountHealth[]): string {
  const families = new Map<string, { help: string; type: 'gauge' | 'counter'; samples: string[] }>();
  const add = (name: string, help: string, labels: Record<string, string>, value: number | undefined, type: 'gauge' | 'counter' = 'gauge') => {
    if (value === undefined || !Number.isFinite(value)) return;
    const family = families.get(name) ?? { help, type, samples: [] };
    families.set(name, family);
    const text = Object.entries(labels)
      .map(([k, v]) => `${k}="${label(v)}"`)
      .join(',');
    family.samples.push(`${name}{${text}} ${value}`);
  };
  for (const h of list) {
    const a = { account: h.account, mode: h.mode };
    add('alpaca_trading_up', '1 when an order can go out on the account now', a, h.tradingPossible ? 1 : 0);
    add('alpaca_health_status', 'The account health: 0 down, 1 degraded, 2 ok', a, h.status === 'ok' ? 2 : h.status === 'degraded' ? 1 : 0);
    add('alpaca_connection_up', '1 while the REST connection is connected', a, h.connection.state === 'connected' ? 1 : 0);
    for (const [kind, s] of Object.entries(h.streams)) add('alpaca_stream_up', '1 while the stream is connected', { ...a, stream: kind }, s.state === 'connected' ? 1 : 0);
    if (h.breaker) {
      for (const state of ['ACTIVE', 'REDUCING', 'HALTED']) add('alpaca_breaker_state', 'The circuit breaker state (1 for the current one)', { ...a, state }, h.breaker.state === state ? 1 : 0);
    }
    for (const [api, b] of Object.entries(h.budgets)) {
      const l = { ...a, api };
      add('alpaca_budget_tokens', 'Requests the budget may still send now', l, b.tokens);
      add('alpaca_budget_limit', 'Requests allowed per window', l, b.limit);
      add('alpaca_budget_queued', 'Requests waiting for the budget', l, b.queued);
      add('alpaca_budget_paused', '1 while the broker asked to wait (429)', l, b.pausedUntil ? 1 : 0);
      add('alpaca_budget_store_up', '1 while the shared store (Redis) is reachable, or the budget is local', l, b.storeOk ? 1 : 0);
    }
    add('alpaca_last_order_timestamp_seconds', 'When the last order went out (Unix time)', a, seconds(h.lastOrderAt));
    add('alpaca_last_fill_timestamp_seconds', 'When the last fill arrived (Unix time)', a, seconds(h.lastFillAt));
    add('alpaca_journal_backlog', 'Orders not settled yet after a restart', a, h.journalBacklog);
    for (const [source, n] of Object.entries(h.recoveryRequests ?? {})) {
      add('alpaca_recovery_requests_total', 'REST requests spent recovering what a stream or a restart missed', { ...a, source }, n, 'counter');
    }
  }
  const lines: string[] = [];
  for (const [name, f] of families) lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.samples);
  return `${lines.join('\n')}\n`;
}
