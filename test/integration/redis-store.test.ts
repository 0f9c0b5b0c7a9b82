/**
 * The Redis store against a real Redis: the shared Store contract, then what only Redis
 * has (exact numbers near 2^53-1 in Lua, key prefixes, real expiry backing the data-level
 * one, Redlock over three masters, failing fast when Redis is away), and a seeded
 * differential run against the memory store.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { createMemoryStore } from '../../adapters/store/memory.ts';
import { createRedisStore, type RedisStoreOptions } from '../../adapters/store/redis.ts';
import { closeClient, lockOptions, mainOptions, open as openClient } from '../../adapters/store/redis/connection.ts';
import { PooledRandomRedlock } from '../../adapters/store/redis/locks.ts';
import { ManualClock } from '../../src/clock.ts';
import { LockNotAcquiredError, StoreUnavailableError } from '../../src/errors.ts';
import type { NewOrder, Store } from '../../src/ports/store.ts';
import { MAX_AMOUNT } from '../../src/schemas.ts';
import { storeContract } from '../contract/store.contract.ts';
import {
  deleteKeys,
  keysUnder,
  rawClient,
  REDIS_URL,
  redisSkipReason,
  scanKeys,
  startRedisServer,
  startRedisServerOn,
  uniquePrefix,
  type RedisServer,
} from '../helpers/redis.ts';
import { deferred, Recorder, withTimeout } from '../helpers/wait.ts';
import { everyStoreMethod, orderView } from '../helpers/store-fixtures.ts';

const RETENTION_MS = 60_000;
const skip = await redisSkipReason();

/** A store on its own prefix and a clock at the real time, and its cleanup. */
async function open(opts: Partial<RedisStoreOptions> = {}, clock = new ManualClock(Date.now())) {
  const keyPrefix = opts.keyPrefix ?? uniquePrefix('redis');
  const store = await createRedisStore({ url: REDIS_URL, keyPrefix, clock, orderRetentionMs: RETENTION_MS, ...opts });
  return {
    store,
    clock,
    keyPrefix,
    async cleanup() {
      await store.close();
      await deleteKeys(keyPrefix);
    },
  };
}

const view = orderView;

const newOrder = (orderId: string, wakeAt: number, key?: string): NewOrder => ({
  orderId,
  view: view(orderId),
  snapshot: { v: 1, value: 'PENDING' },
  wakeAt,
  ...(key === undefined ? {} : { idempotency: { key, bodyHash: 'h' } }),
});

const finish = (store: Store, orderId: string, version = 1) =>
  store.commitSaga(orderId, version, {
    snapshot: {},
    outbox: [],
    view: view(orderId, 'COMPLETED'),
    wakeAt: null,
    terminal: true,
  });

const isUnavailable = (err: unknown): boolean => {
  assert.ok(err instanceof StoreUnavailableError, `expected StoreUnavailableError, got ${String(err)}`);
  assert.equal(err.code, 'STORE_UNAVAILABLE');
  assert.equal(err.retriable, true);
  return true;
};

