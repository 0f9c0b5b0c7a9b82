/**
 * Waiting for a service that is away (rule `faults-heal`, docs/architecture.md): a role that starts while Kafka or
 * Redis is down retries with capped backoff and says so every few seconds, instead of
 * exiting. Only an error that retrying cannot fix (a ConfigError, a bug) ends the wait.
 */
import { AppError } from './errors.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './log.ts';
import { backoffDelay, WaitBackoff, type BackoffPolicy } from './retry.ts';

export interface WaitOptions {
  logger: Logger;
  clock: Clock;
  /** Default WaitBackoff. */
  policy?: BackoffPolicy;
  /** At most one "waiting" line per this many ms, however quick the attempts. */
  logEveryMs?: number;
  /** Aborting ends the wait with the signal's reason (shutdown while waiting). */
  signal?: AbortSignal;
  /** Default: a timer, cut short by `signal`. Tests pass one that returns at once. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const LOG_EVERY_MS = 5_000;

/** Only retriable AppErrors mean "not now"; anything else is not cured by waiting. */
const worthWaiting = (err: unknown): err is AppError => err instanceof AppError && err.retriable;

function timer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('stopped waiting');
}

/** Calls `attempt` until it resolves; `what` names the service in the log lines. */
export async function waitFor<T>(what: string, attempt: () => Promise<T>, opts: WaitOptions): Promise<T> {
  const { logger, clock, signal } = opts;
  const policy = opts.policy ?? WaitBackoff;
  const logEveryMs = opts.logEveryMs ?? LOG_EVERY_MS;
  const sleep = opts.sleep ?? timer;
  const since = clock.now();
  let lastLine = -Infinity;
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw abortReason(signal);
    try {
      const value = await attempt();
      if (n > 1)
        logger.info({ waitingFor: what, attempts: n, waitedMs: clock.now() - since }, `${what} answered; going on`);
      return value;
    } catch (err) {
      if (!worthWaiting(err)) throw err;
      const retryInMs = backoffDelay(policy, n);
      const now = clock.now();
      if (now - lastLine >= logEveryMs) {
        lastLine = now;
        logger.warn(
          { waitingFor: what, attempt: n, waitedMs: now - since, retryInMs, code: err.code },
          `waiting for ${what}: ${err.message}`,
        );
      }
      await sleep(retryInMs, signal);
    }
  }
}
