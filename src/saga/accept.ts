/**
 * Accepting an order: one atomic write (idempotency-key claim, record, PENDING snapshot,
 * deadline), then the publish of order.start. The api's POST /orders and the in-process
 * load generator both come through here, so they accept orders the same way, admission
 * control included (rule `shed-at-the-door`, docs/architecture.md: before anything is recorded).
 */
import type { Clock } from '../clock.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import type { BackoffPolicy } from '../retry.ts';
import type { Item, OrderStatus } from '../schemas.ts';
import { message, Topics } from '../topics.ts';
import { formatTraceparent, newTrace, parseTraceparent, TRACEPARENT } from '../trace.ts';
import type { AdmissionGate } from './admission-gate.ts';
import { newOrderSaga } from './stepping.ts';

export interface AcceptDeps {
  store: Store;
  broker: Broker;
  clock: Clock;
  stepTimeoutMs: number;
  compensationRetry: BackoffPolicy;
  newOrderId: () => string;
  /** Absent: every order is admitted. */
  admission?: AdmissionGate;
}

export type AcceptOutcome =
  /** Recorded and published (a repeat of a key: the first order, re-published while PENDING). */
  | { kind: 'accepted'; orderId: string; status: OrderStatus; created: boolean }
  /** Refused by admission control: nothing was recorded; come back in retryAfterSec. */
  | { kind: 'overloaded'; retryAfterSec: number }
  /** The key was used with another body. */
  | { kind: 'key-conflict' }
  /** Nothing was recorded: the store could not be written (or read, for a repeat). */
  | { kind: 'unrecorded'; cause: unknown }
  /** Recorded, but the broker did not confirm: it proceeds or ends CANCELLED/TIMEOUT. */
  | { kind: 'unpublished'; orderId: string; created: boolean; cause: unknown };

export async function acceptOrder(
  deps: AcceptDeps,
  order: { userId: string; items: Item[] },
  idempotency?: { key: string; bodyHash: string },
  headers?: Record<string, string>,
): Promise<AcceptOutcome> {
  const orderId = deps.newOrderId();
  // The order joins the caller's trace (the api passes the request's traceparent); without
  // one it starts its own, so every message of every order is traced.
  const given = parseTraceparent(headers?.[TRACEPARENT]);
  const trace = given ?? newTrace();
  const startHeaders = given ? headers : { ...headers, [TRACEPARENT]: formatTraceparent(trace) };
  const { snapshot, view, wakeAt } = newOrderSaga({
    orderId,
    userId: order.userId,
    items: order.items,
    createdAt: deps.clock.now(),
    stepTimeoutMs: deps.stepTimeoutMs,
    compensationRetry: deps.compensationRetry,
    traceId: trace.traceId,
  });
  const verdict = deps.admission ? await deps.admission.admit() : { admitted: true as const };
  if (!verdict.admitted) {
    // A repeat of a recorded order is not new work: it goes on to createOrder, which answers
    // with the first order. The store is asked only here, on the way to a refusal.
    let repeat = false;
    try {
      repeat = idempotency !== undefined && (await deps.store.idempotencyClaim(idempotency.key)) !== null;
    } catch (cause) {
      return { kind: 'unrecorded', cause };
    }
    if (!repeat) {
      deps.admission!.shed(verdict);
      return { kind: 'overloaded', retryAfterSec: verdict.retryAfterSec };
    }
  }
  let created: Awaited<ReturnType<Store['createOrder']>>;
  try {
    created = await deps.store.createOrder({
      orderId,
      ...(idempotency ? { idempotency } : {}),
      view,
      snapshot,
      wakeAt,
    });
  } catch (cause) {
    if (verdict.admitted) deps.admission?.release();
    return { kind: 'unrecorded', cause };
  }
  if (!created.created && verdict.admitted) deps.admission?.release();
  let current = { orderId, userId: order.userId, items: order.items, status: 'PENDING' as OrderStatus };
  if (!created.created) {
    if (!created.sameBody) return { kind: 'key-conflict' };
    try {
      const existing = await deps.store.getOrder(created.orderId);
      if (!existing) return { kind: 'unrecorded', cause: new Error(`order ${created.orderId} is not readable`) };
      current = existing;
    } catch (cause) {
      return { kind: 'unrecorded', cause };
    }
  }
  // Still PENDING: the first publish may have failed, so a repeat is how a client recovers.
  if (current.status === 'PENDING') {
    try {
      await deps.broker.publish([
        message(
          Topics.orderStart,
          { orderId: current.orderId, userId: current.userId, items: current.items },
          startHeaders,
        ),
      ]);
    } catch (cause) {
      return { kind: 'unpublished', orderId: current.orderId, created: created.created, cause };
    }
  }
  return { kind: 'accepted', orderId: current.orderId, status: current.status, created: created.created };
}
