/**
 * The Kafka adapter against a real broker: the shared Broker contract, then what only
 * Kafka shows (a member killed before its commit, a rebalance mid-flow, start-up checks,
 * an unreachable broker, poison messages). Every test has its own topic prefix; waits are
 * on deliveries, never on time.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  coPartition,
  createKafkaBroker,
  type KafkaBroker,
  type KafkaBrokerOptions,
} from '../../adapters/broker/kafka.ts';
import {
  BrokerUnavailableError,
  ConfigError,
  MessageTooLargeError,
  StoreUnavailableError,
  UNKNOWN_FAILURE_ATTEMPTS,
} from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { DlqHeaders, type Delivery, type Subscription } from '../../src/ports/broker.ts';
import { seededRng } from '../../src/random.ts';
import { FastBackoff } from '../../src/retry.ts';
import { dlqOf, message, Topics, type TopicName } from '../../src/topics.ts';
import { brokerContract } from '../contract/broker.contract.ts';
import { createTopic, deleteTopics, findKafka, publishRaw, uniquePrefix, type MemberReport } from '../helpers/kafka.ts';
import { deferred, nextTurn, Recorder } from '../helpers/wait.ts';

const found = await findKafka();
const brokers = found.endpoint?.brokers ?? [];
const SLOW_MS = 20_000;
const T1 = Topics.stockRollback;
const T2 = Topics.paymentSuccess;
const SEQ = 'x-seq';
/** Low timings so joins and takeovers are quick (6 s is the broker's minimum session timeout). */
const fastConsumer = { sessionTimeout: 6_000, rebalanceTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 20 };

/** KAFKA_TEST_LOG=warn (any pino level) shows the adapter's and kafkajs's logs. */
const logger = process.env.KAFKA_TEST_LOG ? createLogger(process.env.KAFKA_TEST_LOG, 'kafka-test') : undefined;

const options = (prefix: string, extra: Partial<KafkaBrokerOptions> = {}): KafkaBrokerOptions => ({
  brokers,
  ...(logger ? { logger } : {}),
  partitions: 3,
  topicPrefix: prefix,
  redelivery: FastBackoff.redelivery,
  consumer: fastConsumer,
  ...extra,
});

/** A broker on fresh topics; `done()` closes it and deletes its topics. */
async function fresh(
  extra: Partial<KafkaBrokerOptions> = {},
): Promise<{ broker: KafkaBroker; prefix: string; done(): Promise<void> }> {
  const prefix = uniquePrefix();
  const broker = await createKafkaBroker(options(prefix, extra));
  return { broker, prefix, done: () => broker.close().then(() => deleteTopics(brokers, prefix)) };
}

const msg = (topic: TopicName, key: string, seq: number, headers: Record<string, string> = {}) =>
  message(topic as typeof T1, { orderId: key }, { ...headers, [SEQ]: String(seq) });

