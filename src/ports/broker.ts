/**
 * The broker port. Delivery is at least once: a message is handed to a handler until
 * the handler resolves (then it is handled) or throws a non-retriable error (then it goes
 * to `<topic>.dlq` and counts as handled); a partition's committed offset is its highest
 * contiguous handled one. A retriable error redelivers the same message after a backoff,
 * holding its key: the partition is re-read from its first unhandled message, so later
 * messages of other keys handled meanwhile may come again. An error of unknown kind does
 * so too, but only up to UNKNOWN_FAILURE_ATTEMPTS deliveries in all, and then it is
 * dead-lettered (`deadLetterNow` in src/errors.ts). Within a partition, one key's messages
 * are handled in order, different keys' side by side; across topics and partitions there
 * is no order.
 */
import type { AnyTopic, OutMessage, TopicName } from '../topics.ts';

export interface Delivery {
  topic: TopicName;
  partition: number;
  offset: number;
  key: string;
  /** The raw decoded JSON; the consumer validates it against the topic's schema. */
  value: unknown;
  headers: Record<string, string>;
  /** 1 on first delivery to this group member; higher on redelivery after a retriable error. */
  attempt: number;
}

export type Handler = (delivery: Delivery) => Promise<void>;

export interface Subscription {
  /** Stops taking new messages, lets in-flight handlers finish, leaves the group. */
  close(): Promise<void>;
}

export interface SubscribeOptions {
  group: string;
  topics: readonly TopicName[];
  handler: Handler;
  /**
   * Groups this one takes over from, when the roles move between processes (one group per
   * role, or one for every role of a process). A partition this group has never committed
   * starts at the lowest offset any of them has committed there, so nothing they left
   * unhandled is skipped (what they handled past it comes again, as after a crash); at its
   * end when none of them has. A partition this group has committed is not affected.
   */
  takesOverFrom?: readonly string[];
}

/** One consumer group's backlog on one partition: log end offset minus committed offset. */
export interface ConsumerLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/** A consumer group and the topics it consumes (registry names). */
export interface GroupTopics {
  group: string;
  topics: readonly TopicName[];
}

export interface Broker {
  /**
   * Resolves once every message is durably accepted; rejects with a retriable error
   * otherwise. A message over MAX_MESSAGE_BYTES (`messageBytes`) is refused with the
   * non-retriable MessageTooLargeError, and nothing of that call is sent; other calls,
   * even ones that would have left in the same batch, are not affected.
   */
  publish(messages: readonly OutMessage[]): Promise<void>;
  /**
   * Joins a consumer group. Members of one group split the partitions so that the same
   * partition number of every subscribed topic goes to the same member (co-partitioned).
   */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** Throws when the broker cannot be reached. */
  ping(): Promise<void>;
  /**
   * Optional: the lag of consumer groups, one row per group, topic and partition (logical
   * topic names, no prefix). Read at scrape time for the `kafka_consumer_lag` gauge, so it
   * may do I/O but should answer in well under a second. An adapter without it has no lag
   * series. The memory broker reports every group it holds; a Kafka adapter reports the
   * groups this process consumes in (admin.fetchOffsets vs admin.fetchTopicOffsets).
   */
  lag?(): Promise<ConsumerLag[]>;
  /** Optional: the partition number a key lands in, the same on every topic (co-partitioning). */
  partitionOf?(key: string): number;
  /**
   * Optional: per partition number, whether every group named has handled (committed)
   * every message appended to its topics before `before` (epoch ms: the broker's append
   * clock, Kafka's message timestamps). A group that never committed anything on a
   * partition counts as caught up there: nobody waits on it. Rejects when the broker
   * cannot tell. The saga uses it so time an answer sat in our own queues is not spent
   * from a step's deadline (rule `faults-heal`, docs/architecture.md).
   */
  handledBefore?(groups: readonly GroupTopics[], before: number): Promise<boolean[]>;
  close(): Promise<void>;
}

/** What a dead-lettered message carries in its headers, beside the original ones. */
export const DlqHeaders = {
  errorCode: 'x-error-code',
  errorMessage: 'x-error-message',
  sourceTopic: 'x-source-topic',
  sourcePartition: 'x-source-partition',
  sourceOffset: 'x-source-offset',
  /** How many deliveries the message had when it was dead-lettered. */
  attempts: 'x-attempts',
  /** Set to `true` on a stub: the dead letter would not have fitted, so its value (and perhaps the original headers) was left out. */
  stub: 'x-stub',
  /** On a stub: the size in bytes (messageBytes) of the message that was refused. */
  originalBytes: 'x-original-bytes',
} as const;

/**
 * The largest message (key, value and headers: `messageBytes`) a broker adapter accepts.
 * Kafka's default limit (`message.max.bytes`) is 1 MiB plus 12 bytes and applies to a
 * whole record batch, so this keeps 64 KiB of headroom for batch and record overhead. A
 * dead letter that would be larger goes out as a stub (DlqHeaders.stub).
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024 - 64 * 1024;

/** The size a message counts for against MAX_MESSAGE_BYTES: its key, value and header bytes (UTF-8). */
export function messageBytes(
  key: string,
  value: string | Buffer | null,
  headers: Readonly<Record<string, string>> | null | undefined,
): number {
  let n = Buffer.byteLength(key) + (value === null ? 0 : Buffer.byteLength(value));
  for (const [k, v] of Object.entries(headers ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/**
 * What `npm run dlq -- redrive` adds to a message it sends back: the dead letter it came
 * from, as `<dlq topic>/<partition>/<offset>` (registry name). The DlqHeaders are removed.
 */
export const RedriveHeaders = {
  redrivenFrom: 'x-redriven-from',
} as const;

export type { AnyTopic };
