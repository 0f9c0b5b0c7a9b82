/** One source per word: the machine's statuses and codes, refusal codes, DLQ names and backoff. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureCodes, OrderStatuses, orderMachine, TerminalStatuses } from '../../machines/order.machine.ts';
import { ReasonCodes } from '../../src/errors.ts';
import { backoffDelay, PositionBackoff } from '../../src/retry.ts';
import { OrderStatuses as ApiStatuses, Reason, isTerminal } from '../../src/schemas.ts';
import { AllTopics, dlqOf, isDlqName, PaymentRefusalCodes, StockRefusalCodes, TopicSchemas } from '../../src/topics.ts';

describe('one vocabulary', () => {
  it('lists exactly the states of the machine as its statuses, and its final states as terminal', () => {
    assert.deepEqual(Object.keys(orderMachine.states), [...OrderStatuses]);
    const finals = Object.entries(orderMachine.states)
      .filter(([, node]) => node.type === 'final')
      .map(([name]) => name);
    assert.deepEqual(finals, [...TerminalStatuses]);
    assert.equal(ApiStatuses, OrderStatuses, 'schemas re-export the machine list, no copy');
    assert.deepEqual(OrderStatuses.filter(isTerminal), [...TerminalStatuses]);
  });

  it('takes the reason codes of errors and of the order view from the machine', () => {
    assert.equal(ReasonCodes, FailureCodes);
    for (const code of FailureCodes) assert.ok(Reason.safeParse({ code, message: 'm' }).success, code);
    assert.equal(Reason.safeParse({ code: 'CANCELLED', message: 'm' }).success, false);
  });

  it('refusal codes are failure codes of the machine, or the tombstone CANCELLED, and the topic schemas use them', () => {
    for (const code of [...StockRefusalCodes, ...PaymentRefusalCodes]) {
      assert.ok(code === 'CANCELLED' || (FailureCodes as readonly string[]).includes(code), code);
    }
    const failed = (topic: 'stock.failed' | 'payment.failed', code: string) =>
      TopicSchemas[topic].safeParse({ v: 1, orderId: 'o1', code, message: 'm' }).success;
    for (const code of StockRefusalCodes) assert.ok(failed('stock.failed', code), code);
    for (const code of PaymentRefusalCodes) assert.ok(failed('payment.failed', code), code);
    assert.equal(failed('stock.failed', 'INSUFFICIENT_BALANCE'), false);
  });

  it('names dead-letter topics only through the registry', () => {
    for (const topic of AllTopics) {
      assert.equal(isDlqName(topic), false, topic);
      assert.equal(isDlqName(dlqOf(topic)), true, dlqOf(topic));
    }
  });
});

describe('one backoff function', () => {
  it('reads every field of the policy', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffDelay({ initialMs: 10, maxMs: 100, factor: 2 }, n)),
      [10, 20, 40, 80],
    );
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => backoffDelay({ initialMs: 10, maxMs: 100, factor: 3 }, n)),
      [10, 30, 90, 100],
    );
  });

  it('waits between start-position attempts of a Kafka assignment as before: 200 ms doubling to 2 s', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(PositionBackoff, n)),
      [200, 400, 800, 1_600, 2_000, 2_000],
    );
  });
});
