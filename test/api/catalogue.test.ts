import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ADMIN_TOKEN, apiHarness, type ApiHarness } from '../helpers/api-app.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const put = (url: string, payload: unknown, headers: Record<string, string> = auth) =>
  h.app.inject({ method: 'PUT', url, payload: payload as object, headers });

describe('GET /products/{productId} and /users/{userId}', () => {
  test('answer 200 with the product and the user', async () => {
    h = await apiHarness();
    h.store.products.set('p1', { productId: 'p1', stock: 7, price: 250 });
    h.store.users.set('u1', { userId: 'u1', balance: 1000 });
    const p = await h.app.inject({ method: 'GET', url: '/products/p1' });
    assert.equal(p.statusCode, 200);
    assert.deepEqual(p.json(), { productId: 'p1', stock: 7, price: 250 });
    const u = await h.app.inject({ method: 'GET', url: '/users/u1' });
    assert.equal(u.statusCode, 200);
    assert.deepEqual(u.json(), { userId: 'u1', balance: 1000 });
  });

  test('answer 404 for unknown ids', async () => {
    h = await apiHarness();
    const p = await h.app.inject({ method: 'GET', url: '/products/p9' });
    assert.equal(p.statusCode, 404);
    assert.deepEqual(p.json(), { error: 'product not found' });
    const u = await h.app.inject({ method: 'GET', url: '/users/u9' });
    assert.equal(u.statusCode, 404);
    assert.deepEqual(u.json(), { error: 'user not found' });
  });

  test('answer 400 with details for a malformed id', async () => {
    h = await apiHarness();
    const p = await h.app.inject({ method: 'GET', url: `/products/${'p'.repeat(65)}` });
    assert.equal(p.statusCode, 400);
    assert.deepEqual(p.json(), {
      error: 'invalid productId',
      details: ['productId: must match ^[A-Za-z0-9_.:-]{1,64}$'],
    });
    const u = await h.app.inject({ method: 'GET', url: '/users/a%2Fb' });
    assert.equal(u.statusCode, 400);
    assert.deepEqual(u.json(), { error: 'invalid userId', details: ['userId: must match ^[A-Za-z0-9_.:-]{1,64}$'] });
  });
});

describe('PUT /admin/*', () => {
  test('creates or replaces a product and a user, answering 200 with them', async () => {
    h = await apiHarness();
    const p = await put('/admin/products/p1', { stock: 10, price: Number.MAX_SAFE_INTEGER });
    assert.equal(p.statusCode, 200);
    assert.deepEqual(p.json(), { productId: 'p1', stock: 10, price: Number.MAX_SAFE_INTEGER });
    assert.equal((await put('/admin/products/p1', { stock: 0, price: 5 })).statusCode, 200);
    assert.deepEqual(h.store.products.get('p1'), { productId: 'p1', stock: 0, price: 5 });

    const u = await put('/admin/users/u1', { balance: 0 });
    assert.equal(u.statusCode, 200);
    assert.deepEqual(u.json(), { userId: 'u1', balance: 0 });
    assert.deepEqual((await h.app.inject({ method: 'GET', url: '/users/u1' })).json(), { userId: 'u1', balance: 0 });
  });

  test('answers 401 without a token or with a wrong one, and changes nothing', async () => {
    h = await apiHarness();
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: ADMIN_TOKEN },
      { authorization: `Basic ${ADMIN_TOKEN}` },
    ];
    for (const headers of attempts) {
      const res = await put('/admin/products/p1', { stock: 1, price: 1 }, headers);
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.json(), { error: 'missing or wrong bearer token' });
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    assert.equal((await put('/admin/users/u1', { balance: 1 }, {})).statusCode, 401);
    assert.equal(h.store.products.size + h.store.users.size, 0);
  });

  test('answers 403 when no admin token is configured', async () => {
    h = await apiHarness({ adminToken: undefined });
    for (const [url, body] of [
      ['/admin/products/p1', { stock: 1, price: 1 }],
      ['/admin/users/u1', { balance: 1 }],
    ] as const) {
      const res = await put(url, body);
      assert.equal(res.statusCode, 403);
      assert.equal(typeof res.json().error, 'string');
    }
    assert.equal(h.store.products.size + h.store.users.size, 0);
  });

  const invalid: [string, unknown, string[]][] = [
    ['/admin/products/p1', { stock: -1, price: 1 }, ['stock: must be at least 0']],
    // zod's int() also refuses integers past 2^53-1, so that price gets two details.
    [
      '/admin/products/p1',
      { stock: 1.5, price: 2 ** 53 },
      ['stock: must be an integer', 'price: must be an integer', 'price: must be at most 9007199254740991'],
    ],
    ['/admin/products/p1', { stock: 1 }, ['price: is required']],
    ['/admin/products/p1', { stock: 1, price: 1, name: 'x' }, ['name: unknown key']],
    ['/admin/users/u1', { balance: '5' }, ['balance: must be a number']],
    ['/admin/users/u1', {}, ['balance: is required']],
  ];
  for (const [url, body, details] of invalid) {
    test(`answers 400 with details for ${url} ${JSON.stringify(body)}`, async () => {
      h = await apiHarness();
      const res = await put(url, body);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: url.includes('users') ? 'invalid user' : 'invalid product', details });
      assert.equal(h.store.products.size + h.store.users.size, 0);
    });
  }

  test('answers 400 for a malformed id, invalid JSON and 415 for non-JSON', async () => {
    h = await apiHarness();
    assert.equal((await put('/admin/users/bad%20id', { balance: 1 })).statusCode, 400);
    const bad = await h.app.inject({
      method: 'PUT',
      url: '/admin/users/u1',
      payload: '{',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error, 'invalid JSON');
    const text = await h.app.inject({
      method: 'PUT',
      url: '/admin/users/u1',
      payload: 'x',
      headers: { ...auth, 'content-type': 'text/plain' },
    });
    assert.equal(text.statusCode, 415);
  });
});
