// What the breaker needs to know to decide one order besides the order itself: the position, the
// quantity already on its way out of it and a market price. At hand from the marks when they will
// do (no REST call, no wait); read from the broker when they will not: while REDUCING every exit
// is checked against the broker's own position and open orders.
import type { AccountReads } from '../core/broker';
import { positionKey } from '../core/symbols';
import type { OrderDetails } from '../orders/types';
import type { EquityWatch } from './equity-watch';
import type { Ledger } from './ledger';
import { remainingQty, type OrderIntent } from './order-rules';
import type { BreakerSettings, BreakerState } from './settings';

/** The facts of one order, gathered for the state the breaker was in. */
export interface OrderFacts {
  state: BreakerState;
  /** Signed position in the order's symbol. */
  positionQty: number;
  /** Quantity on its way out on the order's side: open orders and orders just passed. */
  pendingReduceQty: number;
  marketPrice?: number;
}

export interface OrderFactsOptions {
  watch: EquityWatch;
  ledger: Ledger;
  reads: Pick<AccountReads, 'openOrders'>;
  settings: () => BreakerSettings[];
}

export class OrderFactsSource {
  constructor(private readonly options: OrderFactsOptions) {}

  /** The facts when no REST call is needed: not REDUCING, the positions reconciled recently, a price known. */
  atHand(intent: OrderIntent, state: BreakerState): OrderFacts | undefined {
    const { watch, ledger } = this.options;
    if (state === 'REDUCING' || !watch.positionsCurrent()) return undefined;
    let marketPrice: number | undefined;
    if (this.needsPrice(intent)) {
      marketPrice = watch.knownPrice(intent.symbol);
      if (marketPrice === undefined) return undefined;
    }
    return { state, positionQty: watch.position(intent.symbol), pendingReduceQty: ledger.pending(intent.symbol, intent.side), marketPrice };
  }

  /** The facts, read from the broker where the marks will not do. `original`: the order a replace replaces. */
  async read(intent: OrderIntent, state: BreakerState, original?: OrderDetails): Promise<OrderFacts> {
    const { watch, ledger, reads } = this.options;
    let positionQty: number;
    let pendingReduceQty = ledger.pending(intent.symbol, intent.side);
    if (state === 'REDUCING') {
      const [positions, open] = await Promise.all([watch.readPositions(), reads.openOrders()]);
      const key = positionKey(intent.symbol);
      const held = positions.find((p) => positionKey(p.symbol) === key);
      positionQty = held ? (held.side === 'short' ? -Math.abs(held.qty) : Math.abs(held.qty)) : 0;
      pendingReduceQty += open
        .filter((o) => o.id !== original?.id && positionKey(o.symbol) === key && o.side === intent.side)
        .reduce((sum, o) => sum + remainingQty(o), 0);
    } else {
      if (!watch.positionsCurrent()) await watch.poll();
      positionQty = watch.position(intent.symbol);
    }
    const marketPrice = this.needsPrice(intent) ? await watch.price(intent.symbol) : undefined;
    return { state, positionQty, pendingReduceQty, marketPrice };
  }

  /** An order without a price of its own needs the market's when a rule values it. */
  private needsPrice(intent: OrderIntent): boolean {
    const valued = this.options.settings().some((s) => s.concentration.enabled || s.maxNotional.enabled);
    return (valued || intent.notional !== undefined) && intent.limitPrice === undefined && intent.stopPrice === undefined;
  }
}
