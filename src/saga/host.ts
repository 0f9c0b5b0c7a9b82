/**
 * The saga host: the store is the truth (DESIGN rules 5-9). Every event loads the
 * snapshot, steps the machine with the pure transition(), and writes the new snapshot
 * with its outbox by compare-and-set; then sends the outbox and marks it sent. An event
 * that changes nothing still sends an unsent outbox. No live actor outlives its event.
 */
import type { OrderEvent } from '../../machines/order.machine.ts';
import type { Clock } from '../clock.ts';
import { ConcurrentUpdateError, SimulatedCrashError, UnknownOrderError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import type { Payload } from '../topics.ts';
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

export function createSagaHost(deps: SagaHostDeps) {
  const { store, broker, clock, metrics, logger } = deps;
  const mailbox = createMailbox();

  async function apply(orderId: string, eventFor: EventFor, headers?: Record<string, string>): Promise<void> {
    for (let attempt = 1; attempt <= deps.casAttempts; attempt++) {
      const row = await store.loadSaga(orderId);
      if (!row) throw new UnknownOrderError(orderId);
      const snapshot = restore(row.snapshot);
      const now = clock.now();
      const event = await eventFor(snapshot, now);
      const result = event ? step(snapshot, event, headers) : null;

      if (!result?.changed) {
        if (event) metrics.sagaTransitions.inc({ event: event.type, changed: 'false' });
        if (!row.outboxSent && row.outbox.length > 0) {
          await broker.publish(row.outbox);
          await store.markOutboxSent(orderId, row.version);
          metrics.outboxResent.inc();
          logger.info({ orderId, messages: row.outbox.length, status: statusOf(snapshot) }, 'unsent outbox re-sent');
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
      deps.inspector?.onTransition(orderId, event!, next);
      if (deps.crashAfterSnapshot?.()) throw new SimulatedCrashError('between snapshot write and send');
      if (outbox.length > 0) {
        await broker.publish(outbox);
        await store.markOutboxSent(orderId, row.version + 1);
      }
      logger.info(
        { orderId, event: event!.type, from: statusOf(snapshot), to: view.status, sent: outbox.map((m) => m.topic) },
        'saga transition',
      );
      if (terminal) {
        metrics.ordersFinished.inc({ status: view.status, reason: view.reason?.code ?? '' });
        metrics.orderLatency.observe({ status: view.status }, Math.max(0, now - next.context.createdAt) / 1000);
      }
      return;
    }
    throw new ConcurrentUpdateError(orderId);
  }

  const run = (orderId: string, eventFor: EventFor, headers?: Record<string, string>) =>
    mailbox.run(orderId, () => apply(orderId, eventFor, headers));

  const simple =
    (make: (now: number) => OrderEvent): EventFor =>
    async (_s, now) =>
      make(now);

  return {
    orderStart: (p: Payload<'order.start'>) => run(p.orderId, simple((now) => ({ type: 'START', now }))),
    // ORDERING is passed through here: read the user and prices first, then feed the
    // machine the reservation and the pricing outcome in one step (one compare-and-set).
    stockSuccess: (p: Payload<'stock.success'>) =>
      run(p.orderId, async (snapshot, now) => {
        const status = statusOf(snapshot);
        if (status !== 'PENDING' && status !== 'RESERVING') return null;
        const { userId, items } = snapshot.context;
        return { type: 'STOCK_RESERVED', now, pricing: await priceOrder(store, userId, items) };
      }),
    stockFailed: (p: Payload<'stock.failed'>) =>
      run(
        p.orderId,
        simple((now) => ({
          type: 'STOCK_REFUSED',
          now,
          // A CANCELLED refusal (tombstone) only happens after compensation began; the
          // machine ignores it then, so mapping it is only for the type.
          failure: { code: p.code === 'CANCELLED' ? 'TIMEOUT' : p.code, message: p.message },
        })),
      ),
    stockReleased: (p: Payload<'stock.released'>) => run(p.orderId, simple((now) => ({ type: 'STOCK_RELEASED', now }))),
    paymentSuccess: (p: Payload<'payment.success'>) => run(p.orderId, simple((now) => ({ type: 'PAYMENT_CHARGED', now }))),
    paymentFailed: (p: Payload<'payment.failed'>) =>
      run(
        p.orderId,
        simple((now) => ({
          type: 'PAYMENT_REFUSED',
          now,
          failure: { code: p.code === 'CANCELLED' ? 'TIMEOUT' : p.code, message: p.message },
        })),
      ),
    paymentRefunded: (p: Payload<'payment.refunded'>) =>
      run(p.orderId, simple((now) => ({ type: 'PAYMENT_REFUNDED', now }))),
    /** Sent by the sweeper; `now` is the time the sweeper saw the entry due. */
    timeout: (orderId: string, now: number) => run(orderId, async () => ({ type: 'TIMEOUT', now })),
    get inFlight() {
      return mailbox.size;
    },
  };
}
