/**
 * Consumer lag of the groups this process consumes in: log end offset minus committed
 * offset, per partition, with registry topic names. Read at metrics scrape time.
 */
import type { Admin } from 'kafkajs';
import type { TopicNames } from './topic-names.ts';

/** Same shape as the port's ConsumerLag. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/** `groups` maps a group id to the physical topics it consumes here. */
export async function consumerLag(
  admin: Admin,
  names: TopicNames,
  groups: ReadonlyMap<string, ReadonlySet<string>>,
): Promise<PartitionLag[]> {
  const topics = new Set([...groups.values()].flatMap((ts) => [...ts]));
  const ends = new Map<string, number>();
  await Promise.all(
    [...topics].map(async (topic) => {
      for (const { partition, offset } of await admin.fetchTopicOffsets(topic))
        ends.set(`${topic}|${partition}`, Number(offset));
    }),
  );
  const rows = await Promise.all(
    [...groups].map(async ([group, ts]) => {
      const committed = await admin.fetchOffsets({ groupId: group, topics: [...ts] });
      return committed.flatMap(({ topic, partitions }) =>
        partitions.map(({ partition, offset }) => {
          const end = ends.get(`${topic}|${partition}`) ?? 0;
          // No commit yet: the group starts at the end when it is assigned, so nothing waits.
          const lag = Number(offset) < 0 ? 0 : Math.max(0, end - Number(offset));
          return { group, topic: names.logical(topic) as string, partition, lag };
        }),
      );
    }),
  );
  return rows.flat();
}
