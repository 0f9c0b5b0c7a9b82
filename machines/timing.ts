/**
 * The saga's timing rules in one place, as plain functions of data: when each step's
 * deadline falls, when unconfirmed undos go out again (the one backoff function, which
 * src/retry.ts re-exports for every other retry), what a missed deadline says, and when an
 * order next needs a TIMEOUT. Pure: no clock is read here; `now` is always given.
 */

/** An exponential backoff, whole: every field is read. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Delay before attempt n+1 (n counts from 1), capped; deterministic (no jitter) so tests can predict it. */
export function backoffDelay(policy: BackoffPolicy, attempt: number): number {
  const exp = Math.min(attempt - 1, 30);
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** exp);
}

/** What a step's deadline needs to know of the order. */
interface Timed {
  stepTimeoutMs: number;
}

/** A step entered at `now` must be answered by this time (order start, reservation, payment). */
export const stepDeadline = (now: number, order: Timed): number => now + order.stepTimeoutMs;

/** An order in COMPENSATING for longer than one step timeout is overdue (the gauge's rule). */
export const compensationOverdueAt = (enteredAt: number, order: Timed): number => enteredAt + order.stepTimeoutMs;

/** When undos sent for the `sent`-th time (counting from 1) are sent again. */
export const compensationRetryAt = (now: number, policy: BackoffPolicy, sent: number): number =>
  now + backoffDelay(policy, sent);

/** The reason a missed deadline gives. */
export const timeoutMessage = (step: string, ms: number): string => `${step} did not answer within ${ms} ms`;

/** The deadlines a waiting state may hold; null where none is set. */
export interface Deadlines {
  startDeadline: number;
  reservationDeadline: number | null;
  paymentDeadline: number | null;
  compensationRetryAt: number | null;
}

/** The absolute time at which an order in `status` next needs a TIMEOUT, or null when nothing waits. */
export function nextWakeUp(status: string, deadlines: Deadlines): number | null {
  switch (status) {
    case 'PENDING':
      return deadlines.startDeadline;
    case 'RESERVING':
      return deadlines.reservationDeadline;
    case 'PAYING':
      return deadlines.paymentDeadline;
    case 'COMPENSATING':
      return deadlines.compensationRetryAt;
    default:
      return null;
  }
}
