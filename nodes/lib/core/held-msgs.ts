// The msgs a node holds for later (a rate gate's queue), on file: a msg is written when it starts
// waiting and crossed off just before it leaves, so what a restart (or a kill) interrupted can be
// reported by the next run instead of vanishing. Only a JSON-safe, size-capped copy of each msg is
// kept (see msgEcho); held msgs are never re-sent from it.
import { msgEcho, type JournalFile } from './journal-file';

export interface HeldMsg {
  key: string;
  /** Epoch ms the msg started waiting. */
  at: number;
  /** The msg's copy, and what the node wants to know again (priority, lane...). */
  msg: Record<string, unknown>;
  info: Record<string, unknown>;
}

export class HeldMsgs {
  private readonly open = new Map<string, HeldMsg>();
  private readonly prefix = Date.now().toString(36);
  private seq = 0;
  private failed = false;
  /** What the last run still held (oldest first), until reported. */
  readonly leftovers: HeldMsg[] = [];
  readonly problem?: string;

  constructor(private readonly file?: JournalFile) {
    if (!file) return;
    try {
      const loaded = file.load();
      this.problem = loaded.problem;
      const byKey = new Map<string, HeldMsg>();
      for (const r of loaded.records) {
        if (r.r === 'in' && typeof r.key === 'string' && typeof r.at === 'number') {
          byKey.set(r.key, { key: r.key, at: r.at, msg: (r.msg ?? {}) as Record<string, unknown>, info: (r.info ?? {}) as Record<string, unknown> });
        } else if (r.r === 'out' && typeof r.key === 'string') byKey.delete(r.key);
      }
      this.leftovers.push(...[...byKey.values()].sort((a, b) => a.at - b.at));
      for (const h of this.leftovers) this.open.set(h.key, h);
      this.compact();
    } catch (err) {
      this.problem = `held msgs cannot be kept on file: ${(err as Error).message}`;
      this.failed = true;
    }
  }

  /** Records a msg that starts waiting; returns its key. */
  hold(msg: Record<string, unknown>, info: Record<string, unknown>, at = Date.now()): string {
    const key = `${this.prefix}-${this.seq++}`;
    const held: HeldMsg = { key, at, msg: msgEcho(msg), info };
    this.open.set(key, held);
    this.write({ r: 'in', ...held });
    return key;
  }

  /** The msg leaves (released, dropped, or reported after a restart): crossed off. */
  release(key: string): void {
    if (!this.open.delete(key)) return;
    this.write({ r: 'out', key });
    if (this.file && this.file.appended > 1000 && this.file.appended > 2 * this.open.size) this.compact();
  }

  /** Forgets everything (the node was deleted). */
  clear(): void {
    this.open.clear();
    this.file?.remove();
  }

  close(): void {
    this.file?.close();
  }

  private write(record: object): void {
    if (!this.file || this.failed) return;
    try {
      this.file.append(record);
    } catch {
      // A full disk must not stop the gate; only the report after a restart is lost.
      this.failed = true;
    }
  }

  private compact(): void {
    if (!this.file || this.failed) return;
    try {
      this.file.compact([...this.open.values()].map((h) => ({ r: 'in', ...h })));
    } catch {
      this.failed = true;
    }
  }
}
