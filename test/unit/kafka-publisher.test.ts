/**
 * The Kafka adapter's producer, against a fake kafkajs producer that counts sendBatch
 * calls: the publishes of concurrent callers within one turn leave in one sendBatch, the
 * byte cap still splits, and each caller learns its own records' fate.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Kafka, ProducerBatch } from 'kafkajs';
import { defaultClientTuning } from '../../adapters/broker/kafka/options.ts';
import { MAX_BATCH_BYTES, Publisher, type OutRecord } from '../../adapters/broker/kafka/producer.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';

/** A kafkajs stand-in: one producer whose sendBatch records its calls and answers with `answer`. */
function fakeKafka(answer: (batch: ProducerBatch) => Promise<void> = async () => {}) {
  const calls: ProducerBatch[] = [];
  const kafka = {
    producer: () => ({
      connect: async () => {},
      disconnect: async () => {},
      sendBatch: async (batch: ProducerBatch) => {
        calls.push(batch);
        await answer(batch);
        return [];
      },
    }),
  } as unknown as Kafka;
  return { kafka, calls };
}

const rec = (key: string, value = '{}'): OutRecord => ({ topic: 't', key, value });
const keysOf = (batch: ProducerBatch): string[] =>
  (batch.topicMessages ?? []).flatMap((t) => t.messages.map((m) => String(m.key)));

describe('Kafka publisher', () => {
  it('sends the publishes of concurrent callers in one turn as one sendBatch, acknowledged once', async () => {
    const { kafka, calls } = fakeKafka();
    const publisher = new Publisher(kafka, defaultClientTuning);
    // Callers resumed in the same turn, some a few microtasks later (after an await of their own).
    const callers = Array.from({ length: 8 }, async (_, i) => {
      for (let j = 0; j < i; j++) await Promise.resolve();
      await publisher.send([rec(`k${i}`)]);
    });
    await Promise.all(callers);
    assert.equal(calls.length, 1, 'one sendBatch for the whole wave');
    assert.deepEqual(keysOf(calls[0]!), ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    await publisher.close();
  });

  it('still splits a wave over the byte cap into several sendBatches, each at most MAX_BATCH_BYTES', async () => {
    const { kafka, calls } = fakeKafka();
    const publisher = new Publisher(kafka, defaultClientTuning);
    const big = 'x'.repeat(Math.floor(MAX_BATCH_BYTES / 3));
    await Promise.all(Array.from({ length: 4 }, (_, i) => publisher.send([rec(`k${i}`, big)])));
    assert.equal(calls.length, 2);
    assert.deepEqual(calls.map(keysOf), [
      ['k0', 'k1'],
      ['k2', 'k3'],
    ]);
    await publisher.close();
  });

  it("settles each caller with its own records' fate", async () => {
    let n = 0;
    // The first sendBatch fails; the next one (the calls queued behind it) succeeds.
    const { kafka, calls } = fakeKafka(async () => {
      if (n++ === 0) throw new Error('network down');
    });
    const publisher = new Publisher(kafka, defaultClientTuning);
    const first = Promise.allSettled([publisher.send([rec('a')]), publisher.send([rec('b')])]);
    // Queued while the first sendBatch is in flight: it leaves in the next one.
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    const later = publisher.send([rec('c')]);
    const results = [...(await first), ...(await Promise.allSettled([later]))];
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'fulfilled'],
    );
    for (const r of results.slice(0, 2))
      assert.ok((r as PromiseRejectedResult).reason instanceof BrokerUnavailableError);
    assert.deepEqual(calls.map(keysOf), [['a', 'b'], ['c']]);
    await publisher.close();
  });
});
