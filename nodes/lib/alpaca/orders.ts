// Order submission, cancel and replace on the shared connection. PLACEHOLDER: the order work
// implements it (exactly-once submission through client_order_id, reconciliation).
import type { AlpacaConnection } from './connection';

export class AlpacaOrders {
  constructor(readonly connection: AlpacaConnection) {}
}
