/**
 * The load generator meets admission control: a 503 OVERLOADED is a shed order, counted in
 * the report and not retried unless --retry-shed (then placed again with the same key);
 * other 503s are still retried by the http driver. Shed orders are neither stuck nor errors.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Driver, Terminal } from '../../src/load/driver.ts';
import { createHttpDriver } from '../../src/load/http.ts';
import { loadOptions } from '../../src/load/options.ts';
import { exitCode } from '../../src/load/report.ts';
import { runLoad, runWithDriver } from '../../src/load/run.ts';

/** Completes every order at once, except that `shedFirst` attempts per key are refused. */
function sheddingDriver(shedFirst: (key: string) => number) {
  const stock = new Map<string, { stock: number; price: number }>();
  const balance = new Map<string, number>();
  const attempts = new Map<string, number>();
  let n = 0;
  const driver: Driver = {
    mode: 'http',
    describe: async () => ({ broker: 'memory', store: 'memory' }),
    async seed(catalogue) {
      for (const p of catalogue.products) stock.set(p.productId, { stock: p.stock, price: p.price });
      for (const u of catalogue.users) balance.set(u.userId, u.balance);
    },
    async place(order) {
      const tried = (attempts.get(order.key) ?? 0) + 1;
      attempts.set(order.key, tried);
      if (tried <= shedFirst(order.key)) return { shed: true, retryAfterMs: 0 };
      let total = 0;
      for (const item of order.items) {
        const p = stock.get(item.productId)!;
        p.stock -= item.quantity;
        total += item.quantity * p.price;
      }
      balance.set(order.userId, balance.get(order.userId)! - total);
      const terminal: Terminal = { status: 'COMPLETED', totalPrice: total, at: performance.now() };
      return { orderId: `o${n++}`, terminal: Promise.resolve(terminal) };
    },
    abandon() {},
    stocks: async (ids) => ids.map((id) => stock.get(id)?.stock ?? null),
    balances: async (ids) => ids.map((id) => balance.get(id) ?? null),
    close: async () => {},
  };
  return { driver, attempts };
}

const everyThird = (key: string) => (Number(/o(\d+)$/.exec(key)![1]) % 3 === 0 ? 1 : 0);

describe('load generator: shed orders', () => {
  it('counts refused orders as shed, not retried: not stuck, not errors, the invariants hold', async () => {
    const { driver, attempts } = sheddingDriver(everyThird);
    const report = await runWithDriver(driver, loadOptions({ orders: 60, concurrency: 4, seed: 3 }));
    assert.equal(report.orders, 60);
    assert.equal(report.shed, 20);
    assert.equal(report.completed, 40);
    assert.equal(report.stuck, 0);
    assert.equal(report.errors, 0);
    assert.equal(report.invariants, 'ok');
    assert.equal(exitCode(report), 0);
    assert.ok(
      [...attempts.values()].every((n) => n === 1),
      'no order placed twice',
    );
  });

  it('with --retry-shed places a refused order again with the same key, until it is accepted', async () => {
    const { driver, attempts } = sheddingDriver((key) => everyThird(key) * 2);
    const report = await runWithDriver(driver, loadOptions({ orders: 60, concurrency: 4, seed: 3, retryShed: true }));
    assert.equal(report.shed, 0);
    assert.equal(report.completed, 60);
    assert.equal([...attempts.values()].filter((n) => n === 3).length, 20);
    assert.equal(report.invariants, 'ok');
  });

  it('sheds in-process through the same admission control as POST /orders (MAX_IN_FLIGHT)', async () => {
    const report = await runLoad(loadOptions({ orders: 200, rate: 100_000, seed: 5 }), {
      MAX_IN_FLIGHT: '1',
      LOG_LEVEL: 'error',
    });
    assert.ok(report.shed > 0, JSON.stringify(report));
    assert.equal(report.completed + report.rejected + report.cancelled + report.shed, 200);
    assert.equal(report.stuck, 0);
    assert.equal(report.errors, 0);
    assert.equal(report.invariants, 'ok');
  });
});

describe('load generator over HTTP: 503 and 401 answers', () => {
  let server: Server;
  let url: string;
  const posts: { key: string | undefined }[] = [];
  /** What POST /orders answers next, per key: a list of [status, body, headers]. */
  const script = new Map<string, [number, unknown, Record<string, string>][]>();
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = req.headers['idempotency-key'] as string | undefined;
        posts.push({ key });
        const [status, body, headers] = script.get(key ?? '')?.shift() ?? [
          202,
          { orderId: `o-${key}`, status: 'PENDING' },
          {},
        ];
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('hands a 503 OVERLOADED back as shed with its Retry-After, and retries any other 503 with the same key', async () => {
    const driver = await createHttpDriver({ target: url, adminToken: 't', connections: 2, warn: () => {} });
    try {
      script.set('k1', [[503, { error: 'too many', code: 'OVERLOADED' }, { 'retry-after': '7' }]]);
      assert.deepEqual(await driver.place({ key: 'k1', userId: 'u', items: [{ productId: 'p', quantity: 1 }] }), {
        shed: true,
        retryAfterMs: 7_000,
      });
      assert.equal(posts.filter((p) => p.key === 'k1').length, 1);

      script.set('k2', [[503, { error: 'store unavailable' }, {}]]);
      const placed = await driver.place({ key: 'k2', userId: 'u', items: [{ productId: 'p', quantity: 1 }] });
      assert.equal('orderId' in placed && placed.orderId, 'o-k2');
      assert.equal(posts.filter((p) => p.key === 'k2').length, 2);
      driver.abandon();
    } finally {
      await driver.close();
    }
  });

  it('stops at a 401 from POST /orders, saying the target authenticates users (the load generator sends no tokens)', async () => {
    const driver = await createHttpDriver({ target: url, adminToken: 't', connections: 2, warn: () => {} });
    try {
      script.set('k3', [[401, { error: 'missing bearer token' }, { 'www-authenticate': 'Bearer' }]]);
      await assert.rejects(
        driver.place({ key: 'k3', userId: 'u', items: [{ productId: 'p', quantity: 1 }] }),
        /POST \/orders answered 401 \(the target authenticates users: AUTH_JWT_SECRET or AUTH_JWKS_URL is set/,
      );
      assert.equal(posts.filter((p) => p.key === 'k3').length, 1, 'not retried');
      driver.abandon();
    } finally {
      await driver.close();
    }
  });
});
