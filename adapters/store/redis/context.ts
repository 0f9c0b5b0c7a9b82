/** What every part of the Redis store shares: the main connection, its scripts, the keys and time. */
import type { Redis } from 'ioredis';
import type { Clock } from '../../../src/clock.ts';
import type { Keys } from './keys.ts';
import type { Scripts } from './scripts.ts';

/**
 * The real PEXPIRE behind each data-level expiry is the retention plus this margin: the
 * `expireAt` field (read against the injected clock) decides what is visible, and Redis
 * frees the memory by itself a little later even if nobody reads the record again.
 */
export const EXPIRY_MARGIN_MS = 60_000;

export interface Ctx {
  readonly client: Redis;
  readonly scripts: Scripts;
  readonly keys: Keys;
  readonly clock: Clock;
  readonly orderRetentionMs: number;
  readonly effectRetentionMs: number;
}

export const ttlOf = (retentionMs: number): string => String(Math.ceil(retentionMs + EXPIRY_MARGIN_MS));
