// "Wait for final state": follows orders on the account's shared trade-updates feed until each is
// filled, canceled, expired, rejected or replaced, or until a timeout, and then confirms the
// state over REST (one read) so the report is complete even if a stream event was missed.
import type { TradeUpdatesFeed } from '../core/broker';
import { FINAL_EVENTS, FINAL_STATUSES } from '../core/order-status';
import type { TradeUpdate } from '../core/snapshots';
import type { OrderDetails, PlacedOrder } from './types';

export interface FinalState extends PlacedOrder {
  /** False when the timeout came first: `order` is then the last known state. */
  final: boolean;
  timedOut: boolean;
  /** Where the final state was learned: the acknowledgement, the stream, or a REST read. */
  source: 'ack' | 'stream' | 'rest';
  /** The last trade update seen for the order (fill price and quantity are here). */
  lastUpdate?: TradeUpdate;
}

export function isFinalUpdate(u: TradeUpdate): boolean {
  return FINAL_EVENTS.has(u.event) || FINAL_STATUSES.has(u.order.status);
}

/** One order being followed; created before the order is sent so no event slips past. */
export class OrderWatch {
  orderId?: string;
  lastUpdate?: TradeUpdate;
  private finalUpdate?: TradeUpdate;
  private wake?: () => void;
  private timer?: NodeJS.Timeout;
  private ended = false;

  constructor(
    readonly clientOrderId: string,
    private readonly release: (w: OrderWatch) => void,
  ) {}

  matches(u: TradeUpdate): boolean {
    return u.order.clientOrderId === this.clientOrderId || (this.orderId !== undefined && u.order.id === this.orderId);
  }

  /** Called by the watcher for each update of this order. */
  onUpdate(u: TradeUpdate): void {
    this.lastUpdate = u;
    if (isFinalUpdate(u) && !this.finalUpdate) {
      this.finalUpdate = u;
      this.wake?.();
    }
  }

  /**
   * Resolves with the final state, or the last known one after `timeoutMs`. `fetch` reads the
   * order over REST; when it fails the state from the stream is merged into the acknowledgement.
   */
  async wait(ack: PlacedOrder, timeoutMs: number, fetch: (orderId: string) => Promise<PlacedOrder>): Promise<FinalState> {
    this.orderId = ack.order.id;
    try {
      if (FINAL_STATUSES.has(ack.order.status)) return { ...ack, final: true, timedOut: false, source: 'ack', lastUpdate: this.lastUpdate };
      const gotFinal = await new Promise<boolean>((resolve) => {
        if (this.finalUpdate || this.ended) return resolve(Boolean(this.finalUpdate));
        this.wake = () => resolve(Boolean(this.finalUpdate));
        this.timer = setTimeout(() => resolve(false), timeoutMs);
      });
      clearTimeout(this.timer);
      if (this.ended) throw new Error('the node was closed while waiting for the order');
      let fresh: PlacedOrder | undefined;
      try {
        fresh = await fetch(this.orderId);
      } catch {
        fresh = undefined;
      }
      const known = fresh ?? this.merge(ack);
      const final = FINAL_STATUSES.has(known.order.status);
      return { ...known, final, timedOut: !final, source: gotFinal ? 'stream' : fresh ? 'rest' : 'stream', lastUpdate: this.lastUpdate };
    } finally {
      this.end();
    }
  }

  /** Stops following: releases the watch and wakes a pending wait. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.release(this);
    this.wake?.();
  }

  private merge(ack: PlacedOrder): PlacedOrder {
    if (!this.lastUpdate) return ack;
    const order: OrderDetails = { ...ack.order, ...this.lastUpdate.order, legs: ack.order.legs };
    return { order, raw: ack.raw };
  }
}

/** Follows any number of orders of one node on the shared feed (one subscription). */
export class OrderWatcher {
  private unsubscribe?: () => void;
  private readonly watches = new Set<OrderWatch>();

  constructor(private readonly feed: TradeUpdatesFeed) {}

  /** Subscribes now, so the shared stream is up before the first order is sent. */
  start(): void {
    this.unsubscribe ??= this.feed.subscribe((u) => {
      for (const w of [...this.watches]) if (w.matches(u)) w.onUpdate(u);
    });
  }

  watch(clientOrderId: string): OrderWatch {
    this.start();
    const w = new OrderWatch(clientOrderId, (done) => this.watches.delete(done));
    this.watches.add(w);
    return w;
  }

  get size(): number {
    return this.watches.size;
  }

  /** Ends every watch and unsubscribes. */
  close(): void {
    for (const w of [...this.watches]) w.end();
    this.watches.clear();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
