/**
 * Dead letters: the original key, value bytes and headers, plus why and where from
 * (DlqHeaders), on `<prefix><topic>.dlq`. The value is kept as it came, so an unparseable
 * message is dead-lettered byte for byte; one too large for the DLQ goes as a stub with
 * no value (planDeadLetter, src/messaging/dead-letter.ts).
 */
import type { Delivery } from '../../../src/ports/broker.ts';
import { planDeadLetter } from '../../../src/messaging/dead-letter.ts';
import { dlqOf } from '../../../src/topics.ts';
import type { TopicNames } from './topic-names.ts';
import type { OutRecord } from './producer.ts';

export function deadLetter(
  names: TopicNames,
  from: Delivery,
  raw: Buffer | null,
  original: Readonly<Record<string, string>>,
  err: unknown,
  opts: { stub?: boolean } = {},
): OutRecord {
  const plan = planDeadLetter(from, raw, original, err, opts);
  return {
    topic: names.physical(dlqOf(from.topic)),
    key: from.key,
    value: plan.keepValue ? (raw ?? Buffer.alloc(0)) : null,
    headers: plan.headers,
  };
}

/** kafkajs hands headers over as Buffers (or arrays of them, for repeated keys); the port wants strings. */
export function decodeHeaders(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    // A repeated header keeps its last value, as a map of strings can hold only one.
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = last.toString();
  }
  return out;
}
