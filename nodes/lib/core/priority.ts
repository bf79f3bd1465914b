// Where a request stands in the account's request budget: a higher number goes first. The rate
// gate's msg priorities (0 last .. 9 first) share this scale.

export const PRIORITY = {
  /** Gap fill, REST polling during an outage, bar backfill, watchdog probes. */
  background: 1,
  /** Account, positions, clock and price reads. */
  read: 5,
  /** New orders and replaces. */
  order: 8,
  /** Lookups that settle an order's fate after an ambiguous answer; a 429's retry. */
  reconcile: 8,
  /** Cancels, cancel-all, closing positions and the breaker's trip actions: they overtake everything. */
  panic: 9,
} as const;

export type NamedPriority = keyof typeof PRIORITY;
