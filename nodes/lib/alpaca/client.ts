// Builds the official SDK client for a mode and an optional endpoint override. The SDK facade
// ignores basePath, so an endpoint override rewrites each request's origin in a `pre` hook, and a
// last `pre` hook lets a request (and the keys on it) go only to the origins of that mode.
import { Alpaca } from '@alpacahq/alpaca-trade-api';
import { BrokerError } from '../core/errors';
import { show } from '../core/values';

export type StockFeed = 'iex' | 'sip' | 'delayed_sip';

export const ALPACA_HOSTS = {
  paper: 'https://paper-api.alpaca.markets',
  live: 'https://api.alpaca.markets',
  data: 'https://data.alpaca.markets',
  paperStream: 'wss://paper-api.alpaca.markets',
  liveStream: 'wss://api.alpaca.markets',
  dataStream: 'wss://stream.data.alpaca.markets',
} as const;

export interface ClientOptions {
  keyId: string;
  secret: string;
  /** paper and sim use the paper environment's semantics; only live trades real money. */
  paper: boolean;
  /** Base URL of an Alpaca-compatible server (http[s]://host:port); undefined = Alpaca itself. */
  endpoint?: string;
  /** Per-request timeout (ms). */
  timeoutMs?: number;
  rateLimit?: false | { maxRequests: number; intervalMs: number };
  /** Called with every REST response's status, rate-limit and Date headers, and the URL asked (feeds the request budgets and the broker clock). */
  onResponse?: (feedback: ResponseFeedback, url: string) => void;
}

/** What one response says about the rate limit, and the broker's time. */
export interface ResponseFeedback {
  status: number;
  /** Its Date header (epoch ms, whole seconds). */
  date?: number;
  limit?: number;
  remaining?: number;
  resetAt?: number;
  retryAfterMs?: number;
}

