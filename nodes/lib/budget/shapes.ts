// The two shapes a budget's tokens can have, on an injected clock: a sliding window (a log of when
// each token was taken; never more than `limit` in any span) and a token bucket (a burst of
// `limit`, refilled continuously). Both keep `keep` tokens back unless told otherwise.

export interface Shape {
  readonly limit: number;
  /** Takes a token at `now` when more than `keep` are left; false otherwise. */
  take(now: number, keep: number): boolean;
  /** The earliest time more than `keep` tokens are left (`now` when they are). */
  freeAt(now: number, keep: number): number;
  /** Whole tokens left at `now`. */
  left(now: number): number;
  /** Gives back a token taken at `at` whose request was never sent. */
  refund(at: number): void;
  /** Counts `n` tokens as used by someone else, coming back evenly over the span from `from` on. */
  absorb(now: number, n: number, from: number): void;
  /** The broker said it is full: one token at `until`, then the steady rate. */
  saturate(now: number, until: number): void;
}

/**
 * A sorted log of when tokens were taken, in a sliding span; old entries leave from the front.
 * Each entry may carry a tag (a shared store's member name) so it can be found again.
 */
export class SlidingWindow implements Shape {
  private times: number[] = [];
  private tags: string[] = [];
  private head = 0;

  constructor(
    readonly limit: number,
    /** The window, plus a margin for the time a request takes to reach the broker. */
    readonly spanMs: number,
  ) {}

  /** Entries taken within the span before `now`. */
  count(now: number): number {
    this.trim(now);
    return this.times.length - this.head;
  }

  left(now: number): number {
    return Math.max(0, this.limit - this.count(now));
  }

  take(now: number, keep: number): boolean {
    if (this.count(now) >= this.limit - keep) return false;
    this.add(now);
    return true;
  }

  /** Records a token taken at `at` whatever the count (an instance's own log of a shared budget). */
  add(at: number, tag = ''): void {
    const t = this.times;
    if (t.length === this.head || at >= t[t.length - 1]) {
      t.push(at);
      this.tags.push(tag);
    } else {
      const i = this.search(at);
      t.splice(i, 0, at);
      this.tags.splice(i, 0, tag);
    }
  }

  freeAt(now: number, keep: number): number {
    return this.whenBelow(now, this.limit - keep);
  }

  /** The earliest time fewer than `allowed` entries are in the span (`now` when they already are). */
  whenBelow(now: number, allowed: number): number {
    const n = this.count(now);
    if (n < allowed) return now;
    if (allowed <= 0) return Infinity;
    // The entry whose leaving brings the count below `allowed`.
    return this.times[this.head + n - allowed] + this.spanMs;
  }

  refund(at: number, tag?: string): void {
    for (let i = this.search(at); i < this.times.length && this.times[i] === at; i++) {
      if (tag !== undefined && this.tags[i] !== tag) continue;
      this.times.splice(i, 1);
      this.tags.splice(i, 1);
      return;
    }
  }

  absorb(now: number, n: number, from: number): void {
    if (n <= 0) return;
    this.trim(now);
    // Entries that leave evenly over (from, from + span]: the broker's count drains as its own log would.
    const added = Array.from({ length: n }, (_, i) => from - this.spanMs + ((i + 1) * this.spanMs) / n);
    const times: number[] = [];
    const tags: string[] = [];
    let a = this.head;
    let b = 0;
    while (a < this.times.length || b < added.length) {
      if (b >= added.length || (a < this.times.length && this.times[a] <= added[b])) {
        times.push(this.times[a]);
        tags.push(this.tags[a++]);
      } else {
        times.push(added[b++]);
        tags.push('');
      }
    }
    this.times = times;
    this.tags = tags;
    this.head = 0;
  }

  /** The broker said it is full: as many entries as make `upTo` (default the limit) in use. */
  saturate(now: number, until: number, upTo = this.limit): void {
    const n = upTo - this.count(now);
    // One token at the end of the pause (the retry the broker promised), the rest at the steady rate.
    if (n > 0) this.absorb(now, n, until - this.spanMs / n);
  }

  /** The tagged entries within the span before `now`, oldest first. */
  tagged(now: number): Array<{ at: number; tag: string }> {
    this.trim(now);
    const out: Array<{ at: number; tag: string }> = [];
    for (let i = this.head; i < this.times.length; i++) if (this.tags[i]) out.push({ at: this.times[i], tag: this.tags[i] });
    return out;
  }

  private trim(now: number): void {
    const t = this.times;
    const oldest = now - this.spanMs;
    while (this.head < t.length && t[this.head] <= oldest) this.head++;
    // Compact now and then instead of shifting on every grant.
    if (this.head > 64 && this.head * 2 > t.length) {
      t.splice(0, this.head);
      this.tags.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The first index at or after `head` whose time is >= `at`. */
  private search(at: number): number {
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A bucket of `limit` tokens refilled at limit / window, continuously. */
export class TokenBucket implements Shape {
  private tokens: number;
  private updated: number;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    now: number,
  ) {
    this.tokens = limit;
    this.updated = now;
  }

  private get rate(): number {
    return this.limit / this.windowMs;
  }

  private refill(now: number): void {
    if (now <= this.updated) return;
    this.tokens = Math.min(this.limit, this.tokens + (now - this.updated) * this.rate);
    this.updated = now;
  }

  left(now: number): number {
    this.refill(now);
    return Math.max(0, Math.floor(this.tokens));
  }

  take(now: number, keep: number): boolean {
    this.refill(now);
    if (this.tokens < 1 + keep) return false;
    this.tokens -= 1;
    return true;
  }

  freeAt(now: number, keep: number): number {
    this.refill(now);
    if (keep + 1 > this.limit) return Infinity;
    const start = Math.max(now, this.updated);
    const missing = 1 + keep - this.tokens;
    return missing <= 0 ? start : start + Math.ceil(missing / this.rate);
  }

  refund(): void {
    this.tokens = Math.min(this.limit, this.tokens + 1);
  }

  absorb(now: number, n: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  saturate(now: number, until: number): void {
    this.refill(now);
    // One token at the end of the pause (the retry the broker promised), refilling from then on.
    this.tokens = 1;
    this.updated = Math.max(this.updated, until);
  }
}
