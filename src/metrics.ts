/**
 * prom-client metrics, one registry per process (or per test system). Gauges that read
 * state (overdue compensations, consumer lag) are computed at scrape time by `collect()`
 * from sources the saga host and the composition root register, so the hot path pays
 * nothing for them. Consumer lag costs the broker a round trip or more (Kafka: offsets of
 * every group and partition), so it is read at most once per LAG_CACHE_MS, by one query
 * that concurrent scrapes share.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from './clock.ts';
import type { ConsumerLag } from './ports/broker.ts';

/** Counts this source's orders in COMPENSATING for longer than one step timeout, now. */
export type OverdueSource = () => number;
export type LagSource = () => Promise<readonly ConsumerLag[]>;
/** What admission control sees now: its limit and the orders it counts in flight. */
export type AdmissionSource = () => { limit: number; inFlight: number };

/** How long one reading of consumer lag answers scrapes. */
export const LAG_CACHE_MS = 5_000;

/**
 * `read`, asked at most once per `ttlMs` on `clock`: within that, scrapes get the last
 * answer (a failure included, so a broker that is away is not asked on every scrape), and
 * scrapes that arrive while a reading is out wait for that one.
 */
export function cachedLag(read: LagSource, clock: Clock, ttlMs = LAG_CACHE_MS): LagSource {
  let last: { at: number; reading: Promise<readonly ConsumerLag[]> } | null = null;
  let pending: Promise<readonly ConsumerLag[]> | null = null;
  return () => {
    if (last && clock.now() - last.at < ttlMs) return last.reading;
    pending ??= read().finally(() => {
      last = { at: clock.now(), reading: pending! };
      pending = null;
    });
    return pending;
  };
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  const overdueSources = new Set<OverdueSource>();
  const lagSources = new Set<LagSource>();
  let admission: AdmissionSource | null = null;
  return {
    registry,
    ordersAccepted: new Counter({
      name: 'orders_accepted_total',
      help: 'Orders accepted by POST /orders',
      registers: [registry],
    }),
    ordersShed: new Counter({
      name: 'orders_shed_total',
      help: 'POST /orders refused with 503 OVERLOADED by admission control (nothing recorded)',
      registers: [registry],
    }),
    admissionLimit: new Gauge({
      name: 'admission_limit',
      help: 'Orders admission control lets be in flight now (follows the completion rate; capped by MAX_IN_FLIGHT)',
      registers: [registry],
      collect() {
        if (admission) this.set(admission().limit);
      },
    }),
    admissionInFlight: new Gauge({
      name: 'admission_in_flight',
      help: 'Orders not terminal, system-wide, as admission control last counted them (plus its own admissions since)',
      registers: [registry],
      collect() {
        if (admission) this.set(admission().inFlight);
      },
    }),
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
    sagaStep: new Histogram({
      name: 'saga_step_seconds',
      help: 'Time an order spent in a state, observed when it leaves it (ORDERING is passed through: 0)',
      labelNames: ['step'] as const,
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
    dlqMessages: new Counter({
      name: 'dlq_messages_total',
      help: 'Consumed messages refused as non-retriable (sent to <topic>.dlq), by source topic',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    casConflicts: new Counter({
      name: 'saga_cas_conflicts_total',
      help: 'Compare-and-set writes lost to another writer',
      registers: [registry],
    }),
    deadlinesFired: new Counter({
      name: 'saga_deadlines_fired_total',
      help: 'TIMEOUT events sent by the sweeper',
      registers: [registry],
    }),
    outboxResent: new Counter({
      name: 'saga_outbox_resent_total',
      help: 'Outboxes re-sent on a redelivered or no-op event',
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'method', 'code'] as const,
      registers: [registry],
    }),
    compensatingOverdue: new Gauge({
      name: 'orders_compensating_overdue',
      help: 'Orders hosted by this process in COMPENSATING for longer than one step timeout',
      registers: [registry],
      collect() {
        let n = 0;
        for (const count of overdueSources) n += count();
        this.set(n);
      },
    }),
    consumerLag: new Gauge({
      name: 'kafka_consumer_lag',
      help: "Messages between a consumer group's committed offset and the log end, per partition (when the broker reports it)",
      labelNames: ['group', 'topic', 'partition'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const read of lagSources) {
          let rows: readonly ConsumerLag[];
          try {
            rows = await read();
          } catch {
            continue; // a broker that cannot answer now leaves the series out of this scrape
          }
          for (const r of rows) this.set({ group: r.group, topic: r.topic, partition: String(r.partition) }, r.lag);
        }
      },
    }),
    /** Registers a source for orders_compensating_overdue; returns its removal. */
    trackCompensatingOverdue(count: OverdueSource): () => void {
      overdueSources.add(count);
      return () => overdueSources.delete(count);
    },
    /** Registers the source of admission_limit and admission_in_flight; returns its removal. */
    trackAdmission(source: AdmissionSource): () => void {
      admission = source;
      return () => {
        if (admission === source) admission = null;
      };
    },
    /** Registers a source for kafka_consumer_lag (a broker's `lag()`), read at most once per `ttlMs`; returns its removal. */
    trackConsumerLag(read: LagSource, clock: Clock, ttlMs = LAG_CACHE_MS): () => void {
      const cached = cachedLag(read, clock, ttlMs);
      lagSources.add(cached);
      return () => lagSources.delete(cached);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