/** A header's value as a number, if it is one. */
export function headerNumber(headers: Headers, name: string): number | undefined {
  const v = headers.get(name);
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** What a response's status, X-RateLimit-* and Date headers say. */
function feedbackOf(response: Response): ResponseFeedback {
  const h = response.headers;
  const reset = headerNumber(h, 'X-RateLimit-Reset');
  const retryAfter = headerNumber(h, 'Retry-After');
  return {
    status: response.status,
    date: Date.parse(h.get('Date') ?? '') || undefined,
    limit: headerNumber(h, 'X-RateLimit-Limit'),
    remaining: headerNumber(h, 'X-RateLimit-Remaining'),
    resetAt: reset === undefined ? undefined : reset * 1000,
    retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000,
  };
}

/** Told what one HTTP exchange came to: a status, or no answer at all. */
export interface ExchangeObserver {
  answered(status: number): void;
  noAnswer(err: unknown): void;
}

const OBSERVER = Symbol('exchange observer');
type ObservedInit = RequestInit & { [OBSERVER]?: ExchangeObserver };

/** A middleware `pre` hook that has the client's fetch tell `observer` what each exchange of a request came to. */
export function observeExchanges(observer: ExchangeObserver) {
  return {
    async pre(context: { url: string; init: RequestInit }) {
      return { url: context.url, init: { ...context.init, [OBSERVER]: observer } as ObservedInit };
    },
  };
}

/**
 * The client's fetch: reports every response's status, rate-limit and Date headers to `onResponse` and
 * to the request's observer (observeExchanges), and a request without an answer to the observer.
 * Done here rather than in a `post` middleware, for which the SDK clones every response (a tee of
 * its body stream) although only the headers are read.
 */
export function observedFetch(onResponse?: ClientOptions['onResponse']): typeof fetch {
  return async (input, init) => {
    const observer = (init as ObservedInit | undefined)?.[OBSERVER];
    let response: Response;
    try {
      response = await globalThis.fetch(input, init);
    } catch (err) {
      observer?.noAnswer(err);
      throw err;
    }
    onResponse?.(feedbackOf(response), typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    observer?.answered(response.status);
    return response;
  };
}

/**
 * An endpoint setting as the origin it names (scheme, host, port): a path, query, fragment or
 * user name would let the setting steer requests past the paths the SDK asks for.
 */
export function normaliseEndpoint(endpoint: string | undefined): string | undefined {
  const value = (endpoint ?? '').trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`endpoint ${show(value)} is not a URL (expected e.g. http://127.0.0.1:8765)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`endpoint ${show(value)} must start with http:// or https://`);
  }
  // new URL() drops an empty "?" or "#", so the text itself is checked too.
  if (url.pathname !== '/' || url.search || url.hash || /[?#]/.test(value) || url.username || url.password) {
    throw new Error(`endpoint ${show(value)} must be an origin only, like http://127.0.0.1:8765: no path, query, fragment or user name`);
  }
  return url.origin;
}

/** A host name without the trailing dot DNS ignores, lower case. */
function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

/** Whether an endpoint (an origin) is on this machine: 127.0.0.0/8, [::1] or localhost. */
export function isLoopback(endpoint: string): boolean {
  const host = bareHost(new URL(endpoint).hostname);
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether an endpoint (an origin) is one of Alpaca's own hosts. */
export function isAlpacaHost(endpoint: string): boolean {
  const host = bareHost(new URL(endpoint).hostname);
  return host === 'alpaca.markets' || host.endsWith('.alpaca.markets');
}

/** The host (and port) of an endpoint, as the status and the log name it. */
export function endpointHost(endpoint: string): string {
  return new URL(endpoint).host;
}

/** The origins a client may send its keys to: the endpoint alone, else Alpaca's hosts of its mode. */
export function keyOrigins(paper: boolean, endpoint: string | undefined): string[] {
  return endpoint ? [endpoint] : [paper ? ALPACA_HOSTS.paper : ALPACA_HOSTS.live, ALPACA_HOSTS.data];
}

/** A middleware `pre` hook refusing any request to another origin: the keys ride on every request. */
export function keysOnlyTo(origins: readonly string[]) {
  return {
    async pre(context: { url: string; init: RequestInit }) {
      let origin: string;
      try {
        origin = new URL(context.url).origin;
      } catch {
        origin = '(invalid URL)';
      }
      if (!origins.includes(origin)) throw new BrokerError(`refused to send the API keys to ${origin}: this account sends them only to ${origins.join(' and ')}`, 'refused');
      return undefined;
    },
  };
}

/** The stream URLs for a mode/endpoint: trading updates and the market-data kinds. */
export function streamUrls(paper: boolean, endpoint: string | undefined, feed: StockFeed) {
  const ws = endpoint ? endpoint.replace(/^http/, 'ws') : undefined;
  return {
    trading: `${ws ?? (paper ? ALPACA_HOSTS.paperStream : ALPACA_HOSTS.liveStream)}/stream`,
    stocks: `${ws ?? ALPACA_HOSTS.dataStream}/v2/${feed}`,
    crypto: `${ws ?? ALPACA_HOSTS.dataStream}/v1beta3/crypto/us`,
    options: `${ws ?? ALPACA_HOSTS.dataStream}/v1beta1/indicative`,
    news: `${ws ?? ALPACA_HOSTS.dataStream}/v1beta1/news`,
  };
}

/** A middleware `pre` hook sending every Alpaca REST request to `endpoint` instead. */
export function rewriteOrigin(endpoint: string) {
  const origins = [ALPACA_HOSTS.paper, ALPACA_HOSTS.live, ALPACA_HOSTS.data];
  return {
    async pre(context: { url: string; init: RequestInit }) {
      for (const origin of origins) {
        if (context.url.startsWith(origin)) {
          return { url: endpoint + context.url.slice(origin.length), init: context.init };
        }
      }
      return undefined;
    },
  };
}

export function createClient(options: ClientOptions): Alpaca {
  const endpoint = normaliseEndpoint(options.endpoint);
  return new Alpaca({
    keyId: options.keyId,
    secret: options.secret,
    paper: options.paper,
    timeoutMs: options.timeoutMs,
    rateLimit: options.rateLimit,
    // Alpaca never redirects; refusing redirects keeps the key headers on the intended host.
    redirect: 'error',
    fetchApi: observedFetch(options.onResponse),
    middleware: [...(endpoint ? [rewriteOrigin(endpoint)] : []), keysOnlyTo(keyOrigins(options.paper, endpoint))],
  });
}
