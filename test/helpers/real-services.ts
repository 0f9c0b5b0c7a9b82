/**
 * Kafka + Redis for the end-to-end integration tests: both endpoints or one skip line
 * (a failure under REQUIRE_INTEGRATION=1), and the env that isolates one run (its own
 * topic prefix, consumer groups and key space) so runs never see each other.
 */
import { randomUUID } from 'node:crypto';
import { deleteTopics, findKafka } from './kafka.ts';
import { deleteKeys, REDIS_URL, redisSkipReason } from './redis.ts';

export interface RealServices {
  /** Env for `tsx src/main.ts` on Kafka + Redis, isolated to this run. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function realServices(label: string): Promise<{ services?: RealServices; skip?: string }> {
  const redisSkip = await redisSkipReason();
  if (redisSkip) return { skip: redisSkip };
  const kafka = await findKafka();
  if (!kafka.endpoint) return { skip: kafka.skip };
  const id = `${label}${randomUUID().slice(0, 6)}`;
  const brokers = kafka.endpoint.brokers;
  const env = {
    BROKER: 'kafka',
    STORE: 'redis',
    KAFKA_BROKERS: brokers.join(','),
    REDIS_URL,
    TOPIC_PREFIX: `${id}.`,
    KAFKA_GROUP_PREFIX: `${id}.`,
    KEY_PREFIX: `${id}:`,
    KAFKA_PARTITIONS: '3',
  };
  return {
    services: {
      env,
      async cleanup() {
        await deleteKeys(env.KEY_PREFIX).catch(() => undefined);
        await deleteTopics(brokers, env.TOPIC_PREFIX).catch(() => undefined);
        await kafka.endpoint.stop();
      },
    },
  };
}
