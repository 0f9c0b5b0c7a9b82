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
import { BrokerUnavailableError, ConfigError, MessageTooLargeError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { DlqHeaders, type Delivery, type Subscription } from '../../src/ports/broker.ts';
import { FastBackoff } from '../../src/retry.ts';
import { dlqOf, message, Topics, type TopicName } from '../../src/topics.ts';
import { brokerContract } from '../contract/broker.contract.ts';
import { createTopic, deleteTopics, findKafka, publishRaw, uniquePrefix, type MemberReport } from '../helpers/kafka.ts';
import { Recorder } from '../helpers/wait.ts';

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
