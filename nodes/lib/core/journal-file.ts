// An append-only file of JSON records, one per line, for state that must outlive the process
// (the order journal, the msgs waiting in a rate gate). A record is in the file when append()
// returns, so a killed process loses nothing; flush() makes it durable on disk (one fdatasync for
// everything appended meanwhile); compact() rewrites the file atomically with only what is still
// needed. A line that does not parse (a torn last write, a damaged file) is skipped and counted,
// never fatal. Plus the JSON-safe, size-capped copy of a msg that such a file may keep.
import fs from 'node:fs';
import path from 'node:path';

export interface JournalLoad {
  records: Record<string, unknown>[];
  /** Lines that were not a JSON object (a truncated or damaged file). */
  skipped: number;
  /** What went wrong reading the file, in a few words, if anything did. */
  problem?: string;
  /** When the file was last changed (epoch ms), if there is one. */
  modifiedAt?: number;
}

/** A file larger than this is not read (it cannot be ours): it is set aside and a new one begun. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export class JournalFile {
  private fd?: number;
  private waiting: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private syncing = false;
  private closeWhenSynced = false;
  /** Lines appended since the last compaction. */
  appended = 0;

  constructor(readonly file: string) {}

  /** Reads every record (creating the folder); then the file is open for appends. */
  load(): JournalLoad {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    let text = '';
    let problem: string | undefined;
    let modifiedAt: number | undefined;
    try {
      const stat = fs.statSync(this.file);
      const size = stat.size;
      modifiedAt = stat.mtimeMs;
      if (size > MAX_FILE_BYTES) {
        const aside = `${this.file}.too-large-${Date.now()}`;
        fs.renameSync(this.file, aside);
        problem = `${path.basename(this.file)} is ${size} bytes, more than a journal can be: set aside as ${path.basename(aside)}`;
      } else {
        text = fs.readFileSync(this.file, 'utf8');
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problem = `${path.basename(this.file)} could not be read (${(err as Error).message})`;
    }
    const records: Record<string, unknown>[] = [];
    let skipped = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const value: unknown = JSON.parse(line);
        if (value && typeof value === 'object' && !Array.isArray(value)) records.push(value as Record<string, unknown>);
        else skipped++;
      } catch {
        skipped++;
      }
    }
    if (skipped && !problem) problem = `${skipped} damaged or truncated line(s) in ${path.basename(this.file)} were skipped`;
    return { records, skipped, problem, modifiedAt };
  }

  /** Writes one record; it is in the file (the kernel's) when this returns. Throws when it cannot be written. */
  append(record: object): void {
    fs.writeSync(this.open(), `${JSON.stringify(record)}\n`);
    this.appended++;
  }

  /** Resolves once everything appended so far is on disk. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.sync();
    });
  }

  /** Replaces the file's content with `records` (write aside, sync, rename): all or nothing. */
  compact(records: object[]): void {
    const aside = `${this.file}.compacting`;
    const fd = fs.openSync(aside, 'w', 0o600);
    try {
      if (records.length) fs.writeSync(fd, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    this.closeFd();
    fs.renameSync(aside, this.file);
    this.appended = 0;
  }

  /** Closes the file (pending flushes still complete); the next append opens it again. */
  close(): void {
    if (this.syncing) this.closeWhenSynced = true;
    else this.closeFd();
  }

  /** Removes the file. */
  remove(): void {
    this.closeFd();
    fs.rmSync(this.file, { force: true });
  }

  private open(): number {
    this.closeWhenSynced = false;
    this.fd ??= fs.openSync(this.file, 'a', 0o600);
    return this.fd;
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already gone: nothing to release.
    }
    this.fd = undefined;
  }

  /** One fdatasync for every waiter so far; waiters arriving meanwhile get the next one. */
  private sync(): void {
    const batch = this.waiting;
    this.waiting = [];
    if (this.fd === undefined) {
      for (const w of batch) w.resolve();
      return;
    }
    this.syncing = true;
    fs.fdatasync(this.fd, (err) => {
      this.syncing = false;
      for (const w of batch) (err ? w.reject(err) : w.resolve());
      if (this.waiting.length) this.sync();
      else if (this.closeWhenSynced) this.closeFd();
    });
  }
}

/** A file name part made from a node id (any text) that stays inside its folder. */
export function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100) || 'node';
}

/** Keys whose values a journal never keeps (a webhook's passphrase, a token). */
const SECRET_KEY = /pass(word|phrase)?|secret|token|api[-_]?key|auth|credential|cookie|signature/i;

/**
 * A copy of a msg a journal may keep: JSON-safe, the objects of http-in (req, res) and Node-RED's
 * internals (_ keys but _msgid) left out, secret-looking keys removed, at most `maxBytes` of JSON
 * (beyond it, payload is left out and `truncated` set).
 */
export function msgEcho(msg: Record<string, unknown>, maxBytes = 8192): Record<string, unknown> {
  const seen = new WeakSet<object>();
  const copy = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v !== 'object' || depth > 8) return undefined;
    if (seen.has(v)) return undefined;
    seen.add(v);
    if (Buffer.isBuffer(v)) return undefined;
    if (Array.isArray(v)) return v.slice(0, 1000).map((x) => copy(x, depth + 1) ?? null);
    if (v instanceof Date) return v.toISOString();
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto !== null && Object.getPrototypeOf(proto) !== null) return undefined; // class instances: sockets, streams, requests
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(v)) {
      if (SECRET_KEY.test(key)) continue;
      const c = copy(value, depth + 1);
      if (c !== undefined) out[key] = c;
    }
    return out;
  };
  const echo: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(msg)) {
    if (key === 'req' || key === 'res' || (key.startsWith('_') && key !== '_msgid') || SECRET_KEY.test(key)) continue;
    const c = copy(value, 0);
    if (c !== undefined) echo[key] = c;
  }
  if (JSON.stringify(echo).length <= maxBytes) return echo;
  const small: Record<string, unknown> = { truncated: true };
  for (const [key, value] of Object.entries(echo)) {
    if (key === 'payload') continue;
    small[key] = value;
  }
  if (JSON.stringify(small).length <= maxBytes) return small;
  return { _msgid: echo._msgid, topic: typeof echo.topic === 'string' ? echo.topic.slice(0, 200) : undefined, truncated: true };
}
