/**
 * Topics are created by us, never by the broker (auto-create is off, and on KRaft a
 * consumer that subscribes before its topic exists fails), so this runs before any
 * consumer: create what is missing, wait until every partition is served, then check
 * co-partitioning.
 *
 * kafkajs fails a whole metadata request when any topic in it has an error, and a request
 * for all topics (listTopics, or createTopics's first refresh) includes topics that some
 * other client is deleting at that moment; on a shared cluster that happens. Such errors
 * are retried here until a deadline.
 */
import type { Admin } from 'kafkajs';
import { ConfigError } from '../../../src/errors.ts';
import { AllTopics, dlqOf, Subscriptions } from '../../../src/topics.ts';
import type { TopicNames } from './topic-names.ts';

/** Every registry topic and its dead-letter topic. */
export const registryTopics = (): string[] => AllTopics.flatMap((t) => [t, dlqOf(t)]);

const DEADLINE_MS = 30_000;
const TRANSIENT = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
]);
/** A protocol error that passes, possibly wrapped by kafkajs's retrier (KafkaJSNumberOfRetriesExceeded keeps it as `cause`). */
function isTransient(err: unknown): boolean {
  for (
    let e = err, depth = 0;
    typeof e === 'object' && e !== null && depth < 3;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if (TRANSIENT.has(String((e as { type?: unknown }).type)) || (e as Error).name === 'KafkaJSMetadataNotLoaded')
      return true;
  }
  return false;
}

/** Retries `fn` while it fails with a transient error, until the deadline. */
async function settle<T>(deadline: number, fn: () => Promise<T | undefined>): Promise<T> {
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    try {
      const result = await fn();
      if (result !== undefined) return result;
    } catch (err) {
      if (!isTransient(err) || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`Kafka topics were not ready within ${DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Creates the (physical) topics that don't exist yet with `partitions` partitions; returns partition counts of all of them. */
export async function ensureTopics(
  admin: Admin,
  physical: readonly string[],
  partitions: number,
): Promise<Map<string, number>> {
  const wanted = [...new Set(physical)];
  const deadline = Date.now() + DEADLINE_MS;
  // Creating a topic that exists is answered TOPIC_ALREADY_EXISTS, which kafkajs turns into `false`.
  await settle(deadline, () =>
    admin.createTopics({
      topics: wanted.map((topic) => ({ topic, numPartitions: partitions })),
      waitForLeaders: false,
    }),
  );
  const counts = await settle(deadline, async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: wanted });
    const ready =
      topics.length === wanted.length &&
      topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
    return ready ? new Map(topics.map((t) => [t.name, t.partitions.length])) : undefined;
  });
  // A new partition has a leader in the metadata a moment before that broker answers for
  // it (NOT_LEADER meanwhile), and consumers resolve their start positions there. One after
  // another: topics created together become ready together.
  for (const topic of wanted) await settle(deadline, () => admin.fetchTopicOffsets(topic));
  return counts;
}

/**
 * The saga's input topics must have one partition count, or one order's messages land on
 * different partition numbers and reach different members (rule `store-is-truth`,
 * docs/architecture.md). Throws a ConfigError whose message is one line naming each topic
 * and its count.
 */
export function checkCoPartitioned(names: TopicNames, counts: ReadonlyMap<string, number>): void {
  const inputs = Subscriptions.order.map((t) => names.physical(t));
  const seen = inputs.map((t) => [t, counts.get(t)] as const);
  if (new Set(seen.map(([, n]) => n)).size <= 1) return;
  const listed = seen.map(([t, n]) => `${t}=${n ?? 'missing'}`).join(', ');
  throw new ConfigError(
    `Kafka topics consumed by the order saga must have equal partition counts (co-partitioning), found: ${listed}`,
  );
}
