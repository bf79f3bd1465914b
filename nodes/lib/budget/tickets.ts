// Per-msg tickets: a token the rate gate took for one msg, spent only by a request that msg leads
// to. The msg's way downstream (Node-RED hands it on through setImmediate and promises) runs in an
// async context that carries its ticket, so no other request (a breaker poll, another msg's
// order) can spend it; a ticket unused within its lifetime goes back to the budget.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Ticket } from './types';

const carried = new AsyncLocalStorage<IssuedTicket>();

export class IssuedTicket implements Ticket {
  private settled = false;

  constructor(
    /** The budget whose token this is: only its own requests may spend it. */
    readonly owner: object,
    /** When the token was taken (the budget's log entry). */
    readonly at: number,
    readonly expiresAt: number,
    /** Gives the token back to the budget. */
    private readonly giveBack: (ticket: IssuedTicket) => void,
    /** The entry in a shared store's log, if the budget is shared. */
    readonly member?: string,
  ) {}

  get open(): boolean {
    return !this.settled;
  }

  carry<T>(work: () => T): T {
    return carried.run(this, work);
  }

  spend(): void {
    this.settled = true;
  }

  refund(): void {
    if (this.settled) return;
    this.settled = true;
    this.giveBack(this);
  }

  /** Spends the ticket on a request of `owner` at `now`; false when it is another budget's, settled or too old. */
  claim(owner: object, now: number): boolean {
    if (this.settled || owner !== this.owner || now > this.expiresAt) return false;
    this.settled = true;
    return true;
  }
}

/** The ticket of the msg whose work is running now, if any. */
export function carriedTicket(): IssuedTicket | undefined {
  return carried.getStore();
}

/** The tickets a budget has handed out and not yet seen settled: unused ones go back after their lifetime. */
export class TicketBook {
  private open: IssuedTicket[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly owner: object,
    private readonly ttlMs: number,
    private readonly giveBack: (ticket: IssuedTicket) => void,
  ) {}

  issue(at: number, member?: string): IssuedTicket {
    const ticket = new IssuedTicket(this.owner, at, at + this.ttlMs, this.giveBack, member);
    this.open.push(ticket);
    if (!this.timer) this.arm();
    return ticket;
  }

  /** Gives back every ticket still open (the budget stops). */
  refundAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const t of this.open.splice(0)) t.refund();
  }

  private arm(): void {
    const first = this.open.find((t) => t.open);
    if (!first) {
      this.open = [];
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      const keep: IssuedTicket[] = [];
      for (const t of this.open) {
        if (!t.open) continue;
        if (t.expiresAt < now) t.refund();
        else keep.push(t);
      }
      this.open = keep;
      if (keep.length) this.arm();
    }, Math.max(0, first.expiresAt - Date.now() + 1));
    this.timer.unref();
  }
}
