import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import { createMemoryStore, type MemoryStore } from '../../adapters/store/memory.ts';
import type { OrderEvent } from '../../machines/order.machine.ts';
import { ManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { FastBackoff } from '../../src/retry.ts';
import { createSagaHost } from '../../src/saga/host.ts';
import type { SagaInspector } from '../../src/saga/inspector.ts';
import { restore, type OrderSnapshot } from '../../src/saga/persisted.ts';
import { newOrderSaga, step } from '../../src/saga/stepping.ts';
import { SCHEMA_VERSION as v, Topics } from '../../src/topics.ts';
import { sagaInspector } from '../../src/viz/inspect.ts';
import { recordingBroker } from '../helpers/recording-broker.ts';

const items = [{ productId: 'p1', quantity: 2 }];
const input = (orderId: string, createdAt: number) => ({
  orderId,
  userId: 'u1',
  items,
  createdAt,
  stepTimeoutMs: 1_000,
  compensationRetry: FastBackoff.compensation,
});

describe('saga inspection', () => {
  let clock: ManualClock;
  let store: MemoryStore;
  const seen: { orderId: string; event: string; status: unknown; version: number | undefined }[] = [];

  // Records each call with the version the store holds then (created at 1): already the new one.
  const fake: SagaInspector = {
    onTransition(orderId, event, snapshot) {
      seen.push({ orderId, event: event.type, status: snapshot.value, version: undefined });
      const entry = seen.at(-1)!;
      void store.loadSaga(orderId).then((row) => (entry.version = row?.version));
    },
  };

  beforeEach(async () => {
    seen.length = 0;
    clock = new ManualClock();
    store = createMemoryStore({ clock, orderRetentionMs: 60_000 });
    await store.seed([{ productId: 'p1', stock: 10, price: 250 }], [{ userId: 'u1', balance: 10_000 }]);
    const { snapshot, view, wakeAt } = newOrderSaga(input('o1', clock.now()));
    await store.createOrder({ orderId: 'o1', view, snapshot, wakeAt });
  });

  it('reports each committed transition to the inspector, after its write, and nothing for events that change nothing', async () => {
    const host = createSagaHost({
      store,
      broker: recordingBroker(),
      clock,
      metrics: createMetrics(),
      logger: silentLogger,
      casAttempts: 5,
      inspector: fake,
    });
    await host.receive(Topics.orderStart, { v, orderId: 'o1', userId: 'u1', items });
    await host.receive(Topics.orderStart, { v, orderId: 'o1', userId: 'u1', items }); // a duplicate: no transition
    await host.receive(Topics.stockSuccess, { v, orderId: 'o1', items });
    await host.receive(Topics.paymentSuccess, { v, orderId: 'o1' });
    await host.receive(Topics.paymentSuccess, { v, orderId: 'o1' }); // late: the order is final
    assert.deepEqual(seen, [
      { orderId: 'o1', event: 'START', status: 'RESERVING', version: 2 },
      { orderId: 'o1', event: 'STOCK_RESERVED', status: 'PAYING', version: 3 },
      { orderId: 'o1', event: 'PAYMENT_CHARGED', status: 'COMPLETED', version: 4 },
    ]);
  });

  it("sends registration, event and snapshot through @statelyai/inspect's own inspector", () => {
    const sent: StatelyInspectionEvent[] = [];
    const inspector = sagaInspector(createInspector({ send: (e) => void sent.push(e) }), silentLogger);
    const events: OrderEvent[] = [
      { type: 'START', now: 1 },
      { type: 'STOCK_REFUSED', now: 2, failure: { code: 'OUT_OF_STOCK', message: 'none left' } },
    ];
    let snapshot: OrderSnapshot = restore(newOrderSaga(input('o2', 0)).snapshot);
    for (const event of events) {
      snapshot = step(snapshot, event).next;
      inspector.onTransition('o2', event, snapshot);
    }
    assert.deepEqual(
      sent.map((e) => e.type),
      ['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@xstate.event', '@xstate.snapshot'],
    );
    assert.ok(
      sent.every((e) => 'sessionId' in e && e.sessionId === 'o2'),
      'every inspection event is about that order',
    );
    const actor = sent[0] as Extract<StatelyInspectionEvent, { type: '@xstate.actor' }>;
    assert.equal(actor.name, 'order');
    assert.match(actor.definition ?? '', /"REJECTED"/, 'registration carries the machine definition');
    const last = sent.at(-1) as Extract<StatelyInspectionEvent, { type: '@xstate.snapshot' }>;
    assert.equal(last.event.type, 'STOCK_REFUSED');
    assert.equal((last.snapshot as unknown as { value: unknown }).value, 'REJECTED');
  });

  it('never lets a failing inspector fail the saga', () => {
    const boom = () => {
      throw new Error('inspector down');
    };
    const inspector = sagaInspector({ actor: boom, event: boom, snapshot: boom, stop: () => {} }, silentLogger);
    const snapshot = restore(newOrderSaga(input('o3', 0)).snapshot);
    assert.doesNotThrow(() =>
      inspector.onTransition('o3', { type: 'START', now: 1 }, step(snapshot, { type: 'START', now: 1 }).next),
    );
  });
});
