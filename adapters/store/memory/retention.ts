/**
 * The retention index of the memory store, the same steps as the Redis store's: the
 * terminal commit adds an entry (the order and its terminal time), and retainEffects
 * later starts the clock of the order's effect records from that time. Until then an
 * effect record has no expiry at all, so an order in flight for any time finds its
 * records (rule `idempotent-effects`, docs/architecture.md). Each call is synchronous, so no entry needs a lease here.
 */
import type { MemoryState } from './state.ts';

/** One entry per terminal commit: a repeated terminal commit adds its own, later one. */
const entryKey = (orderId: string, terminalAt: number): string => JSON.stringify([orderId, terminalAt]);

export function enterRetention(state: MemoryState, orderId: string): void {
  state.retention.set(entryKey(orderId, state.now), state.now);
}

export function retainEffects(state: MemoryState, now: number, limit: number): number {
  let done = 0;
  const max = Math.floor(limit);
  while (done < max) {
    const next = state.retention.peek();
    if (next === undefined || next.score > now) break;
    state.retention.pop();
    const [orderId, terminalAt] = JSON.parse(next.key) as [string, number];
    state.retainEffects(orderId, terminalAt + state.effectRetentionMs);
    done++;
  }
  return done;
}
