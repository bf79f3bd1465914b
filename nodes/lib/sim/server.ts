// The simulator's HTTP and WebSocket shell: one loopback port, Alpaca's paths, API-key auth,
// Alpaca's rate limit and lockout, injected faults, and the /sim/ control API. What the routes
// and streams do lives in the market and broker parts; this file only carries requests to them.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  SimHttpError,
  type Route,
  type SimFaults,
  type SimRequest,
  type SimResponse,
  type SimStats,
  type StreamEndpoint,
} from './types';

export interface ServerOptions {
  port?: number;
  host?: string;
  /** When set, only this key pair is accepted; otherwise any non-empty pair is. */
  key?: string;
  secret?: string;
  faults?: Partial<SimFaults>;
}

export interface ControlHandlers {
  /** POST /sim/prices {symbol, price} */
  setPrice(symbol: string, price: number): void;
  /** POST /sim/reset: a fresh account and order book */
  reset(): void;
  /** Extra figures merged into GET /sim/stats */
  extraStats?(): Record<string, unknown>;
}

interface CompiledRoute {
  route: Route;
  regex: RegExp;
  names: string[];
}

interface Bucket {
  tokens: number;
  updated: number;
  lockedUntil: number;
}

const MINUTE = 60_000;

export const DEFAULT_FAULTS: SimFaults = {
  errorRate: 0,
  latencyMs: 0,
  rateLimitPerMinute: 200,
  lockoutMs: 0,
  errorAfterRate: 0,
  resetAfterRate: 0,
  silentStreams: false,
};

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.pattern
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const m = /^\{([^}]+)\}$/.exec(part);
      if (!m) return part.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
      names.push(m[1]);
      return '([^/]+)';
    })
    .join('');
  return { route, regex: new RegExp(`^${source}$`), names };
}

function errorBody(code: number, message: string) {
  return { code, message };
}

export class SimServer {
  readonly stats: SimStats = {
    requests: 0,
    rateLimited: 0,
    errorsInjected: 0,
    orders: 0,
    streamConnections: 0,
    streamConnectionsTotal: 0,
    streamsDropped: 0,
  };
  readonly faults: SimFaults;
  private readonly routes: CompiledRoute[] = [];
  private readonly streams = new Map<string, StreamEndpoint>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly claims = new Map<string, WebSocket>();
  private readonly sockets = new Set<WebSocket>();
  private readonly tcp = new Set<Socket>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly server: http.Server;
  private control?: ControlHandlers;

