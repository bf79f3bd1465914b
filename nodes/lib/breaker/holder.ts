// The one breaker guard of an account, held by its config node and shared by every breaker node
// of the account: the first one creates it (and puts it in the account's order gateway), the last
// one gives it up. A breaker closed for a redeploy leaves the gateway waiting for its successor,
// so no order slips through between the two.
import type { OrderGateway } from '../orders/gateway';
import type { BreakerGuard } from './guard';

/** The gateway slot the breaker fills. */
export const BREAKER_SLOT = 'breaker';

export class BreakerHolder {
  private held?: { guard: BreakerGuard; refs: number; remove: (keepExpected: boolean) => void };

  constructor(private readonly gateway: OrderGateway) {}

  /** The account's guard while a breaker node holds it. */
  get current(): BreakerGuard | undefined {
    return this.held?.guard;
  }

  /** The flows hold a breaker for this account: orders wait for it to start. */
  expect(label: string): void {
    this.gateway.expectPolicy(BREAKER_SLOT, label);
  }

  /** The account's guard, created (and started) by the first breaker; later breakers share it. */
  acquire(create: () => BreakerGuard): BreakerGuard {
    if (!this.held) {
      const guard = create();
      this.held = { guard, refs: 0, remove: this.gateway.setPolicy(BREAKER_SLOT, guard) };
      void guard.start();
    }
    this.held.refs++;
    return this.held.guard;
  }

  /**
   * Gives back a share; the last one closes the guard. `removed` (the node was deleted or
   * disabled) lets orders pass without a breaker; otherwise they wait for the next one.
   */
  release(guard: BreakerGuard, removed: boolean): Promise<void> {
    const held = this.held;
    if (!held || held.guard !== guard) return Promise.resolve();
    held.refs--;
    if (held.refs > 0) return Promise.resolve();
    this.held = undefined;
    held.remove(!removed);
    return guard.close();
  }
}
