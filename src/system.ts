/**
 * The composition root: builds the adapters named by the config and starts the roles
 * asked for, all against the same two ports. main.ts and the tests both start here.
 * It resolves once every role is running, however long its services take to answer.
 */
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/app.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { demoProducts, demoUsers } from './demo.ts';
import { silentLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import type { Broker, Subscription } from './ports/broker.ts';
import type { Store } from './ports/store.ts';
import { seededRng } from './random.ts';
import { Readiness } from './readiness.ts';
import { Backoff, type BackoffPolicy, type BackoffProfile } from './retry.ts';
import type { SagaInspector } from './saga/inspector.ts';
import { createAdapters, patientBroker, type Wait } from './system-adapters.ts';
import { createSharedGroup, takingOverFrom } from './messaging/shared-group.ts';
import { AllRolesGroup, ConsumingRoles, Groups } from './topics.ts';
import { startOrderWorker, type OrderWorker } from './workers/order.ts';
import { startPaymentWorker } from './workers/payment.ts';
import { startStockWorker } from './workers/stock.ts';
import { waitFor } from './wait-for.ts';

export const Roles = ['api', 'stock', 'order', 'payment'] as const;
export type Role = (typeof Roles)[number];

export interface StartOptions {
  config: Config;
  roles: readonly Role[];
  clock?: Clock;
  logger?: Logger;
  /** Injected adapters (tests share one broker and store between several systems). */
  broker?: Broker;
  store?: Store;
  backoff?: BackoffProfile;
  sweepIntervalMs?: number;
  leaseMs?: number;
  autoSweep?: boolean;
  newOrderId?: () => string;
  defaultMetrics?: boolean;
  /** Fault injection for tests on any adapters; MEMORY_FAULTS' crash sets one for the embedded broker. */
  crashAfterSnapshot?: () => boolean;
  /** What /healthz reports while this start waits for its services; marked ready at the end. */
  readiness?: Readiness;
  /** Aborting gives up the wait for a service (a signal during start-up). */
  signal?: AbortSignal;
  /** Default: a new registry (main.ts passes the one its starting server already serves). */
  metrics?: Metrics;
  /** Between attempts to reach a service that is away; default WaitBackoff. */
  waitPolicy?: BackoffPolicy;
}

export interface System {
  config: Config;
  store: Store;
  broker: Broker;
  metrics: Metrics;
  api: FastifyInstance | null;
  order: OrderWorker | null;
  close(): Promise<void>;
}

export async function startSystem(opts: StartOptions): Promise<System> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const backoff = opts.backoff ?? Backoff;
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: opts.defaultMetrics ?? false });
  const readiness = opts.readiness ?? new Readiness();
  const waitOptions = { logger, clock, signal: opts.signal, ...(opts.waitPolicy ? { policy: opts.waitPolicy } : {}) };
  const wait: Wait = (service, what, step) => readiness.during(service, () => waitFor(what, step, waitOptions));
  const owned = opts.broker && opts.store ? null : await createAdapters(config, clock, backoff, logger, wait);
  const broker = opts.broker ?? owned!.broker;
  const store = opts.store ?? owned!.store;
  const subscriptions: Subscription[] = [];
  const started: Started = { api: null, order: null, inspector: undefined };
  const close = closer(started, subscriptions, owned);
  try {
    await startRoles({ ...opts, config, clock, logger, backoff, metrics, broker, store, wait, subscriptions, started });
  } catch (err) {
    // Given up (a signal, a config error found on the way): nothing may be left running.
    await close();
    throw err;
  }
  readiness.markReady();
  return { config, store, broker, metrics, api: started.api, order: started.order, close };
}

interface Started {
  api: FastifyInstance | null;
  order: OrderWorker | null;
  inspector: SagaInspector | undefined;
}

interface RoleDeps extends StartOptions {
  clock: Clock;
  logger: Logger;
  backoff: BackoffProfile;
  metrics: Metrics;
  broker: Broker;
  store: Store;
  wait: Wait;
  /** Filled as roles start, so a start that fails half-way can close what it started. */
  subscriptions: Subscription[];
  started: Started;
}

