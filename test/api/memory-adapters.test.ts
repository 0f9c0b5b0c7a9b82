// The api on the real embedded adapters rather than the fakes: the same answers.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { MemoryStore } from '../../adapters/store/memory.ts';
import { memoryApi, validOrder, type MemoryApi } from '../helpers/api-app.ts';

let api: MemoryApi | undefined;
let app: FastifyInstance;
let store: MemoryStore;

async function start(): Promise<void> {
  api = await memoryApi();
  ({ app, store } = api);
}

afterEach(async () => {
  await api?.close();
  api = undefined;
});

const post = (headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/orders', payload: validOrder, headers });

describe('api on the memory store and broker', () => {
  test('racing requests with one key make one order, named by a random UUID', async () => {
    await start();
    const answers = await Promise.all([
      post({ 'idempotency-key': 'k' }),
      post({ 'idempotency-key': 'k' }),
      post({ 'idempotency-key': 'k' }),
    ]);
    const ids = new Set(answers.map((r) => r.json().orderId));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [202, 202, 202],
    );
    assert.equal(ids.size, 1);
    assert.match([...ids][0], /^[0-9a-f-]{36}$/);
    assert.equal(store.sizes().orders, 1);
  });

  test('a long-poll answers when a saga commit makes the order terminal', async () => {
    await start();
    const { orderId } = (await post()).json();
    const pending = Promise.resolve(app.inject({ method: 'GET', url: `/orders/${orderId}?wait=30000` }));
    const saga = await store.loadSaga(orderId);
    assert.ok(saga);
    const view = await store.getOrder(orderId);
    assert.ok(view);
    // Wait until the long-poll has subscribed; no sleeping, just yield until it has.
    while (store.sizes().watchers === 0) await new Promise((r) => setImmediate(r));
    const cancelled = {
      ...view,
      status: 'CANCELLED' as const,
      reason: { code: 'TIMEOUT' as const, message: 'timed out' },
      history: [...view.history, { status: 'CANCELLED' as const, at: new Date(0).toISOString() }],
    };
    assert.equal(
      await store.commitSaga(orderId, saga.version, {
        snapshot: saga.snapshot,
        outbox: [],
        view: cancelled,
        wakeAt: null,
        terminal: true,
      }),
      true,
    );
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'CANCELLED');
    assert.equal(store.sizes().watchers, 0);
  });

  test('answers 503 and records nothing while the store is down', async () => {
    await start();
    store.setAvailable(false);
    const res = await post({ 'idempotency-key': 'k' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(Object.keys(res.json()), ['error']);
    store.setAvailable(true);
    assert.equal(store.sizes().orders, 0);
    assert.equal(store.sizes().idempotencyKeys, 0);
  });
});
