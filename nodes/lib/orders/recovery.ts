// What the last run left unreported, settled against the broker after a restart: a request still
// waiting (for a policy or the budget) was never sent; one that went out is looked up by client
// order id (one listing of recent orders for all of them, a second a moment later for requests
// that may still have been on their way; single lookups only when a listing was cut short). After
// an unclean stop the same listings also bring the orders of this pack's that the journal lost
// (records that never reached the disk before a power failure). Each result is a report for the
// node that asked, handed out by the ReportDesk once the flows run.
import { EventEmitter } from 'node:events';
import { BrokerError } from '../core/errors';
import { isPackClientOrderId } from './client-order-id';
import { describeOrder } from './describe';
import { placing, sentBeforeSynced, type JournalEntry, type JournalOutcome } from './journal';
import type { Attempt, OrderExecutor, PlacedOrder } from './types';

/** How a request of an earlier run (or of a node closed meanwhile) ended. */
export type ReportOutcome = 'placed' | 'not_placed' | 'canceled' | 'not_canceled' | 'not_sent' | 'unknown';

export interface OrderReport {
  entry: JournalEntry;
  outcome: ReportOutcome;
  /** The order as the broker has it now, when there is one. */
  found?: PlacedOrder;
  /** A sentence for the user. */
  detail: string;
  attempts: Attempt[];
  /** restart: left by an earlier run; redeploy: its node was replaced while it ran. */
  cause: 'restart' | 'redeploy';
}

export type ReportHandler = (report: OrderReport) => void;

/**
 * Hands reports to the node that asked (by node id, the node instance running now). Until the
 * flows have started reports wait; a report for a node that does not exist then is an 'orphan'
 * event (the account warns).
 */
export class ReportDesk extends EventEmitter {
  private readonly handlers = new Map<string, ReportHandler>();
  private queue: OrderReport[] = [];
  private open = false;

  /** The node `nodeId` takes its reports; returns the function that lets go. */
  claim(nodeId: string, handler: ReportHandler): () => void {
    this.handlers.set(nodeId, handler);
    return () => {
      if (this.handlers.get(nodeId) === handler) this.handlers.delete(nodeId);
    };
  }

  deliver(report: OrderReport): void {
    if (!this.open) {
      this.queue.push(report);
      return;
    }
    const handler = report.entry.nodeId !== undefined ? this.handlers.get(report.entry.nodeId) : undefined;
    if (!handler) {
      this.emit('orphan', report);
      return;
    }
    try {
      handler(report);
    } catch (err) {
      this.emit('orphan', { ...report, detail: `${report.detail} (the node failed to report it: ${(err as Error).message})` });
    }
  }

  /** The flows run: every node that exists has claimed its reports. */
  start(): void {
    this.open = true;
    const queued = this.queue;
    this.queue = [];
    for (const r of queued) this.deliver(r);
  }

  /** The flows stop (a deploy or a shutdown): reports wait for the next start. */
  stop(): void {
    this.open = false;
  }

  get waiting(): number {
    return this.queue.length;
  }
}

export interface RecoveryOptions {
  /** Pause before the second listing (requests still on their way land meanwhile); default 1500 ms. */
  lateMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** After an unclean stop: orders of this pack's placed since `since` (the journal's clock) that `known` does not know are reported too. */
