/**
 * What a stock or payment command handler needs besides its payload: the headers of its
 * reply (a child of the command's trace: same trace id, new span id; a new trace when the
 * command carries none or an invalid one) and its one debug line with the message's place.
 */
import type { Logger } from '../log.ts';
import { placeFields } from '../messaging/place.ts';
import type { Delivery } from '../ports/broker.ts';
import { childTrace, formatTraceparent, TRACEPARENT } from '../trace.ts';

export interface ReplyContext {
  /** Headers for the reply. */
  headers: Record<string, string>;
  /** The handled command's one log line (debug: a hot path). */
  handled(fields: Record<string, unknown>, msg: string): void;
}

export function replyContext(logger: Logger, delivery: Delivery): ReplyContext {
  const trace = childTrace(delivery.headers[TRACEPARENT]);
  return {
    headers: { [TRACEPARENT]: formatTraceparent(trace) },
    handled(fields, msg) {
      if (logger.isLevelEnabled('debug'))
        logger.debug({ ...placeFields(delivery.key, delivery, trace.traceId), ...fields }, msg);
    },
  };
}
