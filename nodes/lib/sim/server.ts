// The simulator's HTTP and WebSocket shell: one loopback port, Alpaca's paths, API-key auth,
// Alpaca's rate limits and lockout, injected faults, and the /sim/ control API, behind Host and
// Origin checks and size caps. What the routes and streams do lives in the market and broker
// parts; this file only carries requests to them.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  BodyTooLarge,
  allowedHostnames,
  bracketed,
  foreignRequest,
  isJsonContentType,
  isWildcardHost,
  readBody,
  sameSecret,
} from './http-guard';
import { RATE_LIMIT_ALGORITHMS, RateLimiter, RequestLog, apiOf, type Admission } from './rate-limit';
import {
  SimHttpError,
  type Route,
  type SimFaults,
  type SimRequest,
  type SimResponse,
  type SimStats,
  type StreamContext,
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

/** Largest REST request body (Alpaca's own bodies are a few KB). */
export const REST_BODY_LIMIT = 1024 * 1024;
/** Largest /sim/ control request body. */
export const CONTROL_BODY_LIMIT = 64 * 1024;
/** Largest WebSocket message a client may send (ws closes the socket with 1009 beyond it). */
export const STREAM_MESSAGE_LIMIT = 1024 * 1024;

export const DEFAULT_FAULTS: SimFaults = {
  errorRate: 0,
  latencyMs: 0,
  rateLimitPerMinute: 200,
  dataRateLimitPerMinute: 200,
  rateLimitAlgorithm: 'sliding',
  lockoutMs: 0,
  errorAfterRate: 0,
  resetAfterRate: 0,
  silentStreams: false,
  staleSlotMs: 0,
  tradingAuthDelayMs: 0,
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
  /** Arrival time and API of every counted REST request, for GET /sim/requests. */
  readonly requestLog = new RequestLog();
  private readonly tradingLimits: RateLimiter;
  private readonly dataLimits: RateLimiter;
  /** Stream slot per key and path: the socket holding it, or until when a closed socket's slot stays taken. */
  private readonly claims = new Map<string, WebSocket | number>();
  private readonly sockets = new Set<WebSocket>();
  private readonly tcp = new Set<Socket>();
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: STREAM_MESSAGE_LIMIT });
  private readonly server: http.Server;
  private control?: ControlHandlers;
  private allowedHosts = allowedHostnames('127.0.0.1');

  constructor(private readonly options: ServerOptions = {}) {
    const given = Object.entries(options.faults ?? {}).filter(([, v]) => v !== undefined);
    this.faults = { ...DEFAULT_FAULTS, ...Object.fromEntries(given) };
    const problems = applyFaults({ ...DEFAULT_FAULTS }, this.faults as unknown as Record<string, unknown>);
    if (problems.length) throw new Error(`simulator faults: ${problems.join('; ')}`);
    const { faults } = this;
    this.tradingLimits = new RateLimiter(() => ({ algorithm: faults.rateLimitAlgorithm, perMinute: faults.rateLimitPerMinute, lockoutMs: faults.lockoutMs }));
    this.dataLimits = new RateLimiter(() => ({ algorithm: faults.rateLimitAlgorithm, perMinute: faults.dataRateLimitPerMinute, lockoutMs: faults.lockoutMs }));
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
    this.allowedHosts = allowedHostnames(host);
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

  /** The address and port really bound, e.g. `0.0.0.0:8765` or `[::1]:8765`. */
  get boundAddress(): string {
    return `${bracketed((this.server.address() as AddressInfo).address)}:${this.port}`;
  }

  /** A URL a client on this machine can use (loopback when bound to every interface). */
  get url(): string {
    const { address } = this.server.address() as AddressInfo;
    const host = isWildcardHost(address) ? (address.includes(':') ? '[::1]' : '127.0.0.1') : bracketed(address);
    return `http://${host}:${this.port}`;
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

  /** Whether this key pair is accepted: the configured one (compared in constant time), else any non-empty pair. */
  checkCredentials(keyId: unknown, secret: unknown): boolean {
    if (typeof keyId !== 'string' || typeof secret !== 'string' || !keyId || !secret) return false;
    if (this.options.key !== undefined || this.options.secret !== undefined) {
      const keyOk = sameSecret(keyId, this.options.key ?? '');
      const secretOk = sameSecret(secret, this.options.secret ?? '');
      return keyOk && secretOk;
    }
    return true;
  }

  /** Forgets every rate-limit count and lockout. */
  clearRateLimits(): void {
    this.tradingLimits.clear();
    this.dataLimits.clear();
  }

  // --- REST ---------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refused = foreignRequest(req, this.allowedHosts);
    if (refused) return this.send(res, 403, errorBody(40310000, refused));
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/sim' || path.startsWith('/sim/')) return this.handleControl(req, res, path, url.searchParams);

    this.stats.requests++;
    const keyId = req.headers['apca-api-key-id'];
    const secret = req.headers['apca-api-secret-key'];
    // Alpaca serves crypto market data without keys, and the official SDK sends none for it.
    const keyless = path.startsWith('/v1beta3/crypto/') && keyId === undefined && secret === undefined;
    if (!keyless && !this.checkCredentials(keyId, secret)) {
      return this.send(res, 401, errorBody(40110000, 'request is not authorized'));
    }
    const key = keyless ? `anonymous:${req.socket.remoteAddress ?? ''}` : (keyId as string);
    const api = apiOf(path);
    const now = Date.now();
    const limit = (api === 'data' ? this.dataLimits : this.tradingLimits).take(key, now);
    this.requestLog.record(now, api, !limit.ok, req.method ?? '', path, key);
    const rateHeaders = rateLimitHeaders(limit);
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
      body = await readJson(req, REST_BODY_LIMIT);
    } catch (err) {
      if (err instanceof BodyTooLarge) return this.send(res, 413, errorBody(41310000, err.message), { ...rateHeaders, Connection: 'close' });
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

  private async handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    if (this.options.key !== undefined && !this.checkCredentials(req.headers['apca-api-key-id'], req.headers['apca-api-secret-key'])) {
      return this.send(res, 401, { error: 'the control API needs the simulator\'s key pair (APCA-API-KEY-ID, APCA-API-SECRET-KEY headers)' });
    }
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      // JSON only: a browser cannot send it cross-origin without a preflight this server never answers.
      if (!isJsonContentType(req.headers['content-type'])) return this.send(res, 415, { error: 'control requests must be Content-Type: application/json' });
      try {
        const parsed = await readJson(req, CONTROL_BODY_LIMIT);
        if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
          return this.send(res, 400, { error: 'body must be a JSON object' });
        }
        body = (parsed as Record<string, unknown>) ?? {};
      } catch (err) {
        if (err instanceof BodyTooLarge) return this.send(res, 413, { error: err.message }, { Connection: 'close' });
        return this.send(res, 400, { error: 'body must be JSON' });
      }
    }
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /sim/stats':
        return this.send(res, 200, { ...this.stats, ...this.control?.extraStats?.() });
      case 'GET /sim/faults':
        return this.send(res, 200, this.faults);
      case 'GET /sim/requests': {
        const since = Number(query.get('since') ?? 0);
        if (!Number.isFinite(since)) return this.send(res, 400, { error: 'since must be epoch milliseconds' });
        const { capacity, overwritten } = this.requestLog;
        return this.send(res, 200, { capacity, overwritten, requests: this.requestLog.since(since) });
      }
      case 'POST /sim/faults': {
        const problems = applyFaults(this.faults, body);
        if (problems.length) return this.send(res, 400, { error: problems.join('; ') });
        if (['rateLimitPerMinute', 'dataRateLimitPerMinute', 'rateLimitAlgorithm', 'lockoutMs'].some((f) => body[f] !== undefined)) {
          this.clearRateLimits();
        }
        if (body.staleSlotMs === 0) this.releaseStaleSlots();
        const dropped = body.dropStreams === true ? this.dropStreams() : 0;
        return this.send(res, 200, { ...this.faults, dropped });
      }
      case 'POST /sim/prices': {
        const { symbol, price } = body;
        if (typeof symbol !== 'string' || typeof price !== 'number' || !(price > 0) || !Number.isFinite(price)) {
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
        this.clearRateLimits();
        return this.send(res, 200, { reset: true });
      default:
        return this.send(res, 404, { error: `unknown control endpoint ${route.slice(0, 100)}` });
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
    socket.on('error', () => socket.destroy()); // a peer gone mid-handshake is routine
    const refused = foreignRequest(req, this.allowedHosts);
    if (refused) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoint = this.streams.get(path);
    if (!endpoint) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const keyId = req.headers['apca-api-key-id'];
    const secret = req.headers['apca-api-secret-key'];
    const ctx: StreamContext = {
      checkCredentials: (k, s) => this.checkCredentials(k, s),
      claimConnection: (k, p, w) => this.claim(`${k}\u0000${p}`, w),
      stats: this.stats,
      faults: this.faults,
      codec: /^application\/msgpack\s*(;|$)/i.test(req.headers['content-type'] ?? '') ? 'msgpack' : 'json',
      headerCredentials: keyId !== undefined || secret !== undefined ? { keyId, secret } : undefined,
    };
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // An oversized message or a reset peer is routine: ws closes the socket, 'close' cleans up.
      ws.on('error', () => undefined);
      this.sockets.add(ws);
      this.stats.streamConnections++;
      this.stats.streamConnectionsTotal++;
      ws.once('close', () => {
        this.sockets.delete(ws);
        this.stats.streamConnections--;
        this.releaseSlots(ws);
      });
      endpoint.accept(ws, req, path, ctx);
    });
  }

  /** Takes the one stream slot Alpaca allows per key and endpoint; false while another socket (or a stale one) holds it. */
  private claim(slot: string, ws: WebSocket): boolean {
    const holder = this.claims.get(slot);
    if (typeof holder === 'number') {
      if (holder > Date.now()) return false;
    } else if (holder && holder !== ws && holder.readyState <= 1) {
      return false;
    }
    this.claims.set(slot, ws);
    return true;
  }

  /** A closed socket's slots: freed at once, or kept taken for `staleSlotMs` (Alpaca's half-dead connection). */
  private releaseSlots(ws: WebSocket): void {
    const now = Date.now();
    const staleUntil = this.faults.staleSlotMs > 0 ? now + this.faults.staleSlotMs : 0;
    for (const [slot, holder] of this.claims) {
      if (holder === ws && staleUntil) this.claims.set(slot, staleUntil);
      // Expired stale slots go too, so the map holds only live or still-stale slots.
      else if (holder === ws || (typeof holder === 'number' && holder <= now)) this.claims.delete(slot);
    }
  }

  private releaseStaleSlots(): void {
    for (const [slot, holder] of this.claims) if (typeof holder === 'number') this.claims.delete(slot);
  }
}

