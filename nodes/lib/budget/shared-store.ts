// A budget shared by several Node-RED instances through Redis: small Lua scripts on ioredis, run
// atomically on Redis's own clock. Sliding window: a sorted set of grant times (an exact log,
// no burst at a window's edge); token bucket: a hash of tokens and time. A pause (429) is a key
// with a time to live that every instance's next acquire sees. An epoch key tells when Redis
// lost the budget (restarted empty, flushed): the first to notice starts a new epoch and a short
// grace in which nobody is granted, every instance puts its own recent grants back (seed), and
// counting goes on; nothing ever waits for a key that is gone. ioredis is loaded only when a
// budget is shared.
import { EventEmitter } from 'node:events';
import type IORedisModule from 'ioredis';
import type { Redis as IORedis, RedisOptions } from 'ioredis';
import { maskUrl, maskUrlIn } from '../core/urls';
import type { BudgetShape } from './types';

/** Prefix of every key; the rest is the budget's shared name. */
const PREFIX = 'tradeflow:budget:';

/** After Redis lost the budget: time for every instance to put its grants back before anyone is granted. */
const GRACE_MS = 1500;
/** How often an instance with grants in the window checks that Redis still has them. */
const VERIFY_MS = 250;
/** Longest wait for a first answer from Redis before the budget runs on its local share. */
const JOIN_TIMEOUT_MS = 5000;

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS[2] pause, KEYS[3] epoch, KEYS[4] grace; ARGV[1] the caller's epoch, ARGV[2] a new one,
 * ARGV[3] grace ms. Replies {2, wait, -1, 0, epoch} when the caller must seed first.
 */
const GUARD = `local epoch = redis.call('GET', KEYS[3])
if not epoch then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('SET', KEYS[4], '1', 'PX', tonumber(ARGV[3]))
  return {2, tonumber(ARGV[3]), -1, 0, ARGV[2]}
end
if epoch ~= ARGV[1] then return {2, 0, -1, 0, epoch} end
local grace = redis.call('PTTL', KEYS[4])
if grace > 0 then return {0, grace, -1, 0, ''} end
local pttl = redis.call('PTTL', KEYS[2])
if pttl > 0 then return {0, pttl, -1, pttl, redis.call('GET', KEYS[2]) or ''} end`;

/** KEYS log, pause, epoch, grace; ARGV guard (3), span, limit, keep, member. Returns {ok, waitMs, count, pausedMs, reason}. */
const ACQUIRE_WINDOW = `${NOW}
${GUARD}
local span = tonumber(ARGV[4])
local allowed = tonumber(ARGV[5]) - tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local count = redis.call('ZCARD', KEYS[1])
if count < allowed then
  redis.call('ZADD', KEYS[1], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[1], span * 2)
  return {1, 0, count + 1, 0, ''}
end
if allowed <= 0 then return {0, span, count, 0, ''} end
local e = redis.call('ZRANGE', KEYS[1], count - allowed, count - allowed, 'WITHSCORES')
local wait = math.max(1, math.ceil(tonumber(e[2]) + span - now))
return {0, wait, count, 0, ''}`;

/** KEYS bucket, pause, epoch, grace; ARGV guard (3), limit, windowMs, keep, tokens for a missing bucket. */
const ACQUIRE_BUCKET = `${NOW}
${GUARD}
local limit = tonumber(ARGV[4])
local rate = limit / tonumber(ARGV[5])
local keep = tonumber(ARGV[6])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = tonumber(ARGV[7]); ts = now end
if now > ts then tokens = math.min(limit, tokens + (now - ts) * rate); ts = now end
local ok = 0
local wait = 0
if tokens >= 1 + keep then tokens = tokens - 1; ok = 1
else wait = math.max(1, math.ceil((1 + keep - tokens) / rate + (ts - now))) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[5]) * 2))
return {ok, wait, math.floor(limit - tokens), 0, ''}`;

/**
 * KEYS log, pause; ARGV span, limit, pauseMs, prefix, reason. The broker is full (429): every
 * instance pauses; then one token at the end of the pause (the promised retry) and the rest at
 * the steady rate, as entries that leave evenly over the span after it.
 */
const SATURATE_WINDOW = `${NOW}
local span = tonumber(ARGV[1])
local pauseMs = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[2]) < pauseMs then redis.call('SET', KEYS[2], ARGV[5], 'PX', pauseMs) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local n = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
if n <= 0 then return 0 end
local from = now + pauseMs - span / n
for i = 1, n do redis.call('ZADD', KEYS[1], from - span + i * span / n, ARGV[4] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], span * 2 + pauseMs)
return n`;

