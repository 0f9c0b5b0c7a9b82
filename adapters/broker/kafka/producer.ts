/**
 * One shared idempotent producer, acks from all in-sync replicas. kafkajs serialises an
 * idempotent producer's requests per broker anyway, so concurrent publish() calls are
 * coalesced: while one sendBatch is in flight, the next calls queue up and leave together
 * in the following one (no linger: an idle producer sends at once). Each call resolves
 * when the sendBatch holding its messages is acknowledged.
 */
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { ClientTuning } from './options.ts';
import { unavailable } from './errors.ts';

export interface OutRecord {
  /** Physical topic name. */
  topic: string;
  key: string;
  value: string | Buffer;
  headers?: Record<string, string> | undefined;
}

interface Pending {
  records: readonly OutRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Calls queued behind an in-flight send leave in one sendBatch of up to this many messages. */
const MAX_COALESCED = 5_000;

export class Publisher {
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  private queue: Pending[] = [];
  private sending = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly tuning: ClientTuning,
  ) {}

  send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  /** Waits for queued sends, then disconnects. */
  async close(): Promise<void> {
    if (this.sending) await new Promise<void>((resolve) => this.idle.push(resolve));
    const producer = this.producer;
    this.producer = null;
    this.connecting = null;
    if (producer) await producer.disconnect().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0) {
      const batch = this.take();
      try {
        const producer = await this.connect();
        await producer.sendBatch({ topicMessages: byTopic(batch), acks: -1 });
        for (const p of batch) p.resolve();
      } catch (err) {
        const failure = unavailable('Kafka did not acknowledge the publish', err);
        for (const p of batch) p.reject(failure);
        await this.replace();
      }
    }
    this.sending = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private take(): Pending[] {
    const batch: Pending[] = [];
    let n = 0;
    while (this.queue.length > 0 && (batch.length === 0 || n + this.queue[0]!.records.length <= MAX_COALESCED)) {
      const next = this.queue.shift()!;
      n += next.records.length;
      batch.push(next);
    }
    return batch;
  }

  private connect(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // Bounded, so a publish fails in bounded time (the caller retries or answers 503).
        retry: {
          retries: Math.max(1, this.tuning.retries),
          initialRetryTime: this.tuning.initialRetryTime,
          maxRetryTime: this.tuning.maxRetryTime,
        },
      });
      try {
        await producer.connect();
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        throw err;
      }
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /**
   * After a failed send the producer is dropped: a request may have landed without its
   * answer, and a new producer id guarantees a later batch never reuses its sequence
   * numbers (the broker would take it for a duplicate and drop it).
   */
  private async replace(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    if (producer) await producer.disconnect().catch(() => undefined);
  }
}

function byTopic(batch: readonly Pending[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const { records } of batch) {
    for (const r of records) {
      let messages = topics.get(r.topic);
      if (!messages) topics.set(r.topic, (messages = []));
      messages.push(r.headers ? { key: r.key, value: r.value, headers: r.headers } : { key: r.key, value: r.value });
    }
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}
