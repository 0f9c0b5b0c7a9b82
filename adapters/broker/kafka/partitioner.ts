/**
 * Which partition a keyed message goes to: murmur2 of the key's UTF-8 bytes, made
 * positive, modulo the topic's partition count. That is the Java client's default and
 * kafkajs's `Partitioners.DefaultPartitioner`, so every client puts one orderId on the same
 * partition of every topic (rule `store-is-truth`, docs/architecture.md: the saga's inputs are
 * co-partitioned). kafkajs computes the hash with its 64-bit Long emulation, a dozen
 * objects per key; this is the same 32-bit arithmetic with Math.imul, and
 * test/unit/kafka-partitioner.test.ts checks it against kafkajs's on seeded random keys.
 */
import type { ICustomPartitioner } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (Utils.murmur2 of the Java client) of a key's UTF-8 bytes, as a signed 32-bit integer. */
export function murmur2(key: string | Buffer): number {
  // The keys of this system (orderIds) are ASCII: their bytes are their char codes, no Buffer needed.
  const bytes: string | Buffer = typeof key === 'string' && !isAscii(key) ? Buffer.from(key, 'utf8') : key;
  const at = typeof bytes === 'string' ? (i: number): number => bytes.charCodeAt(i) : (i: number): number => bytes[i]!;
  const length = bytes.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = at(i) | (at(i + 1) << 8) | (at(i + 2) << 16) | (at(i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    h = Math.imul(h, M) ^ Math.imul(k, M);
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= at(whole + 2) << 16;
    if (rest >= 2) h ^= at(whole + 1) << 8;
    h = Math.imul(h ^ at(whole), M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** The partition of `key` among `partitions`. */
export const partitionOfKey = (key: string | Buffer, partitions: number): number =>
  (murmur2(key) & 0x7fffffff) % partitions;

/**
 * The producer's partitioner. Every message of this system has a key; one without (never
 * sent here) goes to partition 0 rather than kafkajs's round robin.
 */
export const KeyPartitioner: ICustomPartitioner =
  () =>
  ({ partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    const key = message.key;
    if (key === null || key === undefined) return 0;
    return partitionOfKey(key, partitionMetadata.length);
  };
