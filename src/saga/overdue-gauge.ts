/**
 * Orders this saga host saw in COMPENSATING, for the `orders_compensating_overdue` gauge:
 * orderId -> the time one step timeout after it entered COMPENSATING. Kept up to date in
 * O(1) per event; counted only when Prometheus scrapes.
 *
 * Only what this process handles: an order whose exit from COMPENSATING is handled by
 * another order worker (after a rebalance, or a sweeper elsewhere) stays here until this
 * process handles another event for it. Sum the gauge over order workers for the total.
 */
import { compensationOverdueAt } from '../../machines/timing.ts';
import type { OrderSnapshot } from './persisted.ts';

export type OverdueGauge = ReturnType<typeof createOverdueGauge>;

export function createOverdueGauge() {
  const overdueAt = new Map<string, number>();
  return {
    /** Tells the gauge the order's current snapshot (after a commit, or as loaded). */
    note(orderId: string, snapshot: OrderSnapshot, now: number): void {
      if (snapshot.value !== 'COMPENSATING') {
        overdueAt.delete(orderId);
        return;
      }
      if (overdueAt.has(orderId)) return;
      // COMPENSATING records its entry once; its own retries append nothing after it.
      const last = snapshot.context.history.at(-1);
      const entered = last?.status === 'COMPENSATING' ? last.at : now;
      overdueAt.set(orderId, compensationOverdueAt(entered, snapshot.context));
    },
    /** Orders in COMPENSATING for longer than one step timeout at `now` (O(orders compensating)). */
    overdue(now: number): number {
      let n = 0;
      for (const at of overdueAt.values()) if (now > at) n++;
      return n;
    },
    get size(): number {
      return overdueAt.size;
    },
  };
}
