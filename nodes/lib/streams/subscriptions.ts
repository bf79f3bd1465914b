// Reference-counted stream subscriptions: many nodes share one socket, each owning its own set of
// (channel, symbol) interests. The server-side subscribe happens when the first owner wants a
// pair and the unsubscribe when the last one lets go. No broker or Node-RED here.

export type Wanted = Record<string, string[]>;

export interface SubscriptionDiff {
  /** Pairs nobody wanted before: subscribe them on the server. */
  subscribe: Wanted;
  /** Pairs nobody wants any more: unsubscribe them on the server. */
  unsubscribe: Wanted;
}

function push(into: Wanted, channel: string, symbol: string): void {
  (into[channel] ??= []).push(symbol);
}

export function isEmpty(w: Wanted): boolean {
  return Object.values(w).every((list) => list.length === 0);
}

export class SubscriptionBook {
  /** channel -> symbol -> owners */
  private readonly pairs = new Map<string, Map<string, Set<string>>>();
  /** owner -> channel -> symbols */
  private readonly owners = new Map<string, Map<string, Set<string>>>();

  /** Adds an owner's interest; returns what the server must newly subscribe. */
  add(owner: string, wanted: Wanted): SubscriptionDiff {
    const diff: SubscriptionDiff = { subscribe: {}, unsubscribe: {} };
    for (const [channel, symbols] of Object.entries(wanted)) {
      for (const symbol of symbols) {
        const mine = this.ownerChannel(owner, channel, true) as Set<string>;
        if (mine.has(symbol)) continue;
        mine.add(symbol);
        let bySymbol = this.pairs.get(channel);
        if (!bySymbol) this.pairs.set(channel, (bySymbol = new Map()));
        let holders = bySymbol.get(symbol);
        if (!holders) {
          bySymbol.set(symbol, (holders = new Set()));
          push(diff.subscribe, channel, symbol);
        }
        holders.add(owner);
      }
    }
    return diff;
  }

  /** Removes an owner's interest; returns what the server must unsubscribe (nobody else wants it). */
  remove(owner: string, wanted: Wanted): SubscriptionDiff {
    const diff: SubscriptionDiff = { subscribe: {}, unsubscribe: {} };
    for (const [channel, symbols] of Object.entries(wanted)) {
      const mine = this.ownerChannel(owner, channel, false);
      if (!mine) continue;
      for (const symbol of symbols) {
        if (!mine.delete(symbol)) continue;
        const bySymbol = this.pairs.get(channel);
        const holders = bySymbol?.get(symbol);
        if (!bySymbol || !holders) continue;
        holders.delete(owner);
        if (holders.size === 0) {
          bySymbol.delete(symbol);
          push(diff.unsubscribe, channel, symbol);
        }
        if (bySymbol.size === 0) this.pairs.delete(channel);
      }
      if (mine.size === 0) this.owners.get(owner)?.delete(channel);
    }
    if (this.owners.get(owner)?.size === 0) this.owners.delete(owner);
    return diff;
  }

  /** Replaces everything an owner wants with `wanted`; returns the net server change. */
  replace(owner: string, wanted: Wanted): SubscriptionDiff {
    const current = this.of(owner);
    const next = new Map(Object.entries(wanted).map(([c, list]) => [c, new Set(list)]));
    const drop: Wanted = {};
    for (const [channel, symbols] of Object.entries(current)) {
      for (const s of symbols) if (!next.get(channel)?.has(s)) push(drop, channel, s);
    }
    // Add first so a pair kept by this owner never flickers through an unsubscribe.
    const added = this.add(owner, wanted);
    const removed = this.remove(owner, drop);
    return { subscribe: added.subscribe, unsubscribe: removed.unsubscribe };
  }

  /** Removes every interest of an owner (a node closing). */
  removeOwner(owner: string): SubscriptionDiff {
    return this.remove(owner, this.of(owner));
  }

  /** What one owner wants, channel -> sorted symbols. */
  of(owner: string): Wanted {
    const out: Wanted = {};
    for (const [channel, symbols] of this.owners.get(owner) ?? []) if (symbols.size) out[channel] = [...symbols].sort();
    return out;
  }

  /** Everything any owner wants (what the server should have). */
  all(): Wanted {
    const out: Wanted = {};
    for (const [channel, bySymbol] of this.pairs) if (bySymbol.size) out[channel] = [...bySymbol.keys()].sort();
    return out;
  }

  /** Owners of one pair, including owners of the `*` wildcard on that channel. */
  holders(channel: string, symbol: string): Set<string> | undefined {
    const bySymbol = this.pairs.get(channel);
    if (!bySymbol) return undefined;
    const exact = bySymbol.get(symbol);
    const star = bySymbol.get('*');
    if (!star) return exact;
    if (!exact) return star;
    return new Set([...exact, ...star]);
  }

  get ownerCount(): number {
    return this.owners.size;
  }

  /** Number of distinct (channel, symbol) pairs held. */
  get size(): number {
    let n = 0;
    for (const bySymbol of this.pairs.values()) n += bySymbol.size;
    return n;
  }

  private ownerChannel(owner: string, channel: string, create: boolean): Set<string> | undefined {
    let channels = this.owners.get(owner);
    if (!channels) {
      if (!create) return undefined;
      this.owners.set(owner, (channels = new Map()));
    }
    let set = channels.get(channel);
    if (!set && create) channels.set(channel, (set = new Set()));
    return set;
  }
}
