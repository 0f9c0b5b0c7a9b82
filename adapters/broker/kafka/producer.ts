/**
 * One shared idempotent producer, acks from all in-sync replicas. kafkajs serialises an
 * idempotent producer's requests per broker anyway, so concurrent publish() calls are
 * coalesced: the calls made within one turn of the event loop (the linger,
 * `lingerOneTurn`: setImmediate, so no timer) leave together in one sendBatch, and while
 * one is in flight the next calls queue up and leave together in the following one. So
 * the sends of a wave of handlers (consumer.ts) go out and are acknowledged together.
 * Each call resolves, or fails, with the sendBatch holding its messages.
 *
 * A batch is capped in bytes as well as in messages: Kafka's limit (`message.max.bytes`)
 * applies to all the messages of one partition in one request, so a batch never holds
 * more than MAX_MESSAGE_BYTES, and a call larger than that leaves in several. A message
 * over MAX_MESSAGE_BYTES is refused before it is queued (MessageTooLargeError, not
 * retriable). Should Kafka still refuse a batch as too large (a topic configured lower),
 * its calls go again one by one, so only the call that is too large fails.
 */
import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { MessageTooLargeError } from '../../../src/errors.ts';
import { MAX_MESSAGE_BYTES, messageBytes } from '../../../src/ports/broker.ts';
import type { ClientTuning } from './options.ts';
import { unavailable } from './errors.ts';
import { KeyPartitioner } from './partitioner.ts';

export interface OutRecord {
  /** Physical topic name. */
  topic: string;
  key: string;
  /** Null only for a dead letter's stub. */
  value: string | Buffer | null;
  headers?: Record<string, string> | undefined;
}

interface Pending {
  records: readonly OutRecord[];
  bytes: number;
  /** Leaves in a sendBatch of its own: Kafka refused the batch it was in as too large. */
  alone: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * How long an idle producer waits for more calls before it sends: one turn of the event
 * loop. Handlers resumed by the same I/O (one pipelined Redis reply) publish in that turn.
 */
const lingerOneTurn = (send: () => void): void => void setImmediate(send);
/** Calls queued together leave in one sendBatch of up to this many messages... */
const MAX_COALESCED = 5_000;
/** ...and up to this many bytes (batchBytes summed). */
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES;

const recordBytes = (r: OutRecord): number => messageBytes(r.key, r.value, r.headers);
/**
 * What a record of `size` bytes (recordBytes) adds to a record batch: those bytes plus the
 * varints of its framing (length, attributes, timestamp and offset deltas, key and value
 * lengths: at most 24 bytes) and 4 per header (its key and value lengths). Thousands of
 * small records add up.
 */
const batchBytes = (r: OutRecord, size: number): number => size + 24 + 4 * Object.keys(r.headers ?? {}).length;

/** Kafka's answer that a message or a batch is over its limit (kafkajs keeps it as `type`). */
function refusedAsTooLarge(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}

export class Publisher {
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  private queue: Pending[] = [];
  private sending = false;
  /** A drain is due at the end of this turn (lingerOneTurn). */
  private lingering = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly tuning: ClientTuning,
  ) {}

  send(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    // Split into chunks of at most MAX_BATCH_BYTES, in order; one record over the limit refuses the call.
    const chunks: { records: OutRecord[]; bytes: number }[] = [];
    let chunk: { records: OutRecord[]; bytes: number } | null = null;
    for (const r of records) {
      const size = recordBytes(r);
      if (size > MAX_MESSAGE_BYTES) return Promise.reject(new MessageTooLargeError(size, MAX_MESSAGE_BYTES));
      const bytes = batchBytes(r, size);
      if (!chunk || chunk.bytes + bytes > MAX_BATCH_BYTES) chunks.push((chunk = { records: [], bytes: 0 }));
      chunk.records.push(r);
      chunk.bytes += bytes;
    }
    const sent = chunks.map(
      ({ records: part, bytes }) =>
        new Promise<void>((resolve, reject) =>
          this.queue.push({ records: part, bytes, alone: false, resolve, reject }),
        ),
    );
    if (!this.sending && !this.lingering) {
      this.lingering = true;
      lingerOneTurn(() => {
        this.lingering = false;
        void this.drain();
      });
    }
    return sent.length === 1 ? sent[0]! : Promise.all(sent).then(() => undefined);
  }

  /** Waits for queued sends, then disconnects. */
  async close(): Promise<void> {
    if (this.sending || this.lingering) await new Promise<void>((resolve) => this.idle.push(resolve));
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
        if (refusedAsTooLarge(err)) {
          if (batch.length > 1) {
            // Each call again on its own, in their order, so only the one too large fails.
            this.queue.unshift(...batch.map((p) => ({ ...p, alone: true })));
          } else {
            for (const p of batch) p.reject(new MessageTooLargeError(p.bytes, null, err));
          }
        } else {
          const failure = unavailable('Kafka did not acknowledge the publish', err);
          for (const p of batch) p.reject(failure);
        }
        await this.replace();
      }
    }
    this.sending = false;
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private take(): Pending[] {
    const first = this.queue.shift()!;
    const batch: Pending[] = [first];
    if (first.alone) return batch;
    let n = first.records.length;
    let bytes = first.bytes;
    for (let next = this.queue[0]; next !== undefined; next = this.queue[0]) {
      if (next.alone || n + next.records.length > MAX_COALESCED || bytes + next.bytes > MAX_BATCH_BYTES) break;
      n += next.records.length;
      bytes += next.bytes;
      batch.push(this.queue.shift()!);
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
        createPartitioner: KeyPartitioner,
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
