/**
 * The stock and payment workers over the memory broker (manual mode) and memory store:
 * each command delivered twice changes state once and gets the same reply twice, and a
 * command that disagrees with the stored order (forged) is dead-lettered and moves nothing.
 * Orders are taken to the status a command needs by a saga host whose sends go nowhere.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createMemoryBroker, type MemoryBroker } from '../../adapters/broker/memory.ts';
import { createMemoryStore, type MemoryStore } from '../../adapters/store/memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { DlqHeaders, type Delivery } from '../../src/ports/broker.ts';
import { FastBackoff } from '../../src/retry.ts';
import { createSagaHost } from '../../src/saga/host.ts';
import { newOrderSaga } from '../../src/saga/stepping.ts';
import { dlqOf, message, Subscriptions, Topics, type OutMessage, type TopicName } from '../../src/topics.ts';
import { startPaymentWorker } from '../../src/workers/payment.ts';
import { startStockWorker } from '../../src/workers/stock.ts';
import { recordingBroker } from '../helpers/recording-broker.ts';

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
      // Every worker reply: what the saga consumes, but the api's order.start.
      topics: Subscriptions.order.filter((t) => t !== Topics.orderStart),
      handler: async (d) => void replies.push(d),
    });
    await store.seed([{ productId: 'p1', stock: 5, price: 100 }], [{ userId: 'u1', balance: 300 }]);
  });
  afterEach(async () => {
    await broker.close();
  });

  const STEP = 1_000;
  async function order(orderId: string, quantity = 2) {
    const s = newOrderSaga({
      orderId,
      userId: 'u1',
      items: [{ productId: 'p1', quantity }],
      createdAt: clock.now(),
      stepTimeoutMs: STEP,
      compensationRetry: FastBackoff.compensation,
    });
    await store.createOrder({ orderId, view: s.view, snapshot: s.snapshot, wakeAt: s.wakeAt });
  }
  /** The saga's steps for one order, its sends recorded only: the workers see what a test publishes. */
  const saga = () =>
    createSagaHost({
      store,
      broker: recordingBroker(),
      clock,
      metrics: createMetrics(),
      logger: silentLogger,
      casAttempts: 3,
    });
  /** PENDING to PAYING: the host prices the order (p1 at 100 each) and records its total. */
  async function paying(orderId: string) {
    const view = (await store.getOrder(orderId))!;
    await saga().receive(Topics.stockSuccess, { v: 1, orderId, items: view.items });
    assert.equal((await store.getOrder(orderId))!.status, 'PAYING');
  }
  /** To COMPENSATING by the step deadline, as the sweeper does: the saga sends its undos from here. */
  async function compensating(orderId: string) {
    await saga().timeout(orderId, clock.advance(STEP));
    assert.equal((await store.getOrder(orderId))!.status, 'COMPENSATING');
  }
  async function completed(orderId: string) {
    await saga().receive(Topics.paymentSuccess, { v: 1, orderId });
    assert.equal((await store.getOrder(orderId))!.status, 'COMPLETED');
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
    assert.equal(await stock(), 3);
    await paying('o3');
    await compensating('o3');
    await twice(message(Topics.stockRollback, { orderId: 'o3' }));
    assert.equal(await stock(), 5);
    assert.equal(repliesOn(Topics.stockReleased).length, 2);

    await order('o4');
    await compensating('o4'); // the api's PENDING deadline: its order.start is late
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
    await paying('o5');
    await twice(message(Topics.paymentRequest, { orderId: 'o5', userId: 'u1', amount: 200 }));
    assert.equal(await balance(), 100);
    assert.equal(repliesOn(Topics.paymentSuccess).length, 2);
    await compensating('o5');
    await twice(message(Topics.paymentRefund, { orderId: 'o5', userId: 'u1' }));
    assert.equal(await balance(), 300);
    assert.equal(repliesOn(Topics.paymentRefunded).length, 2);

    await order('o6');
    await paying('o6');
    await compensating('o6'); // the payment deadline passed: its request is late
    await broker.publish([message(Topics.paymentRefund, { orderId: 'o6', userId: 'u1' })]);
    await broker.drain();
    await broker.publish([message(Topics.paymentRequest, { orderId: 'o6', userId: 'u1', amount: 200 })]);
    await broker.drain();
    assert.equal(await balance(), 300);
    assert.equal((repliesOn(Topics.paymentFailed).at(-1) as { code: string }).code, 'CANCELLED');
  });

  it('repeats INSUFFICIENT_BALANCE after a top-up', async () => {
    await order('o7', 10);
    await paying('o7');
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
    await order('o8', 1);
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
  describe('commands checked against the stored order', () => {
    /** Dead letters of one order: [source topic, code, message]. */
    const lettersOf = (orderId: string) =>
      broker
        .deadLetters()
        .filter((d) => d.key === orderId)
        .map((d) => [
          d.headers[DlqHeaders.sourceTopic],
          d.headers[DlqHeaders.errorCode],
          d.headers[DlqHeaders.errorMessage],
        ]);
    const publish = async (...messages: OutMessage[]) => {
      await broker.publish(messages);
      await broker.drain();
    };
    const start = (orderId: string, items = [{ productId: 'p1', quantity: 2 }], userId = 'u1') =>
      message(Topics.orderStart, { orderId, userId, items });
    beforeEach(async () => {
      await store.putProduct({ productId: 'p1', stock: 100, price: 100 });
      await store.putUser({ userId: 'u1', balance: 1_000 });
    });

    it('refuses a release and a refund for a COMPLETED order, and moves nothing', async () => {
      await order('done');
      await publish(start('done'));
      await paying('done');
      await publish(message(Topics.paymentRequest, { orderId: 'done', userId: 'u1', amount: 200 }));
      await completed('done');
      assert.deepEqual([await stock(), await balance()], [98, 800]);

      await publish(
        message(Topics.stockRollback, { orderId: 'done' }),
        message(Topics.paymentRefund, { orderId: 'done', userId: 'u1' }),
      );
      assert.deepEqual([await stock(), await balance()], [98, 800], 'nothing given back');
      // Two topics: no order between them (src/ports/broker.ts).
      assert.deepEqual(lettersOf('done').sort(), [
        [
          Topics.paymentRefund,
          'FORGED_COMMAND',
          'payment.refund for order done refused: the order is COMPLETED; the saga sends undos only in COMPENSATING or CANCELLED',
        ],
        [
          Topics.stockRollback,
          'FORGED_COMMAND',
          'stock.rollback for order done refused: the order is COMPLETED; the saga sends undos only in COMPENSATING or CANCELLED',
        ],
      ]);
      assert.equal(repliesOn(Topics.stockReleased).length + repliesOn(Topics.paymentRefunded).length, 0);
    });

    it('refuses undos for an order in progress, leaving no tombstone that would refuse its real steps', async () => {
      await order('early');
      await publish(
        message(Topics.stockRollback, { orderId: 'early' }),
        message(Topics.paymentRefund, { orderId: 'early', userId: 'u1' }),
      );
      const early = lettersOf('early');
      assert.deepEqual(early.map(([topic, code]) => [topic, code]).sort(), [
        [Topics.paymentRefund, 'FORGED_COMMAND'],
        [Topics.stockRollback, 'FORGED_COMMAND'],
      ]);
      assert.ok(
        early.every(([, , why]) => why?.includes('the order is PENDING')),
        JSON.stringify(early),
      );
      await publish(start('early'));
      assert.equal(await stock(), 98, 'the real reserve still takes the stock');
      await paying('early');
      await publish(message(Topics.stockRollback, { orderId: 'early' }));
      await publish(message(Topics.paymentRequest, { orderId: 'early', userId: 'u1', amount: 200 }));
      assert.equal(await balance(), 800, 'the real charge still takes the money');
      assert.match(lettersOf('early').at(-1)![2]!, /the order is PAYING/);
      assert.equal(await stock(), 98, 'the rollback while PAYING gave nothing back');
    });

    it('reserves only the items the order recorded, for its user', async () => {
      await order('o20');
      await publish(
        start('o20', [{ productId: 'p1', quantity: 50 }]),
        start('o20', [
          { productId: 'p1', quantity: 2 },
          { productId: 'p2', quantity: 1 },
        ]),
        start('o20', [{ productId: 'p1', quantity: 2 }], 'u2'),
      );
      assert.equal(await stock(), 100, 'nothing reserved');
      assert.equal(
        repliesOn(Topics.stockSuccess).length + repliesOn(Topics.stockFailed).length,
        0,
        'no reply to the saga',
      );
      assert.deepEqual(lettersOf('o20'), [
        [
          Topics.orderStart,
          'FORGED_COMMAND',
          "order.start for order o20 refused: items p1x50 are not the order's items p1x2",
        ],
        [
          Topics.orderStart,
          'FORGED_COMMAND',
          "order.start for order o20 refused: items p1x2,p2x1 are not the order's items p1x2",
        ],
        [
          Topics.orderStart,
          'FORGED_COMMAND',
          "order.start for order o20 refused: userId u2 is not the order's user u1",
        ],
      ]);
      await publish(start('o20'));
      assert.equal(await stock(), 98, 'the real order.start reserves what was recorded');
    });

    it("charges only the order's total, once the saga priced it, and refunds only to the order's user", async () => {
      await order('o30');
      await publish(message(Topics.paymentRequest, { orderId: 'o30', userId: 'u1', amount: 200 }));
      await paying('o30');
      await publish(
        message(Topics.paymentRequest, { orderId: 'o30', userId: 'u1', amount: 1 }),
        message(Topics.paymentRequest, { orderId: 'o30', userId: 'u2', amount: 200 }),
      );
      assert.equal(await balance(), 1_000, 'nothing charged');
      assert.deepEqual(lettersOf('o30'), [
        [
          Topics.paymentRequest,
          'FORGED_COMMAND',
          'payment.request for order o30 refused: the order is PENDING and has no total yet',
        ],
        [
          Topics.paymentRequest,
          'FORGED_COMMAND',
          "payment.request for order o30 refused: amount 1 is not the order's total 200",
        ],
        [
          Topics.paymentRequest,
          'FORGED_COMMAND',
          "payment.request for order o30 refused: userId u2 is not the order's user u1",
        ],
      ]);
      await publish(message(Topics.paymentRequest, { orderId: 'o30', userId: 'u1', amount: 200 }));
      assert.equal(await balance(), 800, 'the real request charges the total');
      await compensating('o30');
      await publish(message(Topics.paymentRefund, { orderId: 'o30', userId: 'u2' }));
      assert.equal(await balance(), 800);
      assert.match(lettersOf('o30').at(-1)![2]!, /userId u2 is not the order's user u1/);
      await publish(message(Topics.paymentRefund, { orderId: 'o30', userId: 'u1' }));
      assert.equal(await balance(), 1_000, 'the real refund gives it back');
      assert.equal(broker.deadLetters().filter((d) => d.topic === dlqOf(Topics.paymentRefund)).length, 1);
    });
  });
});
