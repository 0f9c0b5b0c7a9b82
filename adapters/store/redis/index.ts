/**
 * The Redis Store: the same answers as the memory store (one contract suite runs on
 * both), with every multi-step operation one Lua script and locks from Redlock. The
 * pieces live beside it, one concern per file; the key layout is in ./keys.ts.
 */
import type { Redis } from 'ioredis';
import { systemClock, type Clock } from '../../../src/clock.ts';
import { StoreUnavailableError } from '../../../src/errors.ts';
import type { Store } from '../../../src/ports/store.ts';
import * as catalogue from './catalogue.ts';
import {
  call,
  closeClient,
  connect,
  endpointOf,
  lockOptions,
  mainOptions,
  open,
  subscriberOptions,
} from './connection.ts';
import type { Ctx } from './context.ts';
import * as effects from './effects.ts';
import { keysFor } from './keys.ts';
import { RedisLocks, type LockOptions } from './locks.ts';
import * as orders from './orders.ts';
import { retainEffects } from './retention.ts';
import { defineScripts } from './scripts.ts';
import { Watchers } from './watchers.ts';

export interface RedisStoreOptions {
  /** REDIS_URL: counters, effect records, sagas, the deadline index, pub/sub. */
  url: string;
  /** REDLOCK_URLS: independent masters Redlock votes over; default [url]. */
  redlockUrls?: string[];
  /** KEY_PREFIX: prepended to every key, the deadline index and the channels included. */
  keyPrefix?: string;
  /** Default systemClock; every script gets `now` from it, so expiry follows this clock. */
  clock?: Clock;
  /** How long a finished order (row, view, idempotency key) stays readable. */
  orderRetentionMs: number;
  /** How long an effect record or tombstone lives after its order's terminal commit; default 2 × orderRetentionMs. */
  effectRetentionMs?: number;
  lock?: LockOptions;
}

function retention(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  return value;
}

/** Connects (StoreUnavailableError if Redis, or a quorum of the lock servers, doesn't answer). */
export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  const orderRetentionMs = retention(opts.orderRetentionMs, 'orderRetentionMs');
  // Effect records must outlive order records: a redelivered command for an order that
  // is still known must find its record, or it would act twice (rule `idempotent-effects`).
  const effectRetentionMs = retention(opts.effectRetentionMs ?? 2 * orderRetentionMs, 'effectRetentionMs');
  const keys = keysFor(opts.keyPrefix ?? '');
  const redlockUrls = opts.redlockUrls?.length ? opts.redlockUrls : [opts.url];

  const client = await connect(opts.url, mainOptions);
  const lockClients = await connectLockServers(redlockUrls).catch(async (err: unknown) => {
    await closeClient(client);
    throw err;
  });
  const ctx: Ctx = {
    client,
    scripts: defineScripts(client),
    keys,
    clock: opts.clock ?? systemClock,
    orderRetentionMs,
    effectRetentionMs,
  };
  const locks = new RedisLocks(lockClients, keys, opts.lock);
  await locks.prepare();
  const watchers = new Watchers(() => connect(opts.url, subscriberOptions), keys.views);
  let closing: Promise<void> | undefined;
  /** After close() every call fails at once (a closed ioredis client would queue it until its timeout). */
  const ifOpen = <R>(run: () => Promise<R>): Promise<R> =>
    closing === undefined ? run() : Promise.reject(new StoreUnavailableError('store is closed'));

  return {
    putProduct: (product) => ifOpen(() => catalogue.putProduct(ctx, product)),
    getProducts: (productIds) => ifOpen(() => catalogue.getProducts(ctx, productIds)),
    putUser: (user) => ifOpen(() => catalogue.putUser(ctx, user)),
    getUser: (userId) => ifOpen(() => catalogue.getUser(ctx, userId)),
    seed: (products, users) => ifOpen(() => catalogue.seed(ctx, products, users)),

    reserve: (orderId, items) => ifOpen(() => effects.reserve(ctx, orderId, items)),
    release: (orderId, items) => ifOpen(() => effects.release(ctx, orderId, items)),
    charge: (orderId, userId, amount) => ifOpen(() => effects.charge(ctx, orderId, userId, amount)),
    refund: (orderId, userId) => ifOpen(() => effects.refund(ctx, orderId, userId)),
    reserveChecked: (check) => ifOpen(() => effects.reserveChecked(ctx, check)),
    chargeChecked: (check) => ifOpen(() => effects.chargeChecked(ctx, check)),
    withLocks: (resources, fn) => ifOpen(() => locks.run(resources, fn)),

    createOrder: (order) => ifOpen(() => orders.createOrder(ctx, order)),
    getOrder: (orderId) => ifOpen(() => orders.getOrder(ctx, orderId)),
    idempotencyClaim: (key) => ifOpen(() => orders.idempotencyClaim(ctx, key)),
    loadSaga: (orderId) => ifOpen(() => orders.loadSaga(ctx, orderId)),
    commitSaga: (orderId, expectedVersion, write) =>
      ifOpen(() => orders.commitSaga(ctx, orderId, expectedVersion, write)),
    statusCounts: () => ifOpen(() => orders.statusCounts(ctx)),
    markOutboxSent: (orderId, version) => ifOpen(() => orders.markOutboxSent(ctx, orderId, version)),
    claimDue: (now, limit, leaseMs) => ifOpen(() => orders.claimDue(ctx, now, limit, leaseMs)),
    retainEffects: (now, limit, leaseMs) => ifOpen(() => retainEffects(ctx, now, limit, leaseMs)),
    watch: (orderId, listener) => ifOpen(() => watchers.add(orderId, listener)),

    ping: () => ifOpen(async () => void (await call(client.ping()))),
    close() {
      closing ??= (async () => {
        watchers.close();
        locks.close();
        const sub = await watchers.opened();
        await Promise.all([client, ...lockClients, ...(sub ? [sub] : [])].map(closeClient));
      })();
      return closing;
    },
  };
}

/**
 * One connection per lock server, all of them handed to Redlock so its quorum is always
 * counted over REDLOCK_URLS. A minority may be down at start (they keep reconnecting);
 * fewer than a quorum answering is StoreUnavailableError.
 */
async function connectLockServers(urls: readonly string[]): Promise<Redis[]> {
  const clients = urls.map((url) => open(url, lockOptions));
  const answered = await Promise.all(
    clients.map((c) =>
      c.connect().then(
        () => true,
        () => false,
      ),
    ),
  );
  const quorum = Math.floor(urls.length / 2) + 1;
  const up = answered.filter(Boolean).length;
  if (up >= quorum) return clients;
  await Promise.all(clients.map(closeClient));
  const down = urls.filter((_, i) => !answered[i]).map(endpointOf);
  throw new StoreUnavailableError(`only ${up} of ${urls.length} lock servers answered (down: ${down.join(', ')})`);
}
