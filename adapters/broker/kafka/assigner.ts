/**
 * Co-partitioned assignment (rule `store-is-truth`, docs/architecture.md), as Kafka Streams
 * does it: partition p of every subscribed topic goes to the same member, members[p % n]
 * over the members that subscribe to that topic, sorted by id. One key maps to one
 * partition number on every topic with the same partition count, so one member sees all of
 * one order's messages. Shaped like kafkajs's RoundRobinAssigner (metadata and assignment
 * via AssignerProtocol).
 */
import { AssignerProtocol, type Assignment, type PartitionAssigner } from 'kafkajs';

export const CO_PARTITIONED = 'CoPartitioned';

/** Pure core: which member gets which partitions. `subscriptions` maps memberId to its topics. */
export function coPartition(
  subscriptions: ReadonlyMap<string, readonly string[]>,
  partitionsOf: (topic: string) => readonly number[],
): Map<string, Assignment> {
  const members = [...subscriptions.keys()].sort();
  const out = new Map<string, Assignment>(members.map((m) => [m, {}]));
  const topics = new Set([...subscriptions.values()].flat());
  for (const topic of [...topics].sort()) {
    const eligible = members.filter((m) => subscriptions.get(m)!.includes(topic));
    if (eligible.length === 0) continue;
    for (const p of [...partitionsOf(topic)].sort((a, b) => a - b)) {
      const assignment = out.get(eligible[p % eligible.length]!)!;
      (assignment[topic] ??= []).push(p);
    }
  }
  return out;
}

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED,
  version: 0,

  async assign({ members, topics }) {
    const subscriptions = new Map<string, readonly string[]>();
    for (const { memberId, memberMetadata } of members) {
      // A member whose metadata cannot be read is taken to want every topic of the group.
      const metadata = AssignerProtocol.MemberMetadata.decode(memberMetadata);
      subscriptions.set(memberId, metadata?.topics ?? topics);
    }
    const partitionsOf = (topic: string): number[] =>
      cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
    const assignments = coPartition(subscriptions, partitionsOf);
    return [...assignments].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: this.version,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  },

  protocol({ topics }) {
    return {
      name: this.name,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: this.version, topics, userData: Buffer.alloc(0) }),
    };
  },
});
