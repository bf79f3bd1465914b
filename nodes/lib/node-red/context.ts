// Node-RED's global context as a store for state that must outlive a redeploy (and, with a
// persistent context store, a restart): the circuit breaker's record.
import type { StateStore, BreakerRecord } from '../breaker/record';

type ContextCallback = (err: Error | null | undefined, value?: unknown) => void;

/** Node-RED's global context API, as far as the store uses it. */
export interface GlobalContext {
  get(key: string, store: string | undefined, cb: ContextCallback): void;
  get(key: string, cb: ContextCallback): void;
  set(key: string, value: unknown, store: string | undefined, cb: (err?: Error | null) => void): void;
  set(key: string, value: unknown, cb: (err?: Error | null) => void): void;
}

/** Global-context key of an account's breaker state: one per account config node. */
export function breakerContextKey(accountId: string): string {
  return `alpacaBreaker_${accountId.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Reads and writes one key of the global context, in the named store (empty = the default one). */
export function contextStore(global: GlobalContext, key: string, storeName: string | undefined): StateStore {
  return {
    load: () =>
      new Promise((resolve, reject) => {
        const cb: ContextCallback = (err, value) => (err ? reject(err) : resolve(value));
        if (storeName) global.get(key, storeName, cb);
        else global.get(key, cb);
      }),
    save: (record: BreakerRecord) =>
      new Promise((resolve, reject) => {
        const cb = (err?: Error | null) => (err ? reject(err) : resolve());
        // A copy: the memory store keeps the object itself.
        const value = JSON.parse(JSON.stringify(record)) as unknown;
        if (storeName) global.set(key, value, storeName, cb);
        else global.set(key, value, cb);
      }),
  };
}

/** The module of the context store the state goes to ('memory' when none is configured). */
export function storeModule(contextStorage: unknown, storeName: string | undefined): string {
  if (!contextStorage || typeof contextStorage !== 'object') return 'memory';
  const stores = contextStorage as Record<string, unknown>;
  let name = storeName || 'default';
  let entry = stores[name];
  if (typeof entry === 'string') entry = stores[(name = entry)];
  if (entry === undefined && !storeName) entry = stores[Object.keys(stores)[0]];
  const module = (entry as { module?: unknown } | undefined)?.module;
  return typeof module === 'string' ? module : module ? 'custom' : 'memory';
}
