/**
 * The platform's own limits on this machine, beside the saga's figures (BENCHMARKS.md):
 *   npx tsx scripts/platform-limits.ts [messages=100000] [reserves=100000]
 * 1. Kafka through our adapter (kafkajs), KAFKA_PARTITIONS partitions, small keyed
 *    messages, 200 publishes in flight: publish alone; produce + consume (no-op handler);
 *    and a worker's chain (consume one, publish one and wait for its ack, like every saga
 *    hop), counted downstream. msgs/s each.
 * 2. Redis through our store: the reserve script (one Lua call), 256 in flight; calls/s.
 * Needs `scripts/kafka-local.sh start` and Redis on 6379 (or KAFKA_BROKERS / REDIS_URL).
 * Uses its own topic prefix and key prefix and removes what it created.
 */
import { randomUUID } from 'node:crypto';
import { createKafkaBroker } from '../adapters/broker/kafka.ts';
import { createRedisStore } from '../adapters/store/redis.ts';
import { message, Topics } from '../src/topics.ts';
import { deleteTopics } from '../test/helpers/kafka.ts';
import { deleteKeys } from '../test/helpers/redis.ts';

const messages = Number(process.argv[2] ?? 100_000);
const reserves = Number(process.argv[3] ?? 100_000);
const partitions = Number(process.env.KAFKA_PARTITIONS ?? 6);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const run = randomUUID().slice(0, 6);

async function pool(total: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

async function kafka(): Promise<Record<string, number>> {
  const broker = await createKafkaBroker({ brokers, partitions, topicPrefix: `limits${run}.` });
  const counter = (topic: typeof Topics.stockReleased | typeof Topics.paymentRefunded, group: string) => {
    let seen = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const sub = broker.subscribe({
      group,
      topics: [topic],
      handler: async () => {
        if (++seen === messages) resolveAll();
      },
    });
    return { sub, all };
  };
  try {
    // 1. publish alone
    let t = performance.now();
    await pool(messages, 200, (i) => broker.publish([message(Topics.stockReleased, { orderId: `m${i}` })]));
    const publishPerSec = messages / ((performance.now() - t) / 1000);
    // 2. produce + consume: from the first publish to the last message handled
    const plain = counter(Topics.stockReleased, `limits${run}-plain`);
    const plainSub = await plain.sub;
    t = performance.now();
    await pool(messages, 200, (i) => broker.publish([message(Topics.stockReleased, { orderId: `n${i}` })]));
    await plain.all;
    const produceConsumePerSec = messages / ((performance.now() - t) / 1000);
    await plainSub.close();
    // 3. a worker's chain: consume one, publish one (acked) before the next, as every
    //    saga hop does; counted where the second topic is consumed
    const relay = await broker.subscribe({
      group: `limits${run}-relay`,
      topics: [Topics.stockReleased],
      handler: async (d) => broker.publish([message(Topics.paymentRefunded, { orderId: d.key })]),
    });
    const chained = counter(Topics.paymentRefunded, `limits${run}-chain`);
    const chainSub = await chained.sub;
    t = performance.now();
    await pool(messages, 200, (i) => broker.publish([message(Topics.stockReleased, { orderId: `c${i}` })]));
    await chained.all;
    const chainPerSec = messages / ((performance.now() - t) / 1000);
    await Promise.all([relay.close(), chainSub.close()]);
    return {
      publishPerSec: Math.round(publishPerSec),
      produceConsumePerSec: Math.round(produceConsumePerSec),
      consumeRepublishChainPerSec: Math.round(chainPerSec),
    };
  } finally {
    await broker.close();
  }
}

async function redis(): Promise<{ reservePerSec: number }> {
  const keyPrefix = `limits${run}:`;
  const store = await createRedisStore({
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix,
    orderRetentionMs: 60_000,
  });
  try {
    await store.seed(
      [
        { productId: 'a', stock: 1e12, price: 1 },
        { productId: 'b', stock: 1e12, price: 1 },
      ],
      [],
    );
    const t0 = performance.now();
    await pool(reserves, 256, async (i) => {
      await store.reserve(`r${i}`, [
        { productId: 'a', quantity: 1 },
        { productId: 'b', quantity: 2 },
      ]);
    });
    return { reservePerSec: Math.round(reserves / ((performance.now() - t0) / 1000)) };
  } finally {
    await store.close();
  }
}

const k = await kafka();
const r = await redis();
await deleteTopics(brokers, `limits${run}.`);
await deleteKeys(`limits${run}:`);
console.log(JSON.stringify({ messages, partitions, ...k, reserves, ...r }));
