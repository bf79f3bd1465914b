// The REST side of one account's connection: the SDK client (created once, on first use), every
// call through the request budget of its API, and the connection state machine the account's
// nodes show (connecting, connected, reconnecting with backoff, keys rejected, refused).
import type { Alpaca } from '@alpacahq/alpaca-trade-api';
import type { RequestBudget } from '../budget/types';
import type { BrokerClock } from '../core/broker-clock';
import type { ConnectionState, ConnectionStatus, RequestEvent, TradingMode } from '../core/broker';
import { BrokerError } from '../core/errors';
import { PRIORITY, type Priority } from '../core/priority';
import { hhmmss } from '../core/time';
import { createClient, type ResponseFeedback } from './client';
import { toBrokerError } from './errors';

/** Alpaca limits the trading API and market data separately: one budget each. */
export type Api = 'trading' | 'data';

export interface RestOptions {
  /** Default PRIORITY.read. */
  priority?: Priority;
  /** The budget the call spends (default trading). */
  api?: Api;
}

/** Runs REST calls on the shared client; what the feeds, reads and orders are given. */
export interface Rest {
  rest<T>(call: (alpaca: Alpaca) => Promise<T>, options?: RestOptions): Promise<T>;
}

/** Where the client connects, and with which keys. */
export interface ClientTarget {
  endpoint?: string;
  keyId: string;
  secret: string;
}

export interface TransportOptions {
  mode: TradingMode;
  /** How the status names the connection: the mode, and the host when it is not Alpaca's. */
  label: string;
  /** The Endpoint's host (not Alpaca's), named in every status that says where it failed. */
  host?: string;
  /** Why the connection must not start (refused), if it must not. */
  problem?: string;
  budgets: Record<Api, RequestBudget>;
  /** Set from the Date header of every answer; reads the rate-limit resets. */
  clock: BrokerClock;
  /** Resolves where to connect (in sim mode this starts the built-in simulator). */
  target: () => Promise<ClientTarget>;
  /** Texts to remove from every error message. */
  secrets: string[];
  /** First retry delay after a failed connection check; doubles up to `maxRetryMs`. */
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** Whether any node still uses the connection (no retries otherwise). */
  wanted: () => boolean;
  onStatus: (status: ConnectionStatus) => void;
  onRequest: (event: RequestEvent) => void;
}

/** Market-data paths (everything else is the trading API). */
const DATA_PATH = /^\/(v1beta\d+|v2\/stocks|v2\/options)\//;

export function apiOfUrl(url: string): Api {
  try {
    return DATA_PATH.test(new URL(url).pathname) ? 'data' : 'trading';
  } catch {
    return 'trading';
  }
}

export class AlpacaTransport implements Rest {
  private current: ConnectionStatus;
  private client?: Alpaca;
  private opening?: Promise<Alpaca>;
  private retryTimer?: NodeJS.Timeout;
  private attempt = 0;
  /** Bumped by close(): work started before it must not touch what comes after. */
  private generation = 0;

  constructor(private readonly options: TransportOptions) {
    this.current = options.problem
      ? { state: 'refused', text: options.problem, since: Date.now(), reason: options.problem }
      : { state: 'idle', text: 'not connected', since: Date.now() };
  }

  get status(): ConnectionStatus {
    return this.current;
  }

  /** Runs one REST call, mapping errors to BrokerErrors and keeping the state in step with the broker's answers. */
  async rest<T>(call: (alpaca: Alpaca) => Promise<T>, options: RestOptions = {}): Promise<T> {
    const client = await this.open();
    const budget = this.options.budgets[options.api ?? 'trading'];
    try {
      const result = await budget.schedule(() => call(client), { priority: options.priority });
      this.options.onRequest({ ok: true, at: Date.now() });
      if (this.current.state !== 'connected') this.markConnected();
      return result;
    } catch (err) {
      const brokerError = toBrokerError(err, this.options.secrets);
      this.options.onRequest({ ok: false, status: brokerError.status, kind: brokerError.kind, at: Date.now() });
      this.noteFailure(brokerError);
      throw brokerError;
    }
  }

