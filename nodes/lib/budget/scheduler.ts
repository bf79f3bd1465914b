// The budget's local queue: what waits for a token, best first (priority high to low, then
// arrival), each with a deadline (one timer, at the earliest). No knowledge of tokens: the budget
// decides when the head may go.
import type { Priority } from '../core/priority';

export interface Waiter {
  priority: Priority;
  seq: number;
  enqueuedAt: number;
  /** Epoch ms after which the waiter is refused (Infinity: none). */
  deadline: number;
  /** A call counts against the concurrency cap; a ticket does not (its request is made elsewhere). */
  kind: 'call' | 'ticket';
  /** The token was taken at `at` (named `member` in a shared store). */
  grant(at: number, member?: string): void;
  refuse(err: Error): void;
}

export class WaitQueue {
  private items: Waiter[] = [];
  private seq = 0;
  private deadlineTimer?: NodeJS.Timeout;

  /** `expired` gets the waiters whose deadline passed, already removed. */
  constructor(private readonly expired: (waiters: Waiter[], now: number) => void) {}

  get size(): number {
    return this.items.length;
  }

  nextSeq(): number {
    return this.seq++;
  }

  peek(): Waiter | undefined {
    return this.items[0];
  }

  shift(): Waiter | undefined {
    return this.items.shift();
  }

  insert(w: Waiter): void {
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ahead(items[mid], w)) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, w);
    if (w.deadline < Infinity) this.armDeadline();
  }

  remove(w: Waiter): boolean {
    const i = this.items.indexOf(w);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Moves a waiter up to `priority` (never down). */
  raise(w: Waiter, priority: Priority): void {
    if (priority <= w.priority || !this.remove(w)) return;
    w.priority = priority;
    this.insert(w);
  }

  /** Whether anything at least as important as `priority` waits. */
  hasAtLeast(priority: Priority): boolean {
    return this.items.length > 0 && this.items[0].priority >= priority;
  }

  /** The least important waiter (the newest of equals). */
  last(): Waiter | undefined {
    return this.items[this.items.length - 1];
  }

  /** Empties the queue (and its timer); returns what waited. */
  drain(): Waiter[] {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    const all = this.items;
    this.items = [];
    return all;
  }

  /** One timer, at the earliest deadline. */
  private armDeadline(): void {
    let at = Infinity;
    for (const w of this.items) if (w.deadline < at) at = w.deadline;
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (at === Infinity) return;
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      const now = Date.now();
      const out: Waiter[] = [];
      this.items = this.items.filter((w) => (w.deadline <= now ? (out.push(w), false) : true));
      if (out.length) this.expired(out, now);
      this.armDeadline();
    }, Math.max(0, at - Date.now()));
    this.deadlineTimer.unref();
  }
}

function ahead(a: Waiter, b: Waiter): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}
