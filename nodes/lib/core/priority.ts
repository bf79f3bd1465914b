// Where a request stands in a request budget: a higher rank goes first. Call sites use these
// names only; a bare number does not type-check as a Priority.

declare const isPriority: unique symbol;

/** A rank in the request budget's queue (higher first). Made only by PRIORITY and gatePriority. */
export type Priority = number & { readonly [isPriority]: true };

const rank = (n: number) => n as Priority;

export const PRIORITY = {
  /** Gap fill, REST polling during an outage, bar backfill, watchdog probes. */
  background: rank(10),
  /** Account, positions, clock and price reads. */
  read: rank(40),
  /** New orders and replaces. */
  order: rank(70),
  /** Lookups that settle an order's fate after an ambiguous answer; a 429's retry. */
  reconcile: rank(75),
  /** Cancels, cancel-all, closing positions and the breaker's trip actions: first, with tokens kept for them. */
  panic: rank(100),
} as const;

/** The rate gate's msg priorities: 0 (last) to 9 (first). */
export const GATE_LEVELS = 10;

/**
 * A rate gate's msg priority 0..9 as a rank: a band from above background (0) to below panic (9),
 * so no msg can overtake a halt.
 */
export function gatePriority(level: number): Priority {
  const l = Math.min(GATE_LEVELS - 1, Math.max(0, Math.round(Number.isFinite(level) ? level : 5)));
  return rank(20 + l * 8);
}

/** Whether a request may spend the tokens kept for panic actions. */
export function isPanic(priority: Priority): boolean {
  return priority >= PRIORITY.panic;
}
