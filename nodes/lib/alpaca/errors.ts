// Turns the SDK's typed errors into BrokerErrors a person can act on, without any secret.
import { ApiError, FetchError, RateLimitError } from '@alpacahq/alpaca-trade-api';
import { BrokerError, type ErrorKind } from '../core/errors';
import { headerNumber } from './client';

function kindOf(status: number): ErrorKind {
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 400 || status === 409 || status === 422) return 'validation';
  if (status === 429) return 'rate_limit';
  return 'broker';
}

/**
 * The wait the broker names in a Retry-After header (seconds), in ms. Not the SDK's retryAfterMs:
 * without Retry-After the SDK derives one from X-RateLimit-Reset, a time on the broker's clock,
 * against our wall clock, which can be hours off (see core/broker-clock.ts).
 */
function retryAfterOf(err: ApiError): number | undefined {
  const secs = err.response?.headers ? headerNumber(err.response.headers, 'Retry-After') : undefined;
  return secs !== undefined && secs >= 0 ? secs * 1000 : undefined;
}

/** Removes every occurrence of the given secrets from a text. */
export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}

export function toBrokerError(err: unknown, secrets: Array<string | undefined> = []): BrokerError {
  if (err instanceof BrokerError) {
    // Masked in place: a BrokerError made deeper down without the secrets (the order executor's
    // 429) keeps the class its maker checks for.
    err.message = redact(err.message, secrets);
    if (err.stack) err.stack = redact(err.stack, secrets);
    return err;
  }
  if (err instanceof RateLimitError) {
    const retryAfterMs = retryAfterOf(err);
    const wait = retryAfterMs !== undefined ? `; retry in ${Math.ceil(retryAfterMs / 1000)} s` : '';
    return new BrokerError(
      redact(`Alpaca rate limit hit (429${err.code ? ` ${err.code}` : ''}): ${err.message}${wait}`, secrets),
      'rate_limit',
      429,
      err.code,
      retryAfterMs,
    );
  }
  if (err instanceof ApiError) {
    const kind = kindOf(err.status);
    const hint = kind === 'auth' ? ' (check the API key id and secret in the account config node)' : '';
    return new BrokerError(
      redact(`Alpaca rejected the request (${err.status}${err.code ? ` ${err.code}` : ''}): ${err.message}${hint}`, secrets),
      kind,
      err.status,
      err.code,
      retryAfterOf(err),
    );
  }
  if (err instanceof FetchError) {
    const cause = (err as { cause?: { message?: string; cause?: { code?: string } } }).cause;
    const detail = cause?.cause?.code ?? cause?.message ?? err.message;
    return new BrokerError(redact(`cannot reach the broker: ${detail}`, secrets), 'network');
  }
  const message = err instanceof Error ? err.message : String(err);
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new BrokerError(redact(`the broker did not answer in time: ${message}`, secrets), 'network');
  }
  return new BrokerError(redact(message, secrets), 'broker');
}
