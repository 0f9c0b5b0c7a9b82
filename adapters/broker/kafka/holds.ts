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
  private closed = false;
  /**
   * Redelivery counts of the messages a partition is retrying, by offset: attempt n+1 of
   * that offset. Several messages of one partition may fail in one wave (different keys run
   * side by side), and each keeps its own count toward the poison bound (deadLetterNow).
   */
  private readonly attempts = new Map<string, Map<number, number>>();

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
    // A batch that settles after close() began: the consumer is leaving, and its timer would outlive it.
    if (this.closed) return;
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
    return this.attempts.get(k)?.get(offset) ?? 1;
  }

  failed(k: string, offset: number, attempt: number): void {
    let byOffset = this.attempts.get(k);
    if (!byOffset) this.attempts.set(k, (byOffset = new Map()));
    byOffset.set(offset, attempt + 1);
  }

  settled(k: string, offset: number): void {
    const byOffset = this.attempts.get(k);
    if (!byOffset) return;
    byOffset.delete(offset);
    if (byOffset.size === 0) this.attempts.delete(k);
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

  /** The consumer is closing: no more backoffs, and none pending. */
  clear(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
