/**
 * Offset commits of one consumer, coalesced: batches of many partitions finish at about
 * the same time, and while one OffsetCommit request is in flight the next ones gather
 * into a single request. Each caller still waits until its own offset is committed.
 */
import type { OffsetsByTopicPartition } from 'kafkajs';
import { tpKey } from './holds.ts';

type CommitFn = (offsets: OffsetsByTopicPartition) => Promise<void>;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class CommitBatcher {
  private pending = new Map<string, { topic: string; partition: number; offset: number }>();
  private waiters: Waiter[] = [];
  private flushing = false;

  /** `offset` is the next offset to read (the handled message's offset + 1). */
  commit(send: CommitFn, topic: string, partition: number, offset: number): Promise<void> {
    const k = tpKey(topic, partition);
    const prev = this.pending.get(k);
    if (!prev || prev.offset < offset) this.pending.set(k, { topic, partition, offset });
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (!this.flushing) void this.flush(send);
    });
  }

  private async flush(send: CommitFn): Promise<void> {
    this.flushing = true;
    while (this.pending.size > 0) {
      const offsets = this.pending;
      const waiters = this.waiters;
      this.pending = new Map();
      this.waiters = [];
      const topics = new Map<string, { partition: number; offset: string }[]>();
      for (const { topic, partition, offset } of offsets.values()) {
        let partitions = topics.get(topic);
        if (!partitions) topics.set(topic, (partitions = []));
        partitions.push({ partition, offset: String(offset) });
      }
      try {
        await send({ topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) });
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.flushing = false;
  }
}
