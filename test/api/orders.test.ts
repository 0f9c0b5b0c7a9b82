import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Topics } from '../../src/topics.ts';
import { apiHarness, postOrder, validOrder, type ApiHarness } from '../helpers/api-app.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

describe('POST /orders', () => {
  test('records a PENDING order, publishes order.start and answers 202 with Location', async () => {
    h = await apiHarness();
    const res = await postOrder(h.app, validOrder);
    assert.equal(res.statusCode, 202);
    assert.deepEqual(res.json(), { orderId: 'o-1', status: 'PENDING' });
    assert.equal(res.headers.location, '/orders/o-1');
    assert.match(String(res.headers['content-type']), /^application\/json/);

    const stored = h.store.orders.get('o-1');
    assert.ok(stored);
    assert.equal(stored.view.status, 'PENDING');
    assert.equal(stored.wakeAt, h.clock.now() + 30_000);
    assert.equal(stored.idempotency, undefined);
    assert.deepEqual(h.broker.published, [
      {
        topic: Topics.orderStart,
        key: 'o-1',
        value: { v: 1, orderId: 'o-1', ...validOrder },
        headers: { traceparent: res.headers.traceparent }, // the request's span (test/unit/trace.test.ts)
      },
    ]);
    assert.equal((await h.metrics.ordersAccepted.get()).values[0]?.value, 1);

    const read = await h.app.inject({ method: 'GET', url: '/orders/o-1' });
    assert.equal(read.statusCode, 200);
    assert.equal(read.json().status, 'PENDING');
  });

  const invalid: [string, unknown, string][] = [
    ['a missing userId', { items: validOrder.items }, 'userId: is required'],
    ['bad id characters', { ...validOrder, userId: 'u 1/' }, 'userId: must match ^[A-Za-z0-9_.:-]{1,64}$'],
    ['an id over 64 chars', { ...validOrder, userId: 'u'.repeat(65) }, 'userId: must match ^[A-Za-z0-9_.:-]{1,64}$'],
    ['0 items', { ...validOrder, items: [] }, 'items: must have at least 1 item'],
    [
      '51 items',
      { ...validOrder, items: Array.from({ length: 51 }, (_, i) => ({ productId: `p${i}`, quantity: 1 })) },
      'items: must have at most 50 items',
    ],
    [
      'quantity 0',
      { ...validOrder, items: [{ productId: 'p1', quantity: 0 }] },
      'items.0.quantity: must be at least 1',
    ],
    [
      'quantity 1001',
      { ...validOrder, items: [{ productId: 'p1', quantity: 1001 }] },
      'items.0.quantity: must be at most 1000',
    ],
    [
      'quantity 1.5',
      {
        ...validOrder,
        items: [
          { productId: 'p1', quantity: 1 },
          { productId: 'p2', quantity: 1.5 },
        ],
      },
      'items.1.quantity: must be an integer',
    ],
    [
      'a string quantity',
      { ...validOrder, items: [{ productId: 'p1', quantity: '2' }] },
      'items.0.quantity: must be a number',
    ],
    [
      'a duplicate productId',
      {
        ...validOrder,
        items: [
          { productId: 'p1', quantity: 1 },
          { productId: 'p1', quantity: 2 },
        ],
      },
      'items.1.productId: productId p1 appears twice',
    ],
    ['an unknown key', { ...validOrder, coupon: 'FREE' }, 'coupon: unknown key'],
    [
      'an unknown item key',
      { ...validOrder, items: [{ productId: 'p1', quantity: 1, price: 1 }] },
      'items.0.price: unknown key',
    ],
    ['a non-object body', [validOrder], 'body: must be an object'],
  ];
  for (const [what, body, detail] of invalid) {
    test(`answers 400 with details for ${what}, and records nothing`, async () => {
      h = await apiHarness();
      const res = await postOrder(h.app, body);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: 'invalid order', details: [detail] });
      assert.equal(h.store.orders.size, 0);
      assert.equal(h.broker.published.length, 0);
    });
  }

  test('names every problem, one detail each', async () => {
    h = await apiHarness();
    const res = await postOrder(h.app, {
      userId: '',
      items: [{ productId: 'p1', quantity: 0 }, { quantity: 1.5 }],
      x: 1,
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json().details, [
      'userId: must match ^[A-Za-z0-9_.:-]{1,64}$',
      'items.0.quantity: must be at least 1',
      'items.1.productId: is required',
      'items.1.quantity: must be an integer',
      'x: unknown key',
    ]);
  });

  test('answers 400 for invalid JSON and for an empty JSON body', async () => {
    h = await apiHarness();
    const bad = await h.app.inject({
      method: 'POST',
      url: '/orders',
      payload: '{"userId": "u1",',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { error: 'invalid JSON', details: ['body: is not valid JSON'] });
    const empty = await h.app.inject({
      method: 'POST',
      url: '/orders',
      payload: '',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(empty.statusCode, 400);
    assert.equal(empty.json().error, 'invalid JSON');
  });

  test('answers 413 for a body over 64 KiB', async () => {
    h = await apiHarness();
    const big = JSON.stringify({ ...validOrder, pad: 'x'.repeat(64 * 1024) });
    const res = await h.app.inject({
      method: 'POST',
      url: '/orders',
      payload: big,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 413);
    assert.deepEqual(res.json(), { error: 'body too large', details: ['body: must be at most 65536 bytes'] });
    assert.equal(h.store.orders.size, 0);
  });

  test('answers 415 for a body that is not JSON', async () => {
    h = await apiHarness();
    const res = await h.app.inject({
      method: 'POST',
      url: '/orders',
      payload: 'userId=u1',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(res.statusCode, 415);
    assert.deepEqual(res.json(), {
      error: 'unsupported media type',
      details: ['content-type: must be application/json'],
    });
  });

  test('answers 503 without orderId when the store cannot be written, and records nothing', async () => {
    h = await apiHarness();
    h.store.fail.create = true;
    const res = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['error']);
    assert.doesNotMatch(body.error, /ECONNREFUSED/);
    assert.equal(h.store.orders.size, 0);
    assert.equal(h.broker.published.length, 0);
    assert.equal((await h.metrics.ordersAccepted.get()).values[0]?.value ?? 0, 0);

    h.store.fail.create = false;
    const retry = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.equal(retry.statusCode, 202);
  });

  test('answers 503 with the orderId when the publish fails; a retry with the key re-publishes and gets 202', async () => {
    h = await apiHarness();
    h.broker.fail.publish = true;
    const first = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.equal(first.statusCode, 503);
    assert.equal(first.json().orderId, 'o-1');
    assert.equal(typeof first.json().error, 'string');
    assert.equal(h.store.orders.size, 1, 'the order stays recorded');
    assert.equal((await h.app.inject({ method: 'GET', url: '/orders/o-1' })).statusCode, 200);

    h.broker.fail.publish = false;
    const retry = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.equal(retry.statusCode, 202);
    assert.deepEqual(retry.json(), { orderId: 'o-1', status: 'PENDING' });
    assert.equal(retry.headers.location, '/orders/o-1');
    assert.equal(h.store.orders.size, 1);
    assert.deepEqual(h.broker.published, [
      {
        topic: Topics.orderStart,
        key: 'o-1',
        value: { v: 1, orderId: 'o-1', ...validOrder },
        headers: { traceparent: retry.headers.traceparent },
      },
    ]);
  });
});

describe('POST /orders with Idempotency-Key', () => {
  test('records the key with a hash of the canonical body', async () => {
    h = await apiHarness();
    await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    const claim = h.store.orders.get('o-1')?.idempotency;
    assert.equal(claim?.key, 'k1');
    assert.match(claim?.bodyHash ?? '', /^[0-9a-f]{64}$/);
  });

  test('a repeat with the same key and body gets the first order and its current status, publishing nothing new', async () => {
    h = await apiHarness();
    await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    h.store.setStatus('o-1', 'RESERVING');
    // Same body with its keys in another order.
    const again = await postOrder(
      h.app,
      { items: [{ quantity: 2, productId: 'p1' }], userId: 'u1' },
      { 'idempotency-key': 'k1' },
    );
    assert.equal(again.statusCode, 202);
    assert.deepEqual(again.json(), { orderId: 'o-1', status: 'RESERVING' });
    assert.equal(again.headers.location, '/orders/o-1');
    assert.equal(h.store.orders.size, 1);
    assert.equal(h.broker.published.length, 1);
    assert.equal((await h.metrics.ordersAccepted.get()).values[0]?.value, 1);
  });

  test('a repeat while the order is still PENDING publishes the same order.start again', async () => {
    h = await apiHarness();
    await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    const again = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.deepEqual(again.json(), { orderId: 'o-1', status: 'PENDING' });
    assert.equal(h.store.orders.size, 1);
    // The same message; only its traceparent differs (each request is its own span).
    const { headers: _second, ...second } = h.broker.published[1]!;
    const { headers: _first, ...first } = h.broker.published[0]!;
    assert.deepEqual(second, first);
  });

  test('the same key with a different body gets 422', async () => {
    h = await apiHarness();
    await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    const res = await postOrder(h.app, { ...validOrder, userId: 'u2' }, { 'idempotency-key': 'k1' });
    assert.equal(res.statusCode, 422);
    assert.deepEqual(res.json(), { error: 'Idempotency-Key was used with a different body' });
    assert.equal(h.store.orders.size, 1);
    assert.equal(h.broker.published.length, 1);
  });

  test('a request that fails validation uses up no key', async () => {
    h = await apiHarness();
    const bad = await postOrder(h.app, { ...validOrder, items: [] }, { 'idempotency-key': 'k1' });
    assert.equal(bad.statusCode, 400);
    const good = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.equal(good.statusCode, 202);
    assert.equal(h.store.orders.size, 1);
  });

  test('two racing requests with one key make one order', async () => {
    h = await apiHarness();
    const [a, b] = await Promise.all([
      postOrder(h.app, validOrder, { 'idempotency-key': 'race' }),
      postOrder(h.app, validOrder, { 'idempotency-key': 'race' }),
    ]);
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.equal(a.json().orderId, b.json().orderId);
    assert.equal(h.store.orders.size, 1);
    assert.ok(h.broker.published.every((m) => m.key === a.json().orderId));
  });

  test('answers 400 for a key that is empty or over 128 chars, and accepts 128', async () => {
    h = await apiHarness();
    for (const key of ['', 'k'.repeat(129)]) {
      const res = await postOrder(h.app, validOrder, { 'idempotency-key': key });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), {
        error: 'invalid Idempotency-Key',
        details: ['Idempotency-Key: must be 1 to 128 characters'],
      });
    }
    assert.equal(h.store.orders.size, 0);
    assert.equal((await postOrder(h.app, validOrder, { 'idempotency-key': 'k'.repeat(128) })).statusCode, 202);
  });
});
