/**
 * The black-box suite against `tsx src/main.ts all` on the embedded default, once clean
 * and once with MEMORY_FAULTS on; plus the settings that need their own process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Client, startProcess } from './client.ts';
import { httpApiSuite } from './http-api.suite.ts';

const ADMIN_TOKEN = 'bb-secret-0123456789abcdef0123456789';

httpApiSuite('embedded', async () => {
  const p = await startProcess({ ADMIN_TOKEN });
  return { client: new Client(p.url, ADMIN_TOKEN), faulty: false, stop: async () => void (await p.stop()) };
});

httpApiSuite('embedded with MEMORY_FAULTS', async () => {
  const p = await startProcess({
    ADMIN_TOKEN,
    MEMORY_FAULTS: 'dup=0.05,crash=0.02,reorder=0.2,pubfail=0.01,partial=0.01,zombie=0.01,span=0.02,seed=7',
    STEP_TIMEOUT_MS: '1500',
  });
  return { client: new Client(p.url, ADMIN_TOKEN), faulty: true, stop: async () => void (await p.stop()) };
});

describe('black box: settings with their own process', () => {
  it('answers 403 on admin routes when no ADMIN_TOKEN is configured', async () => {
    const p = await startProcess({ ADMIN_TOKEN: '' });
    try {
      const c = new Client(p.url, 'anything');
      const res = await c.admin('/products/x', { stock: 1, price: 1 });
      assert.equal(res.status, 403);
      assert.equal(typeof res.body.error, 'string');
    } finally {
      await p.stop();
    }
  });

  it('limits POST /orders per client per second with 429', async () => {
    const p = await startProcess({ RATE_LIMIT_PER_SEC: '3' });
    try {
      const c = new Client(p.url);
      const body = { userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] };
      const codes = await Promise.all(
        Array.from({ length: 8 }, () => c.request('POST', '/orders', { body }).then((r) => r.status)),
      );
      assert.ok(codes.filter((s) => s === 202).length <= 6, `${codes}`); // at most two windows' worth
      assert.ok(codes.includes(429), `${codes}`);
    } finally {
      await p.stop();
    }
  });

  it('with AUTH_JWT_SECRET, needs a user token from scripts/mint-token.ts on the order and user routes', async () => {
    const AUTH_JWT_SECRET = 'bb-user-token-secret-of-32-bytes-or-more';
    const minted = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/mint-token.ts', 'u1', '600'], {
      env: { ...process.env, AUTH_JWT_SECRET },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(minted.status, 0, minted.stderr);
    const u1 = { authorization: `Bearer ${minted.stdout.trim()}` };
    const p = await startProcess({ AUTH_JWT_SECRET });
    try {
      const c = new Client(p.url);
      const order = { userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] };
      const none = await c.request('POST', '/orders', { body: order });
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal((await c.request('POST', '/orders', { body: { ...order, userId: 'u2' }, headers: u1 })).status, 403);
      const placed = await c.request('POST', '/orders', { body: order, headers: u1 });
      assert.equal(placed.status, 202, JSON.stringify(placed.body));
      assert.equal((await c.request('GET', `/orders/${placed.body.orderId}`, { headers: u1 })).status, 200);
      assert.equal((await c.request('GET', `/orders/${placed.body.orderId}`)).status, 401);
      assert.equal((await c.request('GET', '/users/u1', { headers: u1 })).status, 200);
      assert.equal((await c.request('GET', '/users/u2', { headers: u1 })).status, 404);
      assert.equal((await c.request('GET', '/products/p1')).status, 200, 'products stay public');
    } finally {
      await p.stop();
    }
  });

  it('serves the demo catalogue and stops cleanly on SIGTERM', async () => {
    const p = await startProcess({});
    const c = new Client(p.url);
    assert.equal((await c.request('GET', '/products/p1')).status, 200);
    assert.equal((await c.request('GET', '/users/u1')).status, 200);
    assert.equal(await p.stop(), 0);
  });
});

describe('black box: a process without the api role', () => {
  it('serves /metrics and /healthz on METRICS_PORT', async () => {
    const p = await startProcess({}, 'stock');
    try {
      const c = new Client(p.url);
      const health = await c.request('GET', '/healthz');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'ok');
      assert.deepEqual(health.body.roles, ['stock']);
      const metrics = await c.request('GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(String(metrics.body), /messages_handled_total/);
      assert.equal((await c.request('POST', '/orders', { body: {} })).status, 404, 'no api routes here');
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });
});
