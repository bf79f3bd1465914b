// The equity samples the rolling-window rule looks back over, bounded whatever the price rate:
// samples closer together than a bucket merge into one that keeps the bucket's highest equity (the
// peak is what a loss is measured from) stamped with its latest time, so a peak stays in the
// window at most one bucket longer than it happened. That errs on the side of tripping.
import type { EquitySample } from './rules';

/** Buckets per window: the series holds about this many samples whatever the rate. */
export const BUCKETS_PER_WINDOW = 240;

/** Bucket width for a window of `windowMs`: at least a second. */
export function bucketFor(windowMs: number): number {
  return Math.max(1000, Math.ceil(windowMs / BUCKETS_PER_WINDOW));
}

export class EquitySeries {
  private list: EquitySample[];

  constructor(restored: EquitySample[] = []) {
    this.list = restored.slice();
  }

  get samples(): readonly EquitySample[] {
    return this.list;
  }

  /** Adds a sample at `at` (the rules' clock), merging it into the last one within `bucketMs`. */
  add(at: number, equity: number, bucketMs: number): void {
    const last = this.list[this.list.length - 1];
    if (last && Math.floor(last.at / bucketMs) === Math.floor(at / bucketMs) && at >= last.at) {
      // A fresh object: a stored copy of the series may still hold the old one.
      this.list[this.list.length - 1] = { at, equity: Math.max(last.equity, equity) };
    } else {
      this.list.push({ at, equity });
    }
  }

  /** Forgets samples older than `from`, keeping the newest one. */
  trim(from: number): void {
    let drop = 0;
    while (drop < this.list.length - 1 && this.list[drop].at < from) drop++;
    if (drop) this.list.splice(0, drop);
  }

  /** The newest `n` samples, for the stored record. */
  newest(n: number): EquitySample[] {
    return this.list.slice(-n);
  }

  replace(samples: EquitySample[]): void {
    this.list = samples.slice();
  }
}
