import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryStore, type MemoryStore } from '../../adapters/store/memory.ts';
import { KeyedMinHeap } from '../../adapters/store/memory/keyed-heap.ts';
import { ManualClock } from '../../src/clock.ts';
import { StoreUnavailableError } from '../../src/errors.ts';
import type { NewOrder, Store } from '../../src/ports/store.ts';
import type { OrderStatus, OrderView } from '../../src/schemas.ts';
import { message, Topics } from '../../src/topics.ts';
import { storeContract } from '../contract/store.contract.ts';
import { everyStoreMethod, orderView } from '../helpers/store-fixtures.ts';

storeContract('memory', async (clock, opts) => {
  const store = createMemoryStore({ clock, ...opts });
  return { store, cleanup: () => store.close() };
});

const RETENTION_MS = 1_000;

const view = (orderId: string, status: OrderStatus = 'PENDING'): OrderView => orderView(orderId, status, 'u1', 'p1');

const newOrder = (orderId: string, wakeAt = 0, key?: string): NewOrder => ({
  orderId,
  view: view(orderId),
  snapshot: { v: 1, value: 'PENDING', context: { orderId, tags: ['a'] } },
  wakeAt,
  ...(key ? { idempotency: { key, bodyHash: 'h' } } : {}),
});

const finish = (store: Store, orderId: string, version = 1) =>
  store.commitSaga(orderId, version, {
    snapshot: { v: 1, value: 'COMPLETED' },
    outbox: [],
    view: view(orderId, 'COMPLETED'),
    wakeAt: null,
    terminal: true,
  });

function fresh(effectRetentionMs?: number): { store: MemoryStore; clock: ManualClock } {
  const clock = new ManualClock();
  const store = createMemoryStore({
    clock,
    orderRetentionMs: RETENTION_MS,
    ...(effectRetentionMs === undefined ? {} : { effectRetentionMs }),
  });
  return { store, clock };
}

/** Ordinary calls free expired records a batch at a time; a few suffice here. */
async function idle(store: Store, calls = 20): Promise<void> {
  for (let i = 0; i < calls; i++) await store.ping();
}

