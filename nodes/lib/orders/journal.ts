// The account's order journal: every order-changing request is recorded before it is sent, again
// when it goes out and when its outcome is known, and once more when a node has reported it.
// After a restart (clean or killed) what was never reported is looked up and reported (see
// recovery.ts). It also keeps the trade-updates feed's cursor. Kept in a JournalFile in Node-RED's
// user directory, or in memory only (no user directory; the built-in simulator, which forgets its
// orders at a restart anyway). It holds orders, client order ids, node ids and a few msg fields:
// never a credential. Bounded: a reported entry is forgotten unless its client order id can come
// again, and those go after `retentionDays` (or beyond `maxEntries`) at compaction.
import { EventEmitter } from 'node:events';
import { JournalFile } from '../core/journal-file';
import { isFreshClientOrderId } from './client-order-id';
import type { OrderChange } from './types';
import type { OrderRef, OrderRequest, ReplaceChanges } from './types';

export type JournalAction = OrderChange['action'];

/** How a journaled request ended, as far as the account knows. */
export type JournalOutcome = 'placed' | 'duplicate' | 'not_placed' | 'unknown' | 'ok' | 'failed';

export interface JournalEntry {
  /** The client order id (submit, replace), or an id of its own (cancels, closes). */
  id: string;
  action: JournalAction;
  /** Wall-clock epoch ms when it was asked for. */
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
  now?: () => number;
}

const DAY_MS = 86_400_000;

/** Outcomes after which the same client order id is answered from the journal instead of being sent. */
export const PLACED_OUTCOMES: ReadonlySet<string> = new Set(['placed', 'duplicate']);

/**
 * What is kept of an entry once reported: it only answers "was this key placed?", so only a
 * placing request whose client order id can come again stays (a user's key, or a client order id
 * of the user's; never a fresh one of ours), with the fields that question needs. Null: forget it.
 */
function settled(e: JournalEntry, reportedAt: number): JournalEntry | null {
  const { id, action, at, stage, outcome, orderId } = e;
  if ((action !== 'submit' && action !== 'replace') || !outcome || !PLACED_OUTCOMES.has(outcome) || isFreshClientOrderId(id)) return null;
  return { id, action, at, origin: e.origin, summary: e.summary, stage, outcome, orderId, reportedAt };
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
  private readonly now: () => number;
  private cursorValue?: TradeCursor;
  private writeProblem?: string;
  private closed = false;
  /** What the last run left unreported, oldest first: recovery.ts settles these. */
  readonly unfinished: JournalEntry[] = [];
  /** What was wrong with the file when it was loaded (damaged lines skipped), if anything. */
  readonly loadProblem?: string;

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
      for (const e of this.entries.values()) if (e.reportedAt === undefined) this.unfinished.push(e);
      this.unfinished.sort((a, b) => a.at - b.at);
      // A torn last line must not swallow the next record: start from a clean file.
      this.compact();
    } catch (err) {
      this.writeProblem = `the order journal ${options.file} cannot be used: ${(err as Error).message}`;
      this.loadProblem ??= this.writeProblem;
    }
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

  /** The request is about to go out: resolves once that is on disk. */
  async sent(id: string): Promise<void> {
    if (this.closed) throw new JournalUnavailable('the account closed (a redeploy or a stop) before the order was sent');
    const e = this.entries.get(id);
    if (!e) return;
    e.stage = 'sent';
    this.write({ r: 'sent', id }, true);
    await this.store?.flush();
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
    this.write({ r: 'cursor', c: cursor });
    this.maybeCompact();
  }

  /** Stops writing (the account closes); what is unfinished is the next start's to recover. */
  close(): void {
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
      case 'cursor': {
        const c = record.c as TradeCursor | undefined;
        if (c && typeof c.at === 'number' && Number.isFinite(c.at)) this.cursorValue = { at: c.at };
        return;
      }
    }
  }

  /** Replaces an entry by its reported form (same place in the order of entries), or forgets it; returns when it was reported. */
  private settle(e: JournalEntry, at: number): number {
    const done = settled(e, at);
    if (done) this.entries.set(e.id, done);
    else this.entries.delete(e.id);
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
      this.writeProblem = `the order journal cannot be written (${(err as Error).message}): new orders are refused until it can`;
      this.emit('problem', this.writeProblem);
      if (required) throw new JournalUnavailable(this.writeProblem);
    }
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
    const oldest = this.now() - this.retentionMs;
    for (const [id, e] of this.entries) if (e.reportedAt !== undefined && e.reportedAt < oldest) this.entries.delete(id);
    if (this.entries.size > this.maxEntries) {
      for (const [id, e] of this.entries) {
        if (this.entries.size <= this.maxEntries) break;
        if (e.reportedAt !== undefined) this.entries.delete(id);
      }
    }
    const records: object[] = [...this.entries.values()].map((e) => ({ r: 'ask', e }));
    if (this.cursorValue) records.push({ r: 'cursor', c: this.cursorValue });
    this.store?.compact(records);
  }
}
