// Protection against a slow downstream flow: conflation (only the latest event per key per
// interval), batching (many events to one msg, by count or time) and a bounded queue drained at a
// fixed rate that drops the oldest when full. Timers injectable for unit tests.
import { realTimers, type Timers } from './health';

export interface OutputGateOptions<T> {
  /** Delivers one item downstream. */
  deliver(item: T): void;
  /** Items whose key this returns are conflated (latest per key per interval); undefined = pass through. */
  conflateKey?(item: T): string | undefined;
  /** Conflation interval (ms); 0 = no conflation. */
  intervalMs?: number;
  /** Most items delivered per second; 0 = unlimited (no queue). */
  maxPerSecond?: number;
  /** Queue capacity when rate limited (oldest dropped beyond it). */
  capacity?: number;
  timers?: Timers;
}

export class OutputGate<T> {
  private readonly latest = new Map<string, T>();
  private readonly queue: T[] = [];
  private queueHead = 0;
  private flushTimer?: unknown;
  private drainTimer?: unknown;
  private readonly timers: Timers;
  private closed = false;
  /** Items dropped because the queue was full. */
  dropped = 0;
  /** Items replaced by a newer one for the same key before delivery. */
  conflated = 0;

  constructor(private readonly o: OutputGateOptions<T>) {
    this.timers = o.timers ?? realTimers;
  }

  push(item: T): void {
    if (this.closed) return;
    const interval = this.o.intervalMs ?? 0;
    const key = interval > 0 ? this.o.conflateKey?.(item) : undefined;
    if (key !== undefined) {
      if (this.latest.has(key)) {
        this.conflated++;
        this.latest.delete(key); // re-insert: keys keep the order of their latest event
      }
      this.latest.set(key, item);
      this.flushTimer ??= this.timers.setTimeout(() => this.flush(), interval);
      return;
    }
    this.enqueue(item);
  }

  /** Items waiting (queue plus conflated). */
  get pending(): number {
    return this.queue.length - this.queueHead + this.latest.size;
  }

  close(): void {
    this.closed = true;
    if (this.flushTimer !== undefined) this.timers.clearTimeout(this.flushTimer);
    if (this.drainTimer !== undefined) this.timers.clearTimeout(this.drainTimer);
    this.flushTimer = this.drainTimer = undefined;
    this.latest.clear();
    this.queue.length = 0;
    this.queueHead = 0;
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.closed) return;
    const items = [...this.latest.values()];
    this.latest.clear();
    for (const item of items) this.enqueue(item);
  }

  private enqueue(item: T): void {
    const rate = this.o.maxPerSecond ?? 0;
    if (!(rate > 0)) {
      this.o.deliver(item);
      return;
    }
    const capacity = Math.max(1, this.o.capacity ?? 1000);
    this.queue.push(item);
    if (this.queue.length - this.queueHead > capacity) {
      this.queueHead++;
      this.dropped++;
    }
    this.compact();
    this.drainTimer ??= this.timers.setTimeout(() => this.drain(), 0);
  }

  private drain(): void {
    this.drainTimer = undefined;
    if (this.closed) return;
    const rate = this.o.maxPerSecond ?? 0;
    // Deliver in slices of 1/20 s so a burst is spread evenly over the second.
    const slice = Math.max(1, Math.floor(rate / 20));
    for (let i = 0; i < slice && this.queueHead < this.queue.length; i++) {
      const item = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined as unknown as T;
      this.o.deliver(item);
    }
    this.compact();
    if (this.queueHead < this.queue.length) {
      this.drainTimer = this.timers.setTimeout(() => this.drain(), (slice / rate) * 1000);
    }
  }

  private compact(): void {
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

export interface BatcherOptions<T> {
  /** A batch goes out when it holds this many items… */
  size: number;
  /** …or at most this long after the first item waiting, whichever comes first. */
  ms: number;
  /** Items with the same key share a batch. */
  key(item: T): string;
  /** Whether `item` may join a batch that began with `first`; if not, that batch goes out first (order kept). */
  joins?(first: T, item: T): boolean;
  deliver(items: T[]): void;
  timers?: Timers;
}

/** Many items to one delivery: per key, `size` items or `ms` after the first item waiting. */
export class Batcher<T> {
  private readonly open = new Map<string, T[]>();
  private timer?: unknown;
  private readonly timers: Timers;
  private closed = false;

  constructor(private readonly o: BatcherOptions<T>) {
    this.timers = o.timers ?? realTimers;
  }

  push(item: T): void {
    if (this.closed) return;
    const key = this.o.key(item);
    let batch = this.open.get(key);
    if (batch && this.o.joins && !this.o.joins(batch[0], item)) {
      this.open.delete(key);
      this.o.deliver(batch);
      batch = undefined;
    }
    if (!batch) this.open.set(key, (batch = []));
    batch.push(item);
    if (batch.length >= this.o.size) {
      this.open.delete(key);
      this.o.deliver(batch);
      return;
    }
    this.timer ??= this.timers.setTimeout(() => this.flush(), this.o.ms);
  }

  /** Items waiting in open batches. */
  get pending(): number {
    let n = 0;
    for (const batch of this.open.values()) n += batch.length;
    return n;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.open.clear();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed) return;
    const batches = [...this.open.values()];
    this.open.clear();
    for (const batch of batches) this.o.deliver(batch);
  }
}
