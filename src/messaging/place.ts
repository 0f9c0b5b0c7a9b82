/**
 * The fields every log line about a consumed message carries: which order, which trace,
 * and where the message sits (topic, partition, offset), so a line leads to the message.
 */
import type { Delivery } from '../ports/broker.ts';
import { parseTraceparent, TRACEPARENT } from '../trace.ts';

/** Where a message came from: what the saga host is told beside the payload. */
export type MessagePlace = Pick<Delivery, 'topic' | 'partition' | 'offset' | 'headers'>;

export interface PlaceFields {
  orderId: string;
  traceId: string | undefined;
  topic: string;
  partition: number;
  offset: number;
}

export function placeFields(orderId: string, place: MessagePlace, traceId?: string): PlaceFields {
  return {
    orderId,
    traceId: traceId ?? parseTraceparent(place.headers[TRACEPARENT])?.traceId,
    topic: place.topic,
    partition: place.partition,
    offset: place.offset,
  };
}
