/**
 * Where the Redis tests find Redis: REDIS_URL when set; else redis://127.0.0.1:6379 when it
 * answers; else a testcontainers Redis when a Docker engine answers; else one skip line
 * saying how to run them (a failure under REQUIRE_INTEGRATION=1).
 */
import { Redis } from 'ioredis';
import { dockerAnswers, startRedisContainer, type Started } from './containers.ts';

const LOCAL_REDIS = 'redis://127.0.0.1:6379';

/**
 * The Redis the tests use. A live binding: redisSkipReason() points it at a container when
 * it starts one, so read it after awaiting that (every test file does, at its top).
 */
export let REDIS_URL = process.env.REDIS_URL ?? LOCAL_REDIS;
export const REQUIRE_INTEGRATION = process.env.REQUIRE_INTEGRATION === '1';

/** A client that fails at once instead of retrying: for probes, checks and cleanup. */
export function rawClient(url = REDIS_URL): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
  });
  client.on('error', () => {});
  return client;
}

/** What findRedis looks at, replaceable so a test can check the order of the choices. */
export interface RedisProbes {
  env: Record<string, string | undefined>;
  /** Resolves when a PING at `url` answers, rejects otherwise. */
  ping(url: string): Promise<void>;
  dockerAnswers(): Promise<boolean>;
  startContainer(): Promise<Started>;
}

async function ping(url: string): Promise<void> {
  const client = rawClient(url);
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

const probes: RedisProbes = { env: process.env, ping, dockerAnswers, startContainer: startRedisContainer };

/** The Redis URL to test against, or the skip line; throws under REQUIRE_INTEGRATION=1 instead of skipping. */
export async function findRedis(
  p: RedisProbes = probes,
): Promise<{ url: string; skip?: undefined } | { url?: undefined; skip: string }> {
  const given = p.env.REDIS_URL;
  const url = given ?? LOCAL_REDIS;
  let failure: unknown;
  try {
    await p.ping(url);
    return { url };
  } catch (err) {
    failure = err;
  }
  // A REDIS_URL someone chose is not second-guessed: only the default falls back to a container.
  if (given === undefined && (await p.dockerAnswers())) {
    try {
      return { url: (await p.startContainer()).address };
    } catch (err) {
      failure = err;
    }
  }
  const how = `Redis not reachable at ${url}: start one (redis-server --save '' --appendonly no), set REDIS_URL, or run a Docker engine (testcontainers) to run these tests`;
  if (p.env.REQUIRE_INTEGRATION === '1') throw new Error(`REQUIRE_INTEGRATION=1 but ${how}`, { cause: failure });
  return { skip: how };
}

let found: ReturnType<typeof findRedis> | undefined;

/**
 * Resolves to the skip reason when there is no Redis, else undefined and REDIS_URL names
 * the one found. Under REQUIRE_INTEGRATION=1 a missing Redis throws instead: a skip there
 * is a failure. Looked up once per process, so one container serves every test in a file.
 */
export async function redisSkipReason(): Promise<string | undefined> {
  const result = await (found ??= findRedis());
  if (result.skip !== undefined) return result.skip;
  if (result.url !== REDIS_URL) {
    REDIS_URL = result.url;
    // Child processes (the chaos command, `src/main.ts` roles) read the env, not this module.
    process.env.REDIS_URL = result.url;
  }
  return undefined;
}
