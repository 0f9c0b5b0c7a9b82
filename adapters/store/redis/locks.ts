/**
 * withLocks: Redlock over REDLOCK_URLS (one connection per independent master), with an
 * in-process FIFO queue per resource in front of it. The queue means that, in one
 * process, a hot resource is handed from holder to holder instead of being raced for by
 * every waiter with retries (measured: 100 lockers on 10 hot keys failed outright
 * without it; with it none failed and throughput doubled), so Redlock only arbitrates
 * between processes. Names are deduped and sorted, locked in one Redlock acquire (all
 * or nothing on each master) after the local queues in the same order.
 * A lost race or no quorum -> LockNotAcquiredError; fewer than a quorum of masters
 * connected -> StoreUnavailableError. Both are retriable. The scripts still check every
 * counter, so a lock that expires under a long pause cannot oversell (rule
 * `scripts-guarantee`, docs/architecture.md).
 * A release that fails (a master away) is tried again every RELEASE_RETRY_MS until it
 * lands or the lock has expired: with AOF a restarted Redis comes back with every lock held
 * when it died, and the hot products would otherwise stay locked for the rest of the TTL.
 */
import { randomFillSync } from 'node:crypto';
import type { Redis } from 'ioredis';
import Redlock, { ExecutionError, type Lock, type Settings } from 'redlock';
import { LockNotAcquiredError, StoreUnavailableError } from '../../../src/errors.ts';
import { LockTable } from '../memory/locks.ts';
import type { Keys } from './keys.ts';

export interface LockOptions {
  /** How long a lock lives if its holder never releases it. */
  ttlMs?: number;
  /** Redlock attempts after the first; contention between processes only. */
  retryCount?: number;
  retryDelayMs?: number;
}

export const LOCK_DEFAULTS = { ttlMs: 10_000, retryCount: 100, retryDelayMs: 10 } as const;

/** How often releases that failed are tried again. */
export const RELEASE_RETRY_MS = 200;

/** Random bytes drawn at once for lock values: 256 locks' worth. */
const POOL_BYTES = 4096;
const VALUE_BYTES = 16;

/**
 * Redlock with each lock's value drawn from a pool of random bytes. Redlock draws 16 bytes
 * with crypto.randomBytes for every lock, one call into OpenSSL each (about 10 µs: 1-2% of
 * the process under load, two locks an order); this fills 4 KiB at a time from the same
 * source, so a value is as random and as unguessable as before. Redlock keeps the value in
 * the Lock and compares it on release and extend, nothing else. test/integration/redis-store.test.ts
 * fails if a Redlock upgrade stops drawing values through `_random`.
 */
export class PooledRandomRedlock extends Redlock {
  private readonly pool = Buffer.alloc(POOL_BYTES);
  private next = POOL_BYTES;
  private draws = 0;

  /** How many values were drawn from the pool (for the test that pins the override). */
  get drawn(): number {
    return this.draws;
  }

  protected override _random(): string {
    if (this.next + VALUE_BYTES > POOL_BYTES) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    this.draws++;
    this.next += VALUE_BYTES;
    return this.pool.toString('hex', this.next - VALUE_BYTES, this.next);
  }
}

export class RedisLocks {
  /** The same FIFO mutex per name that the memory store uses as its whole lock. */
  private readonly local = new LockTable();
  private readonly redlock: PooledRandomRedlock;
  private readonly ttlMs: number;
  private readonly settings: Partial<Settings>;
  private readonly quorum: number;
  /** Locks whose release failed, with when they expire (Redlock zeroes `lock.expiration` on release). */
  private readonly unreleased = new Map<Lock, number>();
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly clients: readonly Redis[],
    private readonly keys: Keys,
    opts: LockOptions = {},
  ) {
    this.ttlMs = Math.ceil(opts.ttlMs ?? LOCK_DEFAULTS.ttlMs);
    const retryDelay = opts.retryDelayMs ?? LOCK_DEFAULTS.retryDelayMs;
    this.settings = { retryCount: opts.retryCount ?? LOCK_DEFAULTS.retryCount, retryDelay, retryJitter: retryDelay };
    this.redlock = new PooledRandomRedlock(clients, { ...this.settings, automaticExtensionThreshold: 0 });
    this.quorum = Math.floor(clients.length / 2) + 1;
  }

  /**
   * Loads Redlock's scripts on every master once, so the first acquire and release of a
   * connection are not an EVAL racing each other (a release falling back to EVAL could
   * otherwise land after the next holder's acquire).
   */
  async prepare(): Promise<void> {
    const { acquireScript, extendScript, releaseScript } = this.redlock.scripts;
    await Promise.allSettled(
      this.clients.map((c) =>
        Promise.all([acquireScript, extendScript, releaseScript].map((s) => c.script('LOAD', s.value))),
      ),
    );
  }

  async run<T>(resources: readonly string[], fn: () => Promise<T>): Promise<T> {
    const names = [...new Set(resources)].sort();
    if (names.length === 0) return fn();
    let released: Promise<unknown> = Promise.resolve();
    try {
      return await this.local.run(names, async () => {
        const lock = await this.acquire(names);
        try {
          return await fn();
        } finally {
          // The next local holder need not wait for the release: it is already written to
          // every master's connection, ahead of whatever that holder sends. The caller
          // does wait, so another process finds the lock free once withLocks returns.
          const expiresAt = lock.expiration;
          released = this.redlock.release(lock).catch(() => this.releaseLater(lock, expiresAt));
        }
      });
    } finally {
      await released;
    }
  }

  /** Stops retrying releases (the connections are closing; the locks expire by themselves). */
  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.unreleased.clear();
  }

  private releaseLater(lock: Lock, expiresAt: number): void {
    if (expiresAt > Date.now()) this.unreleased.set(lock, expiresAt);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.unreleased.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.retryReleases();
    }, RELEASE_RETRY_MS);
    this.retryTimer.unref();
  }

  private async retryReleases(): Promise<void> {
    await Promise.all(
      [...this.unreleased].map(async ([lock, expiresAt]) => {
        // Redlock's own clock: the expiry it computed at acquire, in Date.now() terms.
        if (expiresAt <= Date.now()) return void this.unreleased.delete(lock);
        if (this.connected() < this.quorum) return;
        try {
          await this.redlock.release(lock, { retryCount: 0 });
          this.unreleased.delete(lock);
        } catch {
          // Still away, or the lock already expired on a master: try again next round.
        }
      }),
    );
    this.scheduleRetry();
  }

  private connected(): number {
    return this.clients.filter((c) => c.status === 'ready').length;
  }

  private async acquire(names: string[]): Promise<Lock> {
    if (this.connected() < this.quorum) {
      throw new StoreUnavailableError(`fewer than ${this.quorum} of ${this.clients.length} lock servers are connected`);
    }
    try {
      return await this.redlock.acquire(
        names.map((n) => this.keys.lock(n)),
        this.ttlMs,
        this.settings,
      );
    } catch (err) {
      if (this.connected() < this.quorum) {
        throw new StoreUnavailableError(
          `fewer than ${this.quorum} of ${this.clients.length} lock servers are connected`,
          err,
        );
      }
      if (err instanceof ExecutionError) throw new LockNotAcquiredError(names, err);
      throw err;
    }
  }
}
