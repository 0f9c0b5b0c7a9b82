/**
 * The composition root: builds the adapters named by the config and starts the roles
 * asked for, all against the same two ports. main.ts and the tests both start here.
 */
import type { FastifyInstance } from 'fastify';
import { createMemoryBroker } from '../adapters/broker/memory.ts';
import { createMemoryStore } from '../adapters/store/memory.ts';
import { buildApi } from './api/app.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { demoProducts, demoUsers } from './demo.ts';
import { silentLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import type { Broker, Subscription } from './ports/broker.ts';
import type { Store } from './ports/store.ts';
import { seededRng } from './random.ts';
import { Backoff, type BackoffProfile } from './retry.ts';
import { Groups } from './topics.ts';
import { startOrderWorker, type OrderWorker } from './workers/order.ts';
import { startPaymentWorker } from './workers/payment.ts';
import { startStockWorker } from './workers/stock.ts';

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

/**
 * Builds the adapters the config names. Kafka and Redis are imported only when asked
 * for, so the embedded default never loads kafkajs or ioredis.
 */
async function createAdapters(config: Config, clock: Clock, backoff: BackoffProfile, logger: Logger): Promise<{ broker: Broker; store: Store }> {
  const store: Store =
    config.store === 'redis'
      ? await (await import('../adapters/store/redis.ts')).createRedisStore({
          url: config.redisUrl,
          redlockUrls: config.redlockUrls,
          keyPrefix: config.keyPrefix,
          clock,
          orderRetentionMs: config.orderRetentionMs,
        })
      : createMemoryStore({ clock, orderRetentionMs: config.orderRetentionMs });
  try {
    const broker: Broker =
      config.broker === 'kafka'
        ? await (await import('../adapters/broker/kafka.ts')).createKafkaBroker({
            brokers: config.kafkaBrokers,
            partitions: config.kafkaPartitions,
            topicPrefix: config.topicPrefix,
            redelivery: backoff.redelivery,
            logger: logger.child({ component: 'kafka' }),
          })
        : createMemoryBroker({
            partitions: config.kafkaPartitions,
            faults: config.memoryFaults,
            clock,
            redelivery: backoff.redelivery,
          });
    return { broker, store };
  } catch (err) {
    await store.close();
    throw err;
  }
}

export async function startSystem(opts: StartOptions): Promise<System> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const backoff = opts.backoff ?? Backoff;
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics ?? false });
  const owned = opts.broker && opts.store ? null : await createAdapters(config, clock, backoff, logger);
  const broker = opts.broker ?? owned!.broker;
  const store = opts.store ?? owned!.store;
  const roles = new Set(opts.roles);
  // kafka_consumer_lag, read at scrape time, when the broker adapter can tell.
  const lag = broker.lag?.bind(broker);
  if (lag) metrics.trackConsumerLag(lag);

  if (config.seedDemo) await store.seed(demoProducts, demoUsers);

  const base = { store, broker, clock, metrics };
  const group = (name: string) => `${config.kafkaGroupPrefix}${name}`;
  const subscriptions: Subscription[] = [];
  let order: OrderWorker | null = null;
  // INSPECT=1 only: the import is dynamic so @statelyai/inspect costs nothing when off.
  const inspector = config.inspect && roles.has('order') ? await (await import('./viz/inspect.ts')).createSagaInspector({ logger }) : undefined;
  // Consumers join before the api accepts anything, so no order.start is published to a
  // topic nobody listens to yet.
  if (roles.has('stock')) {
    subscriptions.push(await startStockWorker({ ...base, logger: logger.child({ role: 'stock' }), group: group(Groups.stock) }));
  }
  if (roles.has('payment')) {
    subscriptions.push(await startPaymentWorker({ ...base, logger: logger.child({ role: 'payment' }), group: group(Groups.payment) }));
  }
  if (roles.has('order')) {
    // MEMORY_FAULTS is for the embedded adapters only (docs/api.md).
    const faultRng = config.memoryFaults && config.broker === 'memory' ? seededRng(config.memoryFaults.seed + 1) : null;
    const crash = config.memoryFaults?.crash ?? 0;
    order = await startOrderWorker({
      ...base,
      logger: logger.child({ role: 'order' }),
      group: group(Groups.order),
      casAttempts: backoff.casAttempts,
      sweepIntervalMs: opts.sweepIntervalMs ?? Math.max(10, Math.min(250, Math.floor(config.stepTimeoutMs / 10))),
      leaseMs: opts.leaseMs ?? Math.max(1_000, Math.min(config.stepTimeoutMs, 10_000)),
      autoSweep: opts.autoSweep ?? true,
      workerGroups: { stock: group(Groups.stock), payment: group(Groups.payment) },
      // Kafka commits trail handling by up to a commit interval; the memory broker's do not.
      businessClock: config.broker === 'kafka' ? { graceMs: 2_000, probeEveryMs: 1_000 } : { graceMs: 0, probeEveryMs: 0 },
      ...(faultRng && crash > 0 ? { crashAfterSnapshot: () => faultRng.chance(crash) } : {}),
      ...(opts.crashAfterSnapshot ? { crashAfterSnapshot: opts.crashAfterSnapshot } : {}),
      ...(inspector ? { inspector } : {}),
    });
  }
  const api = roles.has('api')
    ? await buildApi({
        store,
        broker,
        clock,
        metrics,
        logger: logger.child({ role: 'api' }),
        rateLimitPerSec: config.rateLimitPerSec,
        adminToken: config.adminToken,
        stepTimeoutMs: config.stepTimeoutMs,
        maxInFlight: config.maxInFlight,
        compensationRetry: backoff.compensation,
        health: async () => ({ broker: config.broker, store: config.store }),
        ...(opts.newOrderId ? { newOrderId: opts.newOrderId } : {}),
      })
    : null;

  return {
    config,
    store,
    broker,
    metrics,
    api,
    order,
    async close() {
      await api?.close();
      await order?.close();
      inspector?.stop?.();
      await Promise.all(subscriptions.map((s) => s.close()));
      if (owned) {
        await owned.broker.close();
        await owned.store.close();
      }
    },
  };
}
