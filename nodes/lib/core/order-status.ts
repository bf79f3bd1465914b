// Order statuses after which nothing more happens to an order (Alpaca's terminal states).

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['filled', 'canceled', 'expired', 'rejected', 'replaced', 'done_for_day']);

/** Trade-update events that leave the order in a final status. */
export const FINAL_EVENTS: ReadonlySet<string> = new Set(['fill', 'canceled', 'expired', 'rejected', 'replaced', 'done_for_day']);