/** Reads a JSON body of at most `limit` bytes; undefined when empty. */
async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readBody(req, limit)).toString('utf8').trim();
  return text ? JSON.parse(text) : undefined;
}

function rateLimitHeaders(a: Admission): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(a.limit),
    'X-RateLimit-Remaining': String(a.remaining),
    'X-RateLimit-Reset': String(a.reset),
  };
}

/** Validates and applies a partial fault update; returns what was wrong, if anything. */
export function applyFaults(faults: SimFaults, update: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const next: SimFaults = { ...faults };
  for (const name of Object.keys(update)) {
    if (!(name in DEFAULT_FAULTS) && name !== 'dropStreams') problems.push(`unknown fault "${name.slice(0, 50)}"`);
  }
  type NumericFault = 'errorRate' | 'latencyMs' | 'rateLimitPerMinute' | 'dataRateLimitPerMinute' | 'lockoutMs' | 'errorAfterRate' | 'resetAfterRate' | 'staleSlotMs' | 'tradingAuthDelayMs';
  const num = (name: NumericFault, min: number, max: number) => {
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
  num('dataRateLimitPerMinute', 1, 1_000_000);
  num('lockoutMs', 0, 3_600_000);
  num('errorAfterRate', 0, 1);
  num('resetAfterRate', 0, 1);
  num('staleSlotMs', 0, 3_600_000);
  num('tradingAuthDelayMs', 0, 60_000);
  const algorithm = update.rateLimitAlgorithm;
  if (algorithm !== undefined) {
    if (!RATE_LIMIT_ALGORITHMS.includes(algorithm as never)) problems.push(`rateLimitAlgorithm must be one of ${RATE_LIMIT_ALGORITHMS.join(', ')}`);
    else next.rateLimitAlgorithm = algorithm as SimFaults['rateLimitAlgorithm'];
  }
  for (const flag of ['dropStreams', 'silentStreams'] as const) {
    if (update[flag] !== undefined && typeof update[flag] !== 'boolean') problems.push(`${flag} must be true or false`);
  }
  if (typeof update.silentStreams === 'boolean') next.silentStreams = update.silentStreams;
  // All or nothing: a bad field leaves every fault as it was.
  if (problems.length === 0) Object.assign(faults, next);
  return problems;
}
