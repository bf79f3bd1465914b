// The connection's request budget. PLACEHOLDER until the rate-limit work lands: it runs every
// call at once and ignores feedback, which keeps today's behaviour.
import type { RequestBudget } from './broker';

export class UnlimitedBudget implements RequestBudget {
  schedule<T>(call: () => Promise<T>): Promise<T> {
    return call();
  }
  observe(): void {
    // Nothing to adjust without a limit.
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