/** KEYS bucket, pause; ARGV limit, windowMs, pauseMs, reason: as above, for a bucket (one token at the end of the pause, then the refill). */
const SATURATE_BUCKET = `${NOW}
local pauseMs = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[2]) < pauseMs then redis.call('SET', KEYS[2], ARGV[4], 'PX', pauseMs) end
local ts = math.max(tonumber(redis.call('HGET', KEYS[1], 'ts')) or now, now + pauseMs)
redis.call('HSET', KEYS[1], 'tokens', '1', 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 2 + pauseMs))
return 1`;

/**
 * KEYS log; ARGV span, limit, remaining, prefix: when the broker says fewer are left than the
 * shared log, counts the difference as others' grants, leaving evenly over the next span.
 * Returns {counted, left before}.
 */
const LOWER_WINDOW = `${NOW}
local span = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local left = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local n = left - tonumber(ARGV[3])
if n <= 0 then return {0, left} end
for i = 1, n do redis.call('ZADD', KEYS[1], now - span + i * span / n, ARGV[4] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], span * 2)
return {n, left}`;

/** KEYS bucket; ARGV limit, windowMs, remaining: the bucket never holds more than the broker says are left. */
const LOWER_BUCKET = `${NOW}
local limit = tonumber(ARGV[1])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then return {0, limit} end
if now > ts then tokens = math.min(limit, tokens + (now - ts) * limit / tonumber(ARGV[2])); ts = now end
local left = math.floor(tokens)
local n = left - tonumber(ARGV[3])
if n <= 0 then return {0, left} end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - n), 'ts', tostring(ts))
return {n, left}`;

/** KEYS log; ARGV span, then member, ageMs pairs: puts an instance's own recent grants back. */
const SEED_WINDOW = `${NOW}
local span = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[1], 'NX', now - tonumber(ARGV[i + 1]), ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
if #ARGV > 1 then redis.call('PEXPIRE', KEYS[1], span * 2) end
return redis.call('ZCARD', KEYS[1])`;

/** KEYS epoch, grace; ARGV a new epoch, grace ms: the store's epoch, begun (with a grace) if Redis had none. */
const JOIN = `if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], '1', 'PX', tonumber(ARGV[2]))
  return ARGV[1]
end
return redis.call('GET', KEYS[1])`;

/** KEYS bucket; ARGV limit: a token that was never used goes back. */
const RELEASE_BUCKET = `local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens ~= nil then redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[1]), tokens + 1))) end
return 1`;

type Reply = [number, number, number, number, string];
type Guard = [pause: string, epoch: string, grace: string, known: string, fresh: string, graceMs: number];

interface Scripts {
  budgetAcquireWindow(log: string, ...args: [...Guard, span: number, limit: number, keep: number, member: string]): Promise<Reply>;
  budgetAcquireBucket(bucket: string, ...args: [...Guard, limit: number, windowMs: number, keep: number, init: number]): Promise<Reply>;
  budgetSaturateWindow(log: string, pause: string, span: number, limit: number, pauseMs: number, prefix: string, reason: string): Promise<number>;
  budgetSaturateBucket(bucket: string, pause: string, limit: number, windowMs: number, pauseMs: number, reason: string): Promise<number>;
  budgetSeedWindow(log: string, span: number, ...pairs: Array<string | number>): Promise<number>;
  budgetReleaseBucket(bucket: string, limit: number): Promise<number>;
  budgetJoin(epoch: string, grace: string, fresh: string, graceMs: number): Promise<string>;
  budgetLowerWindow(log: string, span: number, limit: number, remaining: number, prefix: string): Promise<[number, number]>;
  budgetLowerBucket(bucket: string, limit: number, windowMs: number, remaining: number): Promise<[number, number]>;
}

export interface Acquired {
  ok: boolean;
  /** When not granted: how long until a token could be free, or a pause or grace ends. */
  waitMs: number;
  /** Tokens in use in the shared budget after this call (-1 when not counted: paused, grace, lost). */
  count: number;
  /** Time left of a pause another instance set, and why. */
  pausedMs: number;
  pauseReason: string;
}

export interface SharedStoreSettings {
  url: string;
  key: string;
  shape: BudgetShape;
  limit: number;
  windowMs: number;
  /** The sliding window's span (window plus margin). */
  spanMs: number;
  /** This instance's grants still in the window: put back into a store that lost them. */
  ownGrants: () => Array<{ tag: string; ageMs: number }>;
}

/**
 * 'connecting' (never reached yet), 'up', 'down' (unreachable or refusing: the budget runs on its
 * local share until 'up' again). Emits 'up', 'down' ({ problem }), 'problem' ({ message }).
 */
