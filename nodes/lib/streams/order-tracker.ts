// Exactly-once trade updates across stream outages: remembers the last known state of recent
// orders, drops duplicate live events, and turns a REST order listing into the updates the
// stream missed (marked recovered), oldest first. Broker-neutral; no timers, no I/O. Final
// orders are forgotten once no gap fill can reach back to them (forget()), so what it holds
// follows the order rate, not the uptime.
import { FINAL_STATUSES } from '../core/order-status';
import type { OrderSnapshot, TradeUpdate } from '../core/snapshots';

const EVENT_OF_STATUS: Record<string, string> = {
  new: 'new',
  accepted: 'new',
  pending_new: 'pending_new',
  accepted_for_bidding: 'new',
  partially_filled: 'partial_fill',
  filled: 'fill',
  canceled: 'canceled',
  expired: 'expired',
  replaced: 'replaced',
  rejected: 'rejected',
  done_for_day: 'done_for_day',
  pending_cancel: 'pending_cancel',
  pending_replace: 'pending_replace',
  stopped: 'stopped',
  suspended: 'suspended',
  calculated: 'calculated',
};

/** The trade-update event that leaves an order in `status` (undefined: none to report, e.g. held). */
export function eventForStatus(status: string): string | undefined {
  return EVENT_OF_STATUS[status];
}

/** The identity of one update of an order: event, and the execution (or the order's update time). */
export function eventKey(u: TradeUpdate): string {
  return `${u.event}|${u.executionId ?? u.order.updatedAt ?? u.timestamp}`;
}

interface Known {
  status: string;
  filledQty: number;
  updatedAt: number;
  submittedAt: number;
  /** This state was learnt over REST: a late live event carrying the same state is a duplicate. */
  recovered?: boolean;
  /** The updates of this order delivered so far (eventKey), to drop a repeated one. */
  seen: string[];
}

const ms = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : NaN);

export class OrderTracker {
  private readonly known = new Map<string, Known>();

  /** `capacity`: orders remembered at most (the oldest go first), a backstop behind forget(). */
  constructor(private readonly capacity = 2000) {}

  get size(): number {
    return this.known.size;
  }

  /** Records orders as known without reporting them (the open orders at start). */
  seed(orders: OrderSnapshot[]): void {
    for (const o of orders) this.remember(o);
  }

  /** A live update: records it and returns true, or false for a duplicate. */
  live(u: TradeUpdate): boolean {
    const prior = this.known.get(u.order.id);
    const updatedAt = ms(u.order.updatedAt);
    if (prior?.recovered && prior.status === u.order.status && prior.filledQty === u.order.filledQty && !(updatedAt > prior.updatedAt)) {
      return false;
    }
    if (!this.firstSeen(prior, u)) return false;
    // An older event arriving late must not roll the known state back.
    if (!prior || !(updatedAt < prior.updatedAt)) this.remember(u.order, false, prior?.seen ?? [eventKey(u)]);
    return true;
  }

  /**
   * Forgets final orders last changed before `floor` (broker time, epoch ms): the caller passes a
   * time no gap fill will reach back to (a listing never reports an unknown order changed before
   * its cutoff). Open orders stay. Returns how many were forgotten.
   */
  forget(floor: number): number {
    let n = 0;
    for (const [id, k] of this.known) {
      if (FINAL_STATUSES.has(k.status) && k.updatedAt < floor) {
        this.known.delete(id);
        n++;
      }
    }
    return n;
  }

  /**
   * The REST `after` bound (submission time, epoch ms) that covers every order that may have
   * changed since `cutoff`: the cutoff itself or the oldest open order we know, whichever is earlier.
   */
  queryAfter(cutoff: number): number {
    let after = cutoff;
    for (const k of this.known.values()) if (!FINAL_STATUSES.has(k.status) && k.submittedAt < after) after = k.submittedAt;
    return after - 1000;
  }

  /**
   * Updates the stream missed, from a REST listing: orders whose state differs from what we know
   * (or unknown orders updated at or after `cutoff`), oldest first, marked recovered. `held` are
   * live updates received since the reconnect and not yet delivered: an order they cover with the
   * same or a newer state is left to them. Records what it returns.
   */
  recover(orders: OrderSnapshot[], cutoff: number, held: TradeUpdate[] = []): TradeUpdate[] {
    const heldNewest = new Map<string, number>();
    for (const u of held) {
      const t = ms(u.order.updatedAt);
      if (!(t <= (heldNewest.get(u.order.id) ?? -Infinity))) heldNewest.set(u.order.id, t);
    }
    const out: Array<{ at: number; update: TradeUpdate }> = [];
    for (const o of orders) {
      const event = eventForStatus(o.status);
      if (!event) continue;
      const at = ms(o.updatedAt ?? o.submittedAt ?? o.createdAt);
      const prior = this.known.get(o.id);
      if (prior) {
        if (prior.status === o.status && prior.filledQty === o.filledQty) continue;
        if (at <= prior.updatedAt) continue;
      } else if (!(at >= cutoff)) {
        continue;
      }
      const heldAt = heldNewest.get(o.id);
      if (heldAt !== undefined && heldAt >= at) continue;
      const fill = event === 'fill' || event === 'partial_fill';
      const update: TradeUpdate = {
        event,
        timestamp: new Date(Number.isFinite(at) ? at : Date.now()).toISOString(),
        order: o,
        ...(fill
          ? {
              qty: Number((o.filledQty - (prior?.filledQty ?? 0)).toFixed(9)),
              price: o.filledAvgPrice ?? undefined,
            }
          : {}),
        recovered: true,
      };
      if (!this.firstSeen(prior, update)) continue;
      out.push({ at, update });
    }
    out.sort((a, b) => a.at - b.at);
    for (const { update } of out) this.remember(update.order, true, this.known.get(update.order.id)?.seen ?? [eventKey(update)]);
    return out.map((x) => x.update);
  }

  /** Records `u` among its order's updates; false when it was delivered already. */
  private firstSeen(prior: Known | undefined, u: TradeUpdate): boolean {
    if (!prior) return true;
    const key = eventKey(u);
    if (prior.seen.includes(key)) return false;
    prior.seen.push(key);
    return true;
  }

  private remember(o: OrderSnapshot, recovered = false, seen: string[] = []): void {
    const k: Known = {
      recovered,
      seen,
      status: o.status,
      filledQty: o.filledQty,
      updatedAt: ms(o.updatedAt ?? o.submittedAt ?? o.createdAt),
      submittedAt: ms(o.submittedAt ?? o.createdAt),
    };
    if (!Number.isFinite(k.submittedAt)) k.submittedAt = k.updatedAt;
    this.known.delete(o.id);
    this.known.set(o.id, k);
    while (this.known.size > this.capacity) this.known.delete(this.known.keys().next().value as string);
  }
}
