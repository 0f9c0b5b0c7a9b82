/**
 * Broker.handledBefore on Kafka: a group has handled everything appended before `before`
 * on a partition when its committed offset has reached the first offset whose timestamp
 * is at or after `before` (ListOffsets by timestamp; the log end when there is none).
 * Committed offsets trail what was handled (commits are batched), which only ever makes
 * the answer more cautious.
 */
import type { Admin } from 'kafkajs';
import type { GroupTopics } from '../../../src/ports/broker.ts';
import type { TopicNames } from './topic-names.ts';

export async function handledBefore(
  admin: Admin,
  names: TopicNames,
  groups: readonly GroupTopics[],
  before: number,
): Promise<boolean[]> {
  const topics = [...new Set(groups.flatMap((g) => g.topics.map((t) => names.physical(t))))];
  const firstAfter = new Map<string, number>();
  await Promise.all(
    topics.map(async (topic) => {
      for (const { partition, offset } of await admin.fetchTopicOffsetsByTimestamp(topic, before))
        firstAfter.set(`${topic}|${partition}`, Number(offset));
    }),
  );
  const ok: boolean[] = [];
  for (const key of firstAfter.keys()) ok[Number(key.slice(key.lastIndexOf('|') + 1))] = true;
  await Promise.all(
    groups.map(async ({ group, topics: ts }) => {
      const committed = await admin.fetchOffsets({ groupId: group, topics: ts.map((t) => names.physical(t)) });
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          const at = Number(offset);
          if (at >= 0 && at < (firstAfter.get(`${topic}|${partition}`) ?? 0)) ok[partition] = false;
        }
      }
    }),
  );
  return ok;
}
