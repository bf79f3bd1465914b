// The account's order journal: every order-changing request is recorded before it is sent, again
// when it goes out and when its outcome is known, and once more when a node has reported it.
// After a restart (clean or killed) what was never reported is looked up and reported (see
// recovery.ts). It also keeps the trade-updates feed's cursor. Kept in a JournalFile in Node-RED's
// user directory, or in memory only (no user directory; the built-in simulator, which forgets its
// orders at a restart anyway). It holds orders, client order ids, node ids and a few msg fields:
// never a credential. Bounded: at compaction a reported entry goes after 10 minutes, or after
// `retentionDays` when its client order id can come again (or beyond `maxEntries`, oldest first).
import { EventEmitter } from 'node:events';
import { JournalFile } from '../core/journal-file';
import { isFreshClientOrderId, isPackClientOrderId } from './client-order-id';
import type { OrderChange } from './types';
import type { OrderRef, OrderRequest, ReplaceChanges } from './types';

export type JournalAction = OrderChange['action'];

/** How a journaled request ended, as far as the account knows. */
export type JournalOutcome = 'placed' | 'duplicate' | 'not_placed' | 'unknown' | 'ok' | 'failed';

export interface JournalEntry {
  /** The client order id (submit, replace), or an id of its own (cancels, closes). */
  id: string;
  action: JournalAction;
  /** When it was asked for: epoch ms on the journal's clock. */
  at: number;
  /** The node that asked, and its name as errors show it. */
  nodeId?: string;
  origin: string;
  /** "buy 10 AAPL @ market", "cancel 61e6…". */
  summary: string;
  order?: OrderRequest;
  ref?: OrderRef;
  changes?: ReplaceChanges;
  symbol?: string;
  /** What the report after a restart needs of the msg that asked (JSON-safe, no secret). */
  msg?: Record<string, unknown>;
  /** held: not sent yet (waiting for a policy or the budget); sent: it may have reached the broker. */
  stage: 'held' | 'sent';
  outcome?: JournalOutcome;
  /** The broker's id of the order placed. */
  orderId?: string;
  /** Reported on a node's output or to the account: nothing left to do (epoch ms). */
  reportedAt?: number;
}

/** Where the trade-updates feed stopped: the broker time (order updated_at) of the last update it delivered. */
export interface TradeCursor {
  at: number;
}

export interface JournalOptions {
  /** The file; none = memory only. */
  file?: string;
  /** Reported entries are kept this long for duplicate detection (default 7 days). */
  retentionDays?: number;
  /** Entries kept at most (default 20,000): the oldest reported ones go first. */
  maxEntries?: number;
  /**
   * The journal's clock (default Date.now): an account gives the broker's (BrokerClock), so that
   * recovery asks the broker for orders since times of its own whatever the wall clock says.
   */
  now?: () => number;
}

const DAY_MS = 86_400_000;

/** Outcomes after which the same client order id is answered from the journal instead of being sent. */
export const PLACED_OUTCOMES: ReadonlySet<string> = new Set(['placed', 'duplicate']);

/**
 * How long a reported entry whose client order id cannot come again is kept: a start after a
 * power failure tells the orders it knew from those whose records were lost (see uncleanSince).
 * Longer than the margin the broker listing reaches back before the last write.
 */
const RECENT_MS = 10 * 60_000;

/** A submit or replace: a request that places an order. */
export const placing = (e: Pick<JournalEntry, 'action'>): boolean => e.action === 'submit' || e.action === 'replace';

/**
 * Whether the request leaves before its "sent" record is on disk: a submit or replace with a client
 * order id of this pack's, which the broker keeps, so a start after a power failure finds it there.
 */
export const sentBeforeSynced = (e: Pick<JournalEntry, 'action' | 'id'>): boolean => placing(e) && isPackClientOrderId(e.id);

