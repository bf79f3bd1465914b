// The two kinds of error every node shows: the broker's (or refused before reaching it) and the
// user's input. Both are safe to show: neither ever carries a secret.

export type ErrorKind = 'auth' | 'forbidden' | 'not_found' | 'validation' | 'rate_limit' | 'network' | 'broker' | 'refused';

/** An error from the broker, or a request refused before it reached the broker. */
export class BrokerError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind,
    readonly status?: number,
    readonly code?: number | string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'BrokerError';
  }
}

/** A bad setting or msg: names the field; nothing was sent to the broker. */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}
