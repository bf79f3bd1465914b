// Client order ids: the key to exactly-once. One msg is one order: without a key of the user's,
// every msg gets a fresh id (msgs sent in one function-node run share _msgid, so it cannot be the
// key). With a key (a TradingView alert id, a signal id) the same key reaching the same node
// always yields the same id, so a re-delivery can only find the order it already placed.
import crypto from 'node:crypto';

// crypto.hash (Node 20.12+) is the one-shot form: half the cost of a Hash object on an order's path.
const sha256: (text: string) => string = crypto.hash ? (text) => crypto.hash('sha256', text) : (text) => crypto.createHash('sha256').update(text).digest('hex');

/** A fresh client order id for a msg without a key: `nr-<uuid>`. */
export function newClientOrderId(): string {
  return `nr-${crypto.randomUUID()}`;
}

const FRESH = /^nr-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEYED = /^k-[A-Za-z0-9]{1,32}-[0-9a-f]{16}$/;

/** Whether `id` has the form of newClientOrderId()'s: made for one msg, never asked for again. */
export function isFreshClientOrderId(id: string): boolean {
  return FRESH.test(id);
}

/** Whether `id` has a form this pack makes (fresh or keyed): an order at the broker with it is this pack's. */
export function isPackClientOrderId(id: string): boolean {
  return FRESH.test(id) || KEYED.test(id);
}

/**
 * `k-<key, readable part>-<16 hex>`: the hash covers the node id, the action and the key, so the
 * same key in two order nodes (or for a submit and a replace) makes two orders. At most 53 chars
 * (Alpaca allows 128).
 */
export function keyedClientOrderId(nodeId: string, action: 'submit' | 'replace', key: string): string {
  const readable = key.replace(/[^A-Za-z0-9]/g, '').slice(0, 32) || 'key';
  return `k-${readable}-${sha256(`${nodeId}\n${action}\n${key}`).slice(0, 16)}`;
}