if (skip !== undefined) {
  it('Redis store integration', { skip }, () => {});
} else {
  storeContract('redis', async (clock, opts) => {
    clock.set(Date.now()); // the real PEXPIRE safety net follows real time
    const { store, cleanup } = await open(opts, clock);
    return { store, cleanup };
  });

  describe('redis store', { timeout: 60_000 }, () => {
    let redis: Redis;
    const opened: { cleanup(): Promise<void> }[] = [];
    const fresh = async (opts: Partial<RedisStoreOptions> = {}) => {
      const s = await open(opts);
      opened.push(s);
      return s;
    };
    before(async () => {
      redis = rawClient();
      await redis.connect();
    });
    after(async () => {
      await Promise.all(opened.map((s) => s.cleanup()));
      redis.disconnect();
    });

    it('keeps counters near 2^53-1 exact through every script', async () => {
      const { store, keyPrefix } = await fresh();
      const id = randomUUID().slice(0, 8);
      await store.putUser({ userId: `u-${id}`, balance: MAX_AMOUNT });
      assert.deepEqual(await store.charge(`o1-${id}`, `u-${id}`, 1), { ok: true });
      assert.equal((await store.getUser(`u-${id}`))?.balance, 9007199254740990);
      assert.equal(await redis.hget(`${keyPrefix}{u:u-${id}}`, 'balance'), '9007199254740990');
      assert.deepEqual(await store.charge(`o2-${id}`, `u-${id}`, MAX_AMOUNT - 1), { ok: true });
      assert.equal((await store.getUser(`u-${id}`))?.balance, 0);
      assert.deepEqual(await store.refund(`o2-${id}`, `u-${id}`), { undone: true });
      assert.equal((await store.getUser(`u-${id}`))?.balance, MAX_AMOUNT - 1);
      assert.deepEqual(await store.refund(`o1-${id}`, `u-${id}`), { undone: true });
      assert.equal(await redis.hget(`${keyPrefix}{u:u-${id}}`, 'balance'), '9007199254740991');

      await store.putProduct({ productId: `p-${id}`, stock: MAX_AMOUNT, price: MAX_AMOUNT });
      assert.deepEqual(await store.reserve(`o3-${id}`, [{ productId: `p-${id}`, quantity: 3 }]), { ok: true });
      assert.equal(await redis.hget(`${keyPrefix}{p:p-${id}}`, 'stock'), '9007199254740988');
      assert.deepEqual(await store.getProducts([`p-${id}`]), [
        { productId: `p-${id}`, stock: MAX_AMOUNT - 3, price: MAX_AMOUNT },
      ]);
      // A total past 2^53-1 is compared, never subtracted, and refused as the memory store does.
      const huge = await store.reserve(`o4-${id}`, [
        { productId: `p-${id}`, quantity: MAX_AMOUNT },
        { productId: `p-${id}`, quantity: MAX_AMOUNT },
      ]);
      assert.deepEqual(huge, {
        ok: false,
        code: 'OUT_OF_STOCK',
        message: `product p-${id} has 9007199254740988 in stock, ${2 * MAX_AMOUNT} asked`,
      });
      assert.equal(await redis.hget(`${keyPrefix}{p:p-${id}}`, 'stock'), '9007199254740988');
    });

    it('rejects out-of-range counters and quantities before calling Redis', async () => {
      const { store } = await fresh();
      await assert.rejects(store.putProduct({ productId: 'p', stock: MAX_AMOUNT + 1, price: 0 }), RangeError);
      await assert.rejects(store.putUser({ userId: 'u', balance: -1 }), RangeError);
      await assert.rejects(store.seed([{ productId: 'p', stock: 1, price: 0.5 }], []), RangeError);
      await assert.rejects(store.reserve('o', [{ productId: 'p', quantity: 0 }]), RangeError);
      assert.deepEqual(await store.getProducts(['p']), [null]);
    });

    it('puts every key and channel under its prefix, and two prefixes never meet', async () => {
      const a = await fresh();
      const b = await fresh();
      const id = randomUUID().slice(0, 8);
      const p = `p-${id}`;
      const u = `u-${id}`;
      const o = `o-${id}`;
      for (const { store } of [a, b]) {
        await store.putProduct({ productId: p, stock: 5, price: 1 });
        await store.putUser({ userId: u, balance: 5 });
        await store.createOrder(newOrder(o, 0, `k-${id}`));
      }
      await a.store.withLocks([`p:${p}`], async () => {
        await a.store.reserve(o, [{ productId: p, quantity: 2 }]);
        await a.store.charge(o, u, 2);
      });
      await a.store.release(`never-${id}`, [{ productId: p, quantity: 1 }]);
      await a.store.refund(`never-${id}`, u);
      const unwatch = await a.store.watch(o, () => {});
      const channels = await redis.pubsub('CHANNELS', `${a.keyPrefix}*`);
      assert.deepEqual(channels, [`${a.keyPrefix}views`]);
      unwatch();
      assert.equal(await finish(a.store, o), true);
      assert.deepEqual(await a.store.claimDue(Date.now(), 10, 1000), []);

      // b saw none of it.
      assert.deepEqual(await b.store.getProducts([p]), [{ productId: p, stock: 5, price: 1 }]);
      assert.equal((await b.store.getUser(u))?.balance, 5);
      assert.equal((await b.store.getOrder(o))?.status, 'PENDING');
      assert.deepEqual(await b.store.claimDue(Date.now(), 10, 1000), [o]);
      assert.deepEqual(await b.store.reserve(o, [{ productId: p, quantity: 5 }]), { ok: true });
      assert.equal((await b.store.statusCounts()).COMPLETED, 0);
      assert.equal((await a.store.statusCounts()).COMPLETED, 1);

      const mine = await scanKeys(redis, `*${id}*`);
      assert.ok(mine.length >= 10, `found ${mine.join(', ')}`);
      for (const k of mine) assert.ok(k.startsWith(a.keyPrefix) || k.startsWith(b.keyPrefix), k);
      const aKeys = (await keysUnder(redis, a.keyPrefix)).map((k) => k.slice(a.keyPrefix.length)).sort();
      for (const k of [
        `{p:${p}}`,
        `{u:${u}}`,
        `{p:${p}}:res:${o}`,
        `{u:${u}}:pay:${o}`,
        `{o:${o}}`,
        `idem:k-${id}`,
        'counts',
      ]) {
        assert.ok(aKeys.includes(k), `${k} in ${aKeys.join(', ')}`);
      }
    });

    it('backs data-level expiry with a real PEXPIRE, and frees an expired order, its key and entry on access', async () => {
      const { store, clock, keyPrefix } = await fresh();
      const t = clock.now();
      await store.putProduct({ productId: 'p', stock: 5, price: 1 });
      await store.reserve('o1', [{ productId: 'p', quantity: 1 }]);
      assert.equal(await redis.pttl(`${keyPrefix}{p:p}:res:o1`), -1, 'an effect of an order in flight never expires');

      await store.createOrder(newOrder('o1', t + 10, 'k1'));
      await store.commitSaga('o1', 1, {
        snapshot: {},
        outbox: [],
        view: view('o1', 'RESERVING'),
        wakeAt: t + 10,
        terminal: false,
      });
      assert.equal(await redis.pttl(`${keyPrefix}{o:o1}`), -1, 'an unfinished order never expires');
      assert.equal(await redis.pttl(`${keyPrefix}idem:k1`), -1);
      assert.equal(await finish(store, 'o1', 2), true);
      const rowTtl = await redis.pttl(`${keyPrefix}{o:o1}`);
      assert.ok(rowTtl > RETENTION_MS && rowTtl <= RETENTION_MS + 60_000, `row PTTL ${rowTtl}`);
      assert.ok((await redis.pttl(`${keyPrefix}idem:k1`)) > RETENTION_MS);
      assert.equal(await redis.zscore(`${keyPrefix}deadlines`, 'o1'), null, 'a terminal order has no index entry');
      assert.equal(await redis.pttl(`${keyPrefix}{p:p}:res:o1`), -1, 'not retained yet');
      assert.equal(await store.retainEffects(clock.now(), 10, 1_000), 1);
      const effectTtl = await redis.pttl(`${keyPrefix}{p:p}:res:o1`);
      assert.ok(
        effectTtl > 2 * RETENTION_MS && effectTtl <= 2 * RETENTION_MS + 60_000,
        `effect record PTTL ${effectTtl}`,
      );
      assert.equal(await redis.zcard(`${keyPrefix}retention`), 0, 'the entry goes once its records are retained');

      clock.advance(RETENTION_MS);
      assert.equal(await store.getOrder('o1'), null);
      assert.equal(await redis.exists(`${keyPrefix}{o:o1}`, `${keyPrefix}idem:k1`), 0);
      clock.advance(RETENTION_MS);
      assert.deepEqual(await store.reserve('o1', [{ productId: 'p', quantity: 1 }]), { ok: true });
      assert.equal(
        (await store.getProducts(['p']))[0]?.stock,
        3,
        'the expired record is gone, so the orderId reserves afresh',
      );
    });

    it('takes a retention entry again when the one that leased it died, and retains idempotently', async () => {
      const { store, clock, keyPrefix } = await fresh();
      const t = clock.now();
      const retention = `${keyPrefix}retention`;
      await store.putUser({ userId: 'u', balance: 5 });
      await store.createOrder(newOrder('o1', t));
      await store.charge('o1', 'u', 2);
      assert.equal(await finish(store, 'o1'), true);
      const [entry] = await redis.zrange(retention, '0', '-1');
      assert.ok(entry !== undefined);
      assert.deepEqual(JSON.parse(entry), ['o1', t, 'u', ['p']]);
      await redis.zadd(retention, t + 500, entry); // leased by a caller that died before retaining
      assert.equal(await store.retainEffects(t, 10, 500), 0);
      assert.equal(await redis.pttl(`${keyPrefix}{u:u}:pay:o1`), -1);
      assert.equal(await store.retainEffects(t + 500, 10, 500), 1);
      assert.equal(await redis.hget(`${keyPrefix}{u:u}:pay:o1`, 'expireAt'), String(t + 2 * RETENTION_MS));
      // Died after retaining, before removing the entry: doing it again changes nothing.
      await redis.zadd(retention, t, entry);
      clock.advance(1_000);
      assert.equal(await store.retainEffects(clock.now(), 10, 500), 1);
      assert.equal(await redis.hget(`${keyPrefix}{u:u}:pay:o1`, 'expireAt'), String(t + 2 * RETENTION_MS));
      assert.equal(await redis.zcard(retention), 0);
    });

    it('skips and drops index entries whose order row is gone, and never removes a claimed one', async () => {
      const { store, clock, keyPrefix } = await fresh();
      const t = clock.now();
      for (const o of ['a', 'b', 'c']) await store.createOrder(newOrder(o, t));
      await redis.del(`${keyPrefix}{o:b}`);
      assert.deepEqual(await store.claimDue(t, 2, 500), ['a', 'c']);
      assert.equal(await redis.zscore(`${keyPrefix}deadlines`, 'b'), null);
      assert.equal(await redis.zscore(`${keyPrefix}deadlines`, 'a'), String(t + 500));
      assert.deepEqual(await store.claimDue(t + 500, 10, 0), ['a', 'c']);
      assert.deepEqual(await store.claimDue(t + 500, 10, 0), ['a', 'c']);
    });

    it("serves every watched order from one subscription, each view to its own order's watchers", async () => {
      const { store, keyPrefix } = await fresh();
      const orders = Array.from({ length: 50 }, (_, i) => `w${i}`);
      for (const o of orders) await store.createOrder(newOrder(o, 0));
      const seen = new Map<string, string[]>();
      const unwatch = await Promise.all(
        orders.map((o) => store.watch(o, (view) => seen.set(o, [...(seen.get(o) ?? []), view.orderId]))),
      );
      const subscriptions = async () => (await redis.pubsub('CHANNELS', `${keyPrefix}*`)) as string[];
      assert.deepEqual(await subscriptions(), [`${keyPrefix}views`], 'one channel for 50 watched orders');
      assert.equal((await redis.pubsub('NUMSUB', `${keyPrefix}views`))[1], 1, 'one subscription');
      const finished = new Recorder<string>();
      const last = await store.watch('w7', () => finished.push('w7'));
      assert.equal(await finish(store, 'w7'), true);
      await finished.count(1, 'w7 committed');
      assert.deepEqual([...seen.keys()], ['w7'], 'only w7 changed');
      assert.ok(seen.get('w7')!.every((id) => id === 'w7'));
      for (const u of [...unwatch, last]) u();
    });

    it('answers as the memory store does over a seeded run of effects and orders', async () => {
      const { store: redisStore, clock } = await fresh({ effectRetentionMs: 5_000 });
      const memory = createMemoryStore({ clock, orderRetentionMs: RETENTION_MS, effectRetentionMs: 5_000 });
      let seed = 7;
      const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
      const amounts = [0, 1, 2, 5, 10, MAX_AMOUNT - 1, MAX_AMOUNT, MAX_AMOUNT + 1, -1, 1.5];
      const products = ['p0', 'p1', 'p2'];
      const users = ['u0', 'u1'];
      // An order always names the same lines and user (release and refund find the
      // records through them); order 10 has an unknown user, order 11 an unknown product.
      const orderOf = (k: number) => ({
        o: `o${k}`,
        u: k === 10 ? 'ghost' : users[k % 2]!,
        items: [
          { productId: k === 11 ? 'px' : products[k % 3]!, quantity: 1 + (k % 4) },
          ...(k % 2 ? [{ productId: products[(k + 1) % 3]!, quantity: 1 }] : []),
        ],
      });
      const steps: string[] = [];
      for (let step = 0; step < 400; step++) {
        const { o, u, items } = orderOf(rand(12));
        const ops: [string, (s: Store) => Promise<unknown>][] = [
          ['putProduct', (s) => s.putProduct({ productId: products[rand(3)]!, stock: rand(6), price: 1 })],
          ['putUser', (s) => s.putUser({ userId: users[rand(2)]!, balance: [0, 3, 10, MAX_AMOUNT][rand(4)]! })],
          ['reserve', (s) => s.reserve(o, items)],
          ['release', (s) => s.release(o, items)],
          ['charge', (s) => s.charge(o, u, amounts[rand(amounts.length)]!)],
          ['refund', (s) => s.refund(o, u)],
          ['advance', async () => clock.advance(rand(2_000))],
        ];
        const [name, op] = ops[rand(ops.length)]!;
        // Both stores get the same draw: replay the generator state for the second one.
        const saved = seed;
        const got = await op(redisStore);
        const drawn = seed;
        seed = saved;
        const want = name === 'advance' ? got : await op(memory);
        seed = drawn;
        steps.push(`${name} ${o} ${u} ${JSON.stringify(items)}`);
        assert.deepEqual(got, want, `step ${step}: ${steps.slice(-5).join(' | ')}`);
        if (name === 'advance') continue;
        assert.deepEqual(await redisStore.getProducts(products), await memory.getProducts(products), `step ${step}`);
        for (const user of users)
          assert.deepEqual(await redisStore.getUser(user), await memory.getUser(user), `step ${step}`);
      }
    });

    it("writes a turn's commands while an earlier auto-pipeline is still unanswered, and answers each its own", async () => {
      const client = openClient(REDIS_URL, mainOptions);
      try {
        await client.connect();
        const writes: string[] = [];
        const stream = (client as unknown as { stream: { write: (chunk: unknown, ...rest: unknown[]) => boolean } })
          .stream;
        const write = stream.write.bind(stream);
        stream.write = (chunk: unknown, ...rest: unknown[]) => {
          writes.push(String(chunk));
          return write(chunk, ...rest);
        };
        const turn = () => new Promise((resolve) => setImmediate(resolve));
        // Keeps the server busy for ~500 ms: the first pipeline stays unanswered meanwhile.
        const busy = client.eval(
          'local t = redis.call("TIME") local e = t[1] * 1e6 + t[2] + 500000 while true do t = redis.call("TIME") if t[1] * 1e6 + t[2] >= e then break end end return "slow"',
          0,
        );
        let busyDone = false;
        void busy.then(() => (busyDone = true));
        await turn();
        await turn();
        const quick = client.echo('second pipeline');
        await turn();
        await turn();
        assert.equal(busyDone, false, 'the first pipeline is still unanswered');
        assert.ok(
          writes.some((w) => w.includes('second pipeline')),
          'the second pipeline was written without waiting for the first one',
        );
        assert.deepEqual(await Promise.all([busy, quick]), ['slow', 'second pipeline']);
      } finally {
        await closeClient(client);
      }
    });

    it("draws each lock's value from the pool: what Redis holds, unique over pool refills", async () => {
      const client = openClient(REDIS_URL, lockOptions);
      const prefix = uniquePrefix('pooled');
      try {
        await client.connect();
        const redlock = new PooledRandomRedlock([client], { retryCount: 0 });
        const values = new Set<string>();
        // Past 256 values a lock, the pool is filled again.
        for (let i = 0; i < 600; i++) {
          const lock = await redlock.acquire([`${prefix}lock:${i}`], 10_000);
          assert.match(lock.value, /^[0-9a-f]{32}$/);
          assert.equal(await client.get(`${prefix}lock:${i}`), lock.value, 'Redis holds the drawn value');
          values.add(lock.value);
          await redlock.release(lock);
        }
        assert.equal(redlock.drawn, 600, 'Redlock drew every value through _random');
        assert.equal(values.size, 600);
      } finally {
        await deleteKeys(prefix);
        await closeClient(client);
      }
    });

    it('fails fast with StoreUnavailableError when pointed at a closed port', async () => {
      await assert.rejects(createRedisStore({ url: 'redis://127.0.0.1:1', orderRetentionMs: 1 }), isUnavailable);
      await assert.rejects(
        createRedisStore({ url: REDIS_URL, redlockUrls: ['redis://127.0.0.1:1'], orderRetentionMs: 1 }),
        isUnavailable,
      );
    });
  });

  describe('redis store when its Redis goes away', { timeout: 30_000 }, () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedisServer();
    });
    after(() => server.stop());

    it('rejects every method with StoreUnavailableError, and close() still works twice', async () => {
      const store = await createRedisStore({
        url: server.url,
        keyPrefix: uniquePrefix(),
        clock: new ManualClock(Date.now()),
        orderRetentionMs: 1_000,
      });
      await store.createOrder(newOrder('o1', 0));
      await store.ping();
      await server.stop();
      let lockedFnRan = false;
      const calls = everyStoreMethod(store, {
        newOrder: newOrder('o2', 0),
        finish: () => finish(store, 'o1'),
        close: async () => {
          throw new StoreUnavailableError('close is checked below');
        },
        onLocked: () => (lockedFnRan = true),
      });
      const results = await Promise.allSettled(Object.values(calls).map((c) => c()));
      for (const [i, r] of results.entries()) {
        assert.equal(r.status, 'rejected', Object.keys(calls)[i]);
        if (r.status === 'rejected') isUnavailable(r.reason);
      }
      assert.equal(lockedFnRan, false);
      await store.close();
      await store.close();
      await assert.rejects(
        store.watch('o1', () => {}),
        isUnavailable,
      );
      await assert.rejects(store.getOrder('o1'), isUnavailable);
    });
  });

  describe('redis store locks when their Redis restarts with its AOF', { timeout: 30_000 }, () => {
    let aofDir: string;
    let server: RedisServer;
    before(async () => {
      aofDir = await mkdtemp(join(tmpdir(), 'redis-aof-'));
      server = await startRedisServer({ aofDir });
    });
    after(async () => {
      await server.stop();
      await rm(aofDir, { recursive: true, force: true });
    });

    it('releases a lock whose release failed once the server is back, long before its TTL', async () => {
      const prefix = uniquePrefix('aof');
      const open = (retryCount: number) =>
        createRedisStore({
          url: REDIS_URL,
          redlockUrls: [server.url],
          keyPrefix: prefix,
          orderRetentionMs: RETENTION_MS,
          lock: { ttlMs: 60_000, retryCount },
        });
      const holder = await open(100);
      let other: Store | null = null;
      try {
        // The holder's release happens while the server is down; the AOF brings the lock back.
        await holder.withLocks(['hot'], () => server.stop());
        server = await startRedisServerOn(server.port, { aofDir });
        const watcher = rawClient(server.url);
        await watcher.connect();
        await watcher.config('SET', 'notify-keyspace-events', 'Eg');
        const released = deferred();
        watcher.on('message', (_channel, key) => {
          if (key === `${prefix}lock:hot`) released.resolve();
        });
        await watcher.subscribe('__keyevent@0__:del');
        // The lock was written to the AOF, so it came back with the server unless released since.
        const lockKey = `${prefix}lock:hot`;
        assert.ok((await aofText(aofDir)).includes(lockKey), 'the lock is in the AOF');
        const probe = rawClient(server.url);
        await probe.connect();
        const stillLocked = (await probe.exists(lockKey)) === 1;
        probe.disconnect();
        if (stillLocked) await withTimeout(released.promise, 'the failed release to land once Redis is back', 10_000);
        watcher.disconnect();
        // Another process, without retries: it finds the lock free.
        other = await open(0);
        assert.equal(await other.withLocks(['hot'], async () => 'free'), 'free');
      } finally {
        await Promise.all([holder.close(), other?.close()]);
      }
    });
  });

  describe('redis store locks: Redlock over three masters', { timeout: 30_000 }, () => {
    const servers: RedisServer[] = [];
    const stores: Store[] = [];
    let prefix: string;
    const make = async (lock: RedisStoreOptions['lock'] = {}) => {
      const store = await createRedisStore({
        url: REDIS_URL,
        redlockUrls: servers.map((s) => s.url),
        keyPrefix: prefix,
        orderRetentionMs: RETENTION_MS,
        lock,
      });
      stores.push(store);
      return store;
    };
    before(async () => {
      prefix = uniquePrefix('lock');
      servers.push(...(await Promise.all([1, 2, 3].map(() => startRedisServer()))));
    });
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all(servers.map((s) => s.stop()));
      await deleteKeys(prefix);
    });

    it('serializes holders across stores, each with its own connections', async () => {
      const [a, b] = [await make(), await make()];
      let holders = 0;
      let worst = 0;
      const runs = Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).withLocks(['hot', `cold-${i}`], async () => {
          worst = Math.max(worst, ++holders);
          await new Promise<void>((resolve) => setImmediate(resolve));
          holders--;
          return i;
        }),
      );
      assert.deepEqual(
        await Promise.all(runs),
        Array.from({ length: 40 }, (_, i) => i),
      );
      assert.equal(worst, 1);
    });

    it('writes the lock on every master under the prefix, and refuses with LockNotAcquiredError while another store holds it', async () => {
      const holder = await make();
      const other = await make({ retryCount: 0 });
      const held = deferred();
      const release = deferred();
      const holding = holder.withLocks(['r1'], async () => {
        held.resolve();
        await release.promise;
      });
      // If the holder cannot lock at all, fail with its error rather than wait for ever.
      await withTimeout(Promise.race([held.promise, holding]), 'the holder to take r1');
      for (const s of servers) {
        const c = rawClient(s.url);
        await c.connect();
        assert.equal(await c.exists(`${prefix}lock:r1`), 1, `lock on ${s.url}`);
        c.disconnect();
      }
      await assert.rejects(
        other.withLocks(['r0', 'r1'], async () => assert.fail('ran without the lock')),
        (err: unknown) => {
          assert.ok(err instanceof LockNotAcquiredError, String(err));
          assert.equal(err.code, 'LOCK_NOT_ACQUIRED');
          assert.equal(err.retriable, true);
          return true;
        },
      );
      // The refused set took nothing: r0 is free.
      assert.equal(await other.withLocks(['r0'], async () => 'r0 free'), 'r0 free');
      release.resolve();
      await holding;
      assert.equal(await other.withLocks(['r1'], async () => 'now'), 'now');
    });

    it('keeps locking with one master down, and is StoreUnavailableError without a quorum', async () => {
      const store = await make();
      const seen = new Recorder<number>();
      await servers[2]!.stop();
      await store.withLocks(['q'], async () => seen.push(1));
      await servers[1]!.stop();
      await assert.rejects(
        store.withLocks(['q'], async () => seen.push(2)),
        isUnavailable,
      );
      assert.deepEqual(seen.items, [1]);
    });
  });
}

/** Everything the server appended, over its AOF files. */
async function aofText(dir: string): Promise<string> {
  const files = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    files
      .filter((f) => f.isFile() && f.name.includes('.aof'))
      .map((f) => readFile(join(f.parentPath ?? f.path, f.name), 'latin1')),
  );
  return texts.join('');
}
