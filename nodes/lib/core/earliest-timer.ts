// One timer for the earliest of many deadlines: arming a later deadline changes nothing, an
// earlier one moves the timer.

export class EarliestTimer {
  private timer?: NodeJS.Timeout;
  private at = Infinity;

  /** `keepAlive`: the pending timer keeps the process alive (something waits on it). */
  constructor(
    private readonly fire: () => void,
    private readonly keepAlive = true,
  ) {}

  arm(at: number): void {
    if (!Number.isFinite(at) || (this.timer && this.at <= at)) return;
    clearTimeout(this.timer);
    this.at = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.at = Infinity;
      this.fire();
    }, Math.max(0, at - Date.now()));
    if (!this.keepAlive) this.timer.unref();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.at = Infinity;
  }
}
