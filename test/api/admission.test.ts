/**
 * POST /orders under admission control (MAX_IN_FLIGHT): over the limit it answers 503
 * OVERLOADED with Retry-After and records nothing; a repeat of a recorded order still gets
 * its 202. In flight is what the store counts, so orders from other processes count too.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ADMISSION_REFRESH_MS } from '../../src/saga/admission-gate.ts';
import { orderView } from '../helpers/store-fixtures.ts';
import { apiHarness, postOrder, validOrder, type ApiHarness } from '../helpers/api-app.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

const shedCount = async (harness: ApiHarness) => (await harness.metrics.ordersShed.get()).values[0]?.value ?? 0;

describe('POST /orders: admission control', () => {
  test('answers 503 OVERLOADED with Retry-After once MAX_IN_FLIGHT orders are in flight, recording nothing', async () => {
    h = await apiHarness({ maxInFlight: 2 });
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);

    const res = await postOrder(h.app, validOrder, { 'idempotency-key': 'k-shed' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'error']);
    assert.equal(res.json().code, 'OVERLOADED');
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30, String(res.headers['retry-after']));
    assert.equal(h.store.orders.size, 2);
    assert.equal(h.store.views.has('o-3'), false);
    assert.equal(h.broker.published.length, 2);
    assert.equal(await h.store.idempotencyClaim('k-shed'), null);
    assert.equal(await shedCount(h), 1);
    assert.equal((await h.metrics.ordersAccepted.get()).values[0]?.value, 2);

    // Once an order ends (seen at the next refresh), the refused key is free and the order goes in.
    h.store.setStatus('o-1', 'COMPLETED');
    h.clock.advance(ADMISSION_REFRESH_MS);
    const again = await postOrder(h.app, validOrder, { 'idempotency-key': 'k-shed' });
    assert.equal(again.statusCode, 202);
    assert.equal(h.store.orders.get(again.json().orderId)?.idempotency?.key, 'k-shed');
  });

  test('lets a repeat of a recorded order through at the limit: it is not new work', async () => {
    h = await apiHarness({ maxInFlight: 2 });
    const first = await postOrder(h.app, validOrder, { 'idempotency-key': 'k-1' });
    assert.equal(first.statusCode, 202);
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);

    const repeat = await postOrder(h.app, validOrder, { 'idempotency-key': 'k-1' });
    assert.equal(repeat.statusCode, 202);
    assert.deepEqual(repeat.json(), first.json());
    assert.equal(h.broker.published.length, 3); // still PENDING: order.start again
    const conflict = await postOrder(h.app, { ...validOrder, userId: 'u2' }, { 'idempotency-key': 'k-1' });
    assert.equal(conflict.statusCode, 422); // a claimed key with another body is still that, not a 503
    assert.equal((await postOrder(h.app, validOrder, { 'idempotency-key': 'k-new' })).statusCode, 503);
    assert.equal(h.store.orders.size, 2);
    assert.equal(await shedCount(h), 1);
  });

  test('counts orders in flight system-wide: ones another process recorded fill the limit too', async () => {
    h = await apiHarness({ maxInFlight: 2 });
    // Written to the shared store by another api, or in flight in the saga.
    await h.store.createOrder({ orderId: 'elsewhere-1', view: orderView('elsewhere-1'), snapshot: {}, wakeAt: 0 });
    await h.store.createOrder({
      orderId: 'elsewhere-2',
      view: orderView('elsewhere-2', 'COMPENSATING'),
      snapshot: {},
      wakeAt: 0,
    });
    const res = await postOrder(h.app, validOrder);
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'OVERLOADED');
  });

  test('never refuses with MAX_IN_FLIGHT=0', async () => {
    h = await apiHarness({ maxInFlight: 0 });
    for (let i = 0; i < 30; i++) assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
    assert.equal(await shedCount(h), 0);
  });

  test('a store that cannot be read on the way to a refusal is a plain 503: nothing recorded', async () => {
    h = await apiHarness({ maxInFlight: 1 });
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
    h.store.fail.read = true;
    const res = await postOrder(h.app, validOrder, { 'idempotency-key': 'k-2' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, undefined);
    assert.equal(h.store.orders.size, 1);
  });
});
