/**
 * Kafka and Redis in throwaway containers (testcontainers), for a machine with a Docker
 * engine and neither service running. The integration helpers reach these only after the
 * env and the local defaults failed; CI and this project's machines run both services
 * natively and no Docker engine, so nothing here runs there.
 *
 * testcontainers is loaded on demand: it is heavy, and a run with local services never
 * needs it. Its reaper (Ryuk) removes a container when the test process exits, so one a
 * test never stops is still cleaned up.
 */

/** Images pinned so a run doesn't change under us; the Kafka one speaks KRaft (no ZooKeeper). */
export const KAFKA_IMAGE = 'confluentinc/cp-kafka:7.7.1';
export const REDIS_IMAGE = 'redis:7.4-alpine';

export interface Started {
  /** `host:port` for Kafka, `redis://host:port` for Redis. */
  address: string;
  stop(): Promise<void>;
}

/** Whether a container engine answers (testcontainers' own discovery: DOCKER_HOST, sockets, its properties file). */
export async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startKafkaContainer(): Promise<Started> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const started = await new KafkaContainer(KAFKA_IMAGE).withKraft().start();
  // 9093 is the container's PLAINTEXT listener for clients outside it.
  return {
    address: `${started.getHost()}:${started.getMappedPort(9093)}`,
    stop: async () => void (await started.stop()),
  };
}

export async function startRedisContainer(): Promise<Started> {
  const { RedisContainer } = await import('@testcontainers/redis');
  const started = await new RedisContainer(REDIS_IMAGE).start();
  return { address: started.getConnectionUrl(), stop: async () => void (await started.stop()) };
}
