// A bounded memory of keys seen lately, for dropping duplicates without growing forever.

/** Remembers the last `capacity` keys (insertion order): has() answers "seen recently?". */
export class RecentKeys {
  private readonly keys = new Set<string>();
  constructor(private readonly capacity = 5000) {}

  /** Records `key`; returns false when it was already there (a duplicate). */
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  get size(): number {
    return this.keys.size;
  }

  clear(): void {
    this.keys.clear();
  }
}
