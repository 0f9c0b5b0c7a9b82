/**
 * The fate of one consumed message: parsed and handed to the handler; on a non-retriable
 * error (an unparseable value is one: INVALID_MESSAGE), or an unknown one on its last
 * allowed attempt (deadLetterNow), dead-lettered; on a retriable error, or when the dead
 * letter could not be sent, given a delay before it is retried. Attempts are counted in
 * this process, per partition (PartitionHolds): a partition that moves to another member
 * starts counting again there.
 */
import type { KafkaMessage } from 'kafkajs';
import { deadLetterNow, InvalidMessageError, MessageTooLargeError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/log.ts';
import type { Delivery, Handler } from '../../../src/ports/broker.ts';
import { backoffDelay, type BackoffPolicy } from '../../../src/retry.ts';
import { isDlqName } from '../../../src/topics.ts';
import type { TopicNames } from './topic-names.ts';
import { deadLetter, decodeHeaders } from './dlq.ts';
import { tpKey, type PartitionHolds } from './holds.ts';
import type { Publisher } from './producer.ts';

export interface DeliveryDeps {
  handler: Handler;
  names: TopicNames;
  publisher: Publisher;
  redelivery: BackoffPolicy;
  holds: PartitionHolds;
  log: Logger;
  onError: ((err: unknown, d: Delivery) => void) | undefined;
}

/** Null when the message is done with (handled or dead-lettered), else the delay before it is retried. */
export async function deliver(
  deps: DeliveryDeps,
  topic: string,
  partition: number,
  message: KafkaMessage,
): Promise<number | null> {
  const k = tpKey(topic, partition);
  const offset = Number(message.offset);
  const attempt = deps.holds.attemptOf(k, offset);
  const name = deps.names.logical(topic);
  const parsed = parse(message.value);
  const deadLetterTopic = isDlqName(name);
  const original = decodeHeaders(message.headers);
  const delivery: Delivery = {
    topic: name,
    partition,
    offset,
    key: message.key?.toString() ?? '',
    // Dead letters may hold what could not be parsed: operators' tools get the text.
    value: parsed.ok ? parsed.value : (message.value?.toString() ?? null),
    headers: { ...original },
    attempt,
  };
  let err: unknown;
  try {
    if (!parsed.ok && !deadLetterTopic)
      throw new InvalidMessageError(`message at ${name}/${partition}@${offset} is not JSON: ${parsed.reason}`);
    await deps.handler(delivery);
    deps.holds.settled(k, offset);
    return null;
  } catch (e) {
    err = e;
  }
  report(deps, err, delivery);
  if (deadLetterNow(err, attempt)) {
    if (deadLetterTopic) {
      // A dead letter's dead letter has nowhere to go; reported above, then passed over.
      deps.holds.settled(k, offset);
      return null;
    }
    try {
      try {
        await deps.publisher.send([deadLetter(deps.names, delivery, message.value, original, err)]);
      } catch (tooLarge) {
        // The DLQ topic takes less than MAX_MESSAGE_BYTES (its own max.message.bytes): a stub still fits.
        if (!(tooLarge instanceof MessageTooLargeError)) throw tooLarge;
        await deps.publisher.send([deadLetter(deps.names, delivery, message.value, original, err, { stub: true })]);
      }
      deps.holds.settled(k, offset);
      return null;
    } catch (dlqErr) {
      deps.log.warn(
        { err: dlqErr, topic: name, partition, offset },
        'could not dead-letter a message; it will be retried',
      );
    }
  }
  deps.holds.failed(k, offset, attempt);
  return backoffDelay(deps.redelivery, attempt);
}

function report(deps: DeliveryDeps, err: unknown, d: Delivery): void {
  try {
    deps.onError?.(err, d);
  } catch {
    // A failing logger must not change what happens to the message.
  }
}

type Parsed = { ok: true; value: unknown } | { ok: false; reason: string };

function parse(value: Buffer | null): Parsed {
  if (value === null) return { ok: false, reason: 'no value' };
  try {
    return { ok: true, value: JSON.parse(value.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}