export interface Sweep {
  since: number;
  known(clientOrderId: string): boolean;
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const neverSent = (e: JournalEntry) => `${e.summary}: still waiting (for the breaker or the request budget) when Node-RED stopped; it was never sent, and is not sent now`;

export function journalOutcome(outcome: ReportOutcome): JournalOutcome {
  if (outcome === 'placed' || outcome === 'not_placed' || outcome === 'unknown') return outcome;
  return outcome === 'canceled' ? 'ok' : 'failed';
}

/**
 * Settles `entries` (the last run's unfinished requests) against the broker, and with `sweep` finds
 * the orders an unclean stop lost. Throws a BrokerError when the broker cannot be asked (the caller
 * tries again later); every request made is added to `attempts`.
 */
export async function reconcile(
  entries: JournalEntry[],
  executor: OrderExecutor,
  options: RecoveryOptions = {},
  { sweep, attempts = [] }: { sweep?: Sweep; attempts?: Attempt[] } = {},
): Promise<OrderReport[]> {
  const sleep = options.sleep ?? sleepMs;
  const reports: OrderReport[] = [];
  const report = (entry: JournalEntry, outcome: ReportOutcome, detail: string, found?: PlacedOrder) =>
    reports.push({ entry, outcome, detail, found, attempts, cause: 'restart' });

  const toFind = new Map<string, JournalEntry>();
  for (const e of entries) {
    // After an unclean stop an order marked held may have gone out if its "sent" mark did not wait for the disk.
    const mayHaveGone = sweep !== undefined && sentBeforeSynced(e);
    if (e.stage === 'held' && !mayHaveGone) {
      const what = placing(e) ? 'not_placed' : 'not_sent';
      report(e, what, neverSent(e));
    } else if (placing(e)) {
      toFind.set(e.id, e);
    }
  }

  if (toFind.size || sweep) {
    const since = Math.min(...[...toFind.values()].map((e) => e.at), sweep?.since ?? Infinity);
    let complete = true;
    const lost = new Set<string>();
    for (let pass = 0; pass < 2 && (toFind.size || sweep); pass++) {
      if (pass > 0) await sleep(options.lateMs ?? 1500);
      const listing = await executor.recentOrders(since, attempts);
      complete &&= listing.complete;
      for (const found of listing.orders) {
        const id = found.order.clientOrderId;
        const e = toFind.get(id);
        if (e) {
          toFind.delete(id);
          report(e, 'placed', `${e.summary}: placed before Node-RED stopped; its state now: ${found.order.status}`, found);
        } else if (sweep && !lost.has(id) && isPackClientOrderId(id) && !sweep.known(id)) {
          lost.add(id);
          const summary = describeOrder(found.order);
          const entry: JournalEntry = { id, action: found.order.replaces ? 'replace' : 'submit', at: Date.parse(found.order.createdAt ?? '') || Date.now(), origin: 'an order node', summary, stage: 'sent' };
          report(
            entry,
            'placed',
            `${summary}: placed by this pack before Node-RED stopped (client order id ${id}), but not in the order journal: its last writes never reached the disk (a power failure?); its state now: ${found.order.status}`,
            found,
          );
        }
      }
    }
    if (sweep && !complete) {
      const from = new Date(since).toISOString();
      const entry: JournalEntry = { id: `sweep-${since}`, action: 'submit', at: since, origin: 'the order journal', summary: `orders since ${from}`, stage: 'sent' };
      report(entry, 'unknown', `the broker listed more orders since ${from} than one look reads: orders this pack placed just before an unclean stop may be missing from the journal; check the account's orders since then`);
    }
    const notPlaced = (e: JournalEntry) =>
      report(e, 'not_placed', e.stage === 'held' ? neverSent(e) : `${e.summary}: on its way when Node-RED stopped, but the broker has no order with client order id ${e.id}: not placed, and not sent again`);
    // Two whole listings a moment apart without it: not placed. A listing cut short: one lookup each.
    for (const e of toFind.values()) {
      if (complete) {
        notPlaced(e);
        continue;
      }
      try {
        const found = await executor.fetch({ clientOrderId: e.id }, attempts);
        report(e, 'placed', `${e.summary}: placed before Node-RED stopped; its state now: ${found.order.status}`, found);
      } catch (err) {
        if ((err as BrokerError).status !== 404) throw err;
        notPlaced(e);
      }
    }
  }

  for (const e of entries) {
    if (e.stage !== 'sent' || placing(e)) continue;
    if (e.action === 'cancel' && e.ref) {
      try {
        const found = await executor.fetch(e.ref, attempts);
        const gone = found.order.status === 'canceled' || found.order.status === 'pending_cancel';
        report(e, gone ? 'canceled' : 'not_canceled', `${e.summary}: on its way when Node-RED stopped; the order is ${found.order.status} now${gone ? '' : ': send the cancel again if it still should go'}`, found);
      } catch (err) {
        if (!(err instanceof BrokerError) || err.status !== 404) throw err;
        report(e, 'unknown', `${e.summary}: on its way when Node-RED stopped; the order is not found`);
      }
    } else {
      report(e, 'unknown', `${e.summary}: on its way when Node-RED stopped; whether it was done cannot be looked up: check the account`);
    }
  }
  return reports.sort((a, b) => a.entry.at - b.entry.at);
}