  /** The shared client, created (and the connection checked) on first use. */
  open(): Promise<Alpaca> {
    if (this.options.problem) return Promise.reject(new BrokerError(this.options.problem, 'refused'));
    if (this.client) return Promise.resolve(this.client);
    if (this.opening) return this.opening;
    const generation = this.generation;
    this.setStatus('connecting', this.options.host ? `connecting to ${this.options.host}…` : 'connecting…');
    const opening = (async () => {
      const target = await this.options.target();
      if (generation !== this.generation) throw new BrokerError('connection closed while opening', 'network');
      const client = createClient({
        keyId: target.keyId,
        secret: target.secret,
        paper: this.options.mode !== 'live',
        endpoint: target.endpoint,
        timeoutMs: 15_000,
        // The connection's budgets are the one source of truth; the SDK's own limiter stays off.
        rateLimit: false,
        onResponse: (feedback: ResponseFeedback, url: string) => {
          const { clock } = this.options;
          clock.observe(feedback.date);
          // X-RateLimit-Reset is a time on the broker's clock; the budget runs on ours.
          if (feedback.resetAt !== undefined) feedback.resetAt = clock.toWall(feedback.resetAt);
          this.options.budgets[apiOfUrl(url)].observe(feedback);
        },
      });
      this.client = client;
      void this.check(generation);
      return client;
    })();
    this.opening = opening;
    opening.catch(() => {
      if (generation === this.generation) this.opening = undefined;
    });
    return opening;
  }

  /** Forgets the client and every timer; the next call opens afresh. */
  close(): void {
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.client = undefined;
    this.opening = undefined;
    if (this.current.state !== 'refused') this.setStatus('closed', 'closed');
  }

  /** Confirms the keys and reachability with an account fetch; retries with backoff while unreachable. */
  private async check(generation: number): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      // Through the budget like every other call: a reconnect storm must not overrun the key.
      await this.options.budgets.trading.schedule(() => client.trading.account.getAccount(), { priority: PRIORITY.read });
      if (generation === this.generation) this.markConnected();
    } catch (err) {
      if (generation !== this.generation) return;
      this.noteFailure(toBrokerError(err, this.options.secrets));
    }
  }

  private markConnected(): void {
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.setStatus('connected', `connected · ${this.options.label}`);
  }

  private noteFailure(err: BrokerError): void {
    if (err.kind === 'auth') {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.setStatus('auth_failed', this.options.host ? `auth failed at ${this.options.host}: keys rejected` : 'auth failed: keys rejected', err.message);
    } else if (err.kind === 'network' || (err.status !== undefined && err.status >= 500)) {
      this.scheduleRetry(err.message);
    }
  }

  private scheduleRetry(reason: string): void {
    if (this.retryTimer || !this.options.wanted()) return;
    this.attempt++;
    const initial = this.options.initialRetryMs ?? 1000;
    const max = this.options.maxRetryMs ?? 60_000;
    const base = Math.min(initial * 2 ** (this.attempt - 1), max);
    const delay = Math.round(Math.min(max, base * (0.8 + Math.random() * 0.4)));
    const since = this.current.state === 'reconnecting' ? this.current.since : Date.now();
    const what = this.options.host ? `${this.options.host} unreachable` : 'unreachable';
    this.setStatus('reconnecting', `${what} (attempt ${this.attempt}, since ${hhmmss(since)})`, reason, since);
    const generation = this.generation;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (generation === this.generation) void this.check(generation);
    }, delay);
  }

  private setStatus(state: ConnectionState, text: string, reason?: string, since = Date.now()): void {
    this.current = { state, text, since, reason, attempt: state === 'reconnecting' ? this.attempt : undefined };
    this.options.onStatus(this.current);
  }
}
