// STUB (to be replaced by the market-data work).
import type { Market } from './market';
import type { Route, SimClock } from './types';

export function dataRoutes(_market: Market, _clock: SimClock): Route[] {
  return [];
}
