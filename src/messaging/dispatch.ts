/**
 * Turns per-topic handlers into one port Handler: every consumed message is validated
 * against its topic's schema first (a bad payload is non-retriable, so it goes to the
 * DLQ), then handled; outcomes are counted and failures logged with the message's place.
 * The broker decides a failed message's fate with `deadLetterNow`; the count and the log
 * line here say the same.
 */
import { InvalidMessageError, UnsupportedVersionError, deadLetterNow, errorCode, failureKind } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Delivery, Handler } from '../ports/broker.ts';
import { SCHEMA_VERSION, TopicSchemas, type Payload, type TopicName } from '../topics.ts';
import { placeFields } from './place.ts';

export type TopicHandlers = { [T in TopicName]?: (payload: Payload<T>, delivery: Delivery) => Promise<void> };

export function parsePayload<T extends TopicName>(topic: T, value: unknown): Payload<T> {
  const v = (value as { v?: unknown } | null)?.v;
  if (v !== undefined && v !== SCHEMA_VERSION) throw new UnsupportedVersionError(`${topic} payload`, v);
  const parsed = TopicSchemas[topic].safeParse(value);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InvalidMessageError(`invalid ${topic} payload: ${details.join('; ')}`, details);
  }
  return parsed.data as Payload<T>;
}

export function dispatch(handlers: TopicHandlers, deps: { metrics: Metrics; logger: Logger }): Handler {
  return async (delivery) => {
    const handle = handlers[delivery.topic] as ((p: unknown, d: Delivery) => Promise<void>) | undefined;
    if (delivery.attempt > 1) deps.metrics.redeliveries.inc({ topic: delivery.topic });
    try {
      if (!handle) throw new InvalidMessageError(`no handler for topic ${delivery.topic}`);
      await handle(parsePayload(delivery.topic, delivery.value), delivery);
      deps.metrics.messagesHandled.inc({ topic: delivery.topic, outcome: 'ok' });
    } catch (err) {
      const retriable = !deadLetterNow(err, delivery.attempt);
      deps.metrics.messagesHandled.inc({ topic: delivery.topic, outcome: retriable ? 'retry' : 'dlq' });
      if (!retriable) deps.metrics.dlqMessages.inc({ topic: delivery.topic });
      deps.logger[retriable ? 'warn' : 'error'](
        {
          ...placeFields(delivery.key, delivery),
          attempt: delivery.attempt,
          code: errorCode(err),
          kind: failureKind(err),
          err,
        },
        retriable ? 'handler failed, will retry' : 'handler refused message, dead-lettering',
      );
      throw err;
    }
  };
}