/** Whether a reported entry answers "was this key placed?" for the retention period: its client order id can come again. */
function askedAgain(e: JournalEntry): boolean {
  return placing(e) && e.outcome !== undefined && PLACED_OUTCOMES.has(e.outcome) && !isFreshClientOrderId(e.id);
}

/** What is kept of an entry once reported: the fields that say whether its client order id was placed (no msg or order copy). */
function settled(e: JournalEntry, reportedAt: number): JournalEntry {
  const { id, action, at, origin, summary, stage, outcome, orderId } = e;
  return { id, action, at, origin, summary, stage, outcome, orderId, reportedAt };
}

/** The latest time a record names (its entry's, its report's, or its writing). */
function recordTime(record: Record<string, unknown>): number {
  const e = record.e as Partial<JournalEntry> | undefined;
  const times = [record.at, record.w, e?.at, e?.reportedAt].filter((t): t is number => typeof t === 'number' && Number.isFinite(t));
  return times.length ? Math.max(...times) : -Infinity;
}

/** A request that could not be journaled: it is not sent. */
export class JournalUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalUnavailable';
  }
}

/**
 * Events: 'problem' (message) when the file is damaged or a write fails; the journal goes on in
 * memory so trading is not stopped by a full disk, but new orders are refused while it cannot write.
 */
export class OrderJournal extends EventEmitter {
  private readonly entries = new Map<string, JournalEntry>();
  private readonly store?: JournalFile;
  private readonly retentionMs: number;
  private readonly maxEntries: number;
  /** Epoch ms on the journal's clock: every time it records. */
  readonly now: () => number;
  private cursorValue?: TradeCursor;
  private writeProblem?: string;
  private closed = false;
  /** What the last run left unreported, oldest first: recovery.ts settles these. */
  readonly unfinished: JournalEntry[] = [];
  /** What was wrong with the file when it was loaded (damaged lines skipped), if anything. */
  readonly loadProblem?: string;
  /** See uncleanSince. */
  private unclean?: number;

  constructor(options: JournalOptions = {}) {
    super();
    this.now = options.now ?? Date.now;
    this.retentionMs = (options.retentionDays ?? 7) * DAY_MS;
    this.maxEntries = options.maxEntries ?? 20_000;
    if (!options.file) return;
    this.store = new JournalFile(options.file);
    try {
      const loaded = this.store.load();
      this.loadProblem = loaded.problem;
      for (const record of loaded.records) this.replay(record);
      const last = loaded.records[loaded.records.length - 1];
      if ((last && last.r !== 'closed') || loaded.skipped) {
        const latest = loaded.records.reduce((t, r) => Math.max(t, recordTime(r)), -Infinity);
        const since = Number.isFinite(latest) ? latest : loaded.modifiedAt;
        if (since !== undefined) this.unclean = Math.min(this.unclean ?? Infinity, since);
      }
      for (const e of this.entries.values()) if (e.reportedAt === undefined) this.unfinished.push(e);
      this.unfinished.sort((a, b) => a.at - b.at);
      // A torn last line must not swallow the next record: start from a clean file.
      this.compact();
    } catch (err) {
      this.writeProblem = `the order journal ${options.file} cannot be used: ${(err as Error).message}`;
      this.loadProblem ??= this.writeProblem;
    }
  }

  /**
   * An earlier run did not close the journal (it was killed, or the power failed) and its orders
   * have not been looked for yet: the time of its last record. Its last records may
   * never have reached the disk, so recovery looks at the broker for orders of this pack's placed
   * since then that the journal does not know; then swept() clears it.
   */
  get uncleanSince(): number | undefined {
    return this.unclean;
  }

  /** Recovery has looked for the orders an unclean stop may have lost. */
  swept(): void {
    if (this.unclean === undefined || this.closed) return;
    this.unclean = undefined;
    this.write({ r: 'swept' });
  }

  /** Whether entries survive a restart. */
  get durable(): boolean {
    return this.store !== undefined;
  }

