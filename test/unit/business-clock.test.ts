/**
 * Business time (rule `faults-heal`, docs/architecture.md): a step deadline waits while the
 * command or its answer sits unread in our own queues, and fires once they have been read.
 * The memory broker in manual mode and a manual clock: nothing here waits on wall time.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createMemoryBroker } from '../../adapters/broker/memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { FastBackoff } from '../../src/retry.ts';
import { createBusinessClock } from '../../src/saga/business-clock.ts';
import { startSystem } from '../../src/system.ts';
import { Subscriptions, Topics } from '../../src/topics.ts';
import { createHarness } from '../helpers/harness.ts';

const noop = async () => undefined;

function setup() {
  const clock = new ManualClock(1_000);
  const broker = createMemoryBroker({ mode: 'manual', clock, partitions: 4 });
  const business = createBusinessClock({
    broker,
    clock,
    workers: [{ group: 'stock', topics: Subscriptions.stock }],
    saga: { group: 'order', topics: Subscriptions.order },
    graceMs: 0,
    probeEveryMs: 0,
  });
  return { clock, broker, business };
}

const reply = (orderId: string) => ({ topic: Topics.stockReleased, key: orderId, value: { v: 1 as const, orderId } });
const start = (orderId: string) => ({
  topic: Topics.orderStart,
  key: orderId,
  value: { v: 1 as const, orderId, userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] },
});

describe('business clock', () => {
  it('stands at wall time while every queue is read', async () => {
    const { clock, broker, business } = setup();
    await broker.subscribe({ group: 'stock', topics: Subscriptions.stock, handler: noop });
    await broker.subscribe({ group: 'order', topics: Subscriptions.order, handler: noop });
    await business.refresh();
    assert.equal(business.at('o1', clock.now()), clock.now());
  });

  it("holds an order whose answer sits unread in the saga's input, and lets it go once read", async () => {
    const { clock, broker, business } = setup();
    await broker.subscribe({ group: 'stock', topics: Subscriptions.stock, handler: noop });
    await broker.subscribe({ group: 'order', topics: Subscriptions.order, handler: noop });
    await business.refresh();
    const before = clock.now();
    await broker.publish([reply('o1')]);
    clock.advance(60_000);
    await business.refresh();
    assert.equal(business.at('o1', clock.now()), before, 'time the answer waited in our queue is not business time');
    await broker.drain();
    clock.advance(1);
    await business.refresh();
    assert.equal(business.at('o1', clock.now()), clock.now());
  });

  it('holds an order whose command no worker has read yet (a worker away), on its partition only', async () => {
    const { clock, broker, business } = setup();
    const stock = await broker.subscribe({ group: 'stock', topics: Subscriptions.stock, handler: noop });
    await broker.subscribe({ group: 'order', topics: Subscriptions.order, handler: noop });
    await stock.close(); // the group keeps its offsets; nobody reads for it now
    await business.refresh();
    const before = clock.now();
    await broker.publish([start('o1')]);
    await broker.drain();
    clock.advance(60_000);
    await business.refresh();
    assert.equal(business.at('o1', clock.now()), before);
    const other = ['o2', 'o3', 'o4', 'o5', 'o6', 'o7'].find(
      (id) => broker.partitionOf!(id) !== broker.partitionOf!('o1'),
    )!;
    assert.equal(business.at(other, clock.now()), clock.now(), 'other partitions go on');
  });

  it('waits rather than guesses when the broker cannot tell', async () => {
    const { clock, broker, business } = setup();
    await business.refresh();
    const before = clock.now();
    await broker.close();
    clock.advance(60_000);
    await assert.rejects(business.refresh());
    assert.equal(business.at('o1', clock.now()), before);
  });

  it('is wall time on a broker without handledBefore', async () => {
    const clock = new ManualClock(5);
    const business = createBusinessClock({
      broker: {},
      clock,
      workers: [],
      saga: { group: 'order', topics: [] },
      graceMs: 0,
      probeEveryMs: 0,
    });
    await business.refresh();
    assert.equal(business.at('o1', 42), 42);
  });
});

describe('deadlines and a worker away', () => {
  const closing: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closing) await close();
  });

  it('does not cancel an order whose order.start waits for a stock worker that is away; it completes once one is back', async () => {
    const h = await createHarness({ roles: ['order', 'payment'], stepTimeoutMs: 1_000 });
    closing.push(() => h.close());
    await h.store.seed([{ productId: 'p1', stock: 10, price: 100 }], [{ userId: 'u1', balance: 1_000 }]);
    const stockRole = () =>
      startSystem({
        config: h.system.config,
        roles: ['stock'],
        broker: h.broker,
        store: h.store,
        clock: h.clock,
        backoff: FastBackoff,
        autoSweep: false,
      });
    await (await stockRole()).close(); // the stock group exists, its member gone (a deploy, a crash)
    const orderId = await h.placeOrder('u1', [{ productId: 'p1', quantity: 1 }]);
    for (let i = 0; i < 5; i++) {
      await h.broker.drain();
      h.clock.advance(h.stepTimeoutMs * 3);
      await h.system.order!.sweeper.tick();
    }
    await h.broker.drain();
    // The saga read its own copy of order.start; the deadline waits for the stock worker's.
    assert.equal(
      (await h.store.getOrder(orderId))?.status,
      'RESERVING',
      'no deadline fired for time spent in our queue',
    );

    const stock = await stockRole();
    closing.push(() => stock.close());
    await h.settle();
    const view = await h.store.getOrder(orderId);
    assert.equal(view?.status, 'COMPLETED');
    assert.equal(view?.reason, undefined);
  });

  it('still fires the deadline when the answer never comes (a reply lost, not queued)', async () => {
    const h = await createHarness({ roles: ['order', 'payment'], stepTimeoutMs: 1_000 });
    closing.push(() => h.close());
    await h.store.seed([{ productId: 'p1', stock: 10, price: 100 }], [{ userId: 'u1', balance: 1_000 }]);
    // A stock role that is there and reads order.start, but whose answer is lost.
    const stock = await h.broker.subscribe({ group: 'stock-service', topics: Subscriptions.stock, handler: noop });
    closing.push(() => stock.close());
    const orderId = await h.placeOrder('u1', [{ productId: 'p1', quantity: 1 }]);
    await h.broker.drain();
    h.clock.advance(h.stepTimeoutMs * 2);
    await h.system.order!.sweeper.tick();
    const view = await h.store.getOrder(orderId);
    assert.equal(view?.status, 'COMPENSATING');
    assert.equal(view?.reason?.code, 'TIMEOUT');
  });
});
