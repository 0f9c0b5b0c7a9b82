/**
 * Key to partition: FNV-1a 32 over the key's UTF-8 bytes. Stable across processes and
 * runs, so one key always lands in one partition, whatever topic it is published to;
 * that is what lets co-partitioned consumers see all of one order's messages.
 */
const OFFSET_BASIS = 0x811c9dc5;
const PRIME = 0x01000193;

export function fnv1a32(key: string): number {
  let h = OFFSET_BASIS;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    // Keys are ASCII ids in practice; anything else takes the slow, byte-exact path.
    if (c > 0x7f) return fnv1a32Bytes(Buffer.from(key, 'utf8'));
    h = Math.imul(h ^ c, PRIME);
  }
  return h >>> 0;
}

function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = OFFSET_BASIS;
  for (const b of bytes) h = Math.imul(h ^ b, PRIME);
  return h >>> 0;
}

export const partitionOf = (key: string, partitions: number): number => fnv1a32(key) % partitions;
