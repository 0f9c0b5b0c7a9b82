/**
 * Why a partition is paused, per partition. A partition is fetched only while nothing
 * holds it: 'join' while a new assignment's start positions are being committed,
 * 'backoff' while a retriably failed message waits to be redelivered. Pausing (rather
 * than sleeping inside the batch handler) holds only that partition: kafkajs waits for
 * every batch of a fetch before fetching again, so a sleeping handler would stall all
 * the member's partitions.
 */
import type { Consumer } from 'kafkajs';

export type HoldReason = 'join' | 'backoff';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export const tpKey = (topic: string, partition: number): string => `${topic}|${partition}`;

export class PartitionHolds {
  private readonly holds = new Map<string, { tp: TopicPartition; reasons: Set<HoldReason> }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Redelivery count of the message a partition is retrying: attempt n+1 of that offset. */
  private readonly attempts = new Map<string, { offset: number; attempt: number }>();

  constructor(private readonly consumer: Consumer) {}

  hold(tp: TopicPartition, reason: HoldReason): void {
    const k = tpKey(tp.topic, tp.partition);
    let entry = this.holds.get(k);
    if (!entry) this.holds.set(k, (entry = { tp, reasons: new Set() }));
    entry.reasons.add(reason);
    // Always (re)applied: a consumer restarted by kafkajs after a crash starts unpaused.
    this.consumer.pause([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  release(tp: TopicPartition, reason: HoldReason): void {
    const k = tpKey(tp.topic, tp.partition);
    const entry = this.holds.get(k);
    if (!entry) return;
    entry.reasons.delete(reason);
    if (entry.reasons.size > 0) return;
    this.holds.delete(k);
    this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
  }

  /** Holds the partition for `ms`, then lets it fetch again from the failed message. */
  backOff(tp: TopicPartition, ms: number): void {
    const k = tpKey(tp.topic, tp.partition);
    clearTimeout(this.timers.get(k));
    this.hold(tp, 'backoff');
    this.timers.set(
      k,
      setTimeout(() => {
        this.timers.delete(k);
        this.release(tp, 'backoff');
      }, ms),
    );
  }

  attemptOf(k: string, offset: number): number {
    const a = this.attempts.get(k);
    return a && a.offset === offset ? a.attempt : 1;
  }

  failed(k: string, offset: number, attempt: number): void {
    this.attempts.set(k, { offset, attempt: attempt + 1 });
  }

  settled(k: string): void {
    this.attempts.delete(k);
  }

  /** A new assignment: everything about partitions that are no longer ours is dropped. */
  keepOnly(assigned: ReadonlySet<string>): void {
    for (const k of [...this.attempts.keys()]) if (!assigned.has(k)) this.attempts.delete(k);
    for (const [k, timer] of [...this.timers]) {
      if (assigned.has(k)) continue;
      clearTimeout(timer);
      this.timers.delete(k);
    }
    for (const [k, { tp }] of [...this.holds]) {
      if (assigned.has(k)) continue;
      this.holds.delete(k);
      this.consumer.resume([{ topic: tp.topic, partitions: [tp.partition] }]);
    }
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
