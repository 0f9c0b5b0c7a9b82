/**
 * What this host last wrote for each order in flight: the version and the snapshot of its
 * own successful compare-and-set. The next event of that order then starts from it
 * instead of loading the row again (one store round trip and one snapshot decode less per
 * hop). It is a cache at most (rule `store-is-truth`, docs/architecture.md): a write made
 * from it is a compare-and-set on its version, so a stale entry can only lose, and
 * ./apply.ts decides nothing else from it (an event that changes nothing is judged again
 * on the stored row). Finished orders are not kept; at capacity the oldest entry goes.
 */
import type { OrderSnapshot } from './persisted.ts';

export interface Committed {
  version: number;
  snapshot: OrderSnapshot;
}

/** Far above the orders one host has in flight (MAX_IN_FLIGHT at the default step timeout). */
export const COMMITTED_CAPACITY = 16_384;

export interface CommittedCache {
  /** Removes and returns the entry: whoever takes it puts back what it committed, if anything. */
  take(orderId: string): Committed | undefined;
  put(orderId: string, entry: Committed): void;
  readonly size: number;
}

export function createCommittedCache(capacity = COMMITTED_CAPACITY): CommittedCache {
  const entries = new Map<string, Committed>();
  return {
    take(orderId) {
      const entry = entries.get(orderId);
      if (entry) entries.delete(orderId);
      return entry;
    },
    put(orderId, entry) {
      entries.delete(orderId);
      entries.set(orderId, entry);
      // A Map iterates in insertion order: the first key is the one written longest ago.
      if (entries.size > capacity) entries.delete(entries.keys().next().value!);
    },
    get size() {
      return entries.size;
    },
  };
}
