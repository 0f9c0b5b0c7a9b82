/**
 * Forged commands, tried as an attacker would: an order completes, another is in flight,
 * and then commands the saga never sent are published straight onto the real topics
 * (through the broker port, so onto the physical Kafka topic): undos for the completed
 * order, an order.start with other items and a payment.request with another amount for
 * the one in flight. None moves stock or money; each lands on its DLQ with the reason in
 * its headers. Runs the whole system (stock, order, payment roles) on the memory adapters
 * in test/unit and on Kafka + Redis in test/integration (rule `idempotent-effects`,
 * docs/architecture.md).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { systemClock } from '../../src/clock.ts';
import type { Config } from '../../src/config.ts';
import { DlqHeaders, type Delivery } from '../../src/ports/broker.ts';
import type { Store } from '../../src/ports/store.ts';
import { Backoff } from '../../src/retry.ts';
import { acceptOrder } from '../../src/saga/accept.ts';
import { newOrderSaga } from '../../src/saga/stepping.ts';
import type { OrderStatus } from '../../src/schemas.ts';
import { startSystem } from '../../src/system.ts';
import { dlqOf, isDlqName, message, Topics, type TopicName } from '../../src/topics.ts';
import { Recorder, withTimeout } from '../helpers/wait.ts';

/** The config of the system under test and how to clean up after it. */
export type ForgedSetup = () => Promise<{ config: Config; cleanup(): Promise<void> }>;

/** Long enough that no deadline passes during the test: the in-flight order stays in flight. */
const STEP_TIMEOUT_MS = 120_000;
const WAIT_MS = 60_000;

/** Resolves once the order's view has the status (watched, never polled on a timer). */
async function statusReached(store: Store, orderId: string, status: OrderStatus): Promise<void> {
  let unwatch: (() => void) | undefined;
  const reached = new Promise<void>((resolve) => {
    void store
      .watch(orderId, (v) => v.status === status && resolve())
      .then(async (stop) => {
        unwatch = stop;
        if ((await store.getOrder(orderId))?.status === status) resolve();
      });
  });
  try {
    await withTimeout(reached, `order ${orderId} to be ${status}`, WAIT_MS);
  } finally {
    unwatch?.();
  }
}

/** The command each worker reply answers. */
const commandOfReply: Partial<Record<string, TopicName>> = {
  [Topics.paymentRefunded]: Topics.paymentRefund,
  [Topics.stockReleased]: Topics.stockRollback,
  [Topics.stockSuccess]: Topics.orderStart,
  [Topics.stockFailed]: Topics.orderStart,
  [Topics.paymentSuccess]: Topics.paymentRequest,
  [Topics.paymentFailed]: Topics.paymentRequest,
};
const commandOf = (d: Delivery): string | undefined =>
  isDlqName(d.topic) ? d.headers[DlqHeaders.sourceTopic] : commandOfReply[d.topic];

export function forgedCommandScenarios(name: string, setup: ForgedSetup): void {
  describe(`forged commands on ${name}`, () => {
    it('moves no stock or money of a completed or an in-flight order, and dead-letters each with its reason', async () => {
      const { config, cleanup } = await setup();
      const system = await startSystem({
        config: { ...config, stepTimeoutMs: STEP_TIMEOUT_MS, seedDemo: false },
        roles: ['stock', 'order', 'payment'],
      });
      try {
        const { store, broker } = system;
        const run = randomUUID().slice(0, 8);
        const [productId, userId] = [`fp-${run}`, `fu-${run}`];
        await store.seed([{ productId, stock: 100, price: 10 }], [{ userId, balance: 1_000 }]);
        const stockNow = async () => (await store.getProducts([productId]))[0]!.stock;
        const balanceNow = async () => (await store.getUser(userId))!.balance;
        const fresh = { clock: systemClock, stepTimeoutMs: STEP_TIMEOUT_MS, compensationRetry: Backoff.compensation };

        // An order completes: 3 units, 30 money.
        const done = `done-${run}`;
        const placed = await acceptOrder(
          { store, broker, ...fresh, newOrderId: () => done },
          { userId, items: [{ productId, quantity: 3 }] },
        );
        assert.equal(placed.kind, 'accepted');
        await statusReached(store, done, 'COMPLETED');
        assert.deepEqual([await stockNow(), await balanceNow()], [97, 970]);

        // Another is recorded as the api records it, its order.start not sent yet: in flight, PENDING.
        const inFlight = `flight-${run}`;
        const s = newOrderSaga({
          orderId: inFlight,
          userId,
          items: [{ productId, quantity: 2 }],
          createdAt: systemClock.now(),
          stepTimeoutMs: fresh.stepTimeoutMs,
          compensationRetry: fresh.compensationRetry,
        });
        await store.createOrder({ orderId: inFlight, view: s.view, snapshot: s.snapshot, wakeAt: s.wakeAt });

        // What each forged command leads to, seen from here on: its dead letter, or a worker's reply.
        // The port types topics as TopicName; a DLQ is consumed only by operators' tools, hence the cast.
        const forged = [Topics.paymentRefund, Topics.stockRollback, Topics.orderStart, Topics.paymentRequest];
        const outcomes = new Recorder<Delivery>();
        const tap = await broker.subscribe({
          group: `${config.kafkaGroupPrefix}forged-tap-${run}`,
          topics: [...forged.map(dlqOf), ...Object.keys(commandOfReply)] as TopicName[],
          handler: async (d) => {
            if (d.key === done || d.key === inFlight) outcomes.push(d);
          },
        });
        try {
          await broker.publish([
            message(Topics.paymentRefund, { orderId: done, userId }),
            message(Topics.stockRollback, { orderId: done }),
            message(Topics.orderStart, { orderId: inFlight, userId, items: [{ productId, quantity: 50 }] }),
            message(Topics.paymentRequest, { orderId: inFlight, userId, amount: 500 }),
          ]);
          await outcomes.until(
            (ds) => new Set(ds.map(commandOf)).size >= forged.length,
            'an outcome (dead letter or reply) of each forged command',
            WAIT_MS,
          );
          const first = (command: TopicName) => outcomes.items.find((d) => commandOf(d) === command)!;
          assert.deepEqual(
            forged.map((command) => {
              const d = first(command);
              return [command, d.key, isDlqName(d.topic) ? d.headers[DlqHeaders.errorCode] : `obeyed: ${d.topic}`];
            }),
            [
              [Topics.paymentRefund, done, 'FORGED_COMMAND'],
              [Topics.stockRollback, done, 'FORGED_COMMAND'],
              [Topics.orderStart, inFlight, 'FORGED_COMMAND'],
              [Topics.paymentRequest, inFlight, 'FORGED_COMMAND'],
            ],
          );
          const why = (command: TopicName) => first(command).headers[DlqHeaders.errorMessage] ?? '';
          assert.match(why(Topics.paymentRefund), /the order is COMPLETED/);
          assert.match(why(Topics.stockRollback), /the order is COMPLETED/);
          assert.match(why(Topics.orderStart), /items \S+x50 are not the order's items \S+x2/);
          assert.match(why(Topics.paymentRequest), /has no total yet/);

          // Each was refused before it acted: its dead letter is written after.
          assert.deepEqual([await stockNow(), await balanceNow()], [97, 970], 'no stock or money moved');
          assert.equal((await store.getOrder(done))!.status, 'COMPLETED');
        } finally {
          await tap.close();
        }
      } finally {
        await system.close();
        await cleanup();
      }
    });
  });
}
