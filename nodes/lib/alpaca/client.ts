// Builds the official SDK client for a mode and an optional endpoint override. The SDK facade
// ignores basePath, so an endpoint override rewrites each request's origin in a `pre` hook.
import { Alpaca } from '@alpacahq/alpaca-trade-api';

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
  /** Called with every REST response's status and rate-limit headers, and the URL asked (feeds the request budgets). */
  onResponse?: (feedback: ResponseFeedback, url: string) => void;
}

/** What one response says about the rate limit. */
export interface ResponseFeedback {
  status: number;
  limit?: number;
  remaining?: number;
  resetAt?: number;
  retryAfterMs?: number;
}

function headerNumber(headers: Headers, name: string): number | undefined {
  const v = headers.get(name);
  const n = v === null ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** A middleware `post` hook reporting each response's status and X-RateLimit-* headers. */
export function reportResponses(onResponse: NonNullable<ClientOptions['onResponse']>) {
  return {
    async post(context: { url: string; response: Response }) {
      const h = context.response.headers;
      const reset = headerNumber(h, 'X-RateLimit-Reset');
      const retryAfter = headerNumber(h, 'Retry-After');
      onResponse({
        status: context.response.status,
        limit: headerNumber(h, 'X-RateLimit-Limit'),
        remaining: headerNumber(h, 'X-RateLimit-Remaining'),
        resetAt: reset === undefined ? undefined : reset * 1000,
        retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000,
      }, context.url);
      return undefined;
    },
  };
}

/** Normalises an endpoint setting: trims, drops a trailing slash, requires http(s). */
export function normaliseEndpoint(endpoint: string | undefined): string | undefined {
  const value = (endpoint ?? '').trim().replace(/\/+$/, '');
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`endpoint "${value}" is not a URL (expected e.g. http://127.0.0.1:8765)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`endpoint "${value}" must start with http:// or https://`);
  }
  return value;
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
    middleware: [
      ...(endpoint ? [rewriteOrigin(endpoint)] : []),
      ...(options.onResponse ? [reportResponses(options.onResponse)] : []),
    ],
  });
}
