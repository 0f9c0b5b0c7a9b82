/**
 * What a dead letter carries, the same on every broker adapter: the original key, value
 * and headers, plus why and where from (DlqHeaders). A letter that would be over
 * MAX_MESSAGE_BYTES goes out as a stub instead, without the value (and without the
 * original headers if even those do not fit), marked `x-stub` and carrying the original
 * size, so a message too large for its DLQ is still dead-lettered and its partition moves
 * on (rule `two-kinds-of-failure`, docs/architecture.md). The operator finds the original
 * by its source topic, partition and offset.
 */
import { errorCode } from '../errors.ts';
import { DlqHeaders, MAX_MESSAGE_BYTES, messageBytes, type Delivery } from '../ports/broker.ts';
import { clipText } from '../schemas.ts';

export interface LetterPlan {
  headers: Record<string, string>;
  /** False for a stub: the adapter sends no value. */
  keepValue: boolean;
}

/** Where the message came from and why it was refused; the error message is clipped to MAX_TEXT_LENGTH. */
function why(from: Delivery, err: unknown): Record<string, string> {
  return {
    [DlqHeaders.errorCode]: errorCode(err),
    [DlqHeaders.errorMessage]: clipText(err instanceof Error ? err.message : String(err)),
    [DlqHeaders.sourceTopic]: from.topic,
    [DlqHeaders.sourcePartition]: String(from.partition),
    [DlqHeaders.sourceOffset]: String(from.offset),
    [DlqHeaders.attempts]: String(from.attempt),
  };
}

/**
 * The headers of the dead letter of `from` (whose raw value is `value`, as the broker
 * holds it) refused with `err`, and whether the value goes along. `stub` asks for a stub
 * whatever the size (the DLQ refused the full letter).
 */
export function planDeadLetter(
  from: Delivery,
  value: string | Buffer | null,
  original: Readonly<Record<string, string>> | null,
  err: unknown,
  opts: { stub?: boolean } = {},
): LetterPlan {
  const reasons = why(from, err);
  const full = { ...original, ...reasons };
  if (!opts.stub && messageBytes(from.key, value, full) <= MAX_MESSAGE_BYTES) return { headers: full, keepValue: true };
  const stub = {
    [DlqHeaders.stub]: 'true',
    [DlqHeaders.originalBytes]: String(messageBytes(from.key, value, original)),
  };
  // The original headers go along while they fit (a forced stub keeps only what we add).
  const withOriginal = { ...full, ...stub };
  if (!opts.stub && messageBytes(from.key, null, withOriginal) <= MAX_MESSAGE_BYTES)
    return { headers: withOriginal, keepValue: false };
  return { headers: { ...reasons, ...stub }, keepValue: false };
}
