/**
 * The saga host: the store is the truth (rules `store-is-truth`, `outbox-in-snapshot`,
 * `deadlines-are-data`, `idempotent-effects`, `compensate-what-was-asked`;
 * docs/architecture.md). Every event loads the snapshot, steps the machine with the pure
 * transition(), and writes the new snapshot with its outbox by compare-and-set; then sends
 * the outbox and marks it sent. An event that changes nothing still sends an unsent outbox.
 * No live actor outlives its event.
 */
import type { OrderEvent } from '../../machines/order.machine.ts';
import type { Clock } from '../clock.ts';
import { ConcurrentUpdateError, SimulatedCrashError, UnknownOrderError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { placeFields, type MessagePlace } from '../messaging/place.ts';
import type { Metrics } from '../metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import { Topics, type Payload } from '../topics.ts';
import { childOfTraceId, childTrace, formatTraceparent, parseTraceparent, TRACEPARENT, type TraceContext } from '../trace.ts';
import { createOverdueGauge } from './overdue-gauge.ts';
import type { SagaInspector } from './inspector.ts';
import { createMailbox } from './mailbox.ts';
import { priceOrder } from './pricing.ts';
import { isDone, persist, restore, statusOf, step, viewOf, wakeAtOf, type OrderSnapshot } from './snapshot.ts';

export interface SagaHostDeps {
  store: Store;
  broker: Broker;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  casAttempts: number;
  /** Fault injection: true means "die" right after the snapshot write, before the sends. */
  crashAfterSnapshot?: () => boolean;
  /** INSPECT=1: told of every committed transition. */
  inspector?: SagaInspector;
}

/** Builds the event from the current snapshot, or null when the message is irrelevant to it. */
type EventFor = (snapshot: OrderSnapshot, now: number) => Promise<OrderEvent | null>;

export type SagaHost = ReturnType<typeof createSagaHost>;

/**
 * The outbox joins the trigger's trace: a child of the delivery's traceparent, else of the
 * trace stored with the order (the sweeper's TIMEOUTs), else no header at all.
 */
function outboxTrace(parent: TraceContext | null, storedTraceId: string | undefined): Record<string, string> | undefined {
  if (parent) return { [TRACEPARENT]: formatTraceparent(childTrace(parent)) };
  if (storedTraceId) return { [TRACEPARENT]: formatTraceparent(childOfTraceId(storedTraceId)) };
  return undefined;
}

export function createSagaHost(deps: SagaHostDeps) {
  const { store, broker, clock, metrics, logger } = deps;
  const mailbox = createMailbox();
  const compensating = createOverdueGauge();
  const untrack = metrics.trackCompensatingOverdue(() => compensating.overdue(clock.now()));

  /** `place` is where the triggering message sits; none for the sweeper's TIMEOUT. */
  async function apply(orderId: string, eventFor: EventFor, place?: MessagePlace): Promise<void> {
    const parent = place ? parseTraceparent(place.headers[TRACEPARENT]) : null;
    // One child logger per event, built only if a line is written (hot path).
    let child: Logger | undefined;
    let traceId: string | undefined = parent?.traceId;
    const log = (): Logger =>
      (child ??= logger.child(place ? placeFields(orderId, place, traceId) : { orderId, traceId, source: 'sweeper' }));
    const debug = logger.isLevelEnabled('debug');

    for (let attempt = 1; attempt <= deps.casAttempts; attempt++) {
      const row = await store.loadSaga(orderId);
      if (!row) throw new UnknownOrderError(orderId);
      // Finished, and its last outbox went out: nothing can change it, nothing to re-send.
      if (row.snapshot === null) return;
      const snapshot = restore(row.snapshot);
      traceId ??= snapshot.context.traceId;
      const now = clock.now();
      const event = await eventFor(snapshot, now);
      const result = event ? step(snapshot, event, outboxTrace(parent, snapshot.context.traceId)) : null;

      if (!result?.changed) {
        compensating.note(orderId, snapshot, now);
        if (event) metrics.sagaTransitions.inc({ event: event.type, changed: 'false' });
        if (debug) log().debug({ event: event?.type ?? null, status: statusOf(snapshot) }, 'saga event changed nothing');
        if (!row.outboxSent && row.outbox.length > 0) {
          await broker.publish(row.outbox);
          await store.markOutboxSent(orderId, row.version);
          metrics.outboxResent.inc();
          log().info({ messages: row.outbox.length, status: statusOf(snapshot) }, 'unsent outbox re-sent');
        }
        return;
      }

      const { next, outbox } = result;
      const terminal = isDone(next);
      const view = viewOf(next);
      const written = await store.commitSaga(orderId, row.version, {
        snapshot: persist(next),
        outbox,
        view,
        wakeAt: wakeAtOf(next),
        terminal,
      });
      if (!written) {
        metrics.casConflicts.inc();
        continue;
      }
      metrics.sagaTransitions.inc({ event: event!.type, changed: 'true' });
      observeSteps(metrics, snapshot.context.history.length, next.context.history);
      compensating.note(orderId, next, now);
      deps.inspector?.onTransition(orderId, event!, next);
      if (deps.crashAfterSnapshot?.()) throw new SimulatedCrashError('between snapshot write and send');
      if (outbox.length > 0) {
        await broker.publish(outbox);
        await store.markOutboxSent(orderId, row.version + 1);
      }
      // Per-transition lines are debug (hot path); an order's end is info.
      if (terminal || debug) {
        const line = { event: event!.type, from: statusOf(snapshot), to: view.status, sent: outbox.map((m) => m.topic) };
        if (terminal) log().info({ ...line, reason: view.reason?.code }, 'saga transition: order finished');
        else log().debug(line, 'saga transition');
      }
      if (terminal) {
        metrics.ordersFinished.inc({ status: view.status, reason: view.reason?.code ?? '' });
        metrics.orderLatency.observe({ status: view.status }, Math.max(0, now - next.context.createdAt) / 1000);
      }
      return;
    }
    throw new ConcurrentUpdateError(orderId);
  }

  const run = (orderId: string, eventFor: EventFor, place?: MessagePlace) => mailbox.run(orderId, () => apply(orderId, eventFor, place));

  const simple =
    (make: (now: number) => OrderEvent): EventFor =>
    async (_s, now) =>
      make(now);

  // Each takes the payload and, optionally, where its message sits (the Delivery): the
  // outbox joins that message's trace and the event's log lines carry its place.
  return {
    orderStart: (p: Payload<typeof Topics.orderStart>, place?: MessagePlace) => run(p.orderId, simple((now) => ({ type: 'START', now })), place),
    // ORDERING is passed through here: read the user and prices first, then feed the
    // machine the reservation and the pricing outcome in one step (one compare-and-set).
    stockSuccess: (p: Payload<typeof Topics.stockSuccess>, place?: MessagePlace) =>
      run(
        p.orderId,
        async (snapshot, now) => {
          const status = statusOf(snapshot);
          if (status !== 'PENDING' && status !== 'RESERVING') return null;
          const { userId, items } = snapshot.context;
          return { type: 'STOCK_RESERVED', now, pricing: await priceOrder(store, userId, items) };
        },
        place,
      ),
    stockFailed: (p: Payload<typeof Topics.stockFailed>, place?: MessagePlace) =>
      run(
        p.orderId,
        simple((now) => ({
          type: 'STOCK_REFUSED',
          now,
          // A CANCELLED refusal (tombstone) only happens after compensation began; the
          // machine ignores it then, so mapping it is only for the type.
          failure: { code: p.code === 'CANCELLED' ? 'TIMEOUT' : p.code, message: p.message },
        })),
        place,
      ),
    stockReleased: (p: Payload<typeof Topics.stockReleased>, place?: MessagePlace) =>
      run(p.orderId, simple((now) => ({ type: 'STOCK_RELEASED', now })), place),
    paymentSuccess: (p: Payload<typeof Topics.paymentSuccess>, place?: MessagePlace) =>
      run(p.orderId, simple((now) => ({ type: 'PAYMENT_CHARGED', now })), place),
    paymentFailed: (p: Payload<typeof Topics.paymentFailed>, place?: MessagePlace) =>
      run(
        p.orderId,
        simple((now) => ({
          type: 'PAYMENT_REFUSED',
          now,
          failure: { code: p.code === 'CANCELLED' ? 'TIMEOUT' : p.code, message: p.message },
        })),
        place,
      ),
    paymentRefunded: (p: Payload<typeof Topics.paymentRefunded>, place?: MessagePlace) =>
      run(p.orderId, simple((now) => ({ type: 'PAYMENT_REFUNDED', now })), place),
    /**
     * Sent by the sweeper; `now` is the time the sweeper saw the entry due. Joins the
     * order's stored trace. The deadline is judged against `businessNow` (the business
     * clock: not ahead of what our own queues have delivered); a deadline still ahead of
     * it waits, and the sweeper comes back after its lease.
     */
    timeout: (orderId: string, now: number, businessNow: number = now) =>
      run(orderId, async (snapshot) => {
        const due = wakeAtOf(snapshot);
        return due !== null && due > businessNow ? null : { type: 'TIMEOUT', now };
      }),
    get inFlight() {
      return mailbox.size;
    },
    /** Stops feeding orders_compensating_overdue (the worker calls it on close). */
    detach(): void {
      untrack();
    },
  };
}

/**
 * saga_step_seconds: each state the order left in this transition, with the time spent in
 * it, from the history entries (entry times). Usually one; RESERVING -> ORDERING -> PAYING
 * leaves two (ORDERING with 0: it is passed through).
 */
function observeSteps(metrics: Metrics, before: number, history: readonly { status: string; at: number }[]): void {
  for (let i = Math.max(0, before - 1); i < history.length - 1; i++) {
    const entry = history[i]!;
    metrics.sagaStep.observe({ step: entry.status }, Math.max(0, history[i + 1]!.at - entry.at) / 1000);
  }
}
