// The simulator's request limits, per key and per API (trading and market data are counted apart,
// as on Alpaca), with three algorithms: a sliding 60 s window (the strictest: never more than N in
// ANY 60 s), a fixed window reset at each minute boundary, and a token bucket. Plus a bounded log
// of request arrival times, so a test can measure the rate a client really sent.

export type RateLimitAlgorithm = 'sliding' | 'fixed' | 'bucket';
export type ApiKind = 'trading' | 'data';

export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = ['sliding', 'fixed', 'bucket'];

export const WINDOW_MS = 60_000;

export interface LimitSettings {
  algorithm: RateLimitAlgorithm;
  perMinute: number;
  /** After a 429, every request of that key and API gets 429 for this long. 0 = none. */
  lockoutMs: number;
}

/** The outcome of one request, with what the X-RateLimit-* and Retry-After headers say. */
export interface Admission {
  ok: boolean;
  limit: number;
  remaining: number;
  /** Epoch second at which the counter frees a request (X-RateLimit-Reset). */
  reset: number;
  retryAfterMs: number;
}

interface KeyState {
  /** sliding: arrival times of the admitted requests still in the window, from `head` on. */
  arrivals: number[];
  head: number;
  /** fixed: start of the current minute and requests admitted in it. */
  windowStart: number;
  count: number;
  /** bucket: tokens left, refilled continuously. */
  tokens: number;
  updated: number;
  lockedUntil: number;
  lastSeen: number;
}

/** States idle longer than this (and not locked) are forgotten: memory stays bounded by active keys. */
const IDLE_MS = 2 * WINDOW_MS;
const SWEEP_EVERY = 1000;

const toSecond = (ms: number) => Math.ceil(ms / 1000);

export class RateLimiter {
  private readonly states = new Map<string, KeyState>();
  private calls = 0;

  constructor(private readonly settings: () => LimitSettings) {}

  /** Counts one request of `key` arriving at `now`; says whether it may pass. */
  take(key: string, now = Date.now()): Admission {
    const { algorithm, perMinute, lockoutMs } = this.settings();
    if (++this.calls % SWEEP_EVERY === 0) this.sweep(now);
    let s = this.states.get(key);
    if (!s) {
      s = { arrivals: [], head: 0, windowStart: 0, count: 0, tokens: perMinute, updated: now, lockedUntil: 0, lastSeen: now };
      this.states.set(key, s);
    }
    s.lastSeen = now;
    if (s.lockedUntil > now) {
      return { ok: false, limit: perMinute, remaining: 0, reset: toSecond(s.lockedUntil), retryAfterMs: s.lockedUntil - now };
    }
    const verdict =
      algorithm === 'fixed' ? fixedWindow(s, perMinute, now) : algorithm === 'bucket' ? tokenBucket(s, perMinute, now) : slidingWindow(s, perMinute, now);
    if (verdict.ok || lockoutMs <= 0) return { ...verdict, limit: perMinute };
    s.lockedUntil = now + lockoutMs;
    return { ok: false, limit: perMinute, remaining: 0, reset: toSecond(s.lockedUntil), retryAfterMs: lockoutMs };
  }

  /** Forgets every count and lockout (a limit or algorithm change, or /sim/reset). */
  clear(): void {
    this.states.clear();
  }

  private sweep(now: number): void {
    for (const [key, s] of this.states) {
      if (s.lockedUntil <= now && now - s.lastSeen > IDLE_MS) this.states.delete(key);
    }
  }
}

type Verdict = Omit<Admission, 'limit'>;

function slidingWindow(s: KeyState, perMinute: number, now: number): Verdict {
  const a = s.arrivals;
  while (s.head < a.length && a[s.head] <= now - WINDOW_MS) s.head++;
  // Compact now and then instead of shifting on every request.
  if (s.head > 64 && s.head * 2 > a.length) {
    a.splice(0, s.head);
    s.head = 0;
  }
  const inWindow = a.length - s.head;
  if (inWindow >= perMinute) {
    const frees = a[s.head] + WINDOW_MS;
    return { ok: false, remaining: 0, reset: toSecond(frees), retryAfterMs: frees - now };
  }
  a.push(now);
  return { ok: true, remaining: perMinute - inWindow - 1, reset: toSecond(a[s.head] + WINDOW_MS), retryAfterMs: 0 };
}

function fixedWindow(s: KeyState, perMinute: number, now: number): Verdict {
  const start = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  if (s.windowStart !== start) {
    s.windowStart = start;
    s.count = 0;
  }
  const end = start + WINDOW_MS;
  if (s.count >= perMinute) return { ok: false, remaining: 0, reset: end / 1000, retryAfterMs: end - now };
  s.count++;
  return { ok: true, remaining: perMinute - s.count, reset: end / 1000, retryAfterMs: 0 };
}

function tokenBucket(s: KeyState, perMinute: number, now: number): Verdict {
  const perMs = perMinute / WINDOW_MS;
  s.tokens = Math.min(perMinute, s.tokens + (now - s.updated) * perMs);
  s.updated = now;
  const full = (tokens: number) => toSecond(now + (perMinute - tokens) / perMs);
  if (s.tokens < 1) return { ok: false, remaining: 0, reset: full(s.tokens), retryAfterMs: (1 - s.tokens) / perMs };
  s.tokens -= 1;
  return { ok: true, remaining: Math.floor(s.tokens), reset: full(s.tokens), retryAfterMs: 0 };
}

export interface LoggedRequest {
  /** Arrival, epoch ms. */
  t: number;
  api: ApiKind;
  /** Answered 429 by the limiter. */
  limited: boolean;
  /** What was asked ("POST /v2/orders", no query string) and under which key id: whose request it was. */
  method: string;
  path: string;
  key: string;
}

/** The last `capacity` request arrivals in a ring: fixed memory however long the simulator runs. */
export class RequestLog {
  private readonly times: Float64Array;
  private readonly flags: Uint8Array;
  private readonly asked: string[];
  private next = 0;
  private size = 0;
  /** Entries overwritten since start: a reader that sees this grow has lost some. */
  overwritten = 0;

  constructor(readonly capacity = 100_000) {
    this.times = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.asked = new Array<string>(capacity);
  }

  record(t: number, api: ApiKind, limited: boolean, method = '', path = '', key = ''): void {
    if (this.size === this.capacity) this.overwritten++;
    else this.size++;
    this.times[this.next] = t;
    this.flags[this.next] = (api === 'data' ? 1 : 0) | (limited ? 2 : 0);
    // Bounded: a path or key of any length costs at most this much per entry.
    this.asked[this.next] = `${method.slice(0, 8)}\n${path.slice(0, 120)}\n${key.slice(0, 64)}`;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Requests that arrived at or after `since` (epoch ms), oldest first. */
  since(since: number): LoggedRequest[] {
    const out: LoggedRequest[] = [];
    const first = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) {
      const at = (first + i) % this.capacity;
      if (this.times[at] < since) continue;
      const f = this.flags[at];
      const [method = '', path = '', key = ''] = (this.asked[at] ?? '').split('\n');
      out.push({ t: this.times[at], api: f & 1 ? 'data' : 'trading', limited: (f & 2) !== 0, method, path, key });
    }
    return out;
  }
}

/** Alpaca serves market data from its own host with its own limit; on one port the path tells them apart. */
export function apiOf(path: string): ApiKind {
  return /^\/(v2\/stocks|v1beta\d+|v1\/corporate-actions)(\/|$)/.test(path) ? 'data' : 'trading';
}
