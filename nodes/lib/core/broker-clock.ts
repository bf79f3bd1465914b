// The broker's time as this process knows it from the Date header of the broker's answers, kept on
// the monotonic clock. The order journal records its times on it, so that after a restart the
// broker is asked for orders since a time of its own: a machine whose wall clock is wrong (a
// Raspberry Pi has no clock battery and starts with the time it saved before a power failure,
// until NTP sets it) would otherwise ask from hours too late and miss the orders it is looking for.
// Until an answer has come it is the wall clock. A rate limit's reset time is read through it too.

/** A step in the broker's time against ours larger than this is taken at once (NTP stepped our clock, the machine slept). */
const STEP_MS = 2000;

export class BrokerClock {
  /** Broker time minus the monotonic clock: never later than the broker's (a Date header is rounded down). */
  private offset?: number;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly monotonic: () => number = () => performance.now(),
  ) {}

  /**
   * A Date header's time (epoch ms, whole seconds), read as the answer arrived. Kept is the latest
   * such lower bound on the broker's time, unless it is older by more than STEP_MS than what is
   * kept (our monotonic clock ran fast).
   */
  observe(dateMs: number | undefined): void {
    if (dateMs === undefined || !Number.isFinite(dateMs)) return;
    const sample = dateMs - this.monotonic();
    if (this.offset === undefined || sample > this.offset || sample < this.offset - STEP_MS) this.offset = sample;
  }

  /** Epoch ms on the broker's clock (ours until an answer has come). */
  now(): number {
    return this.offset === undefined ? this.wall() : this.monotonic() + this.offset;
  }

  /** A time on the broker's clock (a rate limit's reset) on ours. */
  toWall(brokerMs: number): number {
    return brokerMs - this.now() + this.wall();
  }
}
