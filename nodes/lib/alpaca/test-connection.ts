// The account dialog's "Test connection": which settings and keys a test request may use, and a
// one-off connection with them that reads the account once and releases everything it opened.
// The admin route may be called by anyone who reaches the editor: a stored secret goes only where
// the deployed node already sends it, and the reply says no more than the dialog shows.
import type { ConnectionUser, TradingMode } from '../core/broker';
import type { BrokerError } from '../core/errors';
import { isPlainObject, own, show } from '../core/values';
import type { SimulatorOptions } from '../sim/simulator';
import { endpointHost, normaliseEndpoint, type StockFeed } from './client';
import { AlpacaConnection, configProblem, connectionLabel, type AlpacaConnectionOptions } from './connection';
import { toBrokerError } from './errors';

export interface ConnectionTestResult {
  ok: boolean;
  mode: TradingMode;
  /** The mode, and the host when it is not Alpaca's (as the nodes' status names it). */
  target?: string;
  account?: { status: string; equity: number; currency: string };
  error?: string;
  kind?: string;
}

/** The editor sends this for a password it has but does not show. */
const KEPT_PASSWORD = '__PWRD__';
const MODES: readonly string[] = ['sim', 'paper', 'live'];
const FEEDS: readonly string[] = ['iex', 'sip', 'delayed_sip'];

/** Why a request to the admin route is refused before its body is read (status and reason), or undefined. */
export function requestRefusal(headers: { isJson: boolean; origin?: string; host?: string; fetchSite?: string }): { status: number; error: string } | undefined {
  // A form or text/plain post needs no CORS preflight: refusing them stops other sites' pages.
  if (!headers.isJson) return { status: 415, error: 'Test connection takes a JSON body (Content-Type: application/json)' };
  if (headers.fetchSite === 'cross-site' || headers.fetchSite === 'same-site') return { status: 403, error: 'Test connection is refused from another site' };
  if (headers.origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(headers.origin).host;
    } catch {
      originHost = undefined;
    }
    if (!originHost || originHost !== headers.host) return { status: 403, error: `Test connection is refused from origin ${show(headers.origin)}` };
  }
  return undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * The connection settings a test request may use, or why not. `deployed`: the settings and keys
 * of the deployed account node the request names. Its stored secret is used only when the request
 * brings none and asks for that node's own mode, endpoint and key id.
 */
export function planConnectionTest(
  request: unknown,
  deployed: AlpacaConnectionOptions | undefined,
  sim?: SimulatorOptions,
): { options: AlpacaConnectionOptions; storedSecret: boolean } | { error: string } {
  const body = isPlainObject(request) ? request : {};
  const mode = own(body, 'mode') ?? 'sim';
  if (typeof mode !== 'string' || !MODES.includes(mode)) return { error: `unknown mode ${show(mode)}` };
  const feedValue = own(body, 'feed');
  const feed = (typeof feedValue === 'string' && FEEDS.includes(feedValue) ? feedValue : 'iex') as StockFeed;
  let endpoint: string | undefined;
  try {
    endpoint = normaliseEndpoint(text(own(body, 'endpoint')));
  } catch (err) {
    return { error: (err as Error).message };
  }
  const keyId = text(own(body, 'keyId'))?.trim() || undefined;
  const secret = text(own(body, 'secret'));
  const given: AlpacaConnectionOptions = {
    mode: mode as TradingMode,
    feed,
    endpoint,
    endpointAcknowledged: text(own(body, 'endpointAck')),
    keyId,
    secret: secret && secret !== KEPT_PASSWORD ? secret : undefined,
    sim,
  };
  if (given.secret || !deployed?.secret) return { options: given, storedSecret: false };
  const same = deployed.mode === given.mode && normaliseEndpoint(deployed.endpoint) === endpoint && (!keyId || keyId === deployed.keyId);
  if (!same) return { error: 'the saved secret is used only with the saved mode, endpoint and key id: type the secret again to test other settings' };
  const { endpointAcknowledged } = deployed;
  return { options: { mode: deployed.mode, endpoint, endpointAcknowledged, keyId: deployed.keyId, secret: deployed.secret, feed, sim }, storedSecret: true };
}

/** An error as the dialog shows it: Alpaca's own words, but only status and kind from any other host (never its content). */
function failure(e: BrokerError, endpoint: string | undefined): string {
  if (!endpoint || e.kind === 'network' || e.kind === 'refused') return e.message;
  const where = endpointHost(endpoint);
  if (e.kind === 'auth') return `${where} rejected the keys (401): check the API key id and secret`;
  return e.status ? `${where} answered HTTP ${e.status}` : `${where} did not answer as an Alpaca server`;
}

export async function testConnection(options: AlpacaConnectionOptions): Promise<ConnectionTestResult> {
  const { mode } = options;
  // Test connection only reads the account: live keys may be checked before live trading is ticked.
  const problem = configProblem({ ...options, liveAcknowledged: true });
  if (problem) return { ok: false, mode, error: problem, kind: 'refused' };
  const endpoint = normaliseEndpoint(options.endpoint);
  const target = connectionLabel(mode, endpoint);
  const connection = new AlpacaConnection({ ...options, liveAcknowledged: true });
  const probe: ConnectionUser = { id: 'connection-test', onConnectionStatus: () => undefined };
  connection.register(probe);
  try {
    const a = await connection.reads.account();
    if (!/^[A-Z_]{1,40}$/.test(a.status) || !/^[A-Z]{3}$/.test(a.currency) || !Number.isFinite(a.equity)) {
      return { ok: false, mode, target, error: 'the server did not answer with an Alpaca account', kind: 'broker' };
    }
    return { ok: true, mode, target, account: { status: a.status, equity: a.equity, currency: a.currency } };
  } catch (err) {
    const e = toBrokerError(err, [options.secret, options.keyId]);
    return { ok: false, mode, target, error: failure(e, endpoint), kind: e.kind };
  } finally {
    await connection.deregister(probe);
  }
}