  constructor(private readonly options: ServerOptions = {}) {
    this.faults = { ...DEFAULT_FAULTS, ...options.faults };
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.send(res, 500, errorBody(50010000, `internal error: ${(err as Error).message}`));
      });
    });
    this.server.on('connection', (socket: Socket) => {
      this.tcp.add(socket);
      socket.once('close', () => this.tcp.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket as Socket, head));
  }

  addRoutes(routes: Route[]): void {
    for (const route of routes) this.routes.push(compile(route));
  }

  addStream(endpoint: StreamEndpoint): void {
    for (const path of endpoint.paths) this.streams.set(path, endpoint);
  }

  setControl(control: ControlHandlers): void {
    this.control = control;
  }

  async listen(): Promise<string> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.url;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    this.claims.clear();
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.tcp) socket.destroy();
    });
  }

  /** Abruptly drops every stream connection, like a network blip; clients must reconnect. */
  dropStreams(): number {
    const count = this.sockets.size;
    for (const ws of this.sockets) ws.terminate();
    this.stats.streamsDropped += count;
    return count;
  }

  checkCredentials(keyId: unknown, secret: unknown): boolean {
    if (typeof keyId !== 'string' || typeof secret !== 'string' || !keyId || !secret) return false;
    if (this.options.key !== undefined || this.options.secret !== undefined) {
      return keyId === this.options.key && secret === this.options.secret;
    }
    return true;
  }

  // --- REST ---------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path.startsWith('/sim/')) return this.handleControl(req, res, path);

    this.stats.requests++;
    const keyId = req.headers['apca-api-key-id'];
    const secret = req.headers['apca-api-secret-key'];
    // Alpaca serves crypto market data without keys, and the official SDK sends none for it.
    const keyless = path.startsWith('/v1beta3/crypto/') && keyId === undefined && secret === undefined;
    if (!keyless && !this.checkCredentials(keyId, secret)) {
      return this.send(res, 401, errorBody(40110000, 'request is not authorized'));
    }
    const key = keyless ? `anonymous:${req.socket.remoteAddress ?? ''}` : (keyId as string);
    const limit = this.takeToken(key);
    const rateHeaders = {
      'X-RateLimit-Limit': String(this.faults.rateLimitPerMinute),
      'X-RateLimit-Remaining': String(limit.remaining),
      'X-RateLimit-Reset': String(limit.reset),
    };
    if (!limit.ok) {
      this.stats.rateLimited++;
      return this.send(res, 429, errorBody(42910000, 'rate limit exceeded'), {
        ...rateHeaders,
        'Retry-After': String(Math.max(1, Math.ceil(limit.retryAfterMs / 1000))),
      });
    }

    const match = this.match(req.method ?? 'GET', path);
    if (!match) {
      const known = this.routes.some((r) => r.regex.test(path));
      return known
        ? this.send(res, 405, errorBody(40510000, 'method not allowed'), rateHeaders)
        : this.send(res, 404, errorBody(40410000, 'endpoint not found'), rateHeaders);
    }

    let body: unknown;
    try {
      body = await readJson(req);
    } catch {
      return this.send(res, 400, errorBody(40010000, 'request body format is invalid'), rateHeaders);
    }
    if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
    if (this.faults.errorRate > 0 && Math.random() < this.faults.errorRate) {
      this.stats.errorsInjected++;
      return this.send(res, 500, errorBody(50010000, 'internal server error (injected by simulator)'), rateHeaders);
    }

    const simReq: SimRequest = {
      method: req.method ?? 'GET',
      path,
      params: match.params,
      query: url.searchParams,
      body,
      keyId: key,
      raw: req,
    };
    let out: SimResponse;
    try {
      out = await match.route.handler(simReq);
    } catch (err) {
      if (err instanceof SimHttpError) {
        return this.send(res, err.status, errorBody(err.code, err.message), rateHeaders);
      }
      throw err;
    }
    // Faults after the work is done: the client cannot tell whether its request took effect.
    if (this.faults.resetAfterRate > 0 && Math.random() < this.faults.resetAfterRate) {
      this.stats.errorsInjected++;
      req.socket.destroy();
      return;
    }
    if (this.faults.errorAfterRate > 0 && Math.random() < this.faults.errorAfterRate) {
      this.stats.errorsInjected++;
      return this.send(res, 500, errorBody(50010000, 'internal server error (injected by simulator after processing)'), rateHeaders);
    }
    this.send(res, out.status ?? 200, out.body, { ...rateHeaders, ...out.headers });
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const c of this.routes) {
      if (c.route.method !== method) continue;
      const m = c.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      c.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1])));
      return { route: c.route, params };
    }
    return undefined;
  }

  /** Token bucket per key: `rateLimitPerMinute` requests, refilled continuously over a minute. */
  private takeToken(key: string): { ok: boolean; remaining: number; reset: number; retryAfterMs: number } {
    const now = Date.now();
    const capacity = this.faults.rateLimitPerMinute;
    const perMs = capacity / MINUTE;
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: capacity, updated: now, lockedUntil: 0 };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(capacity, b.tokens + (now - b.updated) * perMs);
    b.updated = now;
    const resetAt = (tokens: number) => Math.ceil((now + (capacity - tokens) / perMs) / 1000);
    if (b.lockedUntil > now) {
      return { ok: false, remaining: 0, reset: Math.ceil(b.lockedUntil / 1000), retryAfterMs: b.lockedUntil - now };
    }
    if (b.tokens < 1) {
      if (this.faults.lockoutMs > 0) b.lockedUntil = now + this.faults.lockoutMs;
      const retryAfterMs = this.faults.lockoutMs > 0 ? this.faults.lockoutMs : (1 - b.tokens) / perMs;
      return { ok: false, remaining: 0, reset: resetAt(b.tokens), retryAfterMs };
    }
    b.tokens -= 1;
    return { ok: true, remaining: Math.floor(b.tokens), reset: resetAt(b.tokens), retryAfterMs: 0 };
  }

  private async handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    let body: Record<string, unknown> = {};
    try {
      body = ((await readJson(req)) as Record<string, unknown>) ?? {};
    } catch {
      return this.send(res, 400, { error: 'body must be JSON' });
    }
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /sim/stats':
        return this.send(res, 200, { ...this.stats, ...this.control?.extraStats?.() });
      case 'GET /sim/faults':
        return this.send(res, 200, this.faults);
      case 'POST /sim/faults': {
        const problems = applyFaults(this.faults, body);
        if (problems.length) return this.send(res, 400, { error: problems.join('; ') });
        if (body.rateLimitPerMinute !== undefined || body.lockoutMs !== undefined) this.buckets.clear();
        const dropped = body.dropStreams === true ? this.dropStreams() : 0;
        return this.send(res, 200, { ...this.faults, dropped });
      }
      case 'POST /sim/prices': {
        const { symbol, price } = body;
        if (typeof symbol !== 'string' || typeof price !== 'number' || !(price > 0)) {
          return this.send(res, 400, { error: 'expected {symbol: string, price: number > 0}' });
        }
        try {
          this.control?.setPrice(symbol, price);
        } catch (err) {
          return this.send(res, 404, { error: (err as Error).message });
        }
        return this.send(res, 200, { symbol, price });
      }
      case 'POST /sim/reset':
        this.control?.reset();
        this.buckets.clear();
        return this.send(res, 200, { reset: true });
      default:
        return this.send(res, 404, { error: `unknown control endpoint ${route}` });
    }
  }

  private send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  // --- WebSocket ----------------------------------------------------------

  private upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoint = this.streams.get(path);
    if (!endpoint) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.sockets.add(ws);
      this.stats.streamConnections++;
      this.stats.streamConnectionsTotal++;
      ws.once('close', () => {
        this.sockets.delete(ws);
        this.stats.streamConnections--;
        for (const [k, holder] of this.claims) if (holder === ws) this.claims.delete(k);
      });
      endpoint.accept(ws, req, path, {
        checkCredentials: (k, s) => this.checkCredentials(k, s),
        claimConnection: (keyId, p, w) => {
          const k = `${keyId}\u0000${p}`;
          const holder = this.claims.get(k);
          if (holder && holder !== w && holder.readyState <= 1) return false;
          this.claims.set(k, w);
          return true;
        },
        stats: this.stats,
        faults: this.faults,
      });
    });
  }
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Validates and applies a partial fault update; returns what was wrong, if anything. */
export function applyFaults(faults: SimFaults, update: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const next: SimFaults = { ...faults };
  const num = (name: 'errorRate' | 'latencyMs' | 'rateLimitPerMinute' | 'lockoutMs' | 'errorAfterRate' | 'resetAfterRate', min: number, max: number) => {
    const v = update[name];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      problems.push(`${name} must be a number from ${min} to ${max}`);
    } else {
      next[name] = v;
    }
  };
  num('errorRate', 0, 1);
  num('latencyMs', 0, 120_000);
  num('rateLimitPerMinute', 1, 1_000_000);
  num('lockoutMs', 0, 3_600_000);
  num('errorAfterRate', 0, 1);
  num('resetAfterRate', 0, 1);
  for (const flag of ['dropStreams', 'silentStreams'] as const) {
    if (update[flag] !== undefined && typeof update[flag] !== 'boolean') problems.push(`${flag} must be true or false`);
  }
  if (typeof update.silentStreams === 'boolean') next.silentStreams = update.silentStreams;
  // All or nothing: a bad field leaves every fault as it was.
  if (problems.length === 0) Object.assign(faults, next);
  return problems;
}