export type StoreCondition = 'connecting' | 'up' | 'down';

export class SharedStore extends EventEmitter {
  condition: StoreCondition = 'connecting';
  problem?: string;
  private client?: IORedis & Scripts;
  private readonly shown: string;
  private readonly keys: { log: string; bucket: string; pause: string; epoch: string; grace: string };
  /** The epoch this instance's grants were last put into. */
  private epoch = '';
  private recheckTimer?: NodeJS.Timeout;
  private verifyTimer?: NodeJS.Timeout;
  private joinTimer?: NodeJS.Timeout;
  private closed = false;
  private seq = 0;
  /** Names this instance's epochs and others' grants it counts apart from every other instance's. */
  private readonly instance = Math.random().toString(36).slice(2, 10);

  constructor(private readonly settings: SharedStoreSettings) {
    super();
    this.shown = maskUrl(settings.url);
    // One hash slot for all of a budget's keys, so its scripts also run on a Redis Cluster.
    const base = `${PREFIX}{${settings.key}}`;
    this.keys = { log: `${base}:log`, bucket: `${base}:bucket`, pause: `${base}:pause`, epoch: `${base}:epoch`, grace: `${base}:grace` };
  }

  get ready(): boolean {
    return this.condition === 'up';
  }

  /** Connects (ioredis retries for ever; every failure is an event, never a throw). */
  open(): void {
    // Loaded here so that ioredis is required only by a shared budget.
    const Redis = (require('ioredis') as { default: typeof IORedisModule }).default;
    const options: RedisOptions = {
      // Commands fail at once while disconnected: the budget falls back instead of waiting.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 3000,
      // A server that accepts but never answers is as good as down.
      commandTimeout: 2000,
      // Back within a second of Redis: inside the grace of a Redis that restarted empty.
      retryStrategy: (times: number) => Math.min(250 * times, 1000),
    };
    const client = new Redis(this.settings.url, options) as IORedis & Scripts;
    client.defineCommand('budgetAcquireWindow', { numberOfKeys: 4, lua: ACQUIRE_WINDOW });
    client.defineCommand('budgetAcquireBucket', { numberOfKeys: 4, lua: ACQUIRE_BUCKET });
    client.defineCommand('budgetSaturateWindow', { numberOfKeys: 2, lua: SATURATE_WINDOW });
    client.defineCommand('budgetSaturateBucket', { numberOfKeys: 2, lua: SATURATE_BUCKET });
    client.defineCommand('budgetSeedWindow', { numberOfKeys: 1, lua: SEED_WINDOW });
    client.defineCommand('budgetReleaseBucket', { numberOfKeys: 1, lua: RELEASE_BUCKET });
    client.defineCommand('budgetJoin', { numberOfKeys: 2, lua: JOIN });
    client.defineCommand('budgetLowerWindow', { numberOfKeys: 1, lua: LOWER_WINDOW });
    client.defineCommand('budgetLowerBucket', { numberOfKeys: 1, lua: LOWER_BUCKET });
    client.on('ready', () => this.join());
    client.on('error', (err: Error) => this.down(err.message));
    client.on('close', () => this.down('connection closed'));
    this.client = client;
    this.joinTimer = setTimeout(() => {
      if (this.condition === 'connecting') this.down(`no answer within ${JOIN_TIMEOUT_MS / 1000} s`);
    }, JOIN_TIMEOUT_MS);
    this.joinTimer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.recheckTimer);
    clearTimeout(this.verifyTimer);
    clearTimeout(this.joinTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners();
      // A late error of the closing socket must not become an unhandled 'error' event.
      client.on('error', () => undefined);
      client.disconnect();
    }
  }

  /** Asks for one token named `member` (unique to this instance's grant). */
  async acquire(keep: number, ownInWindow: number, member: string): Promise<Acquired> {
    const c = this.usable();
    const { shape, limit, windowMs, spanMs } = this.settings;
    const guard: Guard = [this.keys.pause, this.keys.epoch, this.keys.grace, this.epoch, `${this.instance}-${Date.now()}`, GRACE_MS];
    const r =
      shape === 'window'
        ? await c.budgetAcquireWindow(this.keys.log, ...guard, spanMs, limit, keep, member)
        : await c.budgetAcquireBucket(this.keys.bucket, ...guard, limit, windowMs, keep, Math.max(0, limit - ownInWindow));
    if (r[0] === 2) {
      // Redis lost the budget (or this instance joined a new epoch): ours go back before anything else.
      await this.seed(String(r[4]));
      return { ok: false, waitMs: Number(r[1]), count: -1, pausedMs: 0, pauseReason: '' };
    }
    this.verifySoon();
    return { ok: r[0] === 1, waitMs: Number(r[1]), count: Number(r[2]), pausedMs: Number(r[3]), pauseReason: String(r[4] ?? '') };
  }

  /** Gives back a grant whose request was never sent. */
  async release(member: string): Promise<void> {
    const c = this.usable();
    if (this.settings.shape === 'window') await c.zrem(this.keys.log, member);
    else await c.budgetReleaseBucket(this.keys.bucket, this.settings.limit);
  }

  /** The broker said it is full (429): every instance pauses for `pauseMs`, then one token, then the steady rate. */
  async saturate(pauseMs: number, reason: string): Promise<void> {
    const c = this.usable();
    const { limit, windowMs, spanMs } = this.settings;
    const ms = Math.round(pauseMs);
    if (this.settings.shape === 'window') await c.budgetSaturateWindow(this.keys.log, this.keys.pause, spanMs, limit, ms, `${this.instance}:x${this.seq++}`, reason);
    else await c.budgetSaturateBucket(this.keys.bucket, this.keys.pause, limit, windowMs, ms, reason);
  }

  /**
   * The broker says `remaining` are left: if the shared budget thinks more are, the difference
   * (another program on the key) counts as used. Compared in Redis, with every instance's grants.
   */
  async lower(remaining: number): Promise<{ counted: number; left: number }> {
    const c = this.usable();
    const { limit, windowMs, spanMs } = this.settings;
    const r =
      this.settings.shape === 'window'
        ? await c.budgetLowerWindow(this.keys.log, spanMs, limit, remaining, `${this.instance}:y${this.seq++}`)
        : await c.budgetLowerBucket(this.keys.bucket, limit, windowMs, remaining);
    return { counted: Number(r[0]), left: Number(r[1]) };
  }

  /** A command failed: Redis is treated as down until it proves otherwise. */
  failed(err: Error): void {
    this.down(err.message);
    // The connection may be fine (a script error, a full memory): look again soon.
    clearTimeout(this.recheckTimer);
    this.recheckTimer = setTimeout(() => {
      if (!this.closed && this.client?.status === 'ready') this.join();
    }, 2000);
    this.recheckTimer.unref();
  }

  private usable(): IORedis & Scripts {
    if (!this.client || this.condition !== 'up') throw new Error(`Redis ${this.shown} is not connected`);
    return this.client;
  }

  /** Puts this instance's grants still in the window back into `epoch` (a no-op for those already there). */
  private async seed(epoch: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (this.settings.shape === 'window') {
      const pairs = this.settings.ownGrants().flatMap((g) => [g.tag, Math.max(0, Math.round(g.ageMs))]);
      await client.budgetSeedWindow(this.keys.log, this.settings.spanMs, ...pairs);
    }
    this.epoch = epoch;
  }

  /**
   * While this instance has grants in the window, it looks every VERIFY_MS whether Redis still
   * has them (a new epoch means it lost them), so they are back within another's grace.
   */
  private verifySoon(): void {
    if (this.verifyTimer || this.closed || this.settings.shape !== 'window') return;
    this.verifyTimer = setTimeout(() => {
      this.verifyTimer = undefined;
      const client = this.client;
      if (!client || !this.ready || this.settings.ownGrants().length === 0) return;
      client.get(this.keys.epoch).then(
        async (epoch) => {
          if (epoch !== this.epoch) await this.seed(epoch ?? this.epoch);
          this.verifySoon();
        },
        (err: Error) => this.failed(err),
      ).catch((err: Error) => this.failed(err));
    }, VERIFY_MS);
    this.verifyTimer.unref();
  }

  private join(): void {
    if (this.closed) return;
    const client = this.client;
    if (!client) return;
    client
      .budgetJoin(this.keys.epoch, this.keys.grace, `${this.instance}-${Date.now()}`, GRACE_MS)
      .then((epoch) => this.seed(epoch))
      .then(
        () => {
          if (this.closed || this.condition === 'up') return;
          this.condition = 'up';
          this.problem = undefined;
          this.emit('up');
          this.verifySoon();
        },
        (err: Error) => this.down(err.message),
      );
  }

  private down(message: string): void {
    if (this.closed) return;
    const problem = `Redis ${this.shown}: ${maskUrlIn(message, this.settings.url)}`;
    this.emit('problem', { message: problem });
    if (this.condition === 'down' && this.problem === problem) return;
    const was = this.condition;
    this.condition = 'down';
    // Keep the first reason of an outage ("connection refused") over the later "connection closed".
    if (was !== 'down' || !this.problem) this.problem = problem;
    if (was !== 'down') this.emit('down', { problem: this.problem });
  }
}
