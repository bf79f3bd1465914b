// STUB (to be replaced by the paper-broker work).
import type { Broker } from './broker';
import type { StreamEndpoint } from './types';

export function tradingStreamEndpoint(_broker: Broker): StreamEndpoint & { close(): void } {
  return { paths: ['/stream'], accept: (ws) => ws.close(), close: () => undefined };
}
