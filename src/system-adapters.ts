/**
 * Part of the composition root: the store and broker the config names, reached with
 * patience. A role that starts while Redis or Kafka is away waits for them (rule `faults-heal`, docs/architecture.md) and names what it waits for.
 */
import { createMemoryBroker } from '../adapters/broker/memory.ts';
import { createMemoryStore } from '../adapters/store/memory.ts';
import type { Clock } from './clock.ts';
import { maskCredentials, type Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Broker } from './ports/broker.ts';
import type { Store } from './ports/store.ts';
import type { Service } from './readiness.ts';
import type { BackoffProfile } from './retry.ts';

/** Runs a step until the service answers, listing it as awaited meanwhile. */
export type Wait = <T>(service: Service, what: string, step: () => Promise<T>) => Promise<T>;

/**
 * Builds the adapters the config names, waiting for Redis and Kafka while they are away
 * (rule `faults-heal`, docs/architecture.md). Kafka and Redis are imported only when asked for, so the embedded
 * default never loads kafkajs or ioredis.
 */
export async function createAdapters(
  config: Config,
  clock: Clock,
  backoff: BackoffProfile,
  logger: Logger,
  wait: Wait,
): Promise<{ broker: Broker; store: Store }> {
  const store: Store =
    config.store === 'redis'
      ? await (async () => {
          const { createRedisStore } = await import('../adapters/store/redis.ts');
          const options = {
            url: config.redisUrl,
            redlockUrls: config.redlockUrls,
            keyPrefix: config.keyPrefix,
            clock,
            orderRetentionMs: config.orderRetentionMs,
          };
          return wait('store', `the store (Redis at ${maskCredentials(config.redisUrl)})`, () =>
            createRedisStore(options),
          );
        })()
      : createMemoryStore({ clock, orderRetentionMs: config.orderRetentionMs });
  try {
    const broker: Broker =
      config.broker === 'kafka'
        ? await (async () => {
            const { createKafkaBroker } = await import('../adapters/broker/kafka.ts');
            const options = {
              brokers: config.kafkaBrokers,
              partitions: config.kafkaPartitions,
              topicPrefix: config.topicPrefix,
              security: config.kafkaSecurity,
              redelivery: backoff.redelivery,
              logger: logger.child({ component: 'kafka' }),
            };
            return wait('broker', `the broker (Kafka at ${config.kafkaBrokers.join(',')})`, () =>
              createKafkaBroker(options),
            );
          })()
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

/** The broker the workers see: subscribe() waits for Kafka instead of failing while it is away. */
export function patientBroker(broker: Broker, wait: Wait): Broker {
  return {
    publish: (messages) => broker.publish(messages),
    subscribe: (options) => wait('broker', `consumer group ${options.group}`, () => broker.subscribe(options)),
    ping: () => broker.ping(),
    close: () => broker.close(),
    ...(broker.lag ? { lag: () => broker.lag!() } : {}),
    ...(broker.partitionOf ? { partitionOf: (key: string) => broker.partitionOf!(key) } : {}),
    ...(broker.handledBefore ? { handledBefore: (groups, before) => broker.handledBefore!(groups, before) } : {}),
  };
}
