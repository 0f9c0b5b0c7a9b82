/**
 * The Kafka adapter's partitioner against kafkajs's own DefaultPartitioner (the Java
 * client's murmur2): the same partition for every key, or one orderId would land on
 * different partitions of the saga's topics depending on which code path placed it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { KeyPartitioner, murmur2, partitionOfKey } from '../../adapters/broker/kafka/partitioner.ts';
import { seededRng } from '../../src/random.ts';

const SEED = Number(process.env.TEST_SEED ?? 20261130);

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

/** A seeded key: ASCII, UUID-shaped, or with multi-byte characters; 0 to 40 characters. */
function keyOf(rng: ReturnType<typeof seededRng>): string {
  const kind = rng.int(3);
  if (kind === 0) return randomUuidFrom(rng);
  const alphabet = kind === 1 ? 'abcdefghijklmnopqrstuvwxyz0123456789-:{}' : 'aé€𝄞ß中-0';
  const chars = Array.from(alphabet);
  return Array.from({ length: rng.int(41) }, () => chars[rng.int(chars.length)]).join('');
}

function randomUuidFrom(rng: ReturnType<typeof seededRng>): string {
  const hex = Array.from({ length: 32 }, () => rng.int(16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

describe('kafka partitioner', () => {
  it(`puts every key where kafkajs's DefaultPartitioner does (seed ${SEED})`, () => {
    const rng = seededRng(SEED);
    const theirs = Partitioners.DefaultPartitioner();
    const ours = KeyPartitioner();
    for (let i = 0; i < 20_000; i++) {
      const key = keyOf(rng);
      const n = 1 + rng.int(64);
      const partitionMetadata = metadata(n);
      const expected = theirs({ topic: 't', partitionMetadata, message: { key, value: null } });
      const where = `key ${JSON.stringify(key)}, ${n} partitions (seed ${SEED})`;
      assert.equal(ours({ topic: 't', partitionMetadata, message: { key, value: null } }), expected, where);
      assert.equal(
        ours({ topic: 't', partitionMetadata, message: { key: Buffer.from(key), value: null } }),
        expected,
        `${where}, as a Buffer`,
      );
      assert.equal(partitionOfKey(key, n), expected, where);
    }
  });

  it('matches known murmur2 values of the Java client', () => {
    // From Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils).
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) assert.equal(murmur2(key), hash, key);
  });

  it('honours an explicit partition and sends a message without a key to partition 0', () => {
    const ours = KeyPartitioner();
    const partitionMetadata = metadata(12);
    assert.equal(ours({ topic: 't', partitionMetadata, message: { key: 'k', partition: 7, value: null } }), 7);
    assert.equal(ours({ topic: 't', partitionMetadata, message: { value: null } }), 0);
  });
});
