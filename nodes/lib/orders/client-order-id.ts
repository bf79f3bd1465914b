// Client order ids: the key to exactly-once. The same msg reaching the same node with the same
// order always yields the same id, so a redelivered msg can only find the order it already
// placed; a different msg, node or order yields a different one.
import { createHash, randomUUID } from 'node:crypto';

/** A stable text form of a value: object keys sorted, undefined dropped. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * `nr-<msg id>-<16 hex>`: the hash covers the node id, the msg id and the order itself, so one
 * msg driving two different orders through the same node still places both. At most 53 chars
 * (Alpaca allows 128).
 */
export function deriveClientOrderId(nodeId: string, msgId: unknown, order: unknown): string {
  if (typeof msgId !== 'string' || !msgId) return `nr-${randomUUID()}`;
  const readable = msgId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32) || 'msg';
  const digest = sha256(`${nodeId}\n${msgId}\n${canonical(order)}`).slice(0, 16);
  return `nr-${readable}-${digest}`;
}
