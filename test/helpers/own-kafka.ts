/**
 * For tests that start a Kafka broker of their own with scripts/kafka-local.sh (one they
 * may stop and start): whether they can run here, and a port pair for it.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { restartablePort } from '../../src/chaos/ports.ts';
import { redisSkipReason } from './redis.ts';

/** A skip line, or false: needs Redis, and Kafka's jars cached (CI caches them; REQUIRE_INTEGRATION never skips). */
export async function ownKafkaSkip(): Promise<string | false> {
  const home = process.env.KAFKA_LOCAL_HOME ?? join(homedir(), '.cache', 'order-saga-kafka');
  const cached = existsSync(join(home, 'kafka-3.9.2', 'libs', '.complete'));
  const required = process.env.REQUIRE_INTEGRATION === '1';
  const redisSkip = await redisSkipReason();
  return (
    redisSkip ?? (cached || required ? false : "Kafka's jars are not cached yet: run scripts/kafka-local.sh start once")
  );
}

/** A free port below the ephemeral range whose neighbour (the broker's controller port) is free too. */
export function portPair(): Promise<number> {
  return restartablePort(2);
}
