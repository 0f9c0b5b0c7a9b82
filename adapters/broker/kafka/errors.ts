/** Client failures as our errors, and bounded waits on the client. */
import { BrokerUnavailableError } from '../../../src/errors.ts';

/** Every client failure reaches callers as one retriable error, the kafkajs error kept as its cause. */
export function unavailable(what: string, cause: unknown): BrokerUnavailableError {
  if (cause instanceof BrokerUnavailableError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new BrokerUnavailableError(`${what}: ${detail}`, cause);
}

/** Rejects after `ms` unless `promise` settles first; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
