/** The saga's outgoing edge: each publish action of the machine to its topic, and nothing dropped. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutboxTopics, toOutbox } from '../../src/saga/outbox.ts';
import { Topics } from '../../src/topics.ts';

describe('outbox table', () => {
  it('maps each publish action of the machine to its topic, with its params as the body', () => {
    const out = toOutbox(
      [
        { type: 'publishPaymentRequest', params: { orderId: 'o1', userId: 'u1', amount: 5 } },
        { type: 'publishStockRollback', params: { orderId: 'o1' } },
      ],
      { traceparent: 't' },
    );
    assert.deepEqual(out, [
      {
        topic: Topics.paymentRequest,
        key: 'o1',
        value: { v: 1, orderId: 'o1', userId: 'u1', amount: 5 },
        headers: { traceparent: 't' },
      },
      { topic: Topics.stockRollback, key: 'o1', value: { v: 1, orderId: 'o1' }, headers: { traceparent: 't' } },
    ]);
    assert.deepEqual(
      Object.values(OutboxTopics).sort(),
      [
        Topics.orderCancel,
        Topics.orderCompleted,
        Topics.paymentRefund,
        Topics.paymentRequest,
        Topics.stockRollback,
      ].sort(),
    );
  });

  it('throws on an action it has no topic for, instead of dropping it', () => {
    assert.throws(
      () => toOutbox([{ type: 'publishSomethingNew', params: { orderId: 'o1' } }]),
      /publishSomethingNew has no topic/,
    );
  });
});

describe('the xstate the fast stepping was checked against', () => {
  it('is pinned to one exact version, the one installed', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    const installed = JSON.parse(
      await readFile(new URL('../../node_modules/xstate/package.json', import.meta.url), 'utf8'),
    );
    assert.match(pkg.dependencies.xstate, /^\d+\.\d+\.\d+$/);
    assert.equal(pkg.dependencies.xstate, installed.version);
  });
});
