// Holds messages until a request budget grants them: the account's trading (or market-data)
// budget, shared with every node of that account, or, without an account, a budget per named
// category for any API. The queue, priorities, expiry and drops are in lib/gate/gate.ts; this
// file adapts them to Node-RED.
import path from 'node:path';
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { RequestBudgetImpl, budgetProblem } from './lib/budget/budget';
import type { BudgetState, RequestBudget, Ticket } from './lib/budget/types';
import type { ConnectionStatus } from './lib/core/broker';
import { HeldMsgs } from './lib/core/held-msgs';
import { JournalFile, fileSafe } from './lib/core/journal-file';
import { maskUrlIn } from './lib/core/urls';
import { own, show } from './lib/core/values';
import {
  FULL_POLICIES,
  PRESETS,
  RateGate,
  categoryProblems,
  parseFeedback,
  parsePriority,
  type CategorySpec,
  type DropReason,
  type FullPolicy,
} from './lib/gate/gate';
import { useConnection, type AccountConfigNode } from './lib/node-red/account';
import { Listeners } from './lib/node-red/listeners';
import { connectionStatus, gateStatus, status, type NodeStatus } from './lib/node-red/status';

interface RateGateDef extends NodeDef {
  account: string;
  /** With an account: which of its budgets the gate waits for. */
  budget?: 'trading' | 'data';
  queueSize: number | string;
  fullPolicy: FullPolicy;
  maxWait: number | string;
  priority: number | string;
  report: 'output' | 'error' | 'both';
  /** 'messages' (default): msgs wait, msg.rateFeedback is feedback. 'feedback': every msg is a response fed back (standalone). */
  input?: 'messages' | 'feedback';
  /** Longest pause a fed-back 429 may cause, in seconds (standalone). */
  maxPause?: number | string;
  categories: CategorySpec[] | string;
  category: string;
  shared: boolean;
  sharedKey: string;
  /** Instances sharing the budgets: each allows itself limit / instances while Redis is unreachable. */
  sharedInstances?: number | string;
  wires?: string[][];
}

interface RateGateCredentials {
  redisUrl?: string;
}

type Msg = NodeMessageInFlow & { rateGate?: unknown };
type Send = (msg: Array<NodeMessageInFlow | null>) => void;
type Done = (err?: Error) => void;

/** A waiting msg with the callbacks that settle it, and its key on file. */
interface Entry {
  msg: Msg;
  send: Send;
  done: Done;
  /** Its record on file, once it waits (a msg that passes at once is never written). */
  held?: string;
  /** Released or dropped. */
  left?: boolean;
}

const ACCOUNT_LANE = 'account';
/** Max wait when the dialog leaves it empty: long enough for a burst to wait out one full window. */
const DEFAULT_MAX_WAIT_S = 120;
const DEFAULT_MAX_PAUSE_S = 60;

function num(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : fallback;
}

/** A response fed back: msg.rateFeedback ({ status, headers } or true), or in feedback mode the msg itself. */
function feedbackOf(msg: Msg, feedbackMode: boolean): { status: unknown; headers: unknown } | undefined {
  const f = own(msg, 'rateFeedback');
  if (f && typeof f === 'object') return { status: own(f as Record<string, unknown>, 'status') ?? own(f as Record<string, unknown>, 'statusCode'), headers: own(f as Record<string, unknown>, 'headers') };
  if (f === true || feedbackMode) return { status: own(msg, 'statusCode'), headers: own(msg, 'headers') };
  return undefined;
}

