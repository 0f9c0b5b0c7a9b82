/**
 * Listeners on one order's view changes (what Redis pub/sub gives the Redis adapter).
 * Each subscription is its own entry, so one function watching twice is two watchers and
 * unsubscribing one leaves the other; an order's set is dropped with its last watcher.
 */
import type { StatusListener } from '../../../src/ports/store.ts';
import type { OrderView } from '../../../src/schemas.ts';

interface Watcher {
  readonly listener: StatusListener;
}

export class Watchers {
  private readonly byOrder = new Map<string, Set<Watcher>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(orderId: string, listener: StatusListener): () => void {
    const watcher: Watcher = { listener };
    let set = this.byOrder.get(orderId);
    if (set === undefined) this.byOrder.set(orderId, (set = new Set()));
    set.add(watcher);
    this.count++;
    return () => {
      const current = this.byOrder.get(orderId);
      if (current === undefined || !current.delete(watcher)) return;
      this.count--;
      if (current.size === 0) this.byOrder.delete(orderId);
    };
  }

  /** Each listener gets its own copy, so one listener's edits never reach another. */
  notify(orderId: string, viewJson: string): void {
    const set = this.byOrder.get(orderId);
    if (set === undefined) return;
    // Iterate a copy: a listener may unsubscribe itself or others while we go; those
    // it removed are skipped.
    for (const watcher of [...set]) {
      if (!set.has(watcher)) continue;
      try {
        watcher.listener(JSON.parse(viewJson) as OrderView);
      } catch {
        // The commit has already happened; a listener's failure is its own, and must
        // not make the writer believe its compare-and-set failed (as with pub/sub).
      }
    }
  }
}