async function startRoles(opts: RoleDeps): Promise<void> {
  const { config, clock, logger, backoff, metrics, store, wait, subscriptions, started } = opts;
  const broker = patientBroker(opts.broker, wait);
  const roles = new Set(opts.roles);
  // kafka_consumer_lag, read at scrape time (at most once per LAG_CACHE_MS), when the broker adapter can tell.
  const lag = broker.lag?.bind(broker);
  if (lag) metrics.trackConsumerLag(lag, clock);

  if (config.seedDemo) await wait('store', 'the store (seeding demo data)', () => store.seed(demoProducts, demoUsers));

  const group = (name: string) => `${config.kafkaGroupPrefix}${name}`;
  // Every consuming role here: one group for all of them, joined once they have all
  // subscribed. Either way a group new to a partition starts where the other layout's
  // groups left it, so moving the roles between processes skips nothing.
  const roleGroups = ConsumingRoles.map((r) => group(Groups[r]));
  const shared = ConsumingRoles.every((r) => roles.has(r))
    ? createSharedGroup(broker, group(AllRolesGroup), roleGroups)
    : null;
  const groupOf = (name: string) => (shared ? group(AllRolesGroup) : group(name));
  const base = { store, broker: shared?.broker ?? takingOverFrom(broker, [group(AllRolesGroup)]), clock, metrics };
  // INSPECT=1 only: the import is dynamic so @statelyai/inspect costs nothing when off.
  const inspector = (started.inspector =
    config.inspect && roles.has('order')
      ? await (await import('./viz/inspect.ts')).createSagaInspector({ logger })
      : undefined);
  // Consumers join before the api accepts anything, so no order.start is published to a
  // topic nobody listens to yet.
  if (roles.has('stock')) {
    subscriptions.push(
      await startStockWorker({ ...base, logger: logger.child({ role: 'stock' }), group: groupOf(Groups.stock) }),
    );
  }
  if (roles.has('payment')) {
    subscriptions.push(
      await startPaymentWorker({ ...base, logger: logger.child({ role: 'payment' }), group: groupOf(Groups.payment) }),
    );
  }
  if (roles.has('order')) {
    // MEMORY_FAULTS is for the embedded adapters only (docs/api.md).
    const faultRng = config.memoryFaults && config.broker === 'memory' ? seededRng(config.memoryFaults.seed + 1) : null;
    const crash = config.memoryFaults?.crash ?? 0;
    started.order = await startOrderWorker({
      ...base,
      logger: logger.child({ role: 'order' }),
      group: groupOf(Groups.order),
      casAttempts: backoff.casAttempts,
      sweepIntervalMs: opts.sweepIntervalMs ?? Math.max(10, Math.min(250, Math.floor(config.stepTimeoutMs / 10))),
      leaseMs: opts.leaseMs ?? Math.max(1_000, Math.min(config.stepTimeoutMs, 10_000)),
      autoSweep: opts.autoSweep ?? true,
      workerGroups: { stock: groupOf(Groups.stock), payment: groupOf(Groups.payment) },
      // Kafka commits trail handling by up to a commit interval; the memory broker's do not.
      businessClock:
        config.broker === 'kafka' ? { graceMs: 2_000, probeEveryMs: 1_000 } : { graceMs: 0, probeEveryMs: 0 },
      ...(faultRng && crash > 0 ? { crashAfterSnapshot: () => faultRng.chance(crash) } : {}),
      ...(opts.crashAfterSnapshot ? { crashAfterSnapshot: opts.crashAfterSnapshot } : {}),
      ...(inspector ? { inspector } : {}),
    });
  }
  if (shared) subscriptions.push(await shared.join());
  started.api = roles.has('api')
    ? await buildApi({
        store,
        broker: opts.broker,
        clock,
        metrics,
        logger: logger.child({ role: 'api' }),
        rateLimitPerSec: config.rateLimitPerSec,
        requestTimeoutMs: config.httpRequestTimeoutMs,
        maxWaitsPerClient: config.maxWaitsPerClient,
        adminToken: config.adminToken,
        userAuth: config.userAuth,
        stepTimeoutMs: config.stepTimeoutMs,
        maxInFlight: config.maxInFlight,
        compensationRetry: backoff.compensation,
        health: async () => ({ broker: config.broker, store: config.store }),
        ...(opts.newOrderId ? { newOrderId: opts.newOrderId } : {}),
      })
    : null;
}

function closer(
  started: Started,
  subscriptions: Subscription[],
  owned: { broker: Broker; store: Store } | null,
): () => Promise<void> {
  return async () => {
    await started.api?.close();
    await started.order?.close();
    started.inspector?.stop?.();
    await Promise.all(subscriptions.map((s) => s.close()));
    if (owned) {
      await owned.broker.close();
      await owned.store.close();
    }
  };
}
