/** prom-client metrics, one registry per process (or per test system). */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    registry,
    ordersAccepted: new Counter({ name: 'orders_accepted_total', help: 'Orders accepted by POST /orders', registers: [registry] }),
    ordersFinished: new Counter({
      name: 'orders_finished_total',
      help: 'Orders that reached a terminal status, by status and reason',
      labelNames: ['status', 'reason'] as const,
      registers: [registry],
    }),
    orderLatency: new Histogram({
      name: 'order_end_to_end_seconds',
      help: 'From acceptance to terminal status',
      labelNames: ['status'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    messagesHandled: new Counter({
      name: 'messages_handled_total',
      help: 'Consumed messages by topic and outcome (ok, retry, dlq)',
      labelNames: ['topic', 'outcome'] as const,
      registers: [registry],
    }),
    redeliveries: new Counter({
      name: 'message_redeliveries_total',
      help: 'Deliveries that were not the first for that message in this consumer',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    sagaTransitions: new Counter({
      name: 'saga_transitions_total',
      help: 'Saga events applied, by event type and whether they changed the order',
      labelNames: ['event', 'changed'] as const,
      registers: [registry],
    }),
    casConflicts: new Counter({ name: 'saga_cas_conflicts_total', help: 'Compare-and-set writes lost to another writer', registers: [registry] }),
    deadlinesFired: new Counter({ name: 'saga_deadlines_fired_total', help: 'TIMEOUT events sent by the sweeper', registers: [registry] }),
    outboxResent: new Counter({ name: 'saga_outbox_resent_total', help: 'Outboxes re-sent on a redelivered or no-op event', registers: [registry] }),
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'method', 'code'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