/** `count` keys of this run that share one partition (the producer's own partitioner says which). */
function keysOnOnePartition(broker: KafkaBroker, prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}k${i}`;
    if (broker.partitionOf?.(key) === 0) keys.push(key);
  }
  return keys;
}

/**
 * Gives the group a committed offset on every partition (a member joined and left), so
 * messages published now wait for the next member and reach it in its first fetch.
 */
async function positionGroup(broker: KafkaBroker, group: string, topics: TopicName[]): Promise<void> {
  const first = await broker.subscribe({ group, topics, handler: async () => {} });
  await first.close();
}

describe('co-partitioned assignment', () => {
  it('gives partition p of every topic to the same member, members sorted by id', () => {
    const subs = new Map([
      ['m-b', ['x', 'y']],
      ['m-a', ['x', 'y']],
    ]);
    const out = coPartition(subs, () => [0, 1, 2, 3, 4]);
    assert.deepEqual(out.get('m-a'), { x: [0, 2, 4], y: [0, 2, 4] });
    assert.deepEqual(out.get('m-b'), { x: [1, 3], y: [1, 3] });
  });

  it('deals each topic over the members that subscribe to it, and leaves a member without partitions empty', () => {
    const subs = new Map([
      ['a', ['x']],
      ['b', ['x', 'y']],
      ['c', ['x']],
    ]);
    const out = coPartition(subs, () => [0, 1]);
    assert.deepEqual(out.get('a'), { x: [0] });
    assert.deepEqual(out.get('b'), { x: [1], y: [0, 1] });
    assert.deepEqual(out.get('c'), {});
  });
});

describe('Kafka broker', { skip: found.skip ?? false }, () => {
  after(() => found.endpoint?.stop());

  brokerContract('kafka', async () => {
    const { broker, prefix, done } = await fresh();
    return { broker, topicPrefix: prefix, cleanup: done };
  });

  describe('kafka only', () => {
    it('redelivers what a killed member handled but never committed to the next member, and an idempotent handler applies it once', async () => {
      const { broker, prefix, done } = await fresh();
      const group = `${prefix}crash`;
      const key = `${prefix}order-1`;
      const hangAt = 10;
      const applied = new Map<number, number>();
      const deliveries = new Recorder<{ by: string; seq: number }>();
      const effects = new Recorder<number>();
      // The idempotent effect: keyed by seq, applied at most once whoever delivers it.
      const apply = (by: string, seq: number): void => {
        deliveries.push({ by, seq });
        if (!applied.has(seq)) effects.push(seq);
        applied.set(seq, (applied.get(seq) ?? 0) + 1);
      };
      let child: ChildProcess | undefined;
      let sub: Subscription | undefined;
      try {
        child = fork(fileURLToPath(new URL('../helpers/kafka.ts', import.meta.url)), ['member'], {
          execArgv: ['--import', 'tsx'],
          env: {
            ...process.env,
            KAFKA_BROKERS: brokers.join(','),
            TOPIC_PREFIX: prefix,
            GROUP: group,
            TOPIC: T1,
            HANG_AT: String(hangAt),
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        const reports = new Recorder<MemberReport>();
        child.on('message', (r: MemberReport) => {
          reports.push(r);
          if (r.type === 'delivery') apply('child', r.seq);
        });
        await reports.until((rs) => rs.some((r) => r.type === 'ready'), 'the child member to join', SLOW_MS);
        await broker.publish(Array.from({ length: 20 }, (_, seq) => msg(T1, key, seq)));
        await effects.until((s) => s.includes(hangAt), `the child to handle seq ${hangAt}`, SLOW_MS);
        child.kill('SIGKILL');
        // The group takes the dead member's partitions away once its session times out.
        sub = await broker.subscribe({
          group,
          topics: [T1],
          handler: async (d) => apply('parent', Number(d.headers[SEQ])),
        });
        await effects.count(20, 'effects', SLOW_MS);
        await deliveries.until(
          (ds) => ds.some((d) => d.by === 'parent' && d.seq === hangAt),
          `seq ${hangAt} redelivered to the new member`,
          SLOW_MS,
        );
        assert.deepEqual(
          [...effects.items].sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i),
          'every message applied exactly once',
        );
        assert.ok((applied.get(hangAt) ?? 0) >= 2, `seq ${hangAt} was delivered to both members`);
        assert.ok(
          deliveries.items.filter((d) => d.by === 'child').every((d) => d.seq <= hangAt),
          'the child stopped at the message it never finished',
        );
      } finally {
        child?.kill('SIGKILL');
        await sub?.close();
        await done();
      }
    });

    it('keeps every message through a rebalance mid-flow and assigns partitions co-partitioned', async () => {
      const { broker, prefix, done } = await fresh();
      const group = `${prefix}rebalance`;
      type Seen = { by: string; topic: string; partition: number; key: string; seq: number; phase: string };
      const rec = new Recorder<Seen>();
      const member = (by: string) => async (d: Delivery) =>
        rec.push({
          by,
          topic: d.topic,
          partition: d.partition,
          key: d.key,
          seq: Number(d.headers[SEQ]),
          phase: d.headers['x-phase'] ?? '',
        });
      // 30 keys: all of them missing the partition of one member is a (2/3)^30 chance.
      const keys = Array.from({ length: 30 }, (_, i) => `${prefix}k${i}`);
      let seq = 0;
      const round = (phase: string) =>
        broker.publish(
          keys.flatMap((k) => [msg(T1, k, seq, { 'x-phase': phase }), msg(T2, k, seq++, { 'x-phase': phase })]),
        );
      const subs: Subscription[] = [];
      try {
        subs.push(await broker.subscribe({ group, topics: [T1, T2], handler: member('a') }));
        for (let i = 0; i < 5; i++) await round('before');
        await rec.count(5 * keys.length * 2, 'deliveries before the second member joins', SLOW_MS);
        // The second member joins while messages keep coming.
        const joining = broker.subscribe({ group, topics: [T1, T2], handler: member('b') });
        let joined = false;
        void joining.then(
          () => (joined = true),
          () => (joined = true),
        );
        for (let i = 0; i < 50 && !joined; i++) await round('during');
        subs.push(await joining);
        for (let i = 0; i < 5; i++) await round('after');
        const total = seq * 2;
        const distinct = (items: readonly Seen[]): number =>
          new Set(items.map((s) => `${s.topic}/${s.key}/${s.seq}`)).size;
        await rec.until((items) => distinct(items) === total, `all ${total} messages`, SLOW_MS);
        const late = rec.items.filter((s) => s.phase === 'after');
        const owner = new Map<number, string>();
        for (const s of late) {
          assert.equal(
            owner.get(s.partition) ?? s.by,
            s.by,
            `partition ${s.partition} has one member across both topics`,
          );
          owner.set(s.partition, s.by);
        }
        assert.deepEqual(
          new Set(owner.values()),
          new Set(['a', 'b']),
          'both members own partitions after the rebalance',
        );
        assert.ok(
          rec.items.some((s) => s.phase === 'during'),
          'messages flowed while the member joined',
        );
      } finally {
        await Promise.all(subs.map((s) => s.close()));
        await done();
      }
    });

    describe('batched loop: keys side by side within a partition', () => {
      it('handles two keys of one partition side by side: a handler of key A waiting for key B completes', async () => {
        const { broker, prefix, done } = await fresh();
        const [a, b] = keysOnOnePartition(broker, prefix, 2) as [string, string];
        const bHandled = deferred();
        const rec = new Recorder<string>();
        let sub: Subscription | undefined;
        try {
          sub = await broker.subscribe({
            group: `${prefix}side`,
            topics: [T1],
            handler: async (d) => {
              if (d.key === a) await bHandled.promise;
              rec.push(d.key);
              if (d.key === b) bHandled.resolve();
            },
          });
          // A before B in the partition: one at a time, A would wait for B forever.
          await broker.publish([msg(T1, a, 0), msg(T1, b, 0)]);
          await rec.until((keys) => keys.includes(a), 'key A, which waits for key B', SLOW_MS);
          assert.deepEqual(rec.items, [b, a]);
        } finally {
          bHandled.resolve();
          await sub?.close();
          await done();
        }
      });

      it("keeps each key's messages in offset order while many keys of a partition run side by side (seeded)", async () => {
        const seed = 20261129;
        const rng = seededRng(seed);
        const { broker, prefix, done } = await fresh();
        const group = `${prefix}order`;
        const keys = Array.from({ length: 40 }, (_, i) => `${prefix}k${i}`);
        const perKey = 10;
        // Interleaved at random: each key's seq still rises in publish order.
        const next = new Map(keys.map((k) => [k, 0]));
        const plan: { key: string; seq: number }[] = [];
        while (plan.length < keys.length * perKey) {
          const key = keys[rng.int(keys.length)]!;
          const seq = next.get(key)!;
          if (seq === perKey) continue;
          next.set(key, seq + 1);
          plan.push({ key, seq });
        }
        const rec = new Recorder<{ key: string; seq: number }>();
        const active = new Map<number, number>();
        let widest = 0;
        let sub: Subscription | undefined;
        try {
          await positionGroup(broker, group, [T1]);
          await broker.publish(plan.map(({ key, seq }) => msg(T1, key, seq)));
          sub = await broker.subscribe({
            group,
            topics: [T1],
            handler: async (d) => {
              const now = (active.get(d.partition) ?? 0) + 1;
              active.set(d.partition, now);
              widest = Math.max(widest, now);
              // A seeded number of event-loop turns: handlers overlap in varying order.
              for (let i = rng.int(4); i > 0; i--) await nextTurn();
              rec.push({ key: d.key, seq: Number(d.headers[SEQ]) });
              active.set(d.partition, (active.get(d.partition) ?? 1) - 1);
            },
          });
          await rec.count(plan.length, 'deliveries', SLOW_MS);
          for (const key of keys) {
            assert.deepEqual(
              rec.items.filter((r) => r.key === key).map((r) => r.seq),
              Array.from({ length: perKey }, (_, i) => i),
              `key ${key} in offset order (seed ${seed})`,
            );
          }
          assert.ok(widest > 1, `handlers of one partition overlapped (at most ${widest} at once; seed ${seed})`);
        } finally {
          await sub?.close();
          await done();
        }
      });

      it('retries a message of key A without holding key B, and commits nothing past it until it succeeds', async () => {
        const { broker, prefix, done } = await fresh();
        const group = `${prefix}retry`;
        const [a, b] = keysOnOnePartition(broker, prefix, 2) as [string, string];
        const attemptsA = new Recorder<number>();
        const handledB = new Recorder<number>();
        const later = new Recorder<{ key: string; seq: number }>();
        let sub: Subscription | undefined;
        try {
          sub = await broker.subscribe({
            group,
            topics: [T1],
            handler: async (d) => {
              if (d.key !== a) return handledB.push(Number(d.headers[SEQ]));
              attemptsA.push(d.attempt);
              throw new StoreUnavailableError('the store is away (test)');
            },
          });
          await broker.publish([msg(T1, a, 0), msg(T1, b, 0), msg(T1, b, 1), msg(T1, b, 2)]);
          await handledB.until((s) => [0, 1, 2].every((x) => s.includes(x)), "key B's messages, behind A's", SLOW_MS);
          await attemptsA.until((ns) => ns.includes(3), "A's message redelivered (attempt 3)", SLOW_MS);
          assert.deepEqual(attemptsA.items.slice(0, 3), [1, 2, 3], 'A counts its own attempts');
          await sub.close();
          sub = undefined;
          // A new member of the group starts at the committed offset: A's message, B's after it.
          sub = await broker.subscribe({
            group,
            topics: [T1],
            handler: async (d) => later.push({ key: d.key, seq: Number(d.headers[SEQ]) }),
          });
          await later.until((items) => items.some((r) => r.key === a), "A's message, still uncommitted", SLOW_MS);
          await later.until((items) => items.filter((r) => r.key === b).length === 3, "B's messages again", SLOW_MS);
          assert.deepEqual(
            later.items.filter((r) => r.key === b).map((r) => r.seq),
            [0, 1, 2],
            'handled after A, so redelivered with it (duplicates the handlers absorb)',
          );
        } finally {
          await sub?.close();
          await done();
        }
      });

      it('counts the attempts of each failing message of a partition on its own, up to the poison bound', async () => {
        const { broker, prefix, done } = await fresh();
        const [a, c] = keysOnOnePartition(broker, prefix, 2) as [string, string];
        const attempts = new Recorder<{ key: string; attempt: number }>();
        const letters = new Recorder<string>();
        let sub: Subscription | undefined;
        try {
          sub = await broker.subscribe({
            group: `${prefix}poison-wave`,
            topics: [T1, dlqOf(T1) as unknown as TopicName],
            handler: async (d) => {
              if ((d.topic as string) === dlqOf(T1)) return letters.push(d.key);
              attempts.push({ key: d.key, attempt: d.attempt });
              // Of unknown kind: retried, then dead-lettered on its last allowed attempt.
              throw new TypeError(`bug while handling ${d.key}`);
            },
          });
          await broker.publish([msg(T1, a, 0), msg(T1, c, 0)]);
          await letters.until((ks) => ks.includes(a) && ks.includes(c), 'both dead letters', SLOW_MS);
          for (const key of [a, c]) {
            assert.deepEqual(
              attempts.items.filter((r) => r.key === key).map((r) => r.attempt),
              Array.from({ length: UNKNOWN_FAILURE_ATTEMPTS }, (_, i) => i + 1),
              `${key}: attempts 1..${UNKNOWN_FAILURE_ATTEMPTS}, then its dead letter`,
            );
          }
        } finally {
          await sub?.close();
          await done();
        }
      });

      it('keeps the keys in flight within the per-partition and the per-subscription bounds', async () => {
        const perPartition = 2;
        const overall = 5;
        const { broker, prefix, done } = await fresh({
          consumer: { ...fastConsumer, keysInFlightPerPartition: perPartition, keysInFlight: overall },
        });
        const group = `${prefix}bounds`;
        const keys = Array.from({ length: 60 }, (_, i) => `${prefix}k${i}`);
        const rec = new Recorder<string>();
        const full = deferred();
        const active = new Map<number, number>();
        let total = 0;
        let widestTotal = 0;
        let widestPartition = 0;
        let sub: Subscription | undefined;
        try {
          await positionGroup(broker, group, [T1]);
          await broker.publish(keys.map((k) => msg(T1, k, 0)));
          sub = await broker.subscribe({
            group,
            topics: [T1],
            handler: async (d) => {
              total++;
              const here = (active.get(d.partition) ?? 0) + 1;
              active.set(d.partition, here);
              widestTotal = Math.max(widestTotal, total);
              widestPartition = Math.max(widestPartition, here);
              // Held until the bound is reached: the first handlers wait for each other.
              if (total >= overall) full.resolve();
              await full.promise;
              rec.push(d.key);
              total--;
              active.set(d.partition, (active.get(d.partition) ?? 1) - 1);
            },
          });
          await rec.count(keys.length, 'deliveries', SLOW_MS);
          assert.equal(widestTotal, overall, 'the subscription reached, and kept to, its bound');
          assert.ok(
            widestPartition <= perPartition,
            `at most ${perPartition} keys of a partition (saw ${widestPartition})`,
          );
        } finally {
          full.resolve();
          await sub?.close();
          await done();
        }
      });
    });

    it('refuses to start, in one line, when the saga input topics differ in partition count', async () => {
      const prefix = uniquePrefix();
      const early = await createKafkaBroker(options(prefix, { partitions: 2, ensureTopicsAtStart: false }));
      try {
        await early.ensureTopics([Topics.stockSuccess]);
        await early.close();
        await assert.rejects(createKafkaBroker(options(prefix)), (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.code, 'INVALID_CONFIG');
          assert.doesNotMatch(err.message, /\n/);
          assert.match(err.message, new RegExp(`${prefix.replace('.', '\\.')}stock\\.success=2`));
          assert.match(err.message, new RegExp(`${prefix.replace('.', '\\.')}order\\.start=3`));
          return true;
        });
      } finally {
        await early.close();
        await deleteTopics(brokers, prefix);
      }
    });

    it('answers publish and ping with BrokerUnavailableError when Kafka cannot be reached', async () => {
      const unreachable = (extra: Partial<KafkaBrokerOptions>): KafkaBrokerOptions => ({
        brokers: ['127.0.0.1:1'],
        partitions: 1,
        client: { connectionTimeout: 200, retries: 0, initialRetryTime: 50, maxRetryTime: 100, pingTimeoutMs: 1_000 },
        ...extra,
      });
      const isUnavailable = (err: unknown): boolean => {
        assert.ok(err instanceof BrokerUnavailableError, String(err));
        assert.equal(err.code, 'BROKER_UNAVAILABLE');
        assert.equal(err.retriable, true);
        return true;
      };
      const broker = await createKafkaBroker(unreachable({ ensureTopicsAtStart: false }));
      try {
        await assert.rejects(broker.publish([msg(T1, 'o1', 0)]), isUnavailable);
        await assert.rejects(broker.ping(), isUnavailable);
      } finally {
        await broker.close();
      }
      await assert.rejects(createKafkaBroker(unreachable({})), isUnavailable);
    });

    it('resends a batch Kafka refused as too large call by call, so only the call too large fails', async () => {
      const prefix = uniquePrefix();
      // The topic takes far less than MAX_MESSAGE_BYTES: Kafka, not the adapter, refuses.
      await createTopic(brokers, `${prefix}${T1}`, 3, { 'max.message.bytes': '20000' });
      const broker = await createKafkaBroker(options(prefix));
      const rec = new Recorder<number>();
      const key = `${prefix}k`;
      let sub: Subscription | undefined;
      try {
        sub = await broker.subscribe({
          group: `${prefix}small`,
          topics: [T1],
          handler: async (d) => rec.push(Number(d.headers[SEQ])),
        });
        // Concurrent calls: they leave together in one batch, which Kafka refuses as too large.
        const results = await Promise.allSettled([
          broker.publish([msg(T1, key, 0)]),
          broker.publish([msg(T1, key, 1)]),
          broker.publish([msg(T1, key, 2, { 'x-pad': 'x'.repeat(40_000) })]),
          broker.publish([msg(T1, key, 3)]),
        ]);
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
          String(results.map((r) => (r.status === 'rejected' ? r.reason : 'ok'))),
        );
        const refusal = (results[2] as PromiseRejectedResult).reason as unknown;
        assert.ok(refusal instanceof MessageTooLargeError);
        assert.equal(refusal.retriable, false);
        await rec.until((seqs) => [0, 1, 3].every((s) => seqs.includes(s)), 'the calls beside it', SLOW_MS);
        assert.ok(!rec.items.includes(2), 'the refused call was never delivered');
      } finally {
        await sub?.close();
        await broker.close();
        await deleteTopics(brokers, prefix);
      }
    });

    it('dead-letters a message that is not JSON, with its bytes and headers, moves on, and reports lag per partition', async () => {
      const { broker, prefix, done } = await fresh();
      const rec = new Recorder<Delivery>();
      const key = `${prefix}poison`;
      let sub: Subscription | undefined;
      try {
        sub = await broker.subscribe({
          group: `${prefix}poison`,
          topics: [T1, dlqOf(T1) as unknown as TopicName],
          handler: async (d) => rec.push(d),
        });
        const meta = await publishRaw(brokers, `${prefix}${T1}`, {
          key,
          value: 'not json {',
          headers: { trace: 'abc' },
        });
        await broker.publish([msg(T1, key, 1)]);
        const isLetter = (d: Delivery): boolean => (d.topic as string) === dlqOf(T1);
        await rec.until(
          (items) => items.some(isLetter) && items.some((d) => d.topic === T1),
          'the dead letter and the next message',
          SLOW_MS,
        );
        assert.deepEqual(
          rec.items.filter((d) => d.topic === T1).map((d) => d.headers[SEQ]),
          ['1'],
          'the handler never saw the poison message',
        );
        const letter = rec.items.find(isLetter)!;
        assert.equal(letter.key, key);
        assert.equal(letter.value, 'not json {', 'the original bytes, as text');
        assert.equal(letter.headers.trace, 'abc');
        assert.equal(letter.headers[DlqHeaders.errorCode], 'INVALID_MESSAGE');
        assert.match(letter.headers[DlqHeaders.errorMessage] ?? '', /not JSON/);
        assert.equal(letter.headers[DlqHeaders.sourceTopic], T1);
        assert.equal(letter.headers[DlqHeaders.sourcePartition], String(meta.partition));
        assert.equal(letter.headers[DlqHeaders.sourceOffset], String(meta.baseOffset));
        const lag = await broker.lag();
        assert.deepEqual(
          lag.map((r) => `${r.group} ${r.topic} ${r.partition}`).sort(),
          [T1, dlqOf(T1)].flatMap((t) => [0, 1, 2].map((p) => `${prefix}poison ${t} ${p}`)).sort(),
          'lag: one row per partition of each consumed topic, registry names',
        );
        assert.ok(lag.every((r) => Number.isInteger(r.lag) && r.lag >= 0));
      } finally {
        await sub?.close();
        await done();
      }
    });
  });
});