export default function (RED: NodeAPI): void {
  function AlpacaRateGateNode(this: Node<RateGateCredentials>, def: RateGateDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const queueSize = num(def.queueSize, 1000);
    const maxWaitMs = num(def.maxWait, DEFAULT_MAX_WAIT_S) * 1000;
    const maxPauseMs = num(def.maxPause, DEFAULT_MAX_PAUSE_S) * 1000;
    const fullPolicy: FullPolicy = FULL_POLICIES.includes(def.fullPolicy) ? def.fullPolicy : 'drop-lowest';
    const report = def.report === 'error' || def.report === 'both' ? def.report : 'output';
    const feedbackMode = def.input === 'feedback';
    // Never silent: with nothing wired to the second output, drops become Catch-able errors.
    const secondWired = Array.isArray(def.wires?.[1]) && def.wires[1].length > 0;
    const toOutput = report !== 'error' && secondWired;
    const toError = report !== 'output' || !secondWired;

    const problems: string[] = [];
    if (!Number.isInteger(queueSize) || queueSize < 1 || queueSize > 100_000) problems.push('queue size must be a whole number from 1 to 100000');
    if (!(maxWaitMs >= 0) || maxWaitMs > 86_400_000) problems.push('max wait must be from 0 (no limit) to 86400 seconds');
    if (!(maxPauseMs >= 1000) || maxPauseMs > 3_600_000) problems.push('the longest feedback pause must be from 1 to 3600 seconds');
    let defaultPriority = 5;
    try {
      defaultPriority = parsePriority(def.priority, 5);
    } catch {
      problems.push('the default priority must be from 0 (last) to 9 (first)');
    }

    const account = def.account ? (RED.nodes.getNode(def.account) as AccountConfigNode | null) : null;
    if (def.account && !account?.connection) problems.push('the chosen Alpaca account config node is missing');
    if (account && feedbackMode) problems.push("a gate with an account takes no feedback: the account's budgets read Alpaca's own answers");

    // --- lanes: one of the account's budgets, or one budget per category ---------------------
    const budgets = new Map<string, RequestBudget>();
    const owned: RequestBudgetImpl[] = [];
    let defaultLane = ACCOUNT_LANE;
    const redisUrl = node.credentials?.redisUrl?.trim() ?? '';
    if (account?.connection) {
      budgets.set(ACCOUNT_LANE, def.budget === 'data' ? account.connection.dataBudget : account.connection.budget);
    } else if (!def.account) {
      let categories: CategorySpec[] = [];
      try {
        categories = typeof def.categories === 'string' ? (JSON.parse(def.categories) as CategorySpec[]) : def.categories;
      } catch {
        problems.push('the category table is not valid JSON');
      }
      const catProblems = categoryProblems(categories);
      problems.push(...catProblems);
      if (def.shared && !redisUrl) problems.push('a shared budget needs a Redis URL');
      const instances = num(def.sharedInstances, 2);
      if (!catProblems.length) {
        for (const c of categories) {
          const options = {
            name: c.name,
            limit: c.limit,
            windowMs: Math.round(c.window * 1000),
            shape: c.shape,
            maxPauseMs,
            redis: def.shared && redisUrl ? { url: redisUrl, key: `gate:${def.sharedKey || node.id}:${c.name}`, instances } : undefined,
          };
          const p = budgetProblem(options);
          if (p) {
            problems.push(`category "${c.name}": ${p}`);
            continue;
          }
          const budget = new RequestBudgetImpl(options);
          owned.push(budget);
          budgets.set(c.name, budget);
        }
        if (budgets.size) defaultLane = def.category && budgets.has(def.category) ? def.category : categories[0].name;
        if (def.category && !budgets.has(def.category)) problems.push(`the default category "${def.category}" is not in the table`);
      }
    }

    if (problems.length) {
      // A Redis URL never shows, even in a message about it.
      const text = maskUrlIn(problems.join('; '), redisUrl);
      node.status(status.failed(text));
      node.error(`rate gate: ${text}`);
      for (const b of owned) void b.stop();
      node.on('input', (msg: NodeMessageInFlow, _send: Send, done: Done) => {
        node.error(new Error(`rate gate misconfigured: ${text}`), msg);
        done();
      });
      return;
    }

    // --- the gate -----------------------------------------------------------------------------
    let dropped = 0;
    let connection: ConnectionStatus | undefined;
    let statusTimer: NodeJS.Timeout | undefined;
    let lastShown = '';
    const category = (lane: string) => (account ? undefined : lane);

    // Waiting msgs are on file (in the user directory), so a restart reports them instead of losing them.
    const userDir = (RED.settings as unknown as { userDir?: string }).userDir;
    const held = new HeldMsgs(userDir ? new JournalFile(path.join(userDir, 'alpaca-journal', `rate-gate-${fileSafe(node.id)}.jsonl`)) : undefined);
    if (held.problem) node.warn(`rate gate: ${held.problem}`);

    const leave = (entry: Entry) => {
      entry.left = true;
      if (entry.held) held.release(entry.held);
    };

    const reportDrop = (msg: Msg, detail: string, send: Send) => {
      dropped++;
      if (toOutput) send([null, msg]);
      if (toError) node.error(new Error(`rate gate dropped a message: ${detail}`), msg);
    };

    const gate = new RateGate<Entry>(
      { queueSize, fullPolicy, maxWaitMs },
      budgets,
      {
        release(item, waitedMs, ticket: Ticket) {
          const { msg, send, done } = item.msg;
          msg.rateGate = { waitedMs, priority: item.level, category: category(item.lane) };
          // Crossed off before it leaves: after a kill it is the next node's to account for.
          leave(item.msg);
          if (account) {
            // The order (or read) this msg leads to spends the ticket, not another token.
            ticket.carry(() => send([msg, null]));
          } else {
            ticket.spend();
            send([msg, null]);
          }
          done();
        },
        drop(item, reason: DropReason, detail: string) {
          const { msg, send, done } = item.msg;
          msg.rateGate = { dropped: reason, detail, waitedMs: Date.now() - item.arrivedAt, priority: item.level, category: category(item.lane) };
          leave(item.msg);
          reportDrop(msg, detail, send);
          done();
        },
        change: () => showStatus(),
      },
    );

    /** What the last run still held: dropped (never sent), reported once the flows run. */
    const reportLeftovers = () => {
      for (const left of held.leftovers.splice(0)) {
        const msg = { ...left.msg, _msgid: typeof left.msg._msgid === 'string' ? left.msg._msgid : RED.util.generateId() } as Msg;
        const detail = `Node-RED stopped (a restart or a redeploy) while this msg waited since ${new Date(left.at).toISOString()}: it was not sent, and is not sent now`;
        msg.rateGate = { dropped: 'restart', detail, waitedMs: Date.now() - left.at, priority: left.info.priority, category: left.info.category };
        reportDrop(msg, detail, (msgs) => node.send(msgs));
        held.release(left.key);
      }
      showStatus();
    };
    const leftoversWaiting = held.leftovers.length > 0;
    if (leftoversWaiting) RED.events.once('flows:started', reportLeftovers);

    function laneState(lane: string): BudgetState {
      return (budgets.get(lane) as RequestBudget).state;
    }

    function showStatus(): void {
      if (statusTimer) return;
      statusTimer = setTimeout(() => {
        statusTimer = undefined;
        let s: NodeStatus;
        if (connection && (connection.state === 'auth_failed' || connection.state === 'refused')) s = connectionStatus(connection);
        else {
          // The lane that needs attention: one on its local share or paused, else the default.
          const lanes = [...budgets.keys()];
          const lane = lanes.find((l) => !laneState(l).storeOk) ?? lanes.find((l) => laneState(l).pausedUntil) ?? defaultLane;
          s = gateStatus(laneState(lane), gate.depth, budgets.size > 1 ? lane : '', dropped);
        }
        const key = JSON.stringify(s);
        if (key !== lastShown) {
          lastShown = key;
          node.status(s);
        }
      }, 200);
    }

    let lastProblem = 0;
    const listeners = new Listeners();
    for (const budget of budgets.values()) {
      listeners.on(budget, 'state', () => showStatus());
      listeners.on(budget, 'paused', (p: { until: number; reason: string }) => {
        node.warn(`budget paused until ${new Date(p.until).toTimeString().slice(0, 8)}: ${p.reason}`);
        showStatus();
      });
      listeners.on(budget, 'resumed', () => showStatus());
      listeners.on(budget, 'dropped', (d: { reason: string }) => node.warn(`the request budget refused a waiting call: ${d.reason}`));
      listeners.on(budget, 'store', (e: { ok: boolean; problem?: string; share?: number }) => {
        if (e.ok) node.log('shared request budget: Redis reached again, sharing resumed');
        else node.warn(`shared request budget: ${e.problem}; running on a local share of ${e.share} per window until Redis is back`);
        showStatus();
      });
      listeners.on(budget, 'problem', (p: { message: string }) => {
        // A dead Redis reports every reconnect attempt: say it at most every 30 s.
        if (Date.now() - lastProblem < 30_000) return;
        lastProblem = Date.now();
        node.warn(`request budget: ${p.message}`);
        showStatus();
      });
    }
    if (account) {
      useConnection(node, account.connection, (s) => {
        connection = s;
        showStatus();
      });
    }
    showStatus();

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      const m = msg as Msg;
      let lane = defaultLane;
      const wanted = own(m, 'category');
      if (!account && wanted !== undefined && wanted !== '') {
        if (typeof wanted !== 'string' || !gate.hasLane(wanted)) {
          node.status(status.failed('unknown category'));
          node.error(new Error(`msg.category ${show(wanted)} is not one of: ${[...budgets.keys()].join(', ')}`), msg);
          done();
          return;
        }
        lane = wanted;
      }
      const feedback = feedbackOf(m, feedbackMode);
      if (feedback) {
        if (account) node.error(new Error("msg.rateFeedback is not taken by a gate with an account: the account's budgets read Alpaca's own answers"), msg);
        else {
          try {
            (budgets.get(lane) as RequestBudget).observe(parseFeedback(feedback.status, feedback.headers));
          } catch (err) {
            node.error(err, msg);
          }
        }
        done();
        return;
      }
      let level: number;
      try {
        level = parsePriority(own(m, 'priority'), defaultPriority);
      } catch (err) {
        node.status(status.failed((err as Error).message));
        node.error(err, msg);
        done();
        return;
      }
      const entry: Entry = { msg: m, send, done };
      gate.push(entry, level, lane);
      // Still waiting (no token now, or others ahead): on file until it leaves.
      if (!entry.left) entry.held = held.hold(m as unknown as Record<string, unknown>, { priority: level, category: category(lane) });
    });

    node.on('close', (removed: boolean, done: () => void) => {
      clearTimeout(statusTimer);
      if (leftoversWaiting) RED.events.off('flows:started', reportLeftovers);
      const left = gate.close();
      for (const item of left) item.msg.done();
      if (removed) held.clear();
      else held.close();
      if (left.length) {
        node.warn(`rate gate closed with ${left.length} message(s) still waiting: they were not sent${removed ? '' : '; they come out as dropped ("restart") when the flows start again'}`);
      }
      listeners.removeAll();
      node.status({});
      Promise.all(owned.map((b) => b.stop())).then(() => done(), () => done());
    });
  }

  // The dialog's preset menu reads the categories from here, so they are written once.
  RED.httpAdmin.get('/alpaca-rate-gate/presets', RED.auth.needsPermission('alpaca-rate-gate.read'), (_req, res) => {
    res.json(PRESETS);
  });

  RED.nodes.registerType<Node<RateGateCredentials>, RateGateDef, {}, RateGateCredentials>('alpaca-rate-gate', AlpacaRateGateNode, {
    credentials: { redisUrl: { type: 'password' } },
  });
}
