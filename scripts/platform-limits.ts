/**
 * The platform's own limits on this machine, beside the saga's figures (BENCHMARKS.md):
 *   npx tsx scripts/platform-limits.ts [messages=100000] [reserves=100000]
 * 1. Kafka through our adapter (kafkajs): publish small keyed messages (200 in flight),
 *    then consume them with a no-op handler on KAFKA_PARTITIONS partitions; msgs/s each.
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
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < total) await task(next++);
  }));
}

async function kafka(): Promise<{ publishPerSec: number; consumePerSec: number }> {
  const broker = await createKafkaBroker({ brokers, partitions, topicPrefix: `limits${run}.` });
  try {
    let seen = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const t0 = performance.now();
    await pool(messages, 200, (i) =>
      broker.publish([message(Topics.stockReleased, { orderId: `m${i}` })]),
    );
    const publishPerSec = messages / ((performance.now() - t0) / 1000);
    // A fresh group starts at the end, so re-publish after it joined and time the consume.
    const sub = await broker.subscribe({
      group: `limits${run}`,
      topics: [Topics.stockReleased],
      handler: async () => {
        if (++seen === messages) resolveAll();
      },
    });
    await pool(messages, 200, (i) => broker.publish([message(Topics.stockReleased, { orderId: `n${i}` })]));
    const t1 = performance.now();
    await all;
    const consumePerSec = messages / ((performance.now() - t1) / 1000);
    await sub.close();
    return { publishPerSec: Math.round(publishPerSec), consumePerSec: Math.round(consumePerSec) };
  } finally {
    await broker.close();
  }
}

async function redis(): Promise<{ reservePerSec: number }> {
  const keyPrefix = `limits${run}:`;
  const store = await createRedisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix, orderRetentionMs: 60_000 });
  try {
    await store.seed([{ productId: 'a', stock: 1e12, price: 1 }, { productId: 'b', stock: 1e12, price: 1 }], []);
    const t0 = performance.now();
    await pool(reserves, 256, async (i) => {
      await store.reserve(`r${i}`, [{ productId: 'a', quantity: 1 }, { productId: 'b', quantity: 2 }]);
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
