/**
 * Redis for integration tests: the endpoint and its skip line (redis-endpoint.ts), a
 * unique key prefix per test and its cleanup, and extra redis-server instances on other ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { restartablePort } from '../../src/chaos/ports.ts';
import { rawClient, REDIS_URL } from './redis-endpoint.ts';

export {
  findRedis,
  rawClient,
  REDIS_URL,
  redisSkipReason,
  REQUIRE_INTEGRATION,
  type RedisProbes,
} from './redis-endpoint.ts';

/** A key prefix no other test uses, e.g. `t-redis-3f2a9c1b:`. */
export const uniquePrefix = (label = 't'): string => `t-${label}-${randomUUID().slice(0, 8)}:`;

const globEscape = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Every key matching a glob pattern (SCAN: fine in tests, never in the store). */
export async function scanKeys(client: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Every key under `prefix`. */
export const keysUnder = (client: Redis, prefix: string): Promise<string[]> =>
  scanKeys(client, `${globEscape(prefix)}*`);

/** Deletes every key under `prefix`. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const client = rawClient(url);
  try {
    await client.connect();
    const keys = await keysUnder(client, prefix);
    for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
  } finally {
    client.disconnect();
  }
}

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A loopback port that was free a moment ago, below the kernel's ephemeral range: tests
 * here start a server on it after a client, or restart one on it (src/chaos/ports.ts says why).
 */
export function freePort(): Promise<number> {
  return restartablePort();
}

/**
 * Starts a throwaway redis-server (no persistence unless `aofDir`) on a free loopback port (fixed ports
 * would collide when two runs of the suite overlap) and resolves once it logs that it
 * accepts connections. Stop it in an `after` hook.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisServerOn(await freePort(), opts);
    } catch (err) {
      // Someone took the port between the probe and the bind: pick another.
      if (attempt >= 3 || !/Address already in use/.test(String(err))) throw err;
    }
  }
}

export interface RedisServerOptions {
  /** Persist every write to an AOF in this folder (appendfsync always), so a restart on it keeps them. */
  aofDir?: string;
}

/** A throwaway redis-server on this port (a test that started a client against the port first). */
export function startRedisServerOn(port: number, opts: RedisServerOptions = {}): Promise<RedisServer> {
  const persistence = opts.aofDir
    ? ['--dir', opts.aofDir, '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise<RedisServer>((resolve, reject) => {
    let log = '';
    child.once('error', (err) => reject(new Error(`could not start redis-server on port ${port}: ${err.message}`)));
    void exited.then(() => reject(new Error(`redis-server on port ${port} exited before it was ready:\n${log}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) resolve({ url: `redis://127.0.0.1:${port}`, port, stop });
    });
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  });
}
