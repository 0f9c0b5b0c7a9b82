/**
 * The metrics of rule `observable` (docs/architecture.md), read the way Prometheus reads
 * them (registry.metrics() and the metrics' own values), after orders run through a
 * deterministic in-process system: the memory broker in manual mode, the memory store, a
 * manual clock.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { LAG_CACHE_MS, type Metrics } from '../../src/metrics.ts';
import { AllRolesGroup, Groups, message, Topics } from '../../src/topics.ts';
import { createHarness, type Harness } from '../helpers/harness.ts';

const products = [
  { productId: 'p1', stock: 100, price: 250 },
  { productId: 'p2', stock: 0, price: 100 },
];
const users = [
  { userId: 'rich', balance: 1_000_000 },
  { userId: 'poor', balance: 10 },
];

async function valueOf(
  metric: { get(): Promise<{ values: { value: number; labels: object; metricName?: string }[] }> },
  match: Record<string, string>,
  metricName?: string,
): Promise<number | undefined> {
  const { values } = await metric.get();
  const found = values.find(
    (v) =>
      (metricName === undefined || v.metricName === metricName) &&
      Object.entries(match).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return found?.value;
}

const stepCount = (m: Metrics, step: string) => valueOf(m.sagaStep, { step }, 'saga_step_seconds_count');
const stepSum = (m: Metrics, step: string) => valueOf(m.sagaStep, { step }, 'saga_step_seconds_sum');

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('observability: metrics', () => {
  it('exposes orders by outcome and reason, step and end-to-end latency, in the Prometheus text', async () => {
    // Time moves 10 ms before every delivery, so each step has a known, non-zero duration.
    h = await createHarness({ seed: 3, beforeDelivery: async (x) => void x.clock.advance(10) });
    await h.store.seed(products, users);
    await h.placeOrder('rich', [{ productId: 'p1', quantity: 2 }]); // COMPLETED
    await h.placeOrder('rich', [{ productId: 'p2', quantity: 1 }]); // REJECTED, OUT_OF_STOCK
    await h.placeOrder('poor', [{ productId: 'p1', quantity: 1 }]); // CANCELLED, INSUFFICIENT_BALANCE
    await h.settle();
    assert.deepEqual(
      (await h.views()).map((v) => v.status),
      ['COMPLETED', 'REJECTED', 'CANCELLED'],
    );

    const { metrics } = h.system;
    const text = await metrics.registry.metrics();
    for (const line of [
      'orders_finished_total{status="COMPLETED",reason=""} 1',
      'orders_finished_total{status="REJECTED",reason="OUT_OF_STOCK"} 1',
      'orders_finished_total{status="CANCELLED",reason="INSUFFICIENT_BALANCE"} 1',
      'order_end_to_end_seconds_count{status="COMPLETED"} 1',
      '# TYPE saga_step_seconds histogram',
      'saga_step_seconds_bucket{le="+Inf",step="PAYING"}',
      '# TYPE dlq_messages_total counter',
      '# TYPE message_redeliveries_total counter',
      '# TYPE saga_deadlines_fired_total counter',
      'orders_compensating_overdue 0',
      'kafka_consumer_lag{group="all-services",topic="order.start",partition="0"} 0',
    ]) {
      assert.ok(text.includes(line), `missing in /metrics: ${line}`);
    }

    // One observation per state left: PENDING by all three, RESERVING by all three (the
    // rejected one leaves it for REJECTED), ORDERING and PAYING by the two that were priced,
    // COMPENSATING by the cancelled one. Terminal states are never left.
    assert.equal(await stepCount(metrics, 'PENDING'), 3);
    assert.equal(await stepCount(metrics, 'RESERVING'), 3);
    assert.equal(await stepCount(metrics, 'ORDERING'), 2);
    assert.equal(await stepCount(metrics, 'PAYING'), 2);
    assert.equal(await stepCount(metrics, 'COMPENSATING'), 1);
    assert.equal(await stepCount(metrics, 'COMPLETED'), undefined);
    assert.equal(await stepSum(metrics, 'ORDERING'), 0, 'ORDERING is passed through within one event');
    // PAYING spans at least the delivery of payment.request and of its reply: 2 x 10 ms each.
    assert.ok((await stepSum(metrics, 'PAYING'))! >= 0.04, 'PAYING took the time of its deliveries');
  });

  it('counts a poison message in dlq_messages_total by topic', async () => {
    h = await createHarness({ seed: 5 });
    await h.broker.publish([
      { topic: Topics.stockSuccess, key: 'bad', value: { v: 1, orderId: 'bad', items: 'not a list' } as never },
    ]);
    await h.broker.publish([
      message(Topics.paymentRequest, { orderId: 'nobody-ordered-this', userId: 'u1', amount: 5 }),
    ]);
    await h.broker.drain();
    const { metrics } = h.system;
    assert.equal(await valueOf(metrics.dlqMessages, { topic: Topics.stockSuccess }), 1);
    assert.equal(
      await valueOf(metrics.dlqMessages, { topic: Topics.paymentRequest }),
      1,
      'an order with no record is non-retriable too',
    );
    assert.equal(h.broker.deadLetters().length, 2);
    assert.match(await metrics.registry.metrics(), /dlq_messages_total\{topic="stock\.success"\} 1/);
  });

  it('counts an order stuck in COMPENSATING past one step timeout in orders_compensating_overdue', async () => {
    // No stock worker: the stock.rollback of the compensation is never confirmed.
    h = await createHarness({ seed: 7, roles: ['order', 'payment'] });
    await h.store.seed(products, users);
    const orderId = await h.placeOrder('rich', [{ productId: 'p1', quantity: 1 }]);
    await h.broker.drain();
    assert.equal((await h.store.getOrder(orderId))!.status, 'RESERVING');
    const overdue = async () => (await h!.system.metrics.compensatingOverdue.get()).values[0]?.value;

    h.clock.advance(h.stepTimeoutMs);
    await h.system.order!.sweeper.tick(); // the reservation deadline: COMPENSATING
    assert.equal((await h.store.getOrder(orderId))!.status, 'COMPENSATING');
    assert.equal(await overdue(), 0, 'just entered');

    h.clock.advance(h.stepTimeoutMs);
    assert.equal(await overdue(), 0, 'exactly one step timeout is not longer than one');
    h.clock.advance(1);
    assert.equal(await overdue(), 1);
    await h.system.order!.sweeper.tick(); // re-sends the undo; still the same entry time
    assert.equal(await overdue(), 1);
    assert.match(await h.system.metrics.registry.metrics(), /^orders_compensating_overdue 1$/m);

    // The undo is confirmed at last: the order leaves COMPENSATING and the gauge.
    await h.broker.publish([message(Topics.stockReleased, { orderId })]);
    await h.broker.drain();
    assert.equal((await h.store.getOrder(orderId))!.status, 'CANCELLED');
    assert.equal(await overdue(), 0);
  });

  it('keeps a group per role in a process that hosts only some of the consuming roles', async () => {
    h = await createHarness({ seed: 9, roles: ['order', 'payment'] });
    await h.store.seed(products, users);
    for (let i = 0; i < 2; i++) await h.placeOrder('rich', [{ productId: 'p1', quantity: 1 }]);
    const { values } = await h.system.metrics.consumerLag.get();
    assert.deepEqual([...new Set(values.map((v) => v.labels.group))].sort(), [Groups.order, Groups.payment]);
    const waiting = values.filter((v) => v.labels.group === Groups.order && v.labels.topic === Topics.orderStart);
    assert.equal(
      waiting.reduce((n, v) => n + v.value, 0),
      2,
    );
  });

  it('reports consumer lag per group, topic and partition: the backlog before a drain, 0 after', async () => {
    h = await createHarness({ seed: 9 });
    await h.store.seed(products, users);
    for (let i = 0; i < 5; i++) await h.placeOrder('rich', [{ productId: 'p1', quantity: 1 }]);
    const { metrics } = h.system;
    const lagOf = async (group: string, topic: string) => {
      const { values } = await metrics.consumerLag.get();
      return values
        .filter((v) => v.labels.group === group && v.labels.topic === topic)
        .reduce((n, v) => n + v.value, 0);
    };
    // Every consuming role in this one process: one group for all of them.
    assert.equal(
      await lagOf(AllRolesGroup, Topics.orderStart),
      5,
      'five order.start waiting for the stock worker and the saga',
    );
    assert.equal(await lagOf(AllRolesGroup, Topics.paymentRequest), 0);
    const groups = new Set((await metrics.consumerLag.get()).values.map((v) => v.labels.group));
    assert.deepEqual([...groups], [AllRolesGroup]);
    assert.match(
      await metrics.registry.metrics(),
      /kafka_consumer_lag\{group="all-services",topic="order\.start",partition="\d"\} [1-5]/,
    );

    await h.settle();
    const { values: cached } = await metrics.consumerLag.get();
    assert.ok(
      cached.some((v) => v.value !== 0),
      'within LAG_CACHE_MS a scrape gets the last reading, not a new query',
    );
    h.clock.advance(LAG_CACHE_MS);
    const { values } = await metrics.consumerLag.get();
    assert.ok(values.length > 0);
    assert.deepEqual(
      values.filter((v) => v.value !== 0),
      [],
      'every lane caught up',
    );
  });
});
