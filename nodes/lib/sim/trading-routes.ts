// STUB (to be replaced by the paper-broker work).
import type { Broker } from './broker';
import type { MarketView, Route, SimClock, SimStats } from './types';

export function tradingRoutes(_broker: Broker, _market: MarketView, _clock: SimClock, _stats: SimStats): Route[] {
  return [];
}
