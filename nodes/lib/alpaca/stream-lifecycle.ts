// Follows one SDK stream's connection lifecycle into a StreamHealth, the same way for the
// market-data feeds and the trade-updates feed.
import type { StreamHealth } from '../streams/health';

interface SdkStream {
  on(event: never, listener: never): unknown;
  off(event: never, listener: never): unknown;
  getState(): string;
}

/**
 * Wires 'authenticated', 'state_change', 'reconnecting' and 'error' of `stream` to `health`
 * while `isCurrent()` holds; returns the function that removes exactly these listeners.
 */
export function followLifecycle(
  stream: SdkStream,
  health: StreamHealth,
  isCurrent: () => boolean,
  onAuthenticated: () => void,
): () => void {
  let lastError: string | undefined;
  const authenticated = () => {
    lastError = undefined;
    onAuthenticated();
  };
  const stateChanged = (state: string) => {
    if (state !== 'disconnected') return;
    // The SDK moves on to "waiting to reconnect" in the same turn unless it gave up (auth failure).
    setImmediate(() => {
      if (!isCurrent()) return;
      if (stream.getState() === 'disconnected') health.authFailed(lastError ?? 'rejected by the server');
      else health.disconnected(lastError);
    });
  };
  const reconnecting = (attempt: number) => health.reconnecting(attempt);
  const failed = (message: string) => {
    lastError = message;
  };
  const listeners: Array<[string, (...args: never[]) => void]> = [
    ['authenticated', authenticated],
    ['state_change', stateChanged],
    ['reconnecting', reconnecting],
    ['error', failed],
  ];
  for (const [event, fn] of listeners) stream.on(event as never, fn as never);
  return () => {
    for (const [event, fn] of listeners) stream.off(event as never, fn as never);
  };
}
