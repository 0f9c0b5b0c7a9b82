/**
 * Start positions of a new assignment. A partition the group has never committed gets a
 * start committed before anyone handles it, and the consumer is pointed there: the lowest
 * offset committed there by a group it takes over from (SubscribeOptions.takesOverFrom),
 * else the partition's current end (what fromBeginning: false means). Without this, a
 * partition moving between members before its first commit would be reset to its end
 * again, skipping what came between.
 */
import type { Admin, Consumer } from 'kafkajs';
import type { TopicPartition } from './holds.ts';

const tpId = (topic: string, partition: number): string => `${topic}|${partition}`;

/** Per partition, the lowest offset any of `groups` committed there (partitions none committed are absent). */
async function lowestCommitted(
  admin: Admin,
  groups: readonly string[],
  topics: string[],
): Promise<Map<string, string>> {
  const lowest = new Map<string, string>();
  for (const groupId of groups)
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics }))
      for (const { partition, offset } of partitions) {
        if (Number(offset) < 0) continue;
        const id = tpId(topic, partition);
        const was = lowest.get(id);
        if (was === undefined || BigInt(offset) < BigInt(was)) lowest.set(id, offset);
      }
  return lowest;
}

export async function startPositions(
  admin: Admin,
  consumer: Consumer,
  groupId: string,
  tps: readonly TopicPartition[],
  takesOverFrom: readonly string[] = [],
): Promise<void> {
  if (tps.length === 0) return;
  const topics = [...new Set(tps.map((tp) => tp.topic))];
  const committed = await admin.fetchOffsets({ groupId, topics });
  const ours = new Set(tps.map((tp) => tpId(tp.topic, tp.partition)));
  const missing = committed.flatMap(({ topic, partitions }) =>
    partitions
      .filter((p) => Number(p.offset) < 0 && ours.has(tpId(topic, p.partition)))
      .map((p) => ({ topic, partition: p.partition })),
  );
  if (missing.length === 0) return;
  const missingTopics = [...new Set(missing.map((m) => m.topic))];
  const starts = await lowestCommitted(admin, takesOverFrom, missingTopics);
  const ends = new Map<string, string>();
  await Promise.all(
    missingTopics
      .filter((topic) => missing.some((m) => m.topic === topic && !starts.has(tpId(topic, m.partition))))
      .map(async (topic) => {
        for (const { partition, offset } of await admin.fetchTopicOffsets(topic))
          ends.set(tpId(topic, partition), offset);
      }),
  );
  const positions = missing.map(({ topic, partition }) => ({
    topic,
    partition,
    offset: starts.get(tpId(topic, partition)) ?? ends.get(tpId(topic, partition)) ?? '0',
  }));
  await consumer.commitOffsets(positions);
  // kafkajs may have resolved these partitions to a later end meanwhile; seek makes ours the fetch position.
  for (const p of positions) consumer.seek(p);
}
