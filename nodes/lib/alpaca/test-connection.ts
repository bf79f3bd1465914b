// The account dialog's "Test connection": a one-off connection with the given settings that
// reads the account once and releases everything it opened.
import type { ConnectionUser, TradingMode } from '../core/broker';
import { AlpacaConnection, configProblem, type AlpacaConnectionOptions } from './connection';
import { toBrokerError } from './errors';

export interface ConnectionTestResult {
  ok: boolean;
  mode: TradingMode;
  account?: { status: string; equity: number; cash: number; buyingPower: number; currency: string; accountNumber: string };
  error?: string;
  kind?: string;
}

export async function testConnection(options: AlpacaConnectionOptions): Promise<ConnectionTestResult> {
  const problem = configProblem({ ...options, liveAcknowledged: true });
  if (problem) return { ok: false, mode: options.mode, error: problem, kind: 'refused' };
  const connection = new AlpacaConnection({ ...options, liveAcknowledged: true });
  const probe: ConnectionUser = { id: 'connection-test', onConnectionStatus: () => undefined };
  connection.register(probe);
  try {
    const a = await connection.reads.account();
    return {
      ok: true,
      mode: options.mode,
      account: {
        status: a.status,
        equity: a.equity,
        cash: a.cash,
        buyingPower: a.buyingPower,
        currency: a.currency,
        accountNumber: a.accountNumber,
      },
    };
  } catch (err) {
    const e = toBrokerError(err);
    return { ok: false, mode: options.mode, error: e.message, kind: e.kind };
  } finally {
    await connection.deregister(probe);
  }
}
