// Answers any msg with the health of one account, or of every account, for an uptime monitor:
// msg.statusCode 200 while trading is possible, 503 otherwise; JSON or Prometheus text. The
// verdict is in lib/health/health.ts; this file gathers what each part knows.
import type { NodeAPI, Node, NodeDef, NodeMessageInFlow } from 'node-red';
import { assess, prometheus, worst, type AccountHealth } from './lib/health/health';
import { useConnection, type AccountConfigNode } from './lib/node-red/account';
import { status } from './lib/node-red/status';

interface HealthDef extends NodeDef {
  /** Empty: every account of the flows. */
  account: string;
  format: 'json' | 'prometheus';
}

type Done = (err?: Error) => void;

function healthOf(account: AccountConfigNode): AccountHealth {
  const guard = account.breakers.current;
  const figures = guard?.figures() as { marking?: { markedAt?: string } } | undefined;
  return assess({
    account: account.name || account.id,
    mode: account.mode,
    ...account.connection.health(),
    breaker: guard
      ? { state: guard.record.state, reason: guard.record.reason, since: guard.record.since, markedToMarketAt: figures?.marking?.markedAt, marking: guard.markingStatus }
      : undefined,
    now: Date.now(),
  });
}

export default function (RED: NodeAPI): void {
  function AlpacaHealthNode(this: Node, def: HealthDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const format = def.format === 'prometheus' ? 'prometheus' : 'json';
    const one = def.account ? (RED.nodes.getNode(def.account) as AccountConfigNode | null) : null;
    if (def.account && !one?.connection) {
      node.status(status.failed('the chosen account config node is missing'));
    }
    // A health check keeps the REST connection it checks open (no streams are opened for it).
    if (one?.connection) useConnection(node, one.connection, () => undefined);

    const accounts = (): AccountConfigNode[] => {
      if (def.account) return one?.connection ? [one] : [];
      const list: AccountConfigNode[] = [];
      RED.nodes.eachNode((n) => {
        if (n.type !== 'alpaca-account') return;
        const a = RED.nodes.getNode(n.id) as AccountConfigNode | null;
        if (a?.connection) list.push(a);
      });
      return list;
    };

    node.on('input', (input: NodeMessageInFlow, send: (msg: NodeMessageInFlow) => void, done: Done) => {
      const msg = input as NodeMessageInFlow & { statusCode?: number; headers?: Record<string, string> };
      const list = accounts().map(healthOf);
      const overall = list.length ? worst(list) : 'down';
      msg.statusCode = overall === 'down' ? 503 : 200;
      if (format === 'prometheus') {
        msg.payload = prometheus(list);
        msg.headers = { ...msg.headers, 'content-type': 'text/plain; version=0.0.4; charset=utf-8' };
      } else {
        msg.payload = def.account ? (list[0] ?? { status: 'down', tradingPossible: false, reasons: ['the chosen account config node is missing'] }) : { status: overall, tradingPossible: overall !== 'down', accounts: list };
      }
      const reasons = list.flatMap((h) => h.reasons);
      const text = `${overall}${reasons.length ? `: ${reasons[0]}` : ''}`;
      node.status(overall === 'ok' ? status.success(text) : overall === 'degraded' ? status.warning(text) : status.failed(text));
      send(msg);
      done();
    });
    node.on('close', () => node.status({}));
  }

  RED.nodes.registerType('alpaca-health', AlpacaHealthNode);
}
