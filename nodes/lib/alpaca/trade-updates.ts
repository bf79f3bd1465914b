// The account's trade updates from the one shared trading stream. FIRST VERSION: live events
// only; the stream work adds gap fill after reconnects and connection events.
import type { TradeUpdate, TradeUpdatesFeed } from '../broker';
import type { AlpacaConnection } from './connection';
import { toOrder } from './map';

type Raw = Record<string, unknown>;

const optionalNumber = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** SDK trade update (camelCase order plus raw keys) -> TradeUpdate. */
export function toTradeUpdate(u: Raw): TradeUpdate {
  const ts = u.timestamp;
  return {
    event: String(u.event ?? ''),
    timestamp: ts instanceof Date ? ts.toISOString() : typeof ts === 'string' ? ts : new Date().toISOString(),
    order: toOrder((u.order ?? {}) as Raw),
    price: optionalNumber(u.price),
    qty: optionalNumber(u.qty),
    positionQty: optionalNumber(u.positionQty ?? u.position_qty),
    executionId: typeof (u.executionId ?? u.execution_id) === 'string' ? String(u.executionId ?? u.execution_id) : undefined,
  };
}

export class AlpacaTradeUpdates implements TradeUpdatesFeed {
  private readonly listeners = new Set<(u: TradeUpdate) => void>();
  private release?: () => void;
  private detach?: () => void;
  private opening?: Promise<void>;
  private closed = false;

  constructor(private readonly connection: AlpacaConnection) {}

  subscribe(listener: (update: TradeUpdate) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.open();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.shut();
    };
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.shut();
  }

  private open(): void {
    this.opening = this.connection.acquireStream('trading').then(
      ({ stream, release }) => {
        if (this.closed || this.listeners.size === 0) {
          release();
          return;
        }
        const trading = stream as ReturnType<import('@alpacahq/alpaca-trade-api').Alpaca['trading']['stream']>;
        const handler = (u: unknown) => {
          const update = toTradeUpdate(u as Raw);
          for (const l of [...this.listeners]) l(update);
        };
        trading.onTradeUpdate(handler);
        trading.subscribeTradeUpdates();
        this.release = release;
        this.detach = () => trading.off('trade_update', handler);
      },
      () => undefined,
    );
  }

  private shut(): void {
    this.detach?.();
    this.release?.();
    this.detach = undefined;
    this.release = undefined;
  }
}
