/**
 * The Store contract: one suite, run against every adapter (rule `ports-and-adapters`,
 * docs/architecture.md), so the memory store and the Redis store give the same answers. It
 * uses the Store port only.
 *
 * `make` must hand each test its own isolated store (e.g. a fresh KEY_PREFIX for Redis):
 * the deadline index is global to a store. Ids carry a random suffix as well. Time moves
 * only through the ManualClock, so an adapter must read expiry time from that clock.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { scopedKey } from '../../src/api/idempotency.ts';
import { ManualClock } from '../../src/clock.ts';
import type { NewOrder, Store } from '../../src/ports/store.ts';
import { MAX_AMOUNT, type OrderStatus, type OrderView } from '../../src/schemas.ts';
import { message, Topics } from '../../src/topics.ts';
import { orderView } from '../helpers/store-fixtures.ts';

export type StoreFactory = (
  clock: ManualClock,
  opts: { orderRetentionMs: number },
) => Promise<{ store: Store; cleanup(): Promise<void> }>;

const RETENTION_MS = 60_000;

interface Ctx {
  store: Store;
  clock: ManualClock;
  /** A name unique to this test. */
  id(name: string): string;
}

const view = orderView;
/** A view whose user and product carry the test's suffix: effect records are found through them. */
const viewOf = (orderId: string, status: OrderStatus, id: (n: string) => string): OrderView =>
  orderView(orderId, status, id('u'), id('a'));

const newOrder = (orderId: string, extra: Partial<NewOrder> = {}): NewOrder => ({
  orderId,
  view: view(orderId),
  snapshot: { v: 1, value: 'PENDING', context: { orderId } },
  wakeAt: Number.MAX_SAFE_INTEGER,
  ...extra,
});

const write = (
  orderId: string,
  status: OrderStatus,
  extra: { wakeAt?: number | null; terminal?: boolean; outbox?: boolean } = {},
) => ({
  snapshot: { v: 1, value: status },
  outbox: extra.outbox ? [message(Topics.stockRollback, { orderId })] : [],
  view: view(orderId, status),
  wakeAt: extra.wakeAt ?? null,
  terminal: extra.terminal ?? false,
});

