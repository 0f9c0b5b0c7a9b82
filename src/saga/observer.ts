/**
 * Turns what the saga host did (an `Applied`) into metrics, log lines, the overdue gauge
 * and inspector calls: all of the host's telemetry, in one place.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { placeFields, type MessagePlace } from '../messaging/place.ts';
import type { Metrics } from '../metrics.ts';
import type { Applied } from './apply.ts';
import type { SagaInspector } from './inspector.ts';
import { createOverdueGauge } from './overdue-gauge.ts';
import { statusOf } from './persisted.ts';

export interface ObserverDeps {
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  inspector?: SagaInspector;
}

/** Where the event came from: its message's place (none for the sweeper) and its trace id. */
export interface EventOrigin {
  place?: MessagePlace;
  traceId?: string;
}

export type SagaObserver = ReturnType<typeof createSagaObserver>;

export function createSagaObserver(deps: ObserverDeps) {
  const { metrics, logger } = deps;
  const overdue = createOverdueGauge();
  const untrack = metrics.trackCompensatingOverdue(() => overdue.overdue(deps.clock.now()));

  // One child logger per event, built only if a line is written (hot path).
  const lineFor = (orderId: string, origin: EventOrigin): (() => Logger) => {
    let child: Logger | undefined;
    return () =>
      (child ??= logger.child(
        origin.place
          ? placeFields(orderId, origin.place, origin.traceId)
          : { orderId, traceId: origin.traceId, source: 'sweeper' },
      ));
  };

  return {
    /** After the compare-and-set, before anything is sent. */
    stepped(applied: Applied, origin: EventOrigin): void {
      for (let i = 0; i < applied.conflicts; i++) metrics.casConflicts.inc();
      if (applied.kind === 'unchanged') {
        overdue.note(applied.orderId, applied.snapshot, applied.now);
        if (applied.event) metrics.sagaTransitions.inc({ event: applied.event.type, changed: 'false' });
        if (logger.isLevelEnabled('debug')) {
          const line = { event: applied.event?.type ?? null, status: statusOf(applied.snapshot) };
          lineFor(applied.orderId, origin)().debug(line, 'saga event changed nothing');
        }
      } else if (applied.kind === 'committed') {
        metrics.sagaTransitions.inc({ event: applied.event.type, changed: 'true' });
        observeSteps(metrics, applied.before.context.history.length, applied.after.context.history);
        overdue.note(applied.orderId, applied.after, applied.now);
        deps.inspector?.onTransition(applied.orderId, applied.event, applied.after);
      }
    },
    /** After the outbox (or the unsent one) went out. */
    sent(applied: Applied, origin: EventOrigin): void {
      if (applied.kind === 'unchanged' && applied.resend.length > 0) {
        metrics.outboxResent.inc();
        const line = { messages: applied.resend.length, status: statusOf(applied.snapshot) };
        lineFor(applied.orderId, origin)().info(line, 'unsent outbox re-sent');
      }
      if (applied.kind !== 'committed') return;
      const { event, before, view, outbox, terminal } = applied;
      // Per-transition lines are debug (hot path); an order's end is info.
      if (terminal || logger.isLevelEnabled('debug')) {
        const line = { event: event.type, from: statusOf(before), to: view.status, sent: outbox.map((m) => m.topic) };
        if (terminal)
          lineFor(applied.orderId, origin)().info(
            { ...line, reason: view.reason?.code },
            'saga transition: order finished',
          );
        else lineFor(applied.orderId, origin)().debug(line, 'saga transition');
      }
      if (terminal) {
        metrics.ordersFinished.inc({ status: view.status, reason: view.reason?.code ?? '' });
        metrics.orderLatency.observe(
          { status: view.status },
          Math.max(0, applied.now - applied.after.context.createdAt) / 1000,
        );
      }
    },
    /** Stops feeding orders_compensating_overdue. */
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
