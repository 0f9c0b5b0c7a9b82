/**
 * Saga rows, order views, idempotency keys and the deadline index (rules `store-is-truth`,
 * `outbox-in-snapshot`, `deadlines-are-data`; docs/architecture.md). Each function is
 * synchronous and serializes every value before its first write, so a value that cannot be
 * stored leaves nothing half-written.
 */
import type { CreateOutcome, NewOrder, SagaRecord, SagaWrite } from '../../../src/ports/store.ts';
import { isTerminal, OrderStatuses, type OrderStatus, type OrderView } from '../../../src/schemas.ts';
import { enterRetention } from './retention.ts';
import type { MemoryState } from './state.ts';

/** JSON text in, fresh objects out: the same round trip a Redis value takes. */
const toJson = (value: unknown): string => JSON.stringify(value) ?? 'null';

export function createOrder(state: MemoryState, order: NewOrder): CreateOutcome {
  const idem = order.idempotency;
  if (idem !== undefined) {
    const claim = state.claim(idem.key);
    if (claim !== undefined)
      return { created: false, orderId: claim.orderId, sameBody: claim.bodyHash === idem.bodyHash };
  }
  // Order ids are minted by the api; a clash is a bug, never a client's repeat.
  if (state.order(order.orderId) !== undefined) throw new Error(`order ${order.orderId} already exists`);
  const row = {
    version: 1,
    snapshot: toJson(order.snapshot),
    outbox: '[]',
    outboxSent: true,
    view: toJson(order.view),
    status: order.view.status,
    idempotencyKey: idem?.key,
  };
  bump(state, order.view.status, 1);
  state.deadlines.set(order.orderId, order.wakeAt);
  state.orders.set(order.orderId, row);
  if (idem !== undefined) state.keys.set(idem.key, { orderId: order.orderId, bodyHash: idem.bodyHash });
  return { created: true };
}

/**
 * Counts move inside the same synchronous write as the snapshot, so redeliveries and
 * racing hosts cannot make them drift. A terminal status is never left, so its count is a
 * running total (expiry of the record does not lower it).
 */
function bump(state: MemoryState, status: OrderStatus, by: number): void {
  state.counts.set(status, (state.counts.get(status) ?? 0) + by);
}

export function statusCounts(state: MemoryState): Record<OrderStatus, number> {
  return Object.fromEntries(OrderStatuses.map((s) => [s, state.counts.get(s) ?? 0])) as Record<OrderStatus, number>;
}

export function getOrder(state: MemoryState, orderId: string): OrderView | null {
  const row = state.order(orderId);
  return row === undefined ? null : (JSON.parse(row.view) as OrderView);
}

export function loadSaga(state: MemoryState, orderId: string): SagaRecord | null {
  const row = state.order(orderId);
  if (row === undefined) return null;
  return {
    version: row.version,
    snapshot: JSON.parse(row.snapshot) as unknown,
    outbox: JSON.parse(row.outbox) as SagaRecord['outbox'],
    outboxSent: row.outboxSent,
  };
}

/** Returns the stored view's JSON (for the watchers) when written, or null when the CAS lost. */
export function commitSaga(
  state: MemoryState,
  orderId: string,
  expectedVersion: number,
  write: SagaWrite,
): string | null {
  const row = state.order(orderId);
  if (row === undefined || row.version !== expectedVersion) return null;
  const snapshot = toJson(write.snapshot);
  const outbox = toJson(write.outbox);
  const view = toJson(write.view);
  if (write.terminal || write.wakeAt === null) state.deadlines.delete(orderId);
  else state.deadlines.set(orderId, write.wakeAt);
  if (write.view.status !== row.status) {
    bump(state, row.status, -1);
    bump(state, write.view.status, 1);
    row.status = write.view.status;
  }
  row.version += 1;
  row.snapshot = snapshot;
  row.outbox = outbox;
  row.outboxSent = write.outbox.length === 0;
  row.view = view;
  // A non-terminal commit leaves a running retention clock alone (Redis KEEPTTL): a
  // terminal status never changes, so nothing should bring the row back to life.
  if (write.terminal) {
    state.retainOrder(orderId);
    enterRetention(state, orderId);
  }
  return view;
}

export function markOutboxSent(state: MemoryState, orderId: string, version: number): void {
  const row = state.order(orderId);
  if (row === undefined || row.version !== version) return;
  row.outboxSent = true;
  // A finished order whose outbox went out needs nothing but its view: drop the snapshot
  // and the outbox (loadSaga then answers a null snapshot), so it keeps little memory.
  if (isTerminal(row.status)) {
    row.snapshot = 'null';
    row.outbox = '[]';
  }
}

/**
 * Leases the lowest entries due at `now`. All are taken out before any is put back, so
 * a lease that ends at or before `now` still hands each entry out once per call (as
 * ZRANGEBYSCORE followed by ZADD does).
 */
export function claimDue(state: MemoryState, now: number, limit: number, leaseMs: number): string[] {
  const claimed: string[] = [];
  const max = Math.floor(limit);
  while (claimed.length < max) {
    const next = state.deadlines.peek();
    if (next === undefined || next.score > now) break;
    state.deadlines.pop();
    claimed.push(next.key);
  }
  for (const orderId of claimed) state.deadlines.set(orderId, now + leaseMs);
  return claimed;
}
