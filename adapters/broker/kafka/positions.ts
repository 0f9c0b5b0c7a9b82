/**
 * Start positions of a new assignment. A partition the group has never committed gets
 * its current end committed (what fromBeginning: false means) before anyone handles it,
 * and the consumer is pointed there. Without this, a partition moving between members
 * before its first commit would be reset to its end again, skipping what came between.
 */
import type { Admin, Consumer } from 'kafkajs';
import type { TopicPartition } from './holds.ts';

export async function startPositions(
  admin: Admin,
  consumer: Consumer,
  groupId: string,
  tps: readonly TopicPartition[],
): Promise<void> {
  if (tps.length === 0) return;
  const topics = [...new Set(tps.map((tp) => tp.topic))];
  const committed = await admin.fetchOffsets({ groupId, topics });
  const ours = new Set(tps.map((tp) => `${tp.topic}|${tp.partition}`));
  const missing = committed.flatMap(({ topic, partitions }) =>
    partitions
      .filter((p) => Number(p.offset) < 0 && ours.has(`${topic}|${p.partition}`))
      .map((p) => ({ topic, partition: p.partition })),
  );
  if (missing.length === 0) return;
  const ends = new Map<string, string>();
  await Promise.all(
    [...new Set(missing.map((m) => m.topic))].map(async (topic) => {
      for (const { partition, offset } of await admin.fetchTopicOffsets(topic))
        ends.set(`${topic}|${partition}`, offset);
    }),
  );
  const positions = missing.map(({ topic, partition }) => ({
    topic,
    partition,
    offset: ends.get(`${topic}|${partition}`) ?? '0',
  }));
  await consumer.commitOffsets(positions);
  // kafkajs may have resolved these partitions to a later end meanwhile; seek makes ours the fetch position.
  for (const p of positions) consumer.seek(p);
}
