/**
 * The stock and payment workers over the memory broker (manual mode) and memory store:
 * each command delivered twice changes state once and gets the same reply twice.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createMemoryBroker, type MemoryBroker } from '../../adapters/broker/memory.ts';
import { createMemoryStore, type MemoryStore } from '../../adapters/store/memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Delivery } from '../../src/ports/broker.ts';
import { FastBackoff } from '../../src/retry.ts';
import { newOrderSaga } from '../../src/saga/stepping.ts';
import { message, Topics, type OutMessage, type TopicName } from '../../src/topics.ts';
import { startPaymentWorker } from '../../src/workers/payment.ts';
import { startStockWorker } from '../../src/workers/stock.ts';

describe('stock and payment workers', () => {
  let clock: ManualClock;
  let broker: MemoryBroker;
  let store: MemoryStore;
  let replies: Delivery[];

  beforeEach(async () => {
    clock = new ManualClock();
    broker = createMemoryBroker({ mode: 'manual', seed: 3, clock, redelivery: FastBackoff.redelivery });
    store = createMemoryStore({ clock, orderRetentionMs: 60_000 });
    const deps = { store, broker, clock, metrics: createMetrics(), logger: silentLogger };
    await startStockWorker({ ...deps, group: 'stock-service' });
    await startPaymentWorker({ ...deps, group: 'payment-service' });
    replies = [];
    await broker.subscribe({
      group: 'test-tap',
      topics: [
        Topics.stockSuccess,
        Topics.stockFailed,
        Topics.stockReleased,
        Topics.paymentSuccess,
        Topics.paymentFailed,
        Topics.paymentRefunded,
      ],
      handler: async (d) => void replies.push(d),
    });
    await store.seed([{ productId: 'p1', stock: 5, price: 100 }], [{ userId: 'u1', balance: 300 }]);
  });
  afterEach(async () => {
    await broker.close();
  });

  async function order(orderId: string, quantity = 2) {
    const s = newOrderSaga({
      orderId,
      userId: 'u1',
      items: [{ productId: 'p1', quantity }],
      createdAt: clock.now(),
      stepTimeoutMs: 1_000,
      compensationRetry: FastBackoff.compensation,
    });
    await store.createOrder({ orderId, view: s.view, snapshot: s.snapshot, wakeAt: s.wakeAt });
  }
  /** Publishes the same command twice, as a redelivery would, and delivers everything. */
  async function twice(m: OutMessage) {
    await broker.publish([m, m]);
    await broker.drain();
  }
  const repliesOn = (topic: TopicName) => replies.filter((r) => r.topic === topic).map((r) => r.value);
  const stock = async () => (await store.getProducts(['p1']))[0]!.stock;
  const balance = async () => (await store.getUser('u1'))!.balance;

  it('reserves once for a duplicated order.start and replies stock.success twice', async () => {
    await order('o1');
    await twice(message(Topics.orderStart, { orderId: 'o1', userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] }));
    assert.equal(await stock(), 3);
    assert.equal(repliesOn(Topics.stockSuccess).length, 2);
    assert.deepEqual(repliesOn(Topics.stockSuccess)[0], repliesOn(Topics.stockSuccess)[1]);
  });

  it('repeats a refusal even after a restock', async () => {
    await order('o2', 9);
    const start = message(Topics.orderStart, {
      orderId: 'o2',
      userId: 'u1',
      items: [{ productId: 'p1', quantity: 9 }],
    });
    await broker.publish([start]);
    await broker.drain();
    await store.putProduct({ productId: 'p1', stock: 100, price: 100 });
    await broker.publish([start]);
    await broker.drain();
    const failed = repliesOn(Topics.stockFailed) as { code: string }[];
    assert.equal(failed.length, 2);
    assert.ok(failed.every((f) => f.code === 'OUT_OF_STOCK'));
    assert.equal(await stock(), 100, 'nothing taken');
  });

  it('releases once for a duplicated rollback, and a rollback first refuses the late reserve', async () => {
    await order('o3');
    await broker.publish([
      message(Topics.orderStart, { orderId: 'o3', userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] }),
    ]);
    await broker.drain();
    await twice(message(Topics.stockRollback, { orderId: 'o3' }));
    assert.equal(await stock(), 5);
    assert.equal(repliesOn(Topics.stockReleased).length, 2);

    await order('o4');
    await broker.publish([message(Topics.stockRollback, { orderId: 'o4' })]);
    await broker.drain();
    await broker.publish([
      message(Topics.orderStart, { orderId: 'o4', userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] }),
    ]);
    await broker.drain();
    assert.equal(await stock(), 5, 'the tombstone refused the late reserve');
    assert.equal((repliesOn(Topics.stockFailed).at(-1) as { code: string }).code, 'CANCELLED');
  });

  it('charges once for a duplicated payment.request, refunds once, and a refund first refuses the late charge', async () => {
    await order('o5');
    await twice(message(Topics.paymentRequest, { orderId: 'o5', userId: 'u1', amount: 200 }));
    assert.equal(await balance(), 100);
    assert.equal(repliesOn(Topics.paymentSuccess).length, 2);
    await twice(message(Topics.paymentRefund, { orderId: 'o5', userId: 'u1' }));
    assert.equal(await balance(), 300);
    assert.equal(repliesOn(Topics.paymentRefunded).length, 2);

    await order('o6');
    await broker.publish([message(Topics.paymentRefund, { orderId: 'o6', userId: 'u1' })]);
    await broker.drain();
    await broker.publish([message(Topics.paymentRequest, { orderId: 'o6', userId: 'u1', amount: 50 })]);
    await broker.drain();
    assert.equal(await balance(), 300);
    assert.equal((repliesOn(Topics.paymentFailed).at(-1) as { code: string }).code, 'CANCELLED');
  });

  it('repeats INSUFFICIENT_BALANCE after a top-up', async () => {
    await order('o7');
    const req = message(Topics.paymentRequest, { orderId: 'o7', userId: 'u1', amount: 1_000 });
    await broker.publish([req]);
    await broker.drain();
    await store.putUser({ userId: 'u1', balance: 5_000 });
    await broker.publish([req]);
    await broker.drain();
    const failed = repliesOn(Topics.paymentFailed) as { code: string }[];
    assert.deepEqual(
      failed.map((f) => f.code),
      ['INSUFFICIENT_BALANCE', 'INSUFFICIENT_BALANCE'],
    );
    assert.equal(await balance(), 5_000);
  });

  it('dead-letters a command for an order with no record, and a malformed payload, and moves on', async () => {
    await broker.publish([
      message(Topics.orderStart, { orderId: 'ghost', userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] }),
    ]);
    await broker.publish([
      { topic: Topics.paymentRequest, key: 'bad', value: { v: 1, orderId: 'bad', amount: -5 } as never },
    ]);
    await broker.publish([
      { topic: Topics.paymentRefund, key: 'old', value: { v: 99, orderId: 'old', userId: 'u1' } as never },
    ]);
    await order('o8');
    await broker.publish([
      message(Topics.orderStart, { orderId: 'o8', userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] }),
    ]);
    await broker.drain();
    const dlq = broker.deadLetters();
    assert.deepEqual(dlq.map((d) => [d.topic, d.headers['x-error-code']]).sort(), [
      ['order.start.dlq', 'UNKNOWN_ORDER'],
      ['payment.refund.dlq', 'UNSUPPORTED_VERSION'],
      ['payment.request.dlq', 'INVALID_MESSAGE'],
    ]);
    assert.equal(await stock(), 4, 'the good order behind them was handled');
  });
});
