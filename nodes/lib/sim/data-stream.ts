// STUB (to be replaced by the market-data work).
import type { Market } from './market';
import type { StreamEndpoint } from './types';

export function dataStreamEndpoint(_market: Market): StreamEndpoint & { close(): void } {
  return { paths: ['/v2/iex', '/v2/sip', '/v2/delayed_sip', '/v1beta3/crypto/us'], accept: (ws) => ws.close(), close: () => undefined };
}
