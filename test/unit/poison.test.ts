/**
 * Poison never holds a partition (rule `two-kinds-of-failure`, docs/architecture.md): the
 * three kinds of failure, the bound on free text in payloads, and the saga refusing a
 * refusal too large to copy while its partition moves on. The broker side (attempt bound,
 * DLQ stubs, oversize publishes) is in the broker contract, test/contract/broker.contract.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BrokerUnavailableError,
  deadLetterNow,
  failureKind,
  InvalidMessageError,
  LockNotAcquiredError,
  StoreUnavailableError,
  UNKNOWN_FAILURE_ATTEMPTS,
} from '../../src/errors.ts';
import { DlqHeaders, MAX_MESSAGE_BYTES } from '../../src/ports/broker.ts';
import { clipText, MAX_TEXT_LENGTH } from '../../src/schemas.ts';
import { dlqOf, message, SCHEMA_VERSION, Topics, TopicSchemas } from '../../src/topics.ts';
import { createMemoryBroker } from '../../adapters/broker/memory.ts';
import { createMemoryStore } from '../../adapters/store/memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { Delivery } from '../../src/ports/broker.ts';
import type { Store } from '../../src/ports/store.ts';
import { FastBackoff } from '../../src/retry.ts';
import { dispatch } from '../../src/messaging/dispatch.ts';
import { newOrderSaga } from '../../src/saga/stepping.ts';
import { startStockWorker } from '../../src/workers/stock.ts';
import { createHarness } from '../helpers/harness.ts';

describe('kinds of failure', () => {
  it('dead-letters a permanent failure at once, an unknown one on its last allowed attempt, a passing one never', () => {
    const permanent = new InvalidMessageError('bad');
    const unknown = [
      new TypeError('x is undefined'),
      Object.assign(new Error('ERR user_script:1'), { name: 'ReplyError' }),
    ];
    const passing = [new StoreUnavailableError(), new BrokerUnavailableError(), new LockNotAcquiredError(['p1'])];
    assert.equal(failureKind(permanent), 'permanent');
    assert.equal(deadLetterNow(permanent, 1), true);
    for (const err of unknown) {
      assert.equal(failureKind(err), 'unknown');
      for (let attempt = 1; attempt < UNKNOWN_FAILURE_ATTEMPTS; attempt++)
        assert.equal(deadLetterNow(err, attempt), false);
      assert.equal(deadLetterNow(err, UNKNOWN_FAILURE_ATTEMPTS), true);
    }
    for (const err of passing) {
      assert.equal(failureKind(err), 'passing');
      assert.equal(deadLetterNow(err, 1_000), false);
    }
  });
});

describe('dispatch', () => {
  it('counts an unknown failure as a retry before its last allowed attempt and as a dead letter on it', async () => {
    const metrics = createMetrics();
    const handler = dispatch(
      {
        [Topics.stockReleased]: async () => {
          throw new TypeError('handler bug (test)');
        },
      },
      { metrics, logger: silentLogger },
    );
    const delivery = (attempt: number): Delivery => ({
      topic: Topics.stockReleased,
      partition: 0,
      offset: 0,
      key: 'o1',
      value: { v: SCHEMA_VERSION, orderId: 'o1' },
      headers: {},
      attempt,
    });
    for (let attempt = 1; attempt <= UNKNOWN_FAILURE_ATTEMPTS; attempt++)
      await assert.rejects(handler(delivery(attempt)), TypeError);
    const count = async (outcome: string) =>
      (await metrics.messagesHandled.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    assert.equal(await count('retry'), UNKNOWN_FAILURE_ATTEMPTS - 1);
    assert.equal(await count('dlq'), 1);
    assert.equal((await metrics.dlqMessages.get()).values[0]?.value, 1);
  });
});

describe('free text in payloads', () => {
  it('refuses a refusal message or a reason longer than MAX_TEXT_LENGTH', () => {
    const long = 'x'.repeat(MAX_TEXT_LENGTH + 1);
    const fits = 'x'.repeat(MAX_TEXT_LENGTH);
    const v = SCHEMA_VERSION;
    const failed = (message: string) => ({ v, orderId: 'o1', code: 'OUT_OF_STOCK', message });
    assert.equal(TopicSchemas['stock.failed'].safeParse(failed(fits)).success, true);
    assert.equal(TopicSchemas['stock.failed'].safeParse(failed(long)).success, false);
    assert.equal(TopicSchemas['payment.failed'].safeParse({ ...failed(long), code: 'UNKNOWN_USER' }).success, false);
    const cancel = (message: string) => ({
      v,
      orderId: 'o1',
      userId: 'u1',
      status: 'REJECTED',
      reason: { code: 'OUT_OF_STOCK', message },
    });
    assert.equal(TopicSchemas['order.cancel'].safeParse(cancel(fits)).success, true);
    assert.equal(TopicSchemas['order.cancel'].safeParse(cancel(long)).success, false);
  });

  it('clips copied text to MAX_TEXT_LENGTH, marking the cut, and leaves shorter text alone', () => {
    assert.equal(clipText('short'), 'short');
    const exact = 'y'.repeat(MAX_TEXT_LENGTH);
    assert.equal(clipText(exact), exact);
    const clipped = clipText('z'.repeat(MAX_TEXT_LENGTH * 3));
    assert.equal(clipped.length, MAX_TEXT_LENGTH);
    assert.ok(clipped.endsWith('…'));
    // A cut that would split a surrogate pair drops the whole pair.
    const emoji = clipText('a'.repeat(MAX_TEXT_LENGTH - 2) + '😀'.repeat(10));
    assert.ok(emoji.length <= MAX_TEXT_LENGTH);
    assert.equal(emoji, 'a'.repeat(MAX_TEXT_LENGTH - 2) + '…');
  });
});

describe('a refusal text longer than the bound, in the stock worker', () => {
  it("clips the store's refusal message into stock.failed, so the saga can take it", async () => {
    const clock = new ManualClock();
    const broker = createMemoryBroker({ mode: 'manual', seed: 1, clock, redelivery: FastBackoff.redelivery });
    const memory = createMemoryStore({ clock, orderRetentionMs: 60_000 });
    const long = 'y'.repeat(MAX_TEXT_LENGTH * 5);
    // The store refuses with more text than a payload may carry.
    const store = new Proxy(memory, {
      get: (target, name, receiver): unknown =>
        name === 'reserveChecked'
          ? async () => ({ agreed: true, outcome: { ok: false, code: 'OUT_OF_STOCK', message: long } })
          : Reflect.get(target, name, receiver),
    }) as Store;
    try {
      const s = newOrderSaga({
        orderId: 'o1',
        userId: 'u1',
        items: [{ productId: 'p1', quantity: 1 }],
        createdAt: clock.now(),
        stepTimeoutMs: 1_000,
        compensationRetry: FastBackoff.compensation,
      });
      await memory.createOrder({ orderId: 'o1', view: s.view, snapshot: s.snapshot, wakeAt: s.wakeAt });
      await startStockWorker({ store, broker, clock, metrics: createMetrics(), logger: silentLogger, group: 'stock' });
      const replies: Delivery[] = [];
      await broker.subscribe({
        group: 'tap',
        topics: [Topics.stockFailed],
        handler: async (d) => void replies.push(d),
      });
      await broker.publish([
        message(Topics.orderStart, { orderId: 'o1', userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] }),
      ]);
      await broker.drain();
      assert.equal(replies.length, 1);
      const reply = replies[0]!.value as { message: string };
      assert.equal(reply.message, clipText(long));
      assert.equal(TopicSchemas['stock.failed'].safeParse(reply).success, true);
      assert.equal(broker.deadLetters().length, 0);
    } finally {
      await broker.close();
      await memory.close();
    }
  });
});

describe('a refusal too large to copy, on the saga', () => {
  it('dead-letters a stock.failed of nearly 1 MiB as a stub, and every order on the partitions still ends', async () => {
    const h = await createHarness({ seed: 7 });
    try {
      await h.store.seed([{ productId: 'p1', stock: 100, price: 10 }], [{ userId: 'u1', balance: 10_000 }]);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await h.placeOrder('u1', [{ productId: 'p1', quantity: 1 }]));
      const victim = ids[0]!;
      // The largest the broker takes: far over the text bound, and too large for its DLQ once headers are added.
      const huge = 'x'.repeat(MAX_MESSAGE_BYTES - 200);
      await h.broker.publish([message(Topics.stockFailed, { orderId: victim, code: 'OUT_OF_STOCK', message: huge })]);
      await h.settle();
      const views = await h.views();
      assert.deepEqual(
        views.map((v) => v.status),
        ids.map(() => 'COMPLETED'),
        'the refusal was not taken, the real answer was',
      );
      const letters = h.broker.deadLetters().filter((l) => l.topic === dlqOf(Topics.stockFailed));
      assert.equal(letters.length, 1);
      const [letter] = letters;
      assert.equal(letter!.key, victim);
      assert.equal(letter!.value, null);
      assert.equal(letter!.headers[DlqHeaders.stub], 'true');
      assert.equal(letter!.headers[DlqHeaders.errorCode], 'INVALID_MESSAGE');
      assert.match(letter!.headers[DlqHeaders.errorMessage]!, /message/);
      assert.ok(letter!.headers[DlqHeaders.errorMessage]!.length <= MAX_TEXT_LENGTH);
    } finally {
      await h.close();
    }
  });
});

describe('a corrupt snapshot, on the saga', () => {
  it(`dead-letters the order's messages after ${UNKNOWN_FAILURE_ATTEMPTS} attempts each, and the other orders still end`, async () => {
    const h = await createHarness({ seed: 11 });
    try {
      await h.store.seed([{ productId: 'p1', stock: 100, price: 10 }], [{ userId: 'u1', balance: 10_000 }]);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await h.placeOrder('u1', [{ productId: 'p1', quantity: 1 }]));
      const victim = ids[0]!;
      const row = (await h.store.loadSaga(victim))!;
      const view = (await h.store.getOrder(victim))!;
      // The right version with a context that is not there: restoring it throws a TypeError.
      const corrupt = { ...(row.snapshot as object), context: null };
      assert.ok(
        await h.store.commitSaga(victim, row.version, {
          snapshot: corrupt,
          outbox: [],
          view,
          wakeAt: null,
          terminal: false,
        }),
      );
      await h.broker.drain({ maxSteps: 10_000 });
      const views = new Map((await h.views()).map((v) => [v.orderId, v.status]));
      for (const id of ids.slice(1)) assert.equal(views.get(id), 'COMPLETED', id);
      assert.equal(views.get(victim), 'PENDING', 'the corrupt order is left for an operator');
      const letters = h.broker.deadLetters().filter((l) => l.key === victim);
      assert.deepEqual(letters.map((l) => l.topic).sort(), [dlqOf(Topics.orderStart), dlqOf(Topics.stockSuccess)]);
      for (const l of letters) {
        assert.equal(l.headers[DlqHeaders.errorCode], 'INTERNAL');
        assert.equal(l.headers[DlqHeaders.attempts], String(UNKNOWN_FAILURE_ATTEMPTS));
      }
    } finally {
      await h.close();
    }
  });
});
