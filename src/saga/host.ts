/**
 * The saga host: the store is the truth (rules `store-is-truth`, `outbox-in-snapshot`,
 * `deadlines-are-data`, `idempotent-effects`, `compensate-what-was-asked`;
 * docs/architecture.md). Every event is applied (./apply.ts: load, or start from this
 * host's own last write, step with the pure transition, compare-and-set the snapshot with
 * its outbox); then the outbox is sent and
 * marked sent. An event that changes nothing still sends an unsent outbox. No live actor
 * outlives its event. What happened goes to one observer (./observer.ts) for telemetry.
 */
import type { Clock } from '../clock.ts';
import { ConcurrentUpdateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TopicHandlers } from '../messaging/dispatch.ts';
import type { MessagePlace } from '../messaging/place.ts';
import type { Metrics } from '../metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import type { Payload } from '../topics.ts';
import {
  childOfTraceId,
  childTrace,
  formatTraceparent,
  parseTraceparent,
  TRACEPARENT,
  type TraceContext,
} from '../trace.ts';
import { applyEvent, type Applied } from './apply.ts';
import { createCommittedCache } from './committed.ts';
import { InboxEvents, SagaInputs, type EventFor, type SagaInput } from './inbox.ts';
import type { SagaInspector } from './inspector.ts';
import { createMailbox } from './mailbox.ts';
import { createSagaObserver, type EventOrigin } from './observer.ts';
import { wakeAtOf } from './persisted.ts';

export interface SagaHostDeps {
  store: Store;
  broker: Broker;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  casAttempts: number;
  /**
   * Runs right after a snapshot is written, before its outbox is sent. Only fault
   * injection wires it (crashWhen in ./crash-hook.ts): throwing there is a host dying mid-way.
   */
  afterCommit?: (orderId: string) => void;
  /** INSPECT=1: told of every committed transition. */
  inspector?: SagaInspector;
}

export type SagaHost = ReturnType<typeof createSagaHost>;

/**
 * The outbox joins the trigger's trace: a child of the delivery's traceparent, else of the
 * trace stored with the order (the sweeper's TIMEOUTs), else no header at all.
 */
function outboxTrace(
  parent: TraceContext | null,
  storedTraceId: string | undefined,
): Record<string, string> | undefined {
  if (parent) return { [TRACEPARENT]: formatTraceparent(childTrace(parent)) };
  if (storedTraceId) return { [TRACEPARENT]: formatTraceparent(childOfTraceId(storedTraceId)) };
  return undefined;
}

const storedTraceId = (applied: Applied): string | undefined =>
  applied.kind === 'unchanged'
    ? applied.snapshot.context.traceId
    : applied.kind === 'committed'
      ? applied.before.context.traceId
      : undefined;

export function createSagaHost(deps: SagaHostDeps) {
  const { store, broker } = deps;
  const mailbox = createMailbox();
  const observer = createSagaObserver(deps);
  const applyDeps = { ...deps, committed: createCommittedCache() };

  /** Applies one event, sends what it says, and returns what happened. `place`: none for the sweeper. */
  async function apply(orderId: string, eventFor: EventFor, place?: MessagePlace): Promise<Applied> {
    const parent = place ? parseTraceparent(place.headers[TRACEPARENT]) : null;
    const applied = await applyEvent(applyDeps, orderId, eventFor, (s) => outboxTrace(parent, s.context.traceId));
    const traceId = parent?.traceId ?? storedTraceId(applied);
    // Two literals, not a spread of `{ place }`: this runs for every event (see initialContext).
    const origin: EventOrigin = place ? { place, traceId } : { traceId };
    observer.stepped(applied, origin);
    if (applied.kind === 'contended') throw new ConcurrentUpdateError(orderId);
    if (applied.kind === 'committed') {
      deps.afterCommit?.(orderId);
      if (applied.outbox.length > 0) {
        await broker.publish(applied.outbox);
        await store.markOutboxSent(orderId, applied.version);
      }
    } else if (applied.kind === 'unchanged' && applied.resend.length > 0) {
      await broker.publish(applied.resend);
      await store.markOutboxSent(orderId, applied.version);
    }
    observer.sent(applied, origin);
    return applied;
  }

  const run = (orderId: string, eventFor: EventFor, place?: MessagePlace) =>
    mailbox.run(orderId, () => apply(orderId, eventFor, place));

  /** A message of a saga input topic, with where it sits (its Delivery): the outbox joins its trace. */
  const receive = <T extends SagaInput>(topic: T, payload: Payload<T>, place?: MessagePlace): Promise<Applied> =>
    run(payload.orderId, InboxEvents[topic](payload, store), place);

  /** The inbox table as dispatch's handlers: one per saga input topic. */
  const inbox = Object.fromEntries(
    SagaInputs.map((topic) => [
      topic,
      async (payload: Payload<typeof topic>, place: MessagePlace) => void (await receive(topic, payload, place)),
    ]),
  ) as TopicHandlers;

  return {
    receive,
    inbox,
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
      observer.detach();
    },
  };
}
