/**
 * The black-box suite: drives docs/api.md's routes, statuses and invariants over real
 * HTTP against a running system. The same suite runs against every deployment
 * (embedded, embedded with faults, and later Kafka + Redis). Ids carry a per-run suffix
 * so runs never share products or users.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seededRng } from '../../src/random.ts';
import type { Client } from './client.ts';

export interface Target {
  client: Client;
  /** Whether the target injects faults (then POST /orders may answer 503 and be retried). */
  faulty: boolean;
  stop(): Promise<void>;
}

const MAX = Number.MAX_SAFE_INTEGER;

export function httpApiSuite(name: string, start: () => Promise<Target>): void {
  describe(`black box: ${name}`, () => {
    let t: Target;
    let c: Client;
    const run = Math.random().toString(36).slice(2, 8);
    const id = (s: string) => `${s}-${run}`;

    before(async () => {
      t = await start();
      c = t.client;
    });
    after(async () => {
      await t?.stop();
    });

    async function product(pid: string, stock: number, price: number) {
      const res = await c.admin(`/products/${pid}`, { stock, price });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    async function user(uid: string, balance: number) {
      const res = await c.admin(`/users/${uid}`, { balance });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const stockOf = async (pid: string) => (await c.request('GET', `/products/${pid}`)).body.stock as number;
    const balanceOf = async (uid: string) => (await c.request('GET', `/users/${uid}`)).body.balance as number;

    it('reports health and metrics', async () => {
      const health = await c.request('GET', '/healthz');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'ok');
      const metrics = await c.request('GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
      assert.match(String(metrics.body), /orders_accepted_total/);
    });

    it('guards the admin routes with the bearer token', async () => {
      const none = await c.request('PUT', `/admin/products/${id('adm')}`, { body: { stock: 1, price: 1 } });
      assert.equal(none.status, 401);
      assert.equal(typeof none.body.error, 'string');
      const wrong = await c.request('PUT', `/admin/products/${id('adm')}`, {
        body: { stock: 1, price: 1 },
        headers: { authorization: 'Bearer nope' },
      });
      assert.equal(wrong.status, 401);
      const bad = await c.admin(`/products/${id('adm')}`, { stock: -1, price: 1 });
      assert.equal(bad.status, 400);
      assert.ok(Array.isArray(bad.body.details));
      const badUser = await c.admin(`/users/${id('adm')}`, { balance: 1.5 });
      assert.equal(badUser.status, 400);
      await product(id('adm'), 3, 7);
      assert.deepEqual((await c.request('GET', `/products/${id('adm')}`)).body, {
        productId: id('adm'),
        stock: 3,
        price: 7,
      });
      await user(id('adm'), 9);
      assert.deepEqual((await c.request('GET', `/users/${id('adm')}`)).body, { userId: id('adm'), balance: 9 });
    });

    it('answers 404 with an error body for unknown products, users and orders', async () => {
      for (const path of [`/products/${id('none')}`, `/users/${id('none')}`, `/orders/${id('none')}`]) {
        const res = await c.request('GET', path);
        assert.equal(res.status, 404, path);
        assert.equal(typeof res.body.error, 'string');
      }
    });

    it('refuses bad orders with 400 details, 413, 415, and records nothing', async () => {
      const bad: unknown[] = [
        {},
        { userId: 'bad id!', items: [{ productId: 'p', quantity: 1 }] },
        { userId: 'u', items: [] },
        { userId: 'u', items: Array.from({ length: 51 }, (_, i) => ({ productId: `p${i}`, quantity: 1 })) },
        { userId: 'u', items: [{ productId: 'p', quantity: 0 }] },
        { userId: 'u', items: [{ productId: 'p', quantity: 1001 }] },
        { userId: 'u', items: [{ productId: 'p', quantity: 1.5 }] },
        {
          userId: 'u',
          items: [
            { productId: 'p', quantity: 1 },
            { productId: 'p', quantity: 2 },
          ],
        },
      ];
      for (const body of bad) {
        const res = await c.request('POST', '/orders', { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(typeof res.body.error, 'string');
        assert.ok(Array.isArray(res.body.details) && res.body.details.length > 0, JSON.stringify(res.body));
      }
      const notJson = await c.request('POST', '/orders', {
        raw: '{"userId":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(notJson.status, 400);
      const text = await c.request('POST', '/orders', { raw: 'hello', headers: { 'content-type': 'text/plain' } });
      assert.equal(text.status, 415);
      assert.equal(typeof text.body.error, 'string');
      const huge = await c.request('POST', '/orders', {
        raw: JSON.stringify({ userId: 'u', items: [{ productId: 'p', quantity: 1 }], pad: 'x'.repeat(70_000) }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(huge.status, 413);
    });

    it('completes an order: 202 with Location, then COMPLETED with its history, stock and balance debited once', async () => {
      const [pid, uid] = [id('happy-p'), id('happy-u')];
      await product(pid, 10, 1_500);
      await user(uid, 10_000);
      const post = () =>
        c.request('POST', '/orders', {
          body: { userId: uid, items: [{ productId: pid, quantity: 2 }] },
          headers: { 'idempotency-key': id('happy-key') },
        });
      let res = await post();
      // A faulty target may answer 503; the contract's recovery is the same request with the same key, a bounded number of times.
      for (let retries = 0; t.faulty && res.status === 503 && retries < 10; retries++) res = await post();
      assert.equal(res.status, 202);
      assert.equal(res.body.status, 'PENDING');
      assert.equal(res.headers.get('location'), `/orders/${res.body.orderId}`);
      const now = await c.request('GET', `/orders/${res.body.orderId}`);
      assert.equal(now.status, 200, 'readable from the moment 202 is sent');
      const done = await c.awaitTerminal(res.body.orderId);
      assert.equal(done.status, 'COMPLETED');
      assert.equal(done.totalPrice, 3_000);
      assert.equal(done.userId, uid);
      assert.deepEqual(done.items, [{ productId: pid, quantity: 2 }]);
      assert.equal(done.reason, undefined);
      const statuses: string[] = done.history.map((h: { status: string }) => h.status);
      // RESERVING is skipped when stock.success overtakes the saga's own copy of order.start
      assert.deepEqual(
        statuses.filter((s) => s !== 'RESERVING'),
        ['PENDING', 'ORDERING', 'PAYING', 'COMPLETED'],
      );
      assert.ok(statuses.indexOf('RESERVING') <= 1);
      for (const h of done.history) assert.match(h.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      assert.equal(await stockOf(pid), 8);
      assert.equal(await balanceOf(uid), 7_000);
      const later = await c.request('GET', `/orders/${res.body.orderId}`);
      assert.equal(later.body.status, 'COMPLETED', 'a terminal status never changes');
    });

    it('rejects on unknown product and short stock, changing nothing', async () => {
      const [pid, uid] = [id('rej-p'), id('rej-u')];
      await product(pid, 1, 100);
      await user(uid, 1_000);
      const short = await c.awaitTerminal(await c.placeOrder(uid, [{ productId: pid, quantity: 2 }]));
      assert.equal(short.status, 'REJECTED');
      assert.equal(short.reason.code, 'OUT_OF_STOCK');
      assert.equal(typeof short.reason.message, 'string');
      const ghost = await c.awaitTerminal(
        await c.placeOrder(uid, [
          { productId: pid, quantity: 1 },
          { productId: id('ghost'), quantity: 1 },
        ]),
      );
      assert.equal(ghost.status, 'REJECTED');
      assert.equal(ghost.reason.code, 'UNKNOWN_PRODUCT');
      assert.equal(await stockOf(pid), 1, 'all or nothing');
      assert.equal(await balanceOf(uid), 1_000);
    });

    it('cancels and gives the stock back on unknown user, short balance and a total past 2^53-1', async () => {
      const [pid, big, uid] = [id('can-p'), id('can-big'), id('can-u')];
      await product(pid, 5, 400);
      await product(big, 5, MAX);
      await user(uid, 500);
      const cases: [string, { productId: string; quantity: number }[], string][] = [
        [id('nobody'), [{ productId: pid, quantity: 1 }], 'UNKNOWN_USER'],
        [uid, [{ productId: pid, quantity: 2 }], 'INSUFFICIENT_BALANCE'],
        [uid, [{ productId: big, quantity: 2 }], 'LIMIT_EXCEEDED'],
      ];
      for (const [who, items, code] of cases) {
        const done = await c.awaitTerminal(await c.placeOrder(who, items));
        assert.equal(done.status, 'CANCELLED', code);
        assert.equal(done.reason.code, code);
        assert.ok(done.history.some((h: { status: string }) => h.status === 'COMPENSATING'));
      }
      assert.equal(await stockOf(pid), 5);
      assert.equal(await stockOf(big), 5);
      assert.equal(await balanceOf(uid), 500);
    });

    it('keeps one order per Idempotency-Key, and 422 for the same key with another body', async () => {
      const [pid, uid] = [id('idem-p'), id('idem-u')];
      await product(pid, 10, 10);
      await user(uid, 1_000);
      const key = id('key');
      const body = { userId: uid, items: [{ productId: pid, quantity: 1 }] };
      const first = await c.placeOrder(uid, body.items, key);
      const racing = await Promise.all(
        Array.from({ length: 5 }, () => c.request('POST', '/orders', { body, headers: { 'idempotency-key': key } })),
      );
      for (const r of racing) {
        if (t.faulty && r.status === 503) continue;
        assert.equal(r.status, 202);
        assert.equal(r.body.orderId, first);
      }
      const other = await c.request('POST', '/orders', {
        body: { ...body, items: [{ productId: pid, quantity: 2 }] },
        headers: { 'idempotency-key': key },
      });
      assert.equal(other.status, 422);
      assert.equal(typeof other.body.error, 'string');
      await c.awaitTerminal(first);
      assert.equal(await stockOf(pid), 9, 'one order, one reservation');
    });

    it('sells exactly 50 when 200 concurrent orders race for 50 units', async () => {
      const pid = id('race-p');
      await product(pid, 50, 100);
      const users = Array.from({ length: 200 }, (_, i) => id(`race-u${i}`));
      await Promise.all(users.map((u) => user(u, 1_000)));
      const ids = await Promise.all(users.map((u) => c.placeOrder(u, [{ productId: pid, quantity: 1 }])));
      const done = await Promise.all(ids.map((o) => c.awaitTerminal(o)));
      const completed = done.filter((o) => o.status === 'COMPLETED');
      assert.equal(completed.length, 50);
      assert.equal(await stockOf(pid), 0);
      assert.equal(done.filter((o) => o.status === 'REJECTED').length, 150);
      const balances = await Promise.all(users.map(balanceOf));
      assert.equal(balances.filter((b) => b === 900).length, 50);
      assert.equal(balances.filter((b) => b === 1_000).length, 150);
    });

    it('conserves stock and money exactly over 300 random mixed orders, none stuck', async () => {
      const rng = seededRng(Number.parseInt(run, 36) % 2 ** 31);
      const products = Array.from({ length: 6 }, (_, i) => ({
        pid: id(`mix-p${i}`),
        stock: 5 + rng.int(60),
        price: 1 + rng.int(2_000),
      }));
      const users = Array.from({ length: 12 }, (_, i) => ({ uid: id(`mix-u${i}`), balance: rng.int(40_000) }));
      await Promise.all(products.map((p) => product(p.pid, p.stock, p.price)));
      await Promise.all(users.map((u) => user(u.uid, u.balance)));
      const orders = Array.from({ length: 300 }, () => {
        const count = 1 + rng.int(3);
        const picked = new Set<number>();
        while (picked.size < count) picked.add(rng.int(products.length + 1)); // the extra index is an unknown product
        const who = rng.int(users.length + 1); // the extra index is an unknown user
        return {
          uid: users[who]?.uid ?? id('mix-nobody'),
          items: [...picked].map((i) => ({ productId: products[i]?.pid ?? id('mix-ghost'), quantity: 1 + rng.int(5) })),
        };
      });
      const ids = await Promise.all(orders.map((o) => c.placeOrder(o.uid, o.items)));
      const done = await Promise.all(ids.map((o) => c.awaitTerminal(o)));
      const stuck = done.filter((o) => !['COMPLETED', 'REJECTED', 'CANCELLED'].includes(o.status));
      assert.deepEqual(
        stuck.map((o) => `${o.orderId}:${o.status}`),
        [],
        'none stuck',
      );
      for (const p of products) {
        const sold = done
          .filter((o) => o.status === 'COMPLETED')
          .flatMap((o) => o.items)
          .filter((i: { productId: string }) => i.productId === p.pid)
          .reduce((s: number, i: { quantity: number }) => s + i.quantity, 0);
        assert.equal(await stockOf(p.pid), p.stock - sold, `stock of ${p.pid}`);
      }
      for (const u of users) {
        const spent = done
          .filter((o) => o.status === 'COMPLETED' && o.userId === u.uid)
          .reduce((s, o) => s + o.totalPrice, 0);
        assert.equal(await balanceOf(u.uid), u.balance - spent, `balance of ${u.uid}`);
      }
      for (const o of done) {
        if (o.status === 'COMPLETED') {
          const expected = o.items.reduce(
            (s: number, i: any) => s + i.quantity * products.find((p) => p.pid === i.productId)!.price,
            0,
          );
          assert.equal(o.totalPrice, expected, 'totalPrice = sum of quantity x unit price');
        } else {
          assert.ok(o.reason?.code, `${o.orderId} ${o.status} has a reason`);
        }
      }
    });

    it('answers a long-poll with the current state when the wait runs out, and 400 for a bad wait', async () => {
      const unknown = await c.request('GET', `/orders/${id('none')}?wait=10`);
      assert.equal(unknown.status, 404);
      for (const w of ['30001', '-1', 'abc']) {
        const res = await c.request('GET', `/orders/${id('none')}?wait=${w}`);
        assert.equal(res.status, 400, `wait=${w}`);
      }
    });
  });
}
