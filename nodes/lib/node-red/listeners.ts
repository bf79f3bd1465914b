// Listeners a node adds to shared objects (the connection, a budget, a guard), recorded as they
// are added so close() removes exactly those: never a hand-kept list, never another's listener.

type Listener = (...args: never[]) => unknown;

/** Any emitter: its own typing of events and payloads is its business. */
interface Emitter {
  on(event: never, listener: never): unknown;
  off(event: never, listener: never): unknown;
}

export class Listeners {
  private readonly removers: Array<() => void> = [];

  /** emitter.on(event, listener), undone by removeAll(). */
  on(emitter: Emitter, event: string, listener: Listener): void {
    const on = emitter.on as (event: string, listener: Listener) => unknown;
    const off = emitter.off as (event: string, listener: Listener) => unknown;
    on.call(emitter, event, listener);
    this.removers.push(() => off.call(emitter, event, listener));
  }

  /** Keeps the remover of a subscription made elsewhere (a subscribe() that returns its unsubscribe). */
  add(remove: () => void): void {
    this.removers.push(remove);
  }

  removeAll(): void {
    for (const remove of this.removers.splice(0).reverse()) remove();
  }
}
