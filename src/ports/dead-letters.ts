/**
 * The dead-letter topics as an operator sees them (`npm run dlq`): read what is there,
 * one record or a range, and send records back to the topics they came from. Only the
 * Kafka adapter implements it (adapters/broker/kafka/dlq-reader.ts); it reads without
 * ever committing an offset, up to the end each partition had when the read began.
 */
import type { DlqName, TopicName } from '../topics.ts';

/** One record of a dead-letter topic, as stored: headers decoded, the value's bytes kept. */
export interface DlqRecord {
  /** Registry name of the dead-letter topic (no prefix), e.g. `order.start.dlq`. */
  dlq: DlqName;
  partition: number;
  offset: number;
  /** The broker's append time, epoch ms. */
  timestamp: number;
  key: string | null;
  value: Buffer | null;
  /** DlqHeaders (why and where from) beside the original headers; unknown ones are data. */
  headers: Record<string, string>;
}

/** Offsets to read, both inclusive, on one partition or (partition null) on every one. */
export interface OffsetRange {
  partition: number | null;
  from: number;
  to: number;
}

/** A record to send again: key, value and headers as given, to a registry topic. */
export interface Redrive {
  topic: TopicName;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface DeadLetterTopics {
  /** The dead-letter topics that exist (registry names). */
  topics(): Promise<DlqName[]>;
  /**
   * Visits the records of `dlq` in the given ranges (every record when omitted), in offset
   * order per partition, up to each partition's end at the start of the call.
   */
  read(dlq: DlqName, visit: (record: DlqRecord) => void, ranges?: readonly OffsetRange[]): Promise<void>;
  /** Sends the records, each resolved once the broker has acknowledged it. */
  send(records: readonly Redrive[]): Promise<void>;
  close(): Promise<void>;
}
