// No-op Kafka ceiling: @platformatic/kafka (default) or raw kafkajs, same shape.
//   node scripts/kafka-client-limits.mjs [client=platformatic|kafkajs] [N=30000]
// platformatic needs `npm i --no-save @platformatic/kafka@1.35.0` first (it is not a
// dependency of this project; BENCHMARKS.md "Another Kafka client" says why).
// Env: PARTITIONS (6), BROKERS (127.0.0.1:9092), INFLIGHT (200), NAIVE=1 also runs
// 200 concurrent single-message sends without coalescing (platformatic only).
// (a) publish only: N keyed ~150-byte JSON messages, INFLIGHT publish() calls in flight,
//     coalesced per event-loop turn into one send at a time (the project's Publisher
//     pattern), idempotent producer, acks=-1.
// (b) produce + consume: fresh topic, fresh group, from earliest; no-op handler; offsets
//     committed manually (coalesced, one commit in flight); wall time from first publish
//     to last message seen.
// Topics are created fresh and deleted at the end. Prints one JSON line.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

const client = process.argv[2] ?? 'platformatic';
const N = Number(process.argv[3] ?? 30000);
const partitions = Number(process.env.PARTITIONS ?? 6);
const brokers = (process.env.BROKERS ?? '127.0.0.1:9092').split(',');
const INFLIGHT = Number(process.env.INFLIGHT ?? 200);
const run = randomUUID().slice(0, 8);
const topicPub = `pkbench-${run}-pub`;
const topicPc = `pkbench-${run}-pc`;
const topicNaive = `pkbench-${run}-naive`;
const pad = 'x'.repeat(40);

function record(topic, i) {
  const orderId = `ord-${randomUUID()}`;
  const value = JSON.stringify({
    v: 1,
    orderId,
    seq: i,
    sku: `sku-${i % 97}`,
    quantity: 1 + (i % 5),
    amountCents: 1999,
    note: pad,
  });
  return { topic, key: orderId, value };
}

const cpuPerMsg = (c) => {
  const d = process.cpuUsage(c);
  return +((d.user + d.system) / N).toFixed(1);
};

async function pool(total, width, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < total) await task(next++);
    }),
  );
}

/** N messages per second since `t` (a performance.now()). */
const perSec = (t) => Math.round(N / ((performance.now() - t) / 1000));

/** Phase (a), the same for both clients: N publishes, INFLIGHT in flight, through the coalescer. */
async function timePublish(out, coalescer) {
  const t = performance.now();
  const c = process.cpuUsage();
  await pool(N, INFLIGHT, (i) => coalescer.send([record(topicPub, i)]));
  out.publishPerSec = perSec(t);
  out.publishCpuUsPerMsg = cpuPerMsg(c);
  out.publishBatches = coalescer.batches;
}

/** Phase (b)'s timed part: N publishes while a consumer takes them; `consumed` resolves at the N-th. */
async function timeProduceConsume(out, coalescer, consumed, committer) {
  const t = performance.now();
  const c = process.cpuUsage();
  await pool(N, INFLIGHT, (i) => coalescer.send([record(topicPc, i)]));
  out.publishDuringConsumePerSec = perSec(t);
  await consumed;
  out.produceConsumePerSec = perSec(t);
  out.produceConsumeCpuUsPerMsg = cpuPerMsg(c);
  await committer.idle();
  out.commits = committer.commits;
}