  /** Requests not yet reported (in flight, or waiting for recovery). */
  get backlog(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.reportedAt === undefined) n++;
    return n;
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): JournalEntry | undefined {
    return this.entries.get(id);
  }

  /** Records a request before anything is done with it. Throws JournalUnavailable when it cannot be written. */
  ask(entry: Omit<JournalEntry, 'stage'>): JournalEntry {
    if (this.closed) throw new JournalUnavailable('the account is closing (a redeploy or a stop)');
    if (this.writeProblem) throw new JournalUnavailable(this.writeProblem);
    const e: JournalEntry = { ...entry, stage: 'held' };
    this.write({ r: 'ask', e }, true);
    this.entries.delete(e.id);
    this.entries.set(e.id, e);
    return e;
  }

  /**
   * The request is about to go out. Resolves once that is on disk, except for a submit or replace
   * with a client order id of this pack's: the broker keeps that id, so if a power failure loses
   * these records the next start finds the order there (uncleanSince); it goes out at once and the
   * sync starts once it has left (handing an fdatasync to a worker thread costs the order's
   * latency 0.1-0.2 ms on a small machine).
   */
  async sent(id: string): Promise<void> {
    if (this.closed) throw new JournalUnavailable('the account closed (a redeploy or a stop) before the order was sent');
    const e = this.entries.get(id);
    if (!e) return;
    e.stage = 'sent';
    this.write({ r: 'sent', id }, true);
    if (!this.store) return;
    if (!sentBeforeSynced(e)) return this.store.flush();
    setImmediate(() => this.store?.flush().catch((err: Error) => this.cannotWrite(err)));
  }

  /** An order found at the broker after an unclean stop, placed by the last run but not in the journal: from now on it is. */
  adopt(entry: Omit<JournalEntry, 'stage'>): JournalEntry {
    const e: JournalEntry = { ...entry, stage: 'sent' };
    this.entries.set(e.id, e);
    this.write({ r: 'ask', e });
    return e;
  }

  /** The broker's answer (or the refusal) is known; `reported` when no node will report it. */
  answer(id: string, outcome: JournalOutcome, orderId?: string, reported = false): void {
    const e = this.entries.get(id);
    if (!e || this.closed) return;
    e.outcome = outcome;
    if (orderId) e.orderId = orderId;
    const at = reported ? this.settle(e, this.now()) : undefined;
    this.write({ r: 'answer', id, outcome, orderId, reported: reported || undefined, at });
  }

  /** A node has reported the outcome (output or error): the entry is done. */
  reported(id: string): void {
    const e = this.entries.get(id);
    if (!e || e.reportedAt !== undefined || this.closed) return;
    this.write({ r: 'done', id, at: this.settle(e, this.now()) });
    this.maybeCompact();
  }

  /** An entry of the last run settled by recovery (outcome and the order found, if any). */
  recovered(id: string, outcome: JournalOutcome, orderId?: string): void {
    const e = this.entries.get(id);
    if (!e || this.closed) return;
    e.outcome = outcome;
    if (orderId) e.orderId = orderId;
    this.write({ r: 'answer', id, outcome, orderId });
  }

  get cursor(): TradeCursor | undefined {
    return this.cursorValue;
  }

  saveCursor(cursor: TradeCursor): void {
    if (this.closed) return;
    this.cursorValue = cursor;
    this.write({ r: 'cursor', c: cursor, w: this.now() });
    this.maybeCompact();
  }

  /** Stops writing (the account closes) with a mark that it closed; what is unfinished is the next start's to recover. */
  close(): void {
    if (this.closed) return;
    this.write({ r: 'closed', at: this.now() });
    this.store?.flush().catch(() => undefined);
    this.closed = true;
    this.store?.close();
  }

  // --- internals ------------------------------------------------------------------------------

  private replay(record: Record<string, unknown>): void {
    const id = typeof record.id === 'string' ? record.id : undefined;
    switch (record.r) {
      case 'ask': {
        const e = record.e as JournalEntry | undefined;
        if (!e || typeof e.id !== 'string' || typeof e.action !== 'string' || typeof e.at !== 'number') return;
        this.entries.delete(e.id);
        this.entries.set(e.id, { ...e, stage: e.stage === 'sent' ? 'sent' : 'held' });
        return;
      }
      case 'sent': {
        const e = id ? this.entries.get(id) : undefined;
        if (e) e.stage = 'sent';
        return;
      }
      case 'answer': {
        const e = id ? this.entries.get(id) : undefined;
        if (!e) return;
        if (typeof record.outcome === 'string') e.outcome = record.outcome as JournalOutcome;
        if (typeof record.orderId === 'string') e.orderId = record.orderId;
        if (record.reported === true && e.reportedAt === undefined) this.settle(e, typeof record.at === 'number' ? record.at : e.at);
        return;
      }
      case 'done': {
        const e = id ? this.entries.get(id) : undefined;
        if (e && e.reportedAt === undefined) this.settle(e, typeof record.at === 'number' ? record.at : e.at);
        return;
      }
      case 'unclean': {
        // Left by a start that was stopped before it looked: the earliest such time counts.
        if (typeof record.since === 'number' && Number.isFinite(record.since)) this.unclean = Math.min(this.unclean ?? Infinity, record.since);
        return;
      }
      case 'swept':
        this.unclean = undefined;
        return;
      case 'cursor': {
        const c = record.c as TradeCursor | undefined;
        if (c && typeof c.at === 'number' && Number.isFinite(c.at)) this.cursorValue = { at: c.at };
        return;
      }
    }
  }

  /** Replaces an entry by its reported form (same place in the order of entries); returns when it was reported. */
  private settle(e: JournalEntry, at: number): number {
    this.entries.set(e.id, settled(e, at));
    return at;
  }

  private write(record: object, required = false): void {
    if (!this.store || this.writeProblem) {
      if (required && this.writeProblem) throw new JournalUnavailable(this.writeProblem);
      return;
    }
    try {
      this.store.append(record);
    } catch (err) {
      this.cannotWrite(err as Error);
      if (required) throw new JournalUnavailable(this.writeProblem as string);
    }
  }

  private cannotWrite(err: Error): void {
    if (this.writeProblem) return;
    this.writeProblem = `the order journal cannot be written (${err.message}): new orders are refused until it can`;
    this.emit('problem', this.writeProblem);
  }

  private maybeCompact(): void {
    if (!this.store || this.writeProblem) return;
    if (this.store.appended < 1000 || this.store.appended < 2 * this.entries.size) return;
    try {
      this.compact();
    } catch (err) {
      this.emit('problem', `the order journal could not be compacted: ${(err as Error).message}`);
    }
  }

  /** Drops what retention no longer needs, then rewrites the file with one record per entry. */
  private compact(): void {
    const now = this.now();
    const oldest = now - this.retentionMs;
    // Until an unclean stop has been swept, what it had reported lately is needed to tell its orders.
    const recent = Math.min(now, this.unclean ?? now) - RECENT_MS;
    for (const [id, e] of this.entries) if (e.reportedAt !== undefined && e.reportedAt < (askedAgain(e) ? oldest : recent)) this.entries.delete(id);
    if (this.entries.size > this.maxEntries) {
      for (const [id, e] of this.entries) {
        if (this.entries.size <= this.maxEntries) break;
        if (e.reportedAt !== undefined) this.entries.delete(id);
      }
    }
    const records: object[] = [...this.entries.values()].map((e) => ({ r: 'ask', e }));
    // Written now: the entries dropped above are older than what a start after a power failure looks for.
    records.push({ r: 'cursor', c: this.cursorValue, w: now });
    if (this.unclean !== undefined) records.push({ r: 'unclean', since: this.unclean });
    this.store?.compact(records);
  }
}
