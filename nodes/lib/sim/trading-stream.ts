// Alpaca's trading stream (/stream): JSON frames, authenticate then listen to trade_updates, one
// connection per key. Each listening socket forwards the broker's 'trade_update' events.
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
      ws.send(JSON.stringify(frame));
    };
    const error = (message: string) => send({ action: 'error', data: { error_message: message } });
    const stopForwarding = () => {
      if (forward) broker.off('trade_update', forward);
      forward = undefined;
    };

    const authTimer = setTimeout(() => {
      if (!authorized) ws.close(4001, 'authentication timeout');
    }, authTimeoutMs);

    ws.on('message', (raw: RawData) => {
      let msg: { action?: unknown; data?: unknown };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        error('invalid syntax');
        return;
      }
      const data = (msg && typeof msg.data === 'object' && msg.data !== null ? msg.data : {}) as Record<string, unknown>;
      switch (msg?.action) {
        case 'authenticate':
        case 'auth': {
          if (authorized) return send({ stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } });
          const keyId = data.key_id;
          if (!ctx.checkCredentials(keyId, data.secret_key)) {
            send({ stream: 'authorization', data: { status: 'unauthorized', action: 'authenticate' } });
            ws.close(4003, 'unauthorized');
            return;
          }
          if (!ctx.claimConnection(keyId as string, path, ws)) {
            error('connection limit exceeded');
            ws.close(4008, 'connection limit exceeded');
            return;
          }
          authorized = true;
          clearTimeout(authTimer);
          send({ stream: 'authorization', data: { status: 'authorized', action: 'authenticate' } });
          return;
        }
        case 'listen': {
          if (!authorized) return error('not authenticated: send {"action":"authenticate"} first');
          const streams = Array.isArray(data.streams) ? data.streams.filter((s): s is string => s === 'trade_updates') : [];
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
          return;
        }
        default:
          error(`unknown action "${String(msg?.action)}"`);
      }
    });
    ws.on('error', () => undefined);
    const cleanup = () => {
      clearTimeout(authTimer);
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
