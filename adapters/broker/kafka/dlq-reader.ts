/**
 * The DeadLetterTopics port on Kafka, for `npm run dlq`. Reads through a consumer of a
 * throwaway group (a fresh id per read, auto-commit off, so no offset is ever committed
 * and the group is deleted afterwards) up to the high watermarks fetched when the read
 * begins, so an empty topic or one still being written to never keeps it waiting.
 * Sends back through the adapter's idempotent producer.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { silentLogger } from '../../../src/log.ts';
import type { DeadLetterTopics, OffsetRange } from '../../../src/ports/dead-letters.ts';
import { AllTopics, dlqOf, type DlqName } from '../../../src/topics.ts';
import { createClient } from './client.ts';
import { decodeHeaders } from './dlq.ts';
import { unavailable, within } from './errors.ts';
import { defaultClientTuning, type KafkaBrokerOptions } from './options.ts';
import { Publisher } from './producer.ts';
import { TopicNames } from './topic-names.ts';

export interface DlqReaderOptions extends Pick<KafkaBrokerOptions, 'brokers' | 'topicPrefix' | 'security' | 'logger'> {
  /** Longest a read may go without a record or the end of a partition before it fails. */
  idleTimeoutMs?: number;
}

/** What is still to be read on a partition: the next offset expected and the last one wanted. */
interface Pending {
  next: number;
  last: number;
}

export async function openDlqReader(opts: DlqReaderOptions): Promise<DeadLetterTopics> {
  const names = new TopicNames(opts.topicPrefix ?? '');
  const tuning = { ...defaultClientTuning, retries: 2 };
  const kafka: Kafka = createClient(
    {
      brokers: opts.brokers,
      partitions: 1,
      clientId: 'order-saga-dlq',
      ...(opts.security ? { security: opts.security } : {}),
    },
    tuning,
    opts.logger ?? silentLogger,
  );
  const idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
  const admin: Admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw unavailable(`could not reach Kafka at ${opts.brokers.join(',')}`, err);
  }
  const publisher = new Publisher(kafka, tuning);
  const known = new Set<string>(AllTopics.map(dlqOf));

  /** Per partition, what to read: the ranges asked for, cut to what the partition holds now. */
  async function plan(physical: string, ranges?: readonly OffsetRange[]): Promise<Map<number, Pending>> {
    const offsets = await admin.fetchTopicOffsets(physical);
    const todo = new Map<number, Pending>();
    for (const p of offsets) {
      const low = Number(p.low);
      const high = Number(p.high);
      const wanted = ranges
        ? ranges.filter((r) => r.partition === null || r.partition === p.partition)
        : [{ from: low, to: high - 1 }];
      for (const r of wanted) {
        const from = Math.max(r.from, low);
        const last = Math.min(r.to, high - 1);
        if (from > last) continue;
        const had = todo.get(p.partition);
        todo.set(
          p.partition,
          had ? { next: Math.min(had.next, from), last: Math.max(had.last, last) } : { next: from, last },
        );
      }
    }
    return todo;
  }

  return {
    async topics() {
      const all = await admin.listTopics();
      return all
        .filter((t) => t.startsWith(names.prefix))
        .map((t): string => names.logical(t))
        .filter((t): t is DlqName => known.has(t))
        .sort();
    },

    async read(dlq, visit, ranges) {
      const physical = names.physical(dlq);
      let todo: Map<number, Pending>;
      try {
        todo = await plan(physical, ranges);
      } catch (err) {
        throw unavailable(`could not read the offsets of ${physical}`, err);
      }
      if (todo.size === 0) return;
      const inRange = (partition: number, offset: number): boolean =>
        !ranges ||
        ranges.some((r) => (r.partition === null || r.partition === partition) && offset >= r.from && offset <= r.to);
      const groupId = `${names.prefix}dlq-reader-${randomUUID()}`;
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
      let finish!: () => void;
      let fail!: (err: unknown) => void;
      const done = new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
      let idle: NodeJS.Timeout | undefined;
      const stillWaiting = (): void => {
        clearTimeout(idle);
        idle = setTimeout(
          () => fail(new Error(`reading ${physical}: nothing arrived for ${idleTimeoutMs} ms`)),
          idleTimeoutMs,
        );
        idle.unref();
      };
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [physical], fromBeginning: true });
        stillWaiting();
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch }) => {
            const pending = todo.get(batch.partition);
            if (!pending) return;
            try {
              for (const m of batch.messages) {
                const offset = Number(m.offset);
                if (offset < pending.next || offset > pending.last) continue;
                if (inRange(batch.partition, offset))
                  visit({
                    dlq,
                    partition: batch.partition,
                    offset,
                    timestamp: Number(m.timestamp),
                    key: m.key ? m.key.toString() : null,
                    value: m.value,
                    headers: decodeHeaders(m.headers),
                  });
                pending.next = offset + 1;
              }
              // An empty batch (or one ending in records the client hides) still says how far the log goes.
              pending.next = Math.max(pending.next, Number(batch.lastOffset()) + 1);
            } catch (err) {
              fail(err);
              return;
            }
            stillWaiting();
            if (pending.next > pending.last) {
              todo.delete(batch.partition);
              consumer.pause([{ topic: physical, partitions: [batch.partition] }]);
              if (todo.size === 0) finish();
            }
          },
        });
        // Start each partition at the first offset wanted, not at the beginning of the log.
        for (const [partition, p] of todo) consumer.seek({ topic: physical, partition, offset: String(p.next) });
        await done;
      } catch (err) {
        throw unavailable(`could not read ${physical}`, err);
      } finally {
        clearTimeout(idle);
        await consumer.disconnect().catch(() => undefined);
        await admin.deleteGroups([groupId]).catch(() => undefined);
      }
    },

    async send(records) {
      await publisher.send(
        records.map((r) => ({
          topic: names.physical(r.topic),
          key: r.key ?? '',
          value: r.value ?? Buffer.alloc(0),
          headers: r.headers,
        })),
      );
    },

    async close() {
      await publisher.close();
      await within(admin.disconnect(), 5_000, 'disconnecting from Kafka').catch(() => undefined);
    },
  };
}
