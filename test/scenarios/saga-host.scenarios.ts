/**
 * The saga host's scenarios over any Store adapter: compare-and-set races, crashes
 * between snapshot write and send, lost replies, sweeper leases. Run on the memory
 * store in test/unit and on Redis in test/integration.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.ts';
import type { Store } from '../../src/ports/store.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { FastBackoff } from '../../src/retry.ts';
import { crashWhen } from '../../src/saga/crash-hook.ts';
import { createSagaHost, type SagaHostDeps } from '../../src/saga/host.ts';
import { newOrderSaga } from '../../src/saga/stepping.ts';
import { createSweeper } from '../../src/saga/sweeper.ts';
import { SCHEMA_VERSION, Subscriptions, Topics } from '../../src/topics.ts';
import { recordingBroker, type RecordingBroker } from '../helpers/recording-broker.ts';

const STEP = 1_000;
const v = SCHEMA_VERSION;

export type SagaStoreFactory = (clock: ManualClock) => Promise<{ store: Store; cleanup(): Promise<void> }>;

export function sagaHostScenarios(name: string, make: SagaStoreFactory): void {
  describe(`saga host on ${name}`, () => {
    let clock: ManualClock;
    let store: Store;
    let cleanup: () => Promise<void>;
    let broker: RecordingBroker;
    const host = (extra: Partial<SagaHostDeps> = {}) =>
      createSagaHost({
        store,
        broker,
        clock,
        metrics: createMetrics(),
        logger: silentLogger,
        casAttempts: 5,
        ...extra,
      });

    async function newOrder(orderId = 'o1') {
      const { snapshot, view, wakeAt } = newOrderSaga({
        orderId,
        userId: 'u1',
        items: [{ productId: 'p1', quantity: 2 }],
        createdAt: clock.now(),
        stepTimeoutMs: STEP,
        compensationRetry: FastBackoff.compensation,
      });
      await store.createOrder({ orderId, view, snapshot, wakeAt });
      return orderId;
    }

    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      ({ store, cleanup } = await make(clock));
      broker = recordingBroker();
      await store.seed([{ productId: 'p1', stock: 10, price: 250 }], [{ userId: 'u1', balance: 10_000 }]);
    });
    afterEach(async () => {
      await cleanup();
    });

    it('prices on stock.success and writes PAYING with its payment.request in one compare-and-set', async () => {
      const id = await newOrder();
      const h = host();
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
      const before = (await store.loadSaga(id))!.version;
      await h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] });
      const after = (await store.loadSaga(id))!;
      assert.equal(after.version, before + 1, 'one write for reservation + ordering + paying');
      assert.equal((await store.getOrder(id))!.status, 'PAYING');
      assert.equal((await store.getOrder(id))!.totalPrice, 500);
      assert.deepEqual(broker.sent.at(-1), {
        topic: Topics.paymentRequest,
        key: id,
        value: { v, orderId: id, userId: 'u1', amount: 500 },
      });
      assert.equal(after.outboxSent, true);
    });

    it('answers what happened: committed with before, after, event and outbox; unchanged for a repeat', async () => {
      const id = await newOrder();
      const h = host();
      const start = { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] };
      const first = await h.receive(Topics.orderStart, start);
      assert.equal(first.kind, 'committed');
      if (first.kind !== 'committed') return;
      assert.deepEqual(
        [first.before.value, first.after.value, first.event.type, first.outbox],
        ['PENDING', 'RESERVING', 'START', []],
      );
      const paying = await h.receive(Topics.stockSuccess, { v, orderId: id, items: start.items });
      assert.equal(paying.kind === 'committed' && paying.outbox.map((m) => m.topic).join(), Topics.paymentRequest);
      const repeat = await h.receive(Topics.orderStart, start);
      assert.equal(repeat.kind, 'unchanged');
      assert.equal(repeat.kind === 'unchanged' && repeat.resend.length, 0, 'the outbox was sent already');
    });

    it('hands dispatch one handler per saga input topic, from the inbox table', () => {
      assert.deepEqual(Object.keys(host().inbox).sort(), [...Subscriptions.order].sort());
    });

    it('keeps one truth when two hosts race on one order', async () => {
      const id = await newOrder();
      const [a, b] = [host(), host()];
      const start = { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] };
      await Promise.all([a.receive(Topics.orderStart, start), b.receive(Topics.orderStart, start)]);
      await Promise.all([
        a.receive(Topics.stockSuccess, { v, orderId: id, items: start.items }),
        b.receive(Topics.stockSuccess, { v, orderId: id, items: start.items }),
      ]);
      const view = (await store.getOrder(id))!;
      assert.equal(view.status, 'PAYING');
      assert.deepEqual(
        view.history.map((h) => h.status),
        ['PENDING', 'RESERVING', 'ORDERING', 'PAYING'],
        'each transition applied once',
      );
      assert.equal((await store.loadSaga(id))!.version, 3);
    });

    it('re-sends the outbox on redelivery after a crash between snapshot write and send', async () => {
      const id = await newOrder();
      let crashes = 0;
      const h = host({ afterCommit: crashWhen(() => crashes-- > 0) });
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
      crashes = 1;
      await assert.rejects(
        h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] }),
        {
          name: 'SimulatedCrashError',
          code: 'SIMULATED_CRASH',
        },
      );
      const saga = (await store.loadSaga(id))!;
      assert.equal((await store.getOrder(id))!.status, 'PAYING', 'the snapshot was written');
      assert.equal(saga.outboxSent, false);
      assert.equal(broker.count(Topics.paymentRequest), 0);
      await h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] }); // the redelivery
      assert.equal(broker.count(Topics.paymentRequest), 1, 'outbox sent once the event came back');
      assert.equal((await store.loadSaga(id))!.version, saga.version, 'not applied twice');
      assert.equal((await store.loadSaga(id))!.outboxSent, true);
    });

    it('re-sends the outbox of a transition into a terminal state too', async () => {
      const id = await newOrder();
      let crash = false;
      const h = host({ afterCommit: crashWhen(() => crash) });
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
      await h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] });
      crash = true;
      await assert.rejects(h.receive(Topics.paymentSuccess, { v, orderId: id }), { code: 'SIMULATED_CRASH' });
      crash = false;
      assert.equal((await store.getOrder(id))!.status, 'COMPLETED');
      assert.equal(broker.count(Topics.orderCompleted), 0);
      await h.receive(Topics.paymentSuccess, { v, orderId: id });
      assert.equal(broker.count(Topics.orderCompleted), 1);
    });

    it('re-sends an unsent outbox when a publish failed, on the next event even if it changes nothing', async () => {
      const id = await newOrder();
      const h = host();
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
      broker.failNext = 1;
      await assert.rejects(
        h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] }),
        {
          code: 'BROKER_UNAVAILABLE',
        },
      );
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] }); // a duplicate, no transition
      assert.equal(broker.count(Topics.paymentRequest), 1);
    });

    it('does not bring a finished order back to life', async () => {
      const id = await newOrder();
      const h = host();
      await h.receive(Topics.stockFailed, { v, orderId: id, code: 'OUT_OF_STOCK', message: 'short' });
      const saga = (await store.loadSaga(id))!;
      assert.equal((await store.getOrder(id))!.status, 'REJECTED');
      const sent = broker.sent.length;
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
      await h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] });
      await h.receive(Topics.paymentSuccess, { v, orderId: id });
      await h.timeout(id, clock.advance(10 * STEP));
      assert.equal((await store.loadSaga(id))!.version, saga.version);
      assert.equal((await store.getOrder(id))!.status, 'REJECTED');
      assert.equal(broker.sent.length, sent, 'nothing sent');
    });

    it('starts the next event of an order from its own last write, without loading the row', async () => {
      const id = await newOrder();
      let loads = 0;
      const counted: Store = { ...store, loadSaga: (orderId) => (loads++, store.loadSaga(orderId)) };
      const h = host({ store: counted });
      await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
      assert.equal(loads, 1, 'the first event of the order loads it');
      await h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] });
      await h.receive(Topics.paymentSuccess, { v, orderId: id });
      assert.equal(loads, 1, 'the next ones start from what this host wrote');
      assert.equal((await store.getOrder(id))!.status, 'COMPLETED');
      assert.equal((await store.loadSaga(id))!.version, 4);
    });

    it('applies an event again from the stored row when another host wrote since its own last write', async () => {
      const id = await newOrder();
      const [a, b] = [host(), host()];
      const start = { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] };
      await a.receive(Topics.orderStart, start); // a's last write: RESERVING
      await b.receive(Topics.stockSuccess, { v, orderId: id, items: start.items }); // PAYING, by b
      const paid = await a.receive(Topics.paymentSuccess, { v, orderId: id });
      assert.equal(paid.kind, 'committed');
      assert.equal(paid.conflicts, 0, 'PAYMENT_CHARGED changes nothing in RESERVING: judged on the row, no write lost');
      assert.equal((await store.getOrder(id))!.status, 'COMPLETED');
      assert.equal((await store.loadSaga(id))!.version, 4);
    });

    it('judges an event that changes nothing on the stored row, so an unsent outbox written by another host goes out', async () => {
      const id = await newOrder();
      const [a, b] = [host(), host()];
      const start = { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] };
      await a.receive(Topics.orderStart, start); // a's last write: RESERVING
      broker.failNext = 1;
      await assert.rejects(b.receive(Topics.stockSuccess, { v, orderId: id, items: start.items }), {
        code: 'BROKER_UNAVAILABLE',
      });
      const again = await a.receive(Topics.orderStart, start); // a duplicate: START changes nothing in RESERVING
      assert.equal(again.kind, 'unchanged');
      assert.equal(broker.count(Topics.paymentRequest), 1, "b's unsent payment.request re-sent by a");
    });

    it('loses the compare-and-set of a stale last write and applies the event on the stored row', async () => {
      const id = await newOrder();
      const [a, b] = [host(), host()];
      const start = { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] };
      await a.receive(Topics.orderStart, start); // a's last write: RESERVING at version 2
      await b.receive(Topics.stockFailed, { v, orderId: id, code: 'OUT_OF_STOCK', message: 'short' }); // REJECTED
      const late = await a.receive(Topics.stockSuccess, { v, orderId: id, items: start.items });
      assert.equal(late.kind, 'gone', 'the stored row is finished: nothing to do');
      assert.equal(late.conflicts, 1, 'the write from the stale version was lost');
      assert.equal((await store.getOrder(id))!.status, 'REJECTED');
      assert.equal(broker.count(Topics.paymentRequest), 0);
    });

    it('refuses an event for an order with no record, non-retriably', async () => {
      await assert.rejects(host().receive(Topics.paymentSuccess, { v, orderId: 'never-created' }), {
        name: 'UnknownOrderError',
        code: 'UNKNOWN_ORDER',
        retriable: false,
      });
    });

    describe('sweeper', () => {
      const sweeper = (h: ReturnType<typeof host>, metrics = createMetrics()) =>
        createSweeper({ store, host: h, clock, logger: silentLogger, metrics, leaseMs: 500 });

      it('ends an order whose reply was lost', async () => {
        const id = await newOrder();
        const h = host();
        await h.receive(Topics.orderStart, { v, orderId: id, userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] });
        await h.receive(Topics.stockSuccess, { v, orderId: id, items: [{ productId: 'p1', quantity: 2 }] });
        const s = sweeper(h);
        assert.equal(await s.tick(), 0, 'nothing due yet');
        clock.advance(STEP);
        assert.equal(await s.tick(), 1);
        const view = (await store.getOrder(id))!;
        assert.equal(view.status, 'COMPENSATING');
        assert.equal(view.reason?.code, 'TIMEOUT');
        assert.deepEqual(broker.topics().slice(-2), [Topics.stockRollback, Topics.paymentRefund]);
        // undos unconfirmed: the retry-at entry re-sends them
        clock.advance(FastBackoff.compensation.initialMs);
        assert.equal(await s.tick(), 1);
        assert.deepEqual(broker.topics().slice(-2), [Topics.stockRollback, Topics.paymentRefund]);
        await h.receive(Topics.stockReleased, { v, orderId: id });
        await h.receive(Topics.paymentRefunded, { v, orderId: id });
        assert.equal((await store.getOrder(id))!.status, 'CANCELLED');
        clock.advance(10 * STEP);
        assert.equal(await s.tick(), 0, 'a terminal order leaves the index');
      });

      it('fires a deadline once, later, when the sweeper that leased it died', async () => {
        const id = await newOrder();
        const h = host();
        clock.advance(STEP);
        const leased = await store.claimDue(clock.now(), 10, 500); // a sweeper that dies right after its lease
        assert.deepEqual(leased, [id]);
        const metrics = createMetrics();
        const other = sweeper(h, metrics);
        assert.equal(await other.tick(), 0, 'leased: not taken while the lease runs');
        clock.advance(500);
        assert.equal(await other.tick(), 1, 'taken once the lease ran out');
        assert.equal((await store.getOrder(id))!.status, 'COMPENSATING');
        assert.equal(await other.tick(), 0, 'and fired once');
        assert.equal(broker.count(Topics.stockRollback), 1);
      });

      it('cancels an order whose order.start never arrived (the api’s PENDING deadline)', async () => {
        const id = await newOrder();
        const h = host();
        const s = sweeper(h);
        clock.advance(STEP);
        await s.tick();
        assert.deepEqual(broker.topics(), [Topics.stockRollback], 'undo the step that may have happened');
        await h.receive(Topics.stockReleased, { v, orderId: id });
        const view = (await store.getOrder(id))!;
        assert.equal(view.status, 'CANCELLED');
        assert.equal(view.reason?.code, 'TIMEOUT');
      });
    });
  });
}