/** The project's Publisher pattern: calls of one turn leave together, one send in flight. */
class Coalescer {
  constructor(sendBatch, max = 5000) {
    this.sendBatch = sendBatch;
    this.max = max;
    this.queue = [];
    this.sending = false;
    this.lingering = false;
    this.batches = 0;
  }
  send(records) {
    const p = new Promise((resolve, reject) => this.queue.push({ records, resolve, reject }));
    if (!this.sending && !this.lingering) {
      this.lingering = true;
      setImmediate(() => {
        this.lingering = false;
        void this.drain();
      });
    }
    return p;
  }
  async drain() {
    this.sending = true;
    while (this.queue.length > 0) {
      const batch = [];
      let n = 0;
      while (this.queue.length > 0 && n + this.queue[0].records.length <= this.max) {
        const p = this.queue.shift();
        n += p.records.length;
        batch.push(p);
      }
      if (batch.length === 0) batch.push(this.queue.shift());
      try {
        await this.sendBatch(batch.flatMap((p) => p.records));
        this.batches++;
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.sending = false;
  }
}

/** Tracks the next offset to commit per partition; one commit in flight, coalesced. */
class Committer {
  constructor(commitFn) {
    this.commitFn = commitFn;
    this.pending = new Map();
    this.inflight = false;
    this.scheduled = false;
    this.commits = 0;
  }
  mark(topic, partition, nextOffset) {
    this.pending.set(`${topic}:${partition}`, { topic, partition, offset: nextOffset });
    if (!this.inflight && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }
  async flush() {
    if (this.inflight || this.pending.size === 0) return;
    this.inflight = true;
    const offsets = [...this.pending.values()];
    this.pending.clear();
    try {
      await this.commitFn(offsets);
      this.commits++;
    } finally {
      this.inflight = false;
    }
    if (this.pending.size > 0) await this.flush();
  }
  async idle() {
    while (this.inflight || this.scheduled || this.pending.size > 0) {
      await new Promise((r) => setTimeout(r, 5));
      if (!this.inflight && !this.scheduled && this.pending.size > 0) await this.flush();
    }
  }
}

async function platformatic() {
  const { Producer, Consumer, Admin, stringSerializers, stringDeserializers } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: `pkb-admin-${run}`, bootstrapBrokers: brokers });
  const topics = [topicPub, topicPc, ...(process.env.NAIVE ? [topicNaive] : [])];
  await admin.createTopics({ topics, partitions, replicas: 1 });
  const producer = new Producer({
    clientId: `pkb-prod-${run}`,
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true, // forces acks=-1 and maxInflights=1 per connection
    acks: -1,
  });
  const out = {
    client: '@platformatic/kafka',
    version: JSON.parse(readFileSync(new URL('../node_modules/@platformatic/kafka/package.json', import.meta.url)))
      .version,
  };
  const coalescer = new Coalescer((records) => producer.send({ messages: records }));
  let consumer;
  try {
    // warm-up: metadata + InitProducerId, not timed (kafkajs adapter connects at first publish too,
    // but that cost is negligible at N=30000)
    await producer.send({ messages: [record(topicPub, -1)] });
    // (a) publish only
    await timePublish(out, coalescer);
    // (a') naive: INFLIGHT concurrent single-message send() calls, no coalescing
    if (process.env.NAIVE) {
      const t = performance.now();
      let failed = 0;
      const errs = new Map();
      await pool(N, INFLIGHT, (i) =>
        producer.send({ messages: [record(topicNaive, i)] }).catch((e) => {
          failed++;
          const msg = (e.errors?.[0]?.errors?.[0] ?? e.errors?.[0] ?? e).message;
          errs.set(msg, (errs.get(msg) ?? 0) + 1);
        }),
      );
      out.publishNaivePerSec = perSec(t);
      out.publishNaiveFailed = failed;
      out.publishNaiveErrors = Object.fromEntries(errs);
    }
    // (b) produce + consume
    consumer = new Consumer({
      clientId: `pkb-cons-${run}`,
      groupId: `pkb-group-${run}`,
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
      autocommit: false,
      maxWaitTime: 50,
      minBytes: 1,
      sessionTimeout: 30000,
      heartbeatInterval: 3000,
    });
    const committer = new Committer((offsets) =>
      consumer.commit({ offsets: offsets.map((o) => ({ ...o, leaderEpoch: -1 })) }),
    );
    const stream = await consumer.consume({ topics: [topicPc], mode: 'committed', fallbackMode: 'earliest' });
    let seen = 0;
    let resolveAll;
    const all = new Promise((r) => (resolveAll = r));
    stream.on('error', (err) => console.error('stream error', err));
    await new Promise((r) => {
      stream.once('offsets', r);
      stream.on('data', (m) => {
        committer.mark(m.topic, m.partition, m.offset + 1n);
        if (++seen === N) resolveAll();
      });
    });
    await timeProduceConsume(out, coalescer, all, committer);
    out.seen = seen;
    await stream.close();
    // messages actually stored per topic (end offsets summed over partitions)
    const ends = await consumer.listOffsets({ topics });
    out.stored = Object.fromEntries(
      [...ends].map(([t, offs]) => [t.split('-').pop(), offs.reduce((a, b) => a + Number(b), 0)]),
    );
  } finally {
    await consumer?.close(true).catch(() => undefined);
    await producer.close().catch(() => undefined);
    await admin.deleteTopics({ topics }).catch((e) => console.error('delete failed', e));
    await admin.close();
  }
  return out;
}

async function kafkajs() {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: `kjb-${run}`, brokers, logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  const topics = [topicPub, topicPc];
  await admin.createTopics({
    topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    waitForLeaders: true,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const out = {
    client: 'kafkajs',
    version: JSON.parse(readFileSync(new URL('../node_modules/kafkajs/package.json', import.meta.url))).version,
  };
  const byTopic = (records) => {
    const m = new Map();
    for (const r of records) {
      let a = m.get(r.topic);
      if (!a) m.set(r.topic, (a = []));
      a.push({ key: r.key, value: r.value });
    }
    return [...m].map(([topic, messages]) => ({ topic, messages }));
  };
  const coalescer = new Coalescer((records) => producer.sendBatch({ topicMessages: byTopic(records), acks: -1 }));
  let consumer;
  try {
    await producer.sendBatch({ topicMessages: byTopic([record(topicPub, -1)]), acks: -1 });
    await timePublish(out, coalescer);
    consumer = kafka.consumer({ groupId: `kjb-group-${run}`, maxWaitTimeInMs: 50, minBytes: 1, sessionTimeout: 30000 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topicPc], fromBeginning: true });
    const committer = new Committer((offsets) =>
      consumer.commitOffsets(
        offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })),
      ),
    );
    let seen = 0;
    let resolveAll;
    const all = new Promise((r) => (resolveAll = r));
    const joined = new Promise((r) => consumer.on(consumer.events.FETCH_START, r));
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= N) resolveAll();
        if (batch.messages.length) committer.mark(batch.topic, batch.partition, BigInt(batch.lastOffset()) + 1n);
      },
    });
    await joined;
    await timeProduceConsume(out, coalescer, all, committer);
    out.seen = seen;
  } finally {
    await consumer?.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics }).catch((e) => console.error('delete failed', e));
    await admin.disconnect();
  }
  return out;
}

const t0 = performance.now();
const res = client === 'kafkajs' ? await kafkajs() : await platformatic();
const cpu = process.cpuUsage();
console.log(
  JSON.stringify({
    ...res,
    messages: N,
    partitions,
    inflight: INFLIGHT,
    node: process.version,
    wallSec: +((performance.now() - t0) / 1000).toFixed(2),
    cpuUserSec: +(cpu.user / 1e6).toFixed(2),
    cpuSysSec: +(cpu.system / 1e6).toFixed(2),
  }),
);