/** Collects a watcher's views; `until(n)` resolves once n have arrived (pub/sub is asynchronous). */
function recorder() {
  const views: OrderView[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  return {
    views,
    listener(v: OrderView): void {
      views.push(v);
      for (const w of waiting) if (views.length >= w.n) w.resolve();
    },
    until: (n: number) =>
      new Promise<void>((resolve) => (views.length >= n ? resolve() : waiting.push({ n, resolve }))),
  };
}

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function storeContract(name: string, make: StoreFactory): void {
  /** Each test gets its own clock, store and id namespace, and cleans up after itself. */
  const using = (fn: (t: Ctx) => Promise<void>) => async () => {
    const clock = new ManualClock();
    const { store, cleanup } = await make(clock, { orderRetentionMs: RETENTION_MS });
    const suffix = randomUUID().slice(0, 8);
    try {
      await fn({ store, clock, id: (n) => `${n}-${suffix}` });
    } finally {
      await cleanup();
    }
  };
  const stockOf = async (store: Store, productId: string) => (await store.getProducts([productId]))[0]?.stock;
  const balanceOf = async (store: Store, userId: string) => (await store.getUser(userId))?.balance;

  describe(`Store contract: ${name}`, () => {
    describe('catalogue', () => {
      it(
        'answers products in the order asked, null for unknown ones',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 1, price: 10 });
          await store.putProduct({ productId: id('b'), stock: 2, price: 20 });
          assert.deepEqual(await store.getProducts([id('b'), id('x'), id('a')]), [
            { productId: id('b'), stock: 2, price: 20 },
            null,
            { productId: id('a'), stock: 1, price: 10 },
          ]);
          assert.equal(await store.getUser(id('nobody')), null);
        }),
      );

      it(
        'replaces products and users wholesale',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('p'), stock: 5, price: 7 });
          await store.putProduct({ productId: id('p'), stock: 0, price: 9 });
          await store.putUser({ userId: id('u'), balance: 100 });
          await store.putUser({ userId: id('u'), balance: 3 });
          assert.deepEqual(await store.getProducts([id('p')]), [{ productId: id('p'), stock: 0, price: 9 }]);
          assert.deepEqual(await store.getUser(id('u')), { userId: id('u'), balance: 3 });
        }),
      );

      it(
        'seeds only what does not exist yet and counts what it created',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('p1'), stock: 3, price: 1 });
          const products = [
            { productId: id('p1'), stock: 99, price: 99 },
            { productId: id('p2'), stock: 5, price: 2 },
          ];
          const users = [{ userId: id('u1'), balance: 50 }];
          assert.equal(await store.seed(products, users), 2);
          assert.equal(await store.seed(products, users), 0);
          assert.equal(await stockOf(store, id('p1')), 3);
          assert.equal(await stockOf(store, id('p2')), 5);
          assert.equal(await balanceOf(store, id('u1')), 50);
        }),
      );
    });

    describe('stock effects', () => {
      it(
        'reserves all items or none: one item short takes nothing',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          await store.putProduct({ productId: id('b'), stock: 1, price: 1 });
          const outcome = await store.reserve(id('o'), [
            { productId: id('a'), quantity: 2 },
            { productId: id('b'), quantity: 2 },
          ]);
          assert.equal(outcome.ok, false);
          assert.equal(!outcome.ok && outcome.code, 'OUT_OF_STOCK');
          assert.match(!outcome.ok ? outcome.message : '', new RegExp(id('b')));
          assert.equal(await stockOf(store, id('a')), 5);
          assert.equal(await stockOf(store, id('b')), 1);
        }),
      );

      it(
        'refuses an unknown product by name and takes nothing',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          const outcome = await store.reserve(id('o'), [
            { productId: id('a'), quantity: 1 },
            { productId: id('ghost'), quantity: 1 },
          ]);
          assert.equal(!outcome.ok && outcome.code, 'UNKNOWN_PRODUCT');
          assert.match(!outcome.ok ? outcome.message : '', new RegExp(id('ghost')));
          assert.equal(await stockOf(store, id('a')), 5);
        }),
      );

      it(
        'changes stock once for a repeated reserve and repeats the reply',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          const items = [{ productId: id('a'), quantity: 2 }];
          assert.deepEqual(await store.reserve(id('o'), items), { ok: true });
          assert.deepEqual(await store.reserve(id('o'), items), { ok: true });
          assert.equal(await stockOf(store, id('a')), 3);
        }),
      );

      it(
        'repeats a recorded refusal even after a restock',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 1, price: 1 });
          const items = [{ productId: id('a'), quantity: 2 }];
          const first = await store.reserve(id('o'), items);
          await store.putProduct({ productId: id('a'), stock: 100, price: 1 });
          assert.deepEqual(await store.reserve(id('o'), items), first);
          assert.equal(await stockOf(store, id('a')), 100);
        }),
      );

      it(
        'restores stock once when released twice, and a reserve repeated after that stays ok',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          await store.reserve(id('o'), [{ productId: id('a'), quantity: 4 }]);
          assert.deepEqual(await store.release(id('o'), [{ productId: id('a'), quantity: 1 }]), { undone: true });
          assert.deepEqual(await store.release(id('o'), [{ productId: id('a'), quantity: 1 }]), { undone: false });
          assert.equal(await stockOf(store, id('a')), 5);
          assert.deepEqual(await store.reserve(id('o'), [{ productId: id('a'), quantity: 4 }]), { ok: true });
          assert.equal(await stockOf(store, id('a')), 5);
        }),
      );

      it(
        'gives nothing back when releasing a refused reservation',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 1, price: 1 });
          await store.reserve(id('o'), [{ productId: id('a'), quantity: 3 }]);
          assert.deepEqual(await store.release(id('o'), [{ productId: id('a'), quantity: 1 }]), { undone: false });
          assert.equal(await stockOf(store, id('a')), 1);
        }),
      );

      it(
        'leaves a tombstone when released first: a late reserve is refused CANCELLED and takes nothing',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          assert.deepEqual(await store.release(id('o'), [{ productId: id('a'), quantity: 1 }]), { undone: false });
          const late = await store.reserve(id('o'), [{ productId: id('a'), quantity: 1 }]);
          assert.equal(!late.ok && late.code, 'CANCELLED');
          assert.deepEqual(await store.release(id('o'), [{ productId: id('a'), quantity: 1 }]), { undone: false });
          assert.equal(await stockOf(store, id('a')), 5);
        }),
      );

      it(
        'never passes MAX_AMOUNT when a release meets an admin restock',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 10, price: 1 });
          await store.reserve(id('o'), [{ productId: id('a'), quantity: 10 }]);
          await store.putProduct({ productId: id('a'), stock: MAX_AMOUNT - 3, price: 1 });
          assert.deepEqual(await store.release(id('o'), [{ productId: id('a'), quantity: 1 }]), { undone: true });
          assert.equal(await stockOf(store, id('a')), MAX_AMOUNT);
        }),
      );

      it(
        'never goes below zero: of 50 concurrent reserves for 10 units exactly 10 succeed',
        using(async ({ store, id }) => {
          await store.putProduct({ productId: id('a'), stock: 10, price: 1 });
          const outcomes = await Promise.all(
            Array.from({ length: 50 }, (_, i) => store.reserve(id(`o${i}`), [{ productId: id('a'), quantity: 1 }])),
          );
          assert.equal(outcomes.filter((o) => o.ok).length, 10);
          assert.ok(outcomes.every((o) => o.ok || o.code === 'OUT_OF_STOCK'));
          assert.equal(await stockOf(store, id('a')), 0);
        }),
      );
    });

    describe('payment effects', () => {
      it(
        'charges once for a repeated charge and repeats the reply',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: 100 });
          assert.deepEqual(await store.charge(id('o'), id('u'), 30), { ok: true });
          assert.deepEqual(await store.charge(id('o'), id('u'), 30), { ok: true });
          assert.deepEqual(await store.charge(id('o2'), id('u'), 70), { ok: true });
          assert.equal(await balanceOf(store, id('u')), 0);
        }),
      );

      it(
        'refuses an unknown user by name',
        using(async ({ store, id }) => {
          const outcome = await store.charge(id('o'), id('ghost'), 1);
          assert.equal(!outcome.ok && outcome.code, 'UNKNOWN_USER');
          assert.match(!outcome.ok ? outcome.message : '', new RegExp(id('ghost')));
        }),
      );

      it(
        'repeats INSUFFICIENT_BALANCE even after a top-up',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: 10 });
          const first = await store.charge(id('o'), id('u'), 20);
          assert.equal(!first.ok && first.code, 'INSUFFICIENT_BALANCE');
          await store.putUser({ userId: id('u'), balance: 1000 });
          assert.deepEqual(await store.charge(id('o'), id('u'), 20), first);
          assert.equal(await balanceOf(store, id('u')), 1000);
        }),
      );

      it(
        'refuses LIMIT_EXCEEDED for an amount past MAX_AMOUNT, negative or fractional',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: MAX_AMOUNT });
          for (const [i, amount] of [MAX_AMOUNT + 1, -1, 1.5].entries()) {
            const outcome = await store.charge(id(`o${i}`), id('u'), amount);
            assert.equal(!outcome.ok && outcome.code, 'LIMIT_EXCEEDED', `amount ${amount}`);
          }
          assert.equal(await balanceOf(store, id('u')), MAX_AMOUNT);
        }),
      );

      it(
        'refunds once, and a charge repeated after that stays ok without charging again',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: 100 });
          await store.charge(id('o'), id('u'), 40);
          assert.deepEqual(await store.refund(id('o'), id('u')), { undone: true });
          assert.deepEqual(await store.refund(id('o'), id('u')), { undone: false });
          assert.equal(await balanceOf(store, id('u')), 100);
          assert.deepEqual(await store.charge(id('o'), id('u'), 40), { ok: true });
          assert.equal(await balanceOf(store, id('u')), 100);
        }),
      );

      it(
        'gives nothing back when refunding a refused charge',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: 5 });
          await store.charge(id('o'), id('u'), 50);
          assert.deepEqual(await store.refund(id('o'), id('u')), { undone: false });
          assert.equal(await balanceOf(store, id('u')), 5);
        }),
      );

      it(
        'leaves a tombstone when refunded first: a late charge is refused CANCELLED and takes nothing',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: 100 });
          assert.deepEqual(await store.refund(id('o'), id('u')), { undone: false });
          const late = await store.charge(id('o'), id('u'), 10);
          assert.equal(!late.ok && late.code, 'CANCELLED');
          assert.equal(await balanceOf(store, id('u')), 100);
        }),
      );

      it(
        'caps a refund at MAX_AMOUNT when an admin raised the balance meanwhile',
        using(async ({ store, id }) => {
          await store.putUser({ userId: id('u'), balance: 100 });
          await store.charge(id('o'), id('u'), 50);
          await store.putUser({ userId: id('u'), balance: MAX_AMOUNT - 10 });
          assert.deepEqual(await store.refund(id('o'), id('u')), { undone: true });
          assert.equal(await balanceOf(store, id('u')), MAX_AMOUNT);
        }),
      );
    });

    describe('effects checked against their order', () => {
      /** An order of user u for 2 a + 1 b, at `totalPrice` if given (as on the way to PAYING). */
      async function anOrder(store: Store, id: (n: string) => string, totalPrice?: number): Promise<OrderView> {
        await store.putProduct({ productId: id('a'), stock: 10, price: 1 });
        await store.putProduct({ productId: id('b'), stock: 10, price: 1 });
        await store.putUser({ userId: id('u'), balance: 100 });
        const order: OrderView = {
          ...orderView(id('o'), 'PENDING', id('u')),
          items: [
            { productId: id('a'), quantity: 2 },
            { productId: id('b'), quantity: 1 },
          ],
        };
        await store.createOrder(newOrder(id('o'), { view: order }));
        if (totalPrice === undefined) return order;
        const paying: OrderView = { ...order, status: 'PAYING', totalPrice };
        assert.ok(await store.commitSaga(id('o'), 1, { ...write(id('o'), 'PAYING'), view: paying }));
        return paying;
      }

      it(
        "reserves when the order is the user's with the same lines, in any order, and repeats like reserve",
        using(async ({ store, id }) => {
          await anOrder(store, id);
          const check = {
            orderId: id('o'),
            userId: id('u'),
            items: [
              { productId: id('b'), quantity: 1 },
              { productId: id('a'), quantity: 2 },
            ],
          };
          assert.deepEqual(await store.reserveChecked(check), { agreed: true, outcome: { ok: true } });
          assert.deepEqual(await store.reserveChecked(check), { agreed: true, outcome: { ok: true } });
          assert.equal(await stockOf(store, id('a')), 8);
          assert.equal(await stockOf(store, id('b')), 9);
        }),
      );

      it(
        'moves nothing and answers the stored order when the user, a line or a quantity differs',
        using(async ({ store, id }) => {
          const order = await anOrder(store, id);
          const [a, b] = [id('a'), id('b')];
          const checks = [
            { userId: id('other'), items: order.items },
            { userId: id('u'), items: [{ productId: a, quantity: 2 }] },
            {
              userId: id('u'),
              items: [
                { productId: a, quantity: 2 },
                { productId: b, quantity: 2 },
              ],
            },
            {
              userId: id('u'),
              items: [
                { productId: a, quantity: 2 },
                { productId: id('c'), quantity: 1 },
              ],
            },
          ];
          for (const check of checks) {
            assert.deepEqual(await store.reserveChecked({ orderId: id('o'), ...check }), {
              agreed: false,
              view: order,
            });
          }
          assert.equal(await stockOf(store, a), 10);
          assert.equal(await stockOf(store, b), 10);
          // No record was left either: the order's own reserve still takes its stock.
          assert.deepEqual(await store.reserve(id('o'), order.items), { ok: true });
          assert.equal(await stockOf(store, a), 8);
        }),
      );

      it(
        'moves nothing and answers no order for an orderId with no record',
        using(async ({ store, id }) => {
          await anOrder(store, id);
          const items = [{ productId: id('a'), quantity: 1 }];
          assert.deepEqual(await store.reserveChecked({ orderId: id('none'), userId: id('u'), items }), {
            agreed: false,
            view: null,
          });
          assert.deepEqual(await store.chargeChecked({ orderId: id('none'), userId: id('u'), totalPrice: 1 }), {
            agreed: false,
            view: null,
          });
          assert.equal(await stockOf(store, id('a')), 10);
          assert.equal(await balanceOf(store, id('u')), 100);
        }),
      );

      it(
        "charges the order's total to the order's user, once, and repeats like charge",
        using(async ({ store, id }) => {
          await anOrder(store, id, 30);
          const check = { orderId: id('o'), userId: id('u'), totalPrice: 30 };
          assert.deepEqual(await store.chargeChecked(check), { agreed: true, outcome: { ok: true } });
          assert.deepEqual(await store.chargeChecked(check), { agreed: true, outcome: { ok: true } });
          assert.equal(await balanceOf(store, id('u')), 70);
        }),
      );

      it(
        'charges nothing when the order has no total yet, another total or another user',
        using(async ({ store, id }) => {
          const pending = await anOrder(store, id);
          assert.deepEqual(await store.chargeChecked({ orderId: id('o'), userId: id('u'), totalPrice: 30 }), {
            agreed: false,
            view: pending,
          });
          const paying: OrderView = { ...pending, status: 'PAYING', totalPrice: 30 };
          assert.ok(await store.commitSaga(id('o'), 1, { ...write(id('o'), 'PAYING'), view: paying }));
          for (const check of [
            { userId: id('u'), totalPrice: 31 },
            { userId: id('u'), totalPrice: 0 },
            { userId: id('other'), totalPrice: 30 },
          ]) {
            assert.deepEqual(await store.chargeChecked({ orderId: id('o'), ...check }), {
              agreed: false,
              view: paying,
            });
          }
          assert.equal(await balanceOf(store, id('u')), 100);
          assert.deepEqual(await store.charge(id('o'), id('u'), 30), { ok: true }, 'no record was left');
        }),
      );
    });

    describe('orders', () => {
      it(
        'creates the view and a version-1 saga with an empty, sent outbox',
        using(async ({ store, id }) => {
          const order = newOrder(id('o'));
          assert.deepEqual(await store.createOrder(order), { created: true });
          assert.deepEqual(await store.getOrder(id('o')), order.view);
          assert.deepEqual(await store.loadSaga(id('o')), {
            version: 1,
            snapshot: order.snapshot,
            outbox: [],
            outboxSent: true,
          });
          assert.equal(await store.getOrder(id('nope')), null);
          assert.equal(await store.loadSaga(id('nope')), null);
        }),
      );

      it(
        'answers a claimed idempotency key with the first order and whether the body matches, writing nothing',
        using(async ({ store, id }) => {
          const key = id('key');
          assert.equal(await store.idempotencyClaim(key), null);
          await store.createOrder(newOrder(id('o1'), { idempotency: { key, bodyHash: 'h1' } }));
          const same = await store.createOrder(newOrder(id('o2'), { idempotency: { key, bodyHash: 'h1' } }));
          const other = await store.createOrder(newOrder(id('o3'), { idempotency: { key, bodyHash: 'h2' } }));
          assert.deepEqual(same, { created: false, orderId: id('o1'), sameBody: true });
          assert.deepEqual(other, { created: false, orderId: id('o1'), sameBody: false });
          assert.equal(await store.getOrder(id('o2')), null);
          assert.equal(await store.getOrder(id('o3')), null);
          assert.equal(await store.idempotencyClaim(key), id('o1'));
          assert.equal(await store.idempotencyClaim(id('other-key')), null);
        }),
      );

      it(
        'keeps per-user keys (scopedKey: userId, a space, the key) apart, punctuation of every kind included',
        using(async ({ store, id }) => {
          const key = id('{k}:!"#$%&()*+,-./;<=>?@[\\]^_`|~');
          const [a, b] = [scopedKey(key, id('u:1')), scopedKey(key, id('u'))];
          assert.equal(
            (await store.createOrder(newOrder(id('o1'), { idempotency: { key: a, bodyHash: 'h' } }))).created,
            true,
          );
          assert.equal(
            (await store.createOrder(newOrder(id('o2'), { idempotency: { key: b, bodyHash: 'h' } }))).created,
            true,
          );
          assert.equal(await store.idempotencyClaim(a), id('o1'));
          assert.equal(await store.idempotencyClaim(b), id('o2'));
          assert.equal(await store.idempotencyClaim(key), null, 'an unscoped key is a key of its own');
        }),
      );

      it(
        'creates exactly one order when many race with the same key',
        using(async ({ store, id }) => {
          const key = id('key');
          const outcomes = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              store.createOrder(newOrder(id(`o${i}`), { idempotency: { key, bodyHash: 'h' } })),
            ),
          );
          const winners = outcomes.flatMap((o, i) => (o.created ? [id(`o${i}`)] : []));
          assert.equal(winners.length, 1);
          for (const o of outcomes)
            if (!o.created) assert.deepEqual(o, { created: false, orderId: winners[0], sameBody: true });
        }),
      );

      it(
        'refuses to create an orderId twice',
        using(async ({ store, id }) => {
          await store.createOrder(newOrder(id('o')));
          await assert.rejects(store.createOrder(newOrder(id('o'))));
        }),
      );

      it(
        'commits by compare-and-set: a stale version writes nothing',
        using(async ({ store, id }) => {
          await store.createOrder(newOrder(id('o')));
          assert.equal(await store.commitSaga(id('o'), 1, write(id('o'), 'RESERVING')), true);
          assert.equal(await store.commitSaga(id('o'), 1, write(id('o'), 'PAYING', { outbox: true })), false);
          assert.equal(await store.commitSaga(id('missing'), 1, write(id('missing'), 'PAYING')), false);
          assert.equal((await store.getOrder(id('o')))?.status, 'RESERVING');
          assert.deepEqual(await store.loadSaga(id('o')), {
            version: 2,
            snapshot: { v: 1, value: 'RESERVING' },
            outbox: [],
            outboxSent: true,
          });
        }),
      );

      it(
        'moves the status counts in the same writes as the snapshots, and not on a lost compare-and-set',
        using(async ({ store, id }) => {
          const delta = async (before: Record<OrderStatus, number>) => {
            const now = await store.statusCounts();
            return Object.fromEntries(
              Object.entries(now)
                .filter(([k, n]) => n !== before[k as OrderStatus])
                .map(([k, n]) => [k, n - before[k as OrderStatus]]),
            );
          };
          const start = await store.statusCounts();
          await store.createOrder(newOrder(id('o')));
          await store.createOrder(newOrder(id('p')));
          assert.deepEqual(await delta(start), { PENDING: 2 });
          await store.commitSaga(id('o'), 1, write(id('o'), 'RESERVING'));
          await store.commitSaga(id('o'), 1, write(id('o'), 'PAYING')); // stale: nothing moves
          await store.commitSaga(id('o'), 2, write(id('o'), 'RESERVING')); // same status: nothing moves
          assert.deepEqual(await delta(start), { PENDING: 1, RESERVING: 1 });
          await store.commitSaga(id('o'), 3, write(id('o'), 'COMPLETED', { terminal: true, wakeAt: null }));
          assert.deepEqual(await delta(start), { PENDING: 1, COMPLETED: 1 });
        }),
      );

      it(
        'drops a finished order’s snapshot and outbox once its outbox is sent, keeping its view',
        using(async ({ store, id }) => {
          await store.createOrder(newOrder(id('o')));
          await store.commitSaga(id('o'), 1, write(id('o'), 'COMPENSATING', { outbox: true }));
          await store.markOutboxSent(id('o'), 2);
          assert.notEqual((await store.loadSaga(id('o')))?.snapshot, null, 'not finished: the snapshot stays');
          const end = write(id('o'), 'CANCELLED', { outbox: true, terminal: true, wakeAt: null });
          await store.commitSaga(id('o'), 2, end);
          assert.deepEqual((await store.loadSaga(id('o')))?.snapshot, end.snapshot, 'kept until the outbox is sent');
          await store.markOutboxSent(id('o'), 3);
          assert.deepEqual(await store.loadSaga(id('o')), { version: 3, snapshot: null, outbox: [], outboxSent: true });
          assert.equal((await store.getOrder(id('o')))?.status, 'CANCELLED');
        }),
      );

      it(
        'stores the outbox unsent and marks it sent only for the current version',
        using(async ({ store, id }) => {
          await store.createOrder(newOrder(id('o')));
          const w = write(id('o'), 'COMPENSATING', { outbox: true });
          await store.commitSaga(id('o'), 1, w);
          assert.deepEqual(await store.loadSaga(id('o')), {
            version: 2,
            snapshot: w.snapshot,
            outbox: w.outbox,
            outboxSent: false,
          });
          await store.markOutboxSent(id('o'), 1);
          assert.equal((await store.loadSaga(id('o')))?.outboxSent, false);
          await store.markOutboxSent(id('o'), 2);
          assert.equal((await store.loadSaga(id('o')))?.outboxSent, true);
          await store.commitSaga(id('o'), 2, write(id('o'), 'COMPENSATING', { outbox: true }));
          await store.markOutboxSent(id('o'), 2);
          assert.equal((await store.loadSaga(id('o')))?.outboxSent, false);
          await store.markOutboxSent(id('missing'), 1);
        }),
      );
    });

    describe('deadline index', () => {
      it(
        'claims due entries lowest first and leases them until the lease ends',
        using(async ({ store, clock, id }) => {
          const t = clock.now();
          await store.createOrder(newOrder(id('a'), { wakeAt: t + 100 }));
          await store.createOrder(newOrder(id('b'), { wakeAt: t + 50 }));
          await store.createOrder(newOrder(id('c'), { wakeAt: t + 300 }));
          assert.deepEqual(await store.claimDue(t + 10, 10, 1000), []);
          assert.deepEqual(await store.claimDue(t + 200, 10, 1000), [id('b'), id('a')]);
          assert.deepEqual(await store.claimDue(t + 200, 10, 1000), []);
          assert.deepEqual(await store.claimDue(t + 1199, 10, 1000), [id('c')]);
          assert.deepEqual((await store.claimDue(t + 1200, 10, 1000)).sort(), [id('a'), id('b')].sort());
        }),
      );

      it(
        'claims at most `limit` entries per call',
        using(async ({ store, clock, id }) => {
          const t = clock.now();
          for (let i = 0; i < 5; i++) await store.createOrder(newOrder(id(`o${i}`), { wakeAt: t + i }));
          assert.deepEqual(await store.claimDue(t + 10, 2, 1000), [id('o0'), id('o1')]);
          assert.deepEqual(await store.claimDue(t + 10, 2, 1000), [id('o2'), id('o3')]);
          assert.deepEqual(await store.claimDue(t + 10, 2, 1000), [id('o4')]);
        }),
      );

      it(
        'drops the entry on a terminal commit or a null wakeAt, and moves it with wakeAt',
        using(async ({ store, clock, id }) => {
          const t = clock.now();
          for (const o of ['done', 'idle', 'later', 'sooner'])
            await store.createOrder(newOrder(id(o), { wakeAt: t + 100 }));
          await store.commitSaga(id('done'), 1, write(id('done'), 'COMPLETED', { wakeAt: t + 100, terminal: true }));
          await store.commitSaga(id('idle'), 1, write(id('idle'), 'RESERVING', { wakeAt: null }));
          await store.commitSaga(id('later'), 1, write(id('later'), 'RESERVING', { wakeAt: t + 500 }));
          await store.commitSaga(id('sooner'), 1, write(id('sooner'), 'RESERVING', { wakeAt: t + 20 }));
          assert.deepEqual(await store.claimDue(t + 50, 10, 10_000), [id('sooner')]);
          assert.deepEqual(await store.claimDue(t + 499, 10, 10_000), []);
          assert.deepEqual(await store.claimDue(t + 500, 10, 10_000), [id('later')]);
        }),
      );
    });

    describe('retention', () => {
      it(
        'keeps a terminal order readable for orderRetentionMs, then frees it and its key',
        using(async ({ store, clock, id }) => {
          const key = id('key');
          await store.createOrder(newOrder(id('o'), { idempotency: { key, bodyHash: 'h' } }));
          await store.commitSaga(id('o'), 1, write(id('o'), 'COMPLETED', { terminal: true }));
          clock.advance(RETENTION_MS - 1);
          assert.equal((await store.getOrder(id('o')))?.status, 'COMPLETED');
          assert.equal((await store.loadSaga(id('o')))?.version, 2);
          assert.deepEqual(await store.createOrder(newOrder(id('o2'), { idempotency: { key, bodyHash: 'h' } })), {
            created: false,
            orderId: id('o'),
            sameBody: true,
          });
          assert.equal(await store.idempotencyClaim(key), id('o'));
          clock.advance(2);
          assert.equal(await store.getOrder(id('o')), null);
          assert.equal(await store.loadSaga(id('o')), null);
          assert.equal(await store.idempotencyClaim(key), null);
          assert.deepEqual(await store.createOrder(newOrder(id('o3'), { idempotency: { key, bodyHash: 'h' } })), {
            created: true,
          });
        }),
      );

      it(
        'never expires an order that has not finished',
        using(async ({ store, clock, id }) => {
          await store.createOrder(newOrder(id('o')));
          await store.commitSaga(id('o'), 1, write(id('o'), 'PAYING', { wakeAt: clock.now() + 1000 }));
          clock.advance(10 * RETENTION_MS);
          assert.equal((await store.getOrder(id('o')))?.status, 'PAYING');
        }),
      );

      it(
        'keeps effect records longer than finished orders, so a late redelivery cannot act twice',
        using(async ({ store, clock, id }) => {
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          await store.putUser({ userId: id('u'), balance: 50 });
          await store.reserve(id('o'), [{ productId: id('a'), quantity: 2 }]);
          await store.charge(id('o'), id('u'), 20);
          clock.advance(RETENTION_MS + 1);
          assert.deepEqual(await store.reserve(id('o'), [{ productId: id('a'), quantity: 2 }]), { ok: true });
          assert.deepEqual(await store.charge(id('o'), id('u'), 20), { ok: true });
          assert.equal(await stockOf(store, id('a')), 3);
          assert.equal(await balanceOf(store, id('u')), 30);
        }),
      );

      it(
        'keeps an effect of a non-terminal order for any time: undos find it, a redelivery repeats and moves nothing',
        using(async ({ store, clock, id }) => {
          const o = id('o');
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          await store.putUser({ userId: id('u'), balance: 50 });
          await store.createOrder(newOrder(o, { view: viewOf(o, 'PENDING', id) }));
          await store.commitSaga(o, 1, { ...write(o, 'PAYING'), view: viewOf(o, 'PAYING', id) });
          await store.reserve(o, [{ productId: id('a'), quantity: 2 }]);
          await store.charge(o, id('u'), 20);
          clock.advance(1_000 * RETENTION_MS);
          assert.equal(await store.retainEffects(clock.now(), 10, 1_000), 0, 'nothing finished, nothing to retain');
          assert.deepEqual(await store.reserve(o, [{ productId: id('a'), quantity: 2 }]), { ok: true });
          assert.deepEqual(await store.charge(o, id('u'), 20), { ok: true });
          assert.equal(await stockOf(store, id('a')), 3);
          assert.equal(await balanceOf(store, id('u')), 30);
          clock.advance(1_000 * RETENTION_MS);
          assert.deepEqual(await store.release(o, [{ productId: id('a'), quantity: 2 }]), { undone: true });
          assert.deepEqual(await store.refund(o, id('u')), { undone: true });
          assert.equal(await stockOf(store, id('a')), 5);
          assert.equal(await balanceOf(store, id('u')), 50);
        }),
      );

      it(
        'expires effect records of a finished order only after the effect retention counted from its terminal commit',
        using(async ({ store, clock, id }) => {
          const o = id('o');
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          await store.putUser({ userId: id('u'), balance: 50 });
          await store.createOrder(newOrder(o, { view: viewOf(o, 'PENDING', id) }));
          await store.reserve(o, [{ productId: id('a'), quantity: 2 }]);
          await store.charge(o, id('u'), 20);
          clock.advance(5 * RETENTION_MS); // long in flight: the clock has not started yet
          await store.commitSaga(o, 1, {
            ...write(o, 'COMPLETED', { terminal: true }),
            view: viewOf(o, 'COMPLETED', id),
          });
          assert.equal(await store.retainEffects(clock.now(), 10, 1_000), 1);
          assert.equal(await store.retainEffects(clock.now(), 10, 1_000), 0, 'done once');
          clock.advance(2 * RETENTION_MS - 1); // effect records live twice as long as the order
          assert.deepEqual(await store.reserve(o, [{ productId: id('a'), quantity: 2 }]), { ok: true });
          assert.deepEqual(await store.charge(o, id('u'), 20), { ok: true });
          assert.equal(await stockOf(store, id('a')), 3);
          assert.equal(await balanceOf(store, id('u')), 30);
          clock.advance(1);
          // Gone: the same orderId now acts afresh (a worker refuses it first: the order is gone too).
          assert.deepEqual(await store.reserve(o, [{ productId: id('a'), quantity: 2 }]), { ok: true });
          assert.deepEqual(await store.charge(o, id('u'), 20), { ok: true });
          assert.equal(await stockOf(store, id('a')), 1);
          assert.equal(await balanceOf(store, id('u')), 10);
        }),
      );

      it(
        'counts the effect retention from the terminal commit even when the records are retained late',
        using(async ({ store, clock, id }) => {
          const [o, late] = [id('o'), id('late')];
          await store.putProduct({ productId: id('a'), stock: 5, price: 1 });
          await store.putUser({ userId: id('u'), balance: 50 });
          for (const order of [o, late]) {
            await store.createOrder(newOrder(order, { view: viewOf(order, 'PENDING', id) }));
            await store.reserve(order, [{ productId: id('a'), quantity: 1 }]);
            await store.refund(order, id('u')); // a tombstone is an effect record too
          }
          const t = clock.now();
          await store.commitSaga(o, 1, {
            ...write(o, 'CANCELLED', { terminal: true }),
            view: viewOf(o, 'CANCELLED', id),
          });
          clock.advance(RETENTION_MS);
          await store.commitSaga(late, 1, {
            ...write(late, 'CANCELLED', { terminal: true }),
            view: viewOf(late, 'CANCELLED', id),
          });
          clock.set(t + 2 * RETENTION_MS + 1);
          // Nobody retained them yet: until then they stay (at worst their clock is set late).
          assert.deepEqual(await store.charge(o, id('u'), 20), {
            ok: false,
            code: 'CANCELLED',
            message: `order ${o} was cancelled before it was charged`,
          });
          assert.equal(await store.retainEffects(clock.now(), 10, 1_000), 2);
          // o's records are gone at once; late's live until its own terminal time + 2 x retention.
          assert.deepEqual(await store.charge(o, id('u'), 20), { ok: true });
          assert.deepEqual(await store.charge(late, id('u'), 20), {
            ok: false,
            code: 'CANCELLED',
            message: `order ${late} was cancelled before it was charged`,
          });
          assert.deepEqual(await store.reserve(late, [{ productId: id('a'), quantity: 1 }]), { ok: true });
          assert.equal(await stockOf(store, id('a')), 3);
          clock.set(t + 3 * RETENTION_MS);
          assert.deepEqual(await store.charge(late, id('u'), 5), { ok: true });
          assert.equal(await balanceOf(store, id('u')), 25);
        }),
      );
    });

    describe('watch', () => {
      it(
        'hands each watcher the view after every commit until it unsubscribes',
        using(async ({ store, id }) => {
          await store.createOrder(newOrder(id('o')));
          await store.createOrder(newOrder(id('other')));
          const a = recorder();
          const b = recorder();
          const unwatchA = await store.watch(id('o'), a.listener);
          const unwatchB = await store.watch(id('o'), b.listener);
          await store.commitSaga(id('other'), 1, write(id('other'), 'RESERVING'));
          await store.commitSaga(id('o'), 1, write(id('o'), 'RESERVING'));
          await Promise.all([a.until(1), b.until(1)]);
          assert.deepEqual(a.views, [view(id('o'), 'RESERVING')]);
          unwatchA();
          await store.commitSaga(id('o'), 2, write(id('o'), 'PAYING'));
          // b hearing the second commit means a would have heard it too, had it still listened.
          await b.until(2);
          assert.deepEqual(
            b.views.map((v) => v.status),
            ['RESERVING', 'PAYING'],
          );
          assert.equal(a.views.length, 1);
          unwatchB();
        }),
      );
    });

    describe('withLocks', () => {
      it(
        'never lets two holders share a resource, and every overlapping set finishes',
        using(async ({ store, id }) => {
          const sets = [['a', 'b'], ['b', 'c'], ['c', 'a'], ['a'], ['c', 'b', 'a', 'a'], ['b']];
          const holders = new Map<string, number>();
          let worst = 0;
          const runs = Array.from({ length: 30 }, (_, i) =>
            store.withLocks(sets[i % sets.length]!.map(id), async () => {
              const names = [...new Set(sets[i % sets.length]!.map(id))];
              for (const n of names) holders.set(n, (holders.get(n) ?? 0) + 1);
              worst = Math.max(worst, ...names.map((n) => holders.get(n)!));
              await yieldTurn();
              await yieldTurn();
              for (const n of names) holders.set(n, holders.get(n)! - 1);
              return i;
            }),
          );
          assert.deepEqual(
            await Promise.all(runs),
            Array.from({ length: 30 }, (_, i) => i),
          );
          assert.equal(worst, 1);
        }),
      );

      it(
        'lets holders of disjoint resources run at the same time',
        { timeout: 10_000 },
        using(async ({ store, id }) => {
          let open!: () => void;
          const gate = new Promise<void>((resolve) => (open = resolve));
          const first = store.withLocks([id('x')], () => gate);
          const second = store.withLocks([id('y')], async () => open());
          await Promise.all([first, second]);
        }),
      );

      it(
        'releases the locks when fn throws',
        using(async ({ store, id }) => {
          await assert.rejects(
            store.withLocks([id('r'), id('s')], async () => {
              throw new Error('boom');
            }),
            /boom/,
          );
          assert.equal(await store.withLocks([id('s'), id('r'), id('r')], async () => 42), 42);
        }),
      );
    });
  });
}
