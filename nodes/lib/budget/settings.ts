// A budget's settings: defaults, checks (a malformed setting is refused, never silently replaced)
// and the shared name of an account's budget.
import { createHash } from 'node:crypto';
import { maskUrl } from '../core/urls';
import type { BudgetShape } from './types';

export interface SharedStoreOptions {
  /** redis[s]://[[user]:password@]host[:port][/db] */
  url: string;
  /** Every budget with the same url and key is one budget. */
  key: string;
  /** Node-RED instances expected to share it (default 2): while Redis is unreachable each allows itself limit / instances. */
  instances?: number;
  /** Requests per window while Redis is unreachable (default limit / instances). */
  share?: number;
}

export interface BudgetOptions {
  /** Requests per window (default 180: a buffer under Alpaca's 200 a minute). */
  limit?: number;
  /** Window length in ms (default 60 000). */
  windowMs?: number;
  /** 'window' (default): never more than `limit` in any window. 'bucket': a burst of `limit`, refilled continuously. */
  shape?: BudgetShape;
  /** Tokens kept for panic actions: only they may take the last `panicReserve` (default 0). */
  panicReserve?: number;
  /** Calls under way at once (default 10; 0 = no cap). Requests made with a ticket do not count. */
  maxConcurrent?: number;
  /** Calls allowed to wait; beyond it the least important waiting call is dropped (default 1000). */
  maxQueued?: number;
  /** Longest wait of a scheduled call before it is refused unsent (default 5 minutes; 0 = no limit). */
  maxWaitMs?: number;
  /** How often a call answered 429 is retried after the pause (default 3). A 429 means "not done". */
  max429Retries?: number;
  /** How long a ticket waits for its msg's request before it goes back (default 2000 ms). */
  ticketTtlMs?: number;
  /** Pause after a 429 without Retry-After or X-RateLimit-Reset (default 1000 ms). */
  defaultPauseMs?: number;
  /** Longest single pause honoured, against nonsense headers (default 5 minutes). */
  maxPauseMs?: number;
  /** Shares the budget through Redis. */
  redis?: SharedStoreOptions;
  /** Shown in messages and status. */
  name?: string;
}

export const DEFAULT_BUDGET = { limit: 180, windowMs: 60_000 } as const;

/** Alpaca's market-data plans: Basic allows 200 a minute, Algo Trader Plus 10,000; 90 % of it used. */
export const DATA_PLAN_BUDGETS = { basic: 180, sip: 9000 } as const;

/** Tokens an account's trading budget keeps for panic actions: 5 % of the limit, at least 2. */
export function defaultPanicReserve(limit: number): number {
  return Math.max(0, Math.min(limit - 1, Math.max(2, Math.ceil(limit / 20))));
}

/**
 * The margin added to a window: a request reaches the broker a little after its grant, and a slow
 * one may arrive after a later fast one.
 */
export function windowMargin(windowMs: number): number {
  return Math.min(1000, Math.round(windowMs * 0.02));
}

const REDIS_QUERY = new Set(['password', 'username', 'db', 'family']);

/** What is wrong with a Redis URL, or undefined. Never echoes a secret. */
export function redisUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the Redis URL is not a URL (expected e.g. redis://127.0.0.1:6379)';
  }
  const shown = maskUrl(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `the Redis URL ${shown} must start with redis:// or rediss://`;
  if (!u.hostname) return `the Redis URL ${shown} names no host`;
  if (u.pathname && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) return `the Redis URL ${shown}: the path must be a database number (e.g. /0)`;
  for (const name of u.searchParams.keys()) {
    if (!REDIS_QUERY.has(name)) return `the Redis URL ${shown}: unknown parameter "${name.slice(0, 40)}" (allowed: ${[...REDIS_QUERY].join(', ')})`;
  }
  if (u.hash) return `the Redis URL ${shown} must not have a #fragment`;
  return undefined;
}

/** Validates budget settings; returns what is wrong or undefined. */
export function budgetProblem(o: BudgetOptions): string | undefined {
  const limit = o.limit ?? DEFAULT_BUDGET.limit;
  const windowMs = o.windowMs ?? DEFAULT_BUDGET.windowMs;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) return `requests per window must be a whole number from 1 to 1000000 (got ${limit})`;
  if (!Number.isFinite(windowMs) || windowMs < 10 || windowMs > 86_400_000) return `the window must be from 0.01 s to 24 h (got ${windowMs} ms)`;
  if (o.shape !== undefined && o.shape !== 'bucket' && o.shape !== 'window') return 'shape must be "window" or "bucket"';
  if (o.panicReserve !== undefined && (!Number.isInteger(o.panicReserve) || o.panicReserve < 0 || o.panicReserve >= limit)) {
    return `the panic reserve must be a whole number from 0 to ${limit - 1}`;
  }
  if (o.redis) {
    if (!o.redis.url) return 'sharing the budget needs a Redis URL';
    const urlProblem = redisUrlProblem(o.redis.url);
    if (urlProblem) return urlProblem;
    if (!o.redis.key) return 'a shared budget needs a key name';
    const { instances, share } = o.redis;
    if (instances !== undefined && (!Number.isInteger(instances) || instances < 1 || instances > 1000)) return 'expected instances must be a whole number from 1 to 1000';
    if (share !== undefined && (!Number.isInteger(share) || share < 1 || share > limit)) return `the local share must be a whole number from 1 to ${limit}`;
  }
  return undefined;
}

/** A stable name for an account's shared budget that does not reveal the key id. */
export function sharedBudgetKey(keyId: string | undefined, mode: string): string {
  return `account:${mode}:${createHash('sha256').update(keyId || 'simulator').digest('hex').slice(0, 16)}`;
}
