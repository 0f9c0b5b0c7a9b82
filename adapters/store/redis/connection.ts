/**
 * Connections and their failures. Calls fail fast while Redis is away: a command waits
 * through at most a few quick reconnect attempts (maxRetriesPerRequest), and a server
 * that stops answering times the command out, so nothing hangs. Every failure to reach
 * Redis surfaces as StoreUnavailableError (retriable); a Redis reply error is a bug and
 * stays as it is, except the replies that only say "not now".
 */
import { Redis, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../../../src/errors.ts';

const CONNECT_TIMEOUT_MS = 2_000;
const COMMAND_TIMEOUT_MS = 5_000;

const base: RedisOptions = {
  lazyConnect: true,
  connectTimeout: CONNECT_TIMEOUT_MS,
  commandTimeout: COMMAND_TIMEOUT_MS,
  maxRetriesPerRequest: 2,
  retryStrategy: (times) => Math.min(50 * times, 500),
};

/** The main connection: offline queue on (a short blip is ridden out), auto-pipelined. */
export const mainOptions: RedisOptions = { ...base, enableOfflineQueue: true, enableAutoPipelining: true };
/** The pub/sub connection: resubscribes by itself after a reconnect. */
export const subscriberOptions: RedisOptions = { ...base, enableOfflineQueue: true, autoResubscribe: true };
/** Lock servers: a server that is away votes against at once instead of queueing. */
export const lockOptions: RedisOptions = { ...base, enableOfflineQueue: false, enableAutoPipelining: true };

/** Host and port only: a URL may carry a password. */
export function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    return `redis at ${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/**
 * ioredis sends an auto-pipeline only once the one before it on the connection has been
 * answered, so under load every call waits a whole round trip of other callers' commands
 * before it is even written. Redis answers a connection's commands in the order they
 * arrive, and ioredis matches replies to commands in that order whether or not they were
 * pipelined, so nothing needs that wait: each turn's commands go out at the end of the
 * turn (ioredis's setImmediate) while earlier ones are still being answered. Measured in
 * BENCHMARKS.md, "Overlapping auto-pipelines": open-loop p99 0.91x.
 * ioredis keeps the running pipelines in `_runningAutoPipelines`, a Set of slot keys; a
 * set that never holds one lets them overlap. test/integration/redis-store.test.ts fails
 * if a later ioredis stops reading that field, so an upgrade cannot drop this silently.
 */
export function overlapAutoPipelines(client: Redis): void {
  const neverRunning = { size: 0, has: () => false, add: () => neverRunning, delete: () => false };
  (client as unknown as { _runningAutoPipelines: unknown })._runningAutoPipelines = neverRunning;
}

/** A client for `url`, not connected yet (every option set has lazyConnect). */
export function open(url: string, options: RedisOptions): Redis {
  const client = new Redis(url, options);
  if (options.enableAutoPipelining) overlapAutoPipelines(client);
  // Failures reach the caller through the commands; the events would only be noise.
  client.on('error', () => {});
  return client;
}

/** A client for `url`, connected; StoreUnavailableError (and nothing left running) if it doesn't answer. */
export async function connect(url: string, options: RedisOptions): Promise<Redis> {
  const client = open(url, options);
  try {
    await client.connect();
    return client;
  } catch (err) {
    client.disconnect();
    throw new StoreUnavailableError(`${endpointOf(url)} did not answer`, err);
  }
}

/** Quits politely when connected, else just drops the socket; never throws. */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/** Reply errors that mean "the server can't do it now", not "your command is wrong". */
const TRANSIENT_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF)\b/;

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return TRANSIENT_REPLIES.test(err.message);
  return true;
}

/** Connection errors and timeouts become StoreUnavailableError; anything else stays. */
export function toStoreError(err: unknown): unknown {
  if (!isUnavailable(err)) return err;
  return new StoreUnavailableError(`store unavailable: ${err instanceof Error ? err.message : String(err)}`, err);
}

/** Wraps one Redis call (every call goes through here). */
export async function call<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw toStoreError(err);
  }
}
