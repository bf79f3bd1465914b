// A shared budget as one instance sees it: its own grants (named as they are in Redis), what the
// other instances had taken when Redis was last reached, and the local share it allows itself
// while Redis is away. Plain data on an injected clock; the budget decides when to use it.
import { randomBytes } from 'node:crypto';
import { SlidingWindow } from './shapes';

export class InstanceShare {
  private readonly own: SlidingWindow;
  /** Grants of other instances seen at the last acquire, counted until `until`. */
  private others = { count: 0, until: 0 };
  /** Names this instance's grants apart from every other instance's. */
  private readonly instance = randomBytes(4).toString('hex');
  private grants = 0;

  constructor(
    readonly limit: number,
    /** Requests per window this instance allows itself while Redis is unreachable. */
    readonly share: number,
    private readonly reserve: number,
    private readonly spanMs: number,
  ) {
    this.own = new SlidingWindow(limit, spanMs);
  }

  /** A unique name for one of this instance's grants in the shared log. */
  name(): string {
    return `${this.instance}:${this.grants++}`;
  }

  /** This instance's grants in the window. */
  count(now: number): number {
    return this.own.count(now);
  }

  /** Records a grant Redis made, with what Redis counted in all (this instance's and the others'). */
  granted(at: number, member: string, sharedCount: number): void {
    this.own.add(at, member);
    this.others = { count: Math.max(0, sharedCount - this.own.count(at)), until: at + this.spanMs };
  }

  /**
   * A grant from the local share (Redis unreachable): named, so it goes into Redis when Redis is
   * back; otherwise when to try again.
   */
  take(now: number, panic: boolean): string | number {
    const keep = panic ? 0 : this.reserve;
    const keepShare = panic ? 0 : Math.floor((this.reserve * this.share) / this.limit);
    let at = this.own.whenBelow(now, this.share - keepShare);
    // What the others had taken when Redis was last reached counts until it has left the window.
    if (now < this.others.until) at = Math.max(at, Math.min(this.others.until, this.own.whenBelow(now, this.limit - keep - this.others.count)));
    if (at > now) return at;
    const member = this.name();
    this.own.add(now, member);
    return member;
  }

  /** Tokens left: of the whole budget as last seen in Redis, or of the local share. */
  left(now: number, shared: boolean): number {
    if (!shared) return Math.max(0, this.share - this.own.count(now));
    return Math.max(0, this.limit - this.own.count(now) - (now < this.others.until ? this.others.count : 0));
  }

  refund(at: number, member: string): void {
    this.own.refund(at, member);
  }

  /** Counts `n` grants of others (the broker's count is lower than ours) while Redis is away. */
  absorb(now: number, n: number): void {
    this.own.absorb(now, n, now);
  }

  /** A 429 while Redis is away: the local share is used up, one token at `until`, then the steady rate. */
  saturate(now: number, until: number): void {
    this.own.saturate(now, until, this.share);
  }

  /** This instance's grants still in the window, for putting back into Redis. */
  recent(now: number): Array<{ tag: string; ageMs: number }> {
    return this.own.tagged(now).map((g) => ({ tag: g.tag, ageMs: now - g.at }));
  }
}
