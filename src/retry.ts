/**
 * Backoff defaults in one place, with a fast profile for tests. The one backoff function
 * lives with the saga's other timing rules (machines/timing.ts, where the machine can use
 * it and stay pure); every retry in the system goes through it.
 */
import type { BackoffPolicy } from '../machines/timing.ts';

export { backoffDelay, type BackoffPolicy } from '../machines/timing.ts';

export interface BackoffProfile {
  redelivery: BackoffPolicy;
  compensation: BackoffPolicy;
  casAttempts: number;
}

export const Backoff: BackoffProfile = {
  /** Redelivery of a message whose handler failed retriably. */
  // Capped at 2 s: once a broker or Redis is back, a held partition resumes within 2 s.
  redelivery: { initialMs: 50, maxMs: 2_000, factor: 2 },
  /** Re-sending undos while COMPENSATING waits for confirmations. */
  compensation: { initialMs: 1_000, maxMs: 30_000, factor: 2 },
  /** Compare-and-set conflicts inside one handler before giving the message back. */
  casAttempts: 5,
};

export const FastBackoff: BackoffProfile = {
  redelivery: { initialMs: 1, maxMs: 10, factor: 2 },
  compensation: { initialMs: 50, maxMs: 200, factor: 2 },
  casAttempts: 5,
};

/** Between attempts to reach a service that is away (start-up, a consumer rebuilt after a crash). */
export const WaitBackoff: BackoffPolicy = { initialMs: 250, maxMs: 2_000, factor: 2 };

/** Between attempts to set the start positions of a new Kafka assignment. */
export const PositionBackoff: BackoffPolicy = { initialMs: 200, maxMs: 2_000, factor: 2 };