describe('memory store', () => {
  it('rejects every method with StoreUnavailableError while down, and writes nothing', async () => {
    const { store } = fresh();
    await store.putProduct({ productId: 'p1', stock: 5, price: 10 });
    await store.putUser({ userId: 'u1', balance: 100 });
    await store.createOrder(newOrder('o1', 0, 'k1'));
    const before = store.sizes();
    let lockedFnRan = false;

    store.setAvailable(false);
    const calls = everyStoreMethod(store, {
      newOrder: newOrder('o2', 0, 'k2'),
      finish: () => finish(store, 'o1'),
      close: () => store.close(),
      onLocked: () => (lockedFnRan = true),
    });
    for (const [name, call] of Object.entries(calls)) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof StoreUnavailableError, `${name} rejected with ${String(err)}`);
        assert.equal(err.code, 'STORE_UNAVAILABLE');
        assert.equal(err.retriable, true);
        return true;
      });
    }
    store.setAvailable(true);

    assert.equal(lockedFnRan, false);
    assert.deepEqual(store.sizes(), before);
    assert.deepEqual(await store.getProducts(['p1', 'p2']), [{ productId: 'p1', stock: 5, price: 10 }, null]);
    assert.deepEqual(await store.getUser('u1'), { userId: 'u1', balance: 100 });
    assert.equal(await store.getUser('u2'), null);
    assert.equal(await store.getOrder('o2'), null);
    assert.equal((await store.getOrder('o1'))?.status, 'PENDING');
    // No tombstones were left by the refused undos, and the refused effects took nothing.
    assert.deepEqual(await store.reserve('o8', [{ productId: 'p1', quantity: 1 }]), { ok: true });
    assert.deepEqual(await store.charge('o8', 'u1', 10), { ok: true });
    // The deadline entry was not leased while down.
    assert.deepEqual(await store.claimDue(0, 10, 1000), ['o1']);
  });

  it('frees finished orders, their keys and effect records after their retention', async () => {
    const { store, clock } = fresh();
    await store.putProduct({ productId: 'p1', stock: 1_000, price: 1 });
    await store.putUser({ userId: 'u1', balance: 1_000 });
    const n = 250;
    for (let i = 0; i < n; i++) {
      await store.createOrder(newOrder(`o${i}`, clock.now() + 100, `k${i}`));
      await store.reserve(`o${i}`, [{ productId: 'p1', quantity: 1 }]);
      await store.charge(`o${i}`, 'u1', 1);
      await finish(store, `o${i}`);
    }
    // A tombstone is an effect record too; no order of that id ever finishes, so its clock never starts.
    await store.release('never-finished', [{ productId: 'p', quantity: 1 }]);
    const held = {
      orders: n,
      effects: 2 * n + 1,
      idempotencyKeys: n,
      indexEntries: 0,
      retentionEntries: n,
      watchers: 0,
    };
    assert.deepEqual(store.sizes(), held);
    assert.equal(await store.retainEffects(clock.now(), 2 * n, 1_000), n);
    assert.deepEqual(store.sizes(), { ...held, retentionEntries: 0 });

    clock.advance(RETENTION_MS);
    await idle(store);
    assert.deepEqual(store.sizes(), { ...held, orders: 0, idempotencyKeys: 0, retentionEntries: 0 });

    clock.advance(RETENTION_MS); // effect records default to 2 × orderRetentionMs
    await idle(store);
    assert.deepEqual(store.sizes(), {
      orders: 0,
      effects: 1,
      idempotencyKeys: 0,
      indexEntries: 0,
      retentionEntries: 0,
      watchers: 0,
    });
  });

  it('with a small retention, an order in flight for long still finds its effects: no double charge, no lost release', async () => {
    const { store, clock } = fresh();
    await store.putProduct({ productId: 'p1', stock: 10, price: 1 });
    await store.putUser({ userId: 'u1', balance: 100 });
    await store.createOrder(newOrder('o1', clock.now() + 100));
    await store.reserve('o1', [{ productId: 'p1', quantity: 4 }]);
    await store.charge('o1', 'u1', 40);
    clock.advance(10 * RETENTION_MS); // e.g. COMPENSATING while the payment service was down
    await idle(store);
    assert.deepEqual(await store.charge('o1', 'u1', 40), { ok: true }, 'the redelivered charge repeats its reply');
    assert.equal((await store.getUser('u1'))?.balance, 60, 'and charges nothing again');
    assert.deepEqual(await store.release('o1', [{ productId: 'p1', quantity: 4 }]), { undone: true });
    assert.equal((await store.getProducts(['p1']))[0]?.stock, 10, 'the release gives the stock back');
    assert.deepEqual(await store.refund('o1', 'u1'), { undone: true });
    assert.equal((await store.getUser('u1'))?.balance, 100);
  });

  it('hides an expired record at once, even before a sweep reaches it', async () => {
    const { store, clock } = fresh();
    for (let i = 0; i < 300; i++) {
      await store.createOrder(newOrder(`o${i}`));
      await finish(store, `o${i}`);
    }
    clock.advance(RETENTION_MS);
    assert.equal(await store.getOrder('o299'), null);
    assert.equal(await store.loadSaga('o298'), null);
  });

  it('starts an effect record clock at its order’s terminal commit, never at its writes, and honours effectRetentionMs', async () => {
    const { store, clock } = fresh(5_000);
    await store.putProduct({ productId: 'p1', stock: 10, price: 1 });
    await store.createOrder(newOrder('o1', clock.now() + 100));
    await store.reserve('o1', [{ productId: 'p1', quantity: 1 }]);
    clock.advance(4_000);
    await store.release('o1', [{ productId: 'p1', quantity: 1 }]);
    clock.advance(40_000);
    await finish(store, 'o1');
    assert.equal(await store.retainEffects(clock.now(), 10, 1_000), 1);
    clock.advance(4_999);
    assert.deepEqual(await store.reserve('o1', [{ productId: 'p1', quantity: 1 }]), { ok: true });
    assert.equal((await store.getProducts(['p1']))[0]?.stock, 10);
    clock.advance(1);
    await idle(store);
    assert.equal(store.sizes().effects, 0);
    // The record is gone, so the same orderId now reserves afresh.
    await store.reserve('o1', [{ productId: 'p1', quantity: 1 }]);
    assert.equal((await store.getProducts(['p1']))[0]?.stock, 9);
  });

  it('returns copies and keeps copies: no caller can alias stored state', async () => {
    const { store } = fresh();
    const product = { productId: 'p1', stock: 5, price: 10 };
    await store.putProduct(product);
    product.stock = 999;
    const [got] = await store.getProducts(['p1']);
    got!.stock = 777;
    assert.equal((await store.getProducts(['p1']))[0]?.stock, 5);

    const user = { userId: 'u1', balance: 10 };
    await store.putUser(user);
    user.balance = 999;
    (await store.getUser('u1'))!.balance = 777;
    assert.equal((await store.getUser('u1'))?.balance, 10);

    const order = newOrder('o1');
    await store.createOrder(order);
    order.view.history.push({ status: 'COMPLETED', at: 'x' });
    (order.snapshot as { context: { tags: string[] } }).context.tags.push('b');
    (await store.getOrder('o1'))!.items.push({ productId: 'p9', quantity: 9 });
    const saga = await store.loadSaga('o1');
    (saga!.snapshot as { context: { tags: string[] } }).context.tags.push('c');
    assert.deepEqual(await store.getOrder('o1'), view('o1'));
    assert.deepEqual((await store.loadSaga('o1'))?.snapshot, newOrder('o1').snapshot);

    const seen: OrderView[] = [];
    await store.watch('o1', (v) => {
      v.status = 'CANCELLED';
      seen.push(v);
    });
    await store.watch('o1', (v) => seen.push(v));
    const outbox = [message(Topics.stockRollback, { orderId: 'o1' })];
    await store.commitSaga('o1', 1, {
      snapshot: {},
      outbox,
      view: view('o1', 'RESERVING'),
      wakeAt: null,
      terminal: false,
    });
    outbox[0]!.key = 'mutated';
    (await store.loadSaga('o1'))!.outbox.pop();
    assert.deepEqual(
      seen.map((v) => v.status),
      ['CANCELLED', 'RESERVING'],
    );
    assert.equal((await store.getOrder('o1'))?.status, 'RESERVING');
    assert.deepEqual((await store.loadSaga('o1'))?.outbox, [message(Topics.stockRollback, { orderId: 'o1' })]);
  });

  it('frees a watcher on unsubscribe and survives a listener that throws', async () => {
    const { store } = fresh();
    await store.createOrder(newOrder('o1'));
    const unwatch = await store.watch('o1', () => {
      throw new Error('listener bug');
    });
    const unwatchTwice = [await store.watch('o1', () => {}), await store.watch('o1', () => {})];
    assert.equal(store.sizes().watchers, 3);
    assert.equal(
      await store.commitSaga('o1', 1, {
        snapshot: {},
        outbox: [],
        view: view('o1', 'RESERVING'),
        wakeAt: null,
        terminal: false,
      }),
      true,
    );
    unwatch();
    unwatch();
    for (const u of unwatchTwice) u();
    assert.equal(store.sizes().watchers, 0);
  });

  it('does not call a watcher that an earlier listener unsubscribed during the same notification', async () => {
    const { store } = fresh();
    await store.createOrder(newOrder('o1'));
    let laterCalls = 0;
    let unwatchLater = (): void => {};
    await store.watch('o1', () => unwatchLater());
    unwatchLater = await store.watch('o1', () => laterCalls++);
    await store.commitSaga('o1', 1, {
      snapshot: {},
      outbox: [],
      view: view('o1', 'RESERVING'),
      wakeAt: null,
      terminal: false,
    });
    assert.equal(laterCalls, 0);
    assert.equal(store.sizes().watchers, 1);
  });

  it('grants a contended lock in arrival order', async () => {
    const { store } = fresh();
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        store.withLocks(['hot'], async () => {
          order.push(i);
        }),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  it('claims 100k due entries once each, in score order', async () => {
    const { store, clock } = fresh();
    const n = 100_000;
    const t = clock.now();
    // Scores are a permutation of 0..n-1, so the claim order is known: o<k> has score k.
    for (let i = 0; i < n; i++) {
      const k = (i * 7919) % n;
      await store.createOrder(newOrder(`o${k}`, t + k));
    }
    const claimed: string[] = [];
    for (;;) {
      const batch = await store.claimDue(t + n, 1_000, 60_000);
      if (batch.length === 0) break;
      claimed.push(...batch);
    }
    assert.equal(claimed.length, n);
    assert.ok(claimed.every((id, k) => id === `o${k}`));
    assert.equal(store.sizes().indexEntries, n);
  });
});

describe('keyed min-heap', () => {
  it('pops in (score, key) order through random inserts, moves and deletes', () => {
    const heap = new KeyedMinHeap();
    const model = new Map<string, number>();
    let seed = 42;
    const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n; // Park-Miller: exact in doubles
    for (let step = 0; step < 20_000; step++) {
      const key = `k${rand(500)}`;
      const op = rand(10);
      if (op < 6) {
        const score = rand(100);
        heap.set(key, score);
        model.set(key, score);
      } else if (op < 8) {
        assert.equal(heap.delete(key), model.delete(key));
      } else {
        const expected = [...model].sort(([ka, a], [kb, b]) => a - b || (ka < kb ? -1 : 1))[0];
        const top = heap.pop();
        assert.deepEqual(top && [top.key, top.score], expected);
        if (expected) model.delete(expected[0]);
      }
      assert.equal(heap.size, model.size);
    }
  });
});
