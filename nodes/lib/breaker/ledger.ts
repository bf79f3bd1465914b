// Orders the breaker let through that the broker has not reported yet: while REDUCING they count
// as already on their way out, so two quick sells cannot together flip a position.
import type { OrderSnapshot } from '../core/snapshots';
import { positionKey } from '../core/symbols';

interface Entry {
  key: string;
  side: 'buy' | 'sell';
  qty: number;
  /** Its client order id, when known: the broker's report settles exactly this entry. */
  clientOrderId?: string;
  at: number;
}

/** How long an entry waits for the broker's report before it no longer counts. */
const LEDGER_MS = 30_000;

export class Ledger {
  private entries: Entry[] = [];

  add(symbol: string, side: 'buy' | 'sell', qty: number, at: number, clientOrderId?: string): void {
    this.entries.push({ key: positionKey(symbol), side, qty, at, clientOrderId });
  }

  /** The broker reported the order (or refused it): it no longer needs the ledger. */
  settle(order: Pick<OrderSnapshot, 'symbol' | 'side' | 'qty' | 'clientOrderId'>): void {
    const key = positionKey(order.symbol ?? '');
    let i = this.entries.findIndex((e) => e.clientOrderId !== undefined && e.clientOrderId === order.clientOrderId);
    if (i < 0) i = this.entries.findIndex((e) => e.key === key && e.side === order.side && (order.qty === null || e.qty === order.qty));
    if (i < 0) i = this.entries.findIndex((e) => e.key === key && e.side === order.side);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /** Quantity on its way in `symbol` on `side`. */
  pending(symbol: string, side: 'buy' | 'sell'): number {
    const key = positionKey(symbol);
    return this.entries.filter((e) => e.key === key && e.side === side).reduce((sum, e) => sum + e.qty, 0);
  }

  /** Forgets entries older than the ledger's horizon. */
  expire(now: number): void {
    if (this.entries.length) this.entries = this.entries.filter((e) => now - e.at < LEDGER_MS);
  }
}
