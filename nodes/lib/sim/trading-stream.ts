// Alpaca's trading stream (/stream): authenticate, then listen to trade_updates, one connection
// per key. Frames are JSON in binary frames, as Alpaca's paper stream sends them, or msgpack when
// the upgrade asked for it. Replies use Alpaca's shapes: `authorization` (authorized /
// unauthorized, also for anything sent before authenticating, which closes the socket),
// `listening`, and a `listening` frame with `error` for a rejected connection or message.
import { decode, encode } from '@msgpack/msgpack';
import type { WebSocket, RawData } from 'ws';
import type { Broker, TradeUpdate } from './broker';
import type { StreamContext, StreamEndpoint } from './types';

export interface TradingStreamOptions {
  /** Close sockets that have not authenticated within this many ms (default 10 s). */
  authTimeoutMs?: number;
  /** Drop a socket whose unsent data exceeds this many bytes: a stalled reader must not grow memory. */
  maxBufferedBytes?: number;
}

const OPEN = 1;
const STREAMS = new Set(['trade_updates']);

/** Alpaca's words for a second connection under the same account. */
export const CONNECTION_REJECTED = 'your connection is rejected while another connection is open under the same account';

export function tradingStreamEndpoint(broker: Broker, options: TradingStreamOptions = {}): StreamEndpoint & { close(): void } {
  const authTimeoutMs = options.authTimeoutMs ?? 10_000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  // Each socket with the cleanup that detaches it from the broker.
  const sockets = new Map<WebSocket, () => void>();

  function accept(ws: WebSocket, _req: unknown, path: string, ctx: StreamContext): void {
    let authorized = false;
    let forward: ((update: TradeUpdate) => void) | undefined;

    const send = (frame: unknown) => {
      if (ws.readyState !== OPEN) return;
      if (ws.bufferedAmount > maxBufferedBytes) {
        ws.terminate();
        return;
      }
      ws.send(ctx.codec === 'msgpack' ? encode(frame) : Buffer.from(JSON.stringify(frame)), { binary: true });
    };
    const unauthorized = (action: string, message?: string) => {
      send({ stream: 'authorization', data: { action, status: 'unauthorized', ...(message ? { message } : {}) } });
      ws.close();
    };
    const rejected = (error: string) => send({ stream: 'listening', data: { error } });
    const stopForwarding = () => {
      if (forward) broker.off('trade_update', forward);
      forward = undefined;
    };

    // No documented frame for this: a plain close, which a client treats as a drop and retries.
    const authTimer = setTimeout(() => {
      if (!authorized) ws.close(4001, 'authentication timeout');
    }, authTimeoutMs);

    const authenticate = (keyId: unknown, secret: unknown) => {
      if (authorized) return send({ stream: 'authorization', data: { action: 'authenticate', status: 'authorized' } });
      clearTimeout(authTimer);
      if (!ctx.checkCredentials(keyId, secret)) return unauthorized('authenticate', 'access key verification failed');
      if (!ctx.claimConnection(keyId as string, path, ws)) {
        rejected(CONNECTION_REJECTED);
        ws.close();
        return;
      }
      authorized = true;
      send({ stream: 'authorization', data: { action: 'authenticate', status: 'authorized' } });
    };

    // The tradingAuthDelayMs fault: the answer (and the slot) come that much later.
    let authDelay: NodeJS.Timeout | undefined;
    const authenticateLater = (keyId: unknown, secret: unknown) => {
      const delayMs = ctx.faults.tradingAuthDelayMs;
      if (!(delayMs > 0) || authorized) return authenticate(keyId, secret);
      clearTimeout(authDelay);
      authDelay = setTimeout(() => {
        if (ws.readyState === OPEN) authenticate(keyId, secret);
      }, delayMs);
    };

    const listen = (data: Record<string, unknown>) => {
      if (!Array.isArray(data.streams) || !data.streams.every((s) => typeof s === 'string')) return rejected('invalid listen message: data.streams must be a list of stream names');
      // Streams that do not exist are left out of the acknowledgement, as Alpaca documents.
      const streams = [...new Set(data.streams as string[])].filter((s) => STREAMS.has(s));
      if (streams.length && !forward) {
        // The silentStreams fault: the socket stays open but trade updates are not sent (lost, as on a stalled link).
        forward = (update) => {
          if (!ctx.faults.silentStreams) send({ stream: 'trade_updates', data: update });
        };
        broker.on('trade_update', forward);
      } else if (!streams.length) {
        stopForwarding();
      }
      send({ stream: 'listening', data: { streams } });
    };

    ws.on('message', (raw: RawData, isBinary: boolean) => {
      let msg: unknown;
      try {
        const bytes = Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw as ArrayBuffer);
        msg = isBinary && ctx.codec === 'msgpack' ? decode(bytes) : JSON.parse(bytes.toString('utf8'));
      } catch {
        msg = undefined;
      }
      const m = typeof msg === 'object' && msg !== null && !Array.isArray(msg) ? (msg as Record<string, unknown>) : {};
      const action = typeof m.action === 'string' ? m.action.slice(0, 50) : '';
      const data = typeof m.data === 'object' && m.data !== null && !Array.isArray(m.data) ? (m.data as Record<string, unknown>) : {};
      if (action === 'authenticate') return authenticateLater(data.key_id, data.secret_key);
      if (action === 'auth') return authenticateLater(m.key, m.secret);
      // Before authentication everything else is refused, and the socket closed.
      if (!authorized) return unauthorized(action || 'unknown');
      if (action === 'listen') return listen(data);
      rejected(action ? `unrecognized action "${action}"` : 'invalid message: expected a JSON object with an action');
    });
    ws.on('error', () => undefined);
    const cleanup = () => {
      clearTimeout(authTimer);
      clearTimeout(authDelay);
      stopForwarding();
      sockets.delete(ws);
    };
    sockets.set(ws, cleanup);
    ws.once('close', cleanup);
  }

  return {
    paths: ['/stream'],
    accept,
    close() {
      for (const [ws, cleanup] of [...sockets]) {
        cleanup();
        ws.terminate();
      }
    },
  };
}
