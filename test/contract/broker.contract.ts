/**
 * What every Broker adapter must do, written against the port alone so the same suite
 * runs on the memory adapter and on Kafka. Each test gets fresh group names and keys, so
 * leftovers on a shared cluster are ignored; waits are on deliveries, never on time.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  BrokerUnavailableError,
  InvalidMessageError,
  MessageTooLargeError,
  StoreUnavailableError,
  UNKNOWN_FAILURE_ATTEMPTS,
} from '../../src/errors.ts';
import {
  DlqHeaders,
  MAX_MESSAGE_BYTES,
  messageBytes,
  type Broker,
  type Delivery,
  type Handler,
  type Subscription,
} from '../../src/ports/broker.ts';
import { dlqOf, message, Topics, type OutMessage, type TopicName } from '../../src/topics.ts';
import { deferred, nextTurn, Recorder, withTimeout } from '../helpers/wait.ts';

export interface BrokerSubject {
  broker: Broker;
  /** Prefixes group names, to keep runs apart on a shared cluster. */
  topicPrefix?: string;
  cleanup(): Promise<void>;
}

interface Seen {
  by: string;
  topic: string;
  partition: number;
  offset: number;
  key: string;
  seq: number;
  attempt: number;
}

const SEQ = 'x-seq';
const T1 = Topics.stockRollback;
const T2 = Topics.paymentSuccess;

const seen = (by: string, d: Delivery): Seen => ({
  by,
  topic: d.topic,
  partition: d.partition,
  offset: d.offset,
  key: d.key,
  seq: Number(d.headers[SEQ]),
  attempt: d.attempt,
});

export function brokerContract(name: string, make: () => Promise<BrokerSubject>): void {
  describe(`Broker contract: ${name}`, () => {
    const run = randomUUID().slice(0, 8);
    let counter = 0;
    let subject: BrokerSubject;
    let broker: Broker;
    let subscriptions: Subscription[];
    let prefix: string;

    beforeEach(async () => {
      subject = await make();
      broker = subject.broker;
      subscriptions = [];
      prefix = `${subject.topicPrefix ?? ''}contract-${run}-${++counter}`;
    });

    afterEach(async () => {
      await Promise.all(subscriptions.map((s) => s.close()));
      await subject.cleanup();
    });

    const group = (label: string): string => `${prefix}-${label}`;
    const key = (label: string | number): string => `${prefix}-k${label}`;
    const msg = (topic: typeof T1 | typeof T2, k: string, seq: number): OutMessage =>
      message(topic, { orderId: k }, { [SEQ]: String(seq) });

    /** `msg` padded (an extra `pad` field in its value) to exactly `bytes` as messageBytes counts them. */
    const padded = (k: string, seq: number, bytes: number): OutMessage => {
      const m = msg(T1, k, seq);
      const value = { ...m.value, pad: '' };
      const base = messageBytes(k, JSON.stringify(value), m.headers);
      return { ...m, value: { ...value, pad: 'x'.repeat(bytes - base) } } as unknown as OutMessage;
    };

    /** Subscribes this test's dead letters of T1 under an operators' group. */
    async function consumeDeadLetters(rec: Recorder<Delivery>): Promise<void> {
      // The port types topics as TopicName; a DLQ is consumed only by operators' tools, hence the cast.
      const dlq = dlqOf(T1) as unknown as TopicName;
      const sub = await broker.subscribe({
        group: group('ops'),
        topics: [dlq],
        handler: async (d) => {
          if (d.key.startsWith(prefix)) rec.push(d);
        },
      });
      subscriptions.push(sub);
    }

    /** Subscribes and records this test's deliveries; `act` runs first and may throw. */
    async function consume(
      label: string,
      topics: readonly TopicName[],
      rec: Recorder<Seen>,
      act?: (d: Delivery) => Promise<void>,
      groupName = group(label),
    ) {
      const handler: Handler = async (d) => {
        if (!d.key.startsWith(prefix)) return;
        rec.push(seen(label, d));
        await act?.(d);
      };
      const sub = await broker.subscribe({ group: groupName, topics, handler });
      subscriptions.push(sub);
      return sub;
    }

    it('keeps the order of messages with the same key', async () => {
      const rec = new Recorder<Seen>();
      await consume('ordered', [T1], rec);
      const keys = [0, 1, 2, 3].map(key);
      for (let seq = 0; seq < 25; seq++) {
        // Single publishes and batches both, interleaving the keys.
        if (seq % 5 === 0) await broker.publish(keys.map((k) => msg(T1, k, seq)));
        else for (const k of keys) await broker.publish([msg(T1, k, seq)]);
      }
      await rec.count(100, 'deliveries');
      for (const k of keys) {
        const order = rec.items.filter((s) => s.key === k).map((s) => s.seq);
        assert.deepEqual(
          order,
          Array.from({ length: 25 }, (_, i) => i),
          `order of ${k}`,
        );
      }
    });

    /** Two of this test's keys that land in one partition (by the adapter's own partitioner). */
    const twoKeysOnePartition = (): [string, string] => {
      assert.ok(broker.partitionOf, 'the adapter tells the partition of a key');
      const a = key('a');
      for (let i = 0; ; i++) if (broker.partitionOf(key(`b${i}`)) === broker.partitionOf(a)) return [a, key(`b${i}`)];
    };

    it('handles different keys of one partition side by side, and each key in order', async () => {
      const rec = new Recorder<Seen>();
      const [a, b] = twoKeysOnePartition();
      const bHandled = deferred();
      await consume('side', [T1], rec, async (d) => {
        // a's first message is handled only once b's first is: one partition, both at once.
        if (d.key === a && Number(d.headers[SEQ]) === 0)
          await withTimeout(bHandled.promise, `${b} to be handled while ${a} waits in its partition`);
        if (d.key === b) bHandled.resolve();
      });
      await broker.publish([msg(T1, a, 0), msg(T1, a, 1), msg(T1, b, 0), msg(T1, b, 1)]);
      await rec.count(4, 'deliveries');
      const seqs = (k: string): number[] => rec.items.filter((s) => s.key === k).map((s) => s.seq);
      assert.deepEqual(seqs(a), [0, 1], `order of ${a}`);
      assert.deepEqual(seqs(b), [0, 1], `order of ${b}`);
      const at = (k: string, seq: number): number => rec.items.findIndex((s) => s.key === k && s.seq === seq);
      assert.ok(at(b, 0) < at(a, 1), `${b} went on while ${a}'s first message was in flight`);
      assert.equal(new Set(rec.items.map((s) => s.partition)).size, 1, 'one partition');
    });

    it('re-reads a partition from its first unhandled message after a retriable failure, redelivering what other keys handled past it', async () => {
      const rec = new Recorder<Seen>();
      const [a, b] = twoKeysOnePartition();
      const bDone = deferred();
      await consume('reread', [T1], rec, async (d) => {
        const seq = Number(d.headers[SEQ]);
        if (d.key === a && d.attempt === 1) {
          // Fails only once b's first message is handled (its second is delivered after it).
          await withTimeout(bDone.promise, `${b} to go past ${a}`);
          throw new StoreUnavailableError('store down (test)');
        }
        if (d.key === b && seq === 1) bDone.resolve();
      });
      await broker.publish([msg(T1, a, 0), msg(T1, b, 0), msg(T1, b, 1)]);
      const count = (items: readonly Seen[], k: string, seq: number): number =>
        items.filter((s) => s.key === k && s.seq === seq).length;
      await rec.until(
        (items) => items.some((s) => s.key === a && s.attempt === 2) && count(items, b, 0) >= 2,
        `${a} retried and ${b}'s handled message redelivered`,
      );
      assert.deepEqual(
        rec.items.filter((s) => s.key === a).map((s) => s.attempt),
        [1, 2],
        `${a} was retried once`,
      );
      assert.equal(new Set(rec.items.filter((s) => s.key === b && s.seq === 0).map((s) => s.offset)).size, 1);
    });

    it('delivers every message to every group', async () => {
      const a = new Recorder<Seen>();
      const b = new Recorder<Seen>();
      await consume('a', [T1], a);
      await consume('b', [T1], b);
      const sent = Array.from({ length: 20 }, (_, i) => msg(T1, key(i % 10), i));
      await broker.publish(sent);
      await Promise.all([a.count(20, 'deliveries to group a'), b.count(20, 'deliveries to group b')]);
      for (const rec of [a, b]) {
        assert.deepEqual(
          rec.items.map((s) => s.seq).sort((x, y) => x - y),
          Array.from({ length: 20 }, (_, i) => i),
        );
      }
    });

    it('redelivers a retriably failed message and holds its partition until it succeeds', async () => {
      const rec = new Recorder<Seen>();
      await consume('retry', [T1], rec, async (d) => {
        if (Number(d.headers[SEQ]) === 0 && d.attempt <= 2) throw new StoreUnavailableError('store down (test)');
      });
      const k = key('retry');
      await broker.publish([0, 1, 2, 3].map((seq) => msg(T1, k, seq)));
      await rec.until((items) => items.some((s) => s.seq === 3), 'the last message');
      assert.deepEqual(
        rec.items.map((s) => [s.seq, s.attempt]),
        [
          [0, 1],
          [0, 2],
          [0, 3],
          [1, 1],
          [2, 1],
          [3, 1],
        ],
      );
      const firstOffsets = new Set(rec.items.filter((s) => s.seq === 0).map((s) => s.offset));
      assert.equal(firstOffsets.size, 1, 'the same message each time');
    });

    it('dead-letters a non-retriably failed message with its error code and moves on', async () => {
      const main = new Recorder<Seen>();
      const dead = new Recorder<Delivery>();
      await consume('main', [T1], main, async (d) => {
        if (Number(d.headers[SEQ]) === 0) throw new InvalidMessageError('bad payload (test)');
      });
      // The port types topics as TopicName; a DLQ is consumed only by operators' tools, hence the cast.
      const dlq = dlqOf(T1) as unknown as TopicName;
      const dlqSub = await broker.subscribe({
        group: group('ops'),
        topics: [dlq],
        handler: async (d) => {
          if (d.key.startsWith(prefix)) dead.push(d);
        },
      });
      subscriptions.push(dlqSub);
      const k = key('dlq');
      await broker.publish([msg(T1, k, 0), msg(T1, k, 1)]);
      await main.until((items) => items.some((s) => s.seq === 1), 'the message after the refused one');
      const [letter] = await dead.count(1, 'dead letters');
      assert.deepEqual(
        main.items.map((s) => [s.seq, s.attempt]),
        [
          [0, 1],
          [1, 1],
        ],
        'refused once, never retried',
      );
      const refused = main.items[0]!;
      assert.ok(letter);
      assert.equal(letter.topic, dlqOf(T1));
      assert.equal(letter.key, k);
      assert.deepEqual(letter.value, { v: 1, orderId: k });
      assert.equal(letter.headers[SEQ], '0', 'original headers kept');
      assert.equal(letter.headers[DlqHeaders.errorCode], 'INVALID_MESSAGE');
      assert.equal(letter.headers[DlqHeaders.errorMessage], 'bad payload (test)');
      assert.equal(letter.headers[DlqHeaders.sourceTopic], T1);
      assert.equal(letter.headers[DlqHeaders.sourcePartition], String(refused.partition));
      assert.equal(letter.headers[DlqHeaders.sourceOffset], String(refused.offset));
    });

    it(`dead-letters a message whose handler keeps failing with an unknown error after ${UNKNOWN_FAILURE_ATTEMPTS} deliveries, and moves on`, async () => {
      const main = new Recorder<Seen>();
      const dead = new Recorder<Delivery>();
      await consume('bug', [T1], main, async (d) => {
        if (Number(d.headers[SEQ]) === 0) throw new TypeError('handler bug (test)');
      });
      await consumeDeadLetters(dead);
      const k = key('bug');
      await broker.publish([msg(T1, k, 0), msg(T1, k, 1)]);
      await main.until((items) => items.some((s) => s.seq === 1), 'the message after the poison one');
      const [letter] = await dead.count(1, 'dead letters');
      assert.deepEqual(
        main.items.map((s) => [s.seq, s.attempt]),
        [...Array.from({ length: UNKNOWN_FAILURE_ATTEMPTS }, (_, i) => [0, i + 1]), [1, 1]],
        'retried up to the bound, then the partition moved on',
      );
      assert.ok(letter);
      assert.deepEqual(letter.value, { v: 1, orderId: k });
      assert.equal(letter.headers[DlqHeaders.errorCode], 'INTERNAL');
      assert.equal(letter.headers[DlqHeaders.errorMessage], 'handler bug (test)');
      assert.equal(letter.headers[DlqHeaders.attempts], String(UNKNOWN_FAILURE_ATTEMPTS));
      assert.equal(letter.headers[DlqHeaders.sourceOffset], String(main.items[0]!.offset));
    });

    it('keeps retrying a passing error (the store away) past the bound for unknown errors, and never dead-letters it', async () => {
      const main = new Recorder<Seen>();
      const dead = new Recorder<Delivery>();
      const failures = UNKNOWN_FAILURE_ATTEMPTS + 2;
      await consume('away', [T1], main, async (d) => {
        if (d.attempt <= failures) throw new StoreUnavailableError('store down (test)');
      });
      await consumeDeadLetters(dead);
      const k = key('away');
      await broker.publish([msg(T1, k, 0), msg(T1, k, 1)]);
      await main.until((items) => items.some((s) => s.seq === 1 && s.attempt === failures + 1), 'both handled');
      assert.deepEqual(
        main.items.filter((s) => s.seq === 0).map((s) => s.attempt),
        Array.from({ length: failures + 1 }, (_, i) => i + 1),
      );
      // The partition is held in order, so nothing of seq 0 can have gone to the DLQ unseen.
      assert.equal(dead.items.length, 0, 'nothing dead-lettered');
    });

    it('dead-letters a message too large for its DLQ as a stub that keeps its place, size and error', async () => {
      const main = new Recorder<Seen>();
      const dead = new Recorder<Delivery>();
      await consume('huge', [T1], main, async (d) => {
        if (Number(d.headers[SEQ]) === 0) throw new InvalidMessageError('too much text (test)');
      });
      await consumeDeadLetters(dead);
      const k = key('huge');
      // Fits the broker, but not once the DLQ headers are added.
      const size = MAX_MESSAGE_BYTES - 50;
      await broker.publish([padded(k, 0, size), msg(T1, k, 1)]);
      await main.until((items) => items.some((s) => s.seq === 1), 'the message after the huge one');
      const [letter] = await dead.count(1, 'dead letters');
      assert.ok(letter);
      const refused = main.items[0]!;
      assert.equal(letter.value, null, 'no value');
      assert.equal(letter.headers[DlqHeaders.stub], 'true');
      assert.equal(letter.headers[DlqHeaders.originalBytes], String(size));
      assert.equal(letter.headers[SEQ], '0', 'original headers kept while they fit');
      assert.equal(letter.headers[DlqHeaders.errorCode], 'INVALID_MESSAGE');
      assert.equal(letter.headers[DlqHeaders.errorMessage], 'too much text (test)');
      assert.equal(letter.headers[DlqHeaders.sourceTopic], T1);
      assert.equal(letter.headers[DlqHeaders.sourcePartition], String(refused.partition));
      assert.equal(letter.headers[DlqHeaders.sourceOffset], String(refused.offset));
      assert.ok(messageBytes(letter.key, null, letter.headers) <= MAX_MESSAGE_BYTES);
    });

    it('refuses a message over MAX_MESSAGE_BYTES for good, and only its own publish: the ones beside it are delivered', async () => {
      const rec = new Recorder<Seen>();
      await consume('oversize', [T1], rec);
      const k = key('oversize');
      // Concurrent calls: on Kafka the later ones leave together in one batch.
      const results = await Promise.allSettled([
        broker.publish([msg(T1, k, 0)]),
        broker.publish([msg(T1, k, 1)]),
        broker.publish([padded(k, 2, MAX_MESSAGE_BYTES + 100_000)]),
        broker.publish([msg(T1, k, 3)]),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
      );
      const refusal = (results[2] as PromiseRejectedResult).reason as unknown;
      assert.ok(refusal instanceof MessageTooLargeError, String(refusal));
      assert.equal(refusal.retriable, false);
      assert.equal(refusal.code, 'MESSAGE_TOO_LARGE');
      await rec.count(3, 'deliveries');
      assert.deepEqual(
        rec.items.map((s) => s.seq),
        [0, 1, 3],
      );
    });

    it('publishes messages that together exceed the broker limit, in one call or side by side', async () => {
      const rec = new Recorder<Seen>();
      await consume('bulky', [T1], rec);
      const k = key('bulky');
      const big = Math.floor(MAX_MESSAGE_BYTES * 0.6);
      await Promise.all([
        broker.publish([padded(k, 0, big), padded(k, 1, big)]),
        broker.publish([padded(k, 2, big)]),
        broker.publish([padded(k, 3, big)]),
      ]);
      await rec.count(4, 'deliveries');
      assert.deepEqual(
        rec.items.map((s) => s.seq),
        [0, 1, 2, 3],
      );
    });

    it('splits partitions between members co-partitioned, each message to one member', async () => {
      const rec = new Recorder<Seen>();
      const shared = group('split');
      await consume('m1', [T1, T2], rec, undefined, shared);
      await consume('m2', [T1, T2], rec, undefined, shared);
      const keys = Array.from({ length: 30 }, (_, i) => key(i));
      await broker.publish(keys.flatMap((k, i) => [msg(T1, k, i), msg(T2, k, i)]));
      await rec.count(60, 'deliveries');
      const byPlace = new Map<string, string[]>();
      for (const s of rec.items)
        byPlace.set(`${s.topic}/${s.key}`, [...(byPlace.get(`${s.topic}/${s.key}`) ?? []), s.by]);
      assert.equal(byPlace.size, 60, 'every message seen');
      for (const [place, members] of byPlace)
        assert.equal(members.length, 1, `${place} seen once, by ${members.join(',')}`);
      for (const k of keys) {
        assert.equal(
          byPlace.get(`${T1}/${k}`)?.[0],
          byPlace.get(`${T2}/${k}`)?.[0],
          `one member has both topics of ${k}`,
        );
      }
      const ownerOfPartition = new Map<number, string>();
      for (const s of rec.items) {
        assert.equal(
          ownerOfPartition.get(s.partition) ?? s.by,
          s.by,
          `partition ${s.partition} has one owner across topics`,
        );
        ownerOfPartition.set(s.partition, s.by);
      }
      if (ownerOfPartition.size > 1)
        assert.equal(new Set(ownerOfPartition.values()).size, 2, 'both members got partitions');
    });

    it('starts a group that takes over from others where they left off: the lowest of their commits, the end where none committed', async () => {
      const k = key('takeover');
      const early = new Recorder<Seen>();
      const late = new Recorder<Seen>();
      const earlySub = await consume('early', [T1], early);
      const lateSub = await consume('late', [T1], late);
      subscriptions = subscriptions.filter((sub) => sub !== earlySub && sub !== lateSub);
      await broker.publish([msg(T1, k, 0), msg(T1, k, 1)]);
      await early.count(2, 'deliveries to the group that stops first');
      await earlySub.close();
      await broker.publish([msg(T1, k, 2)]);
      await late.count(3, 'deliveries to the group that stops later');
      await lateSub.close();
      await broker.publish([3, 4].map((seq) => msg(T1, k, seq)));

      // Nobody consumes T1 now. One group takes over from both (and from one that never
      // existed), another from nobody.
      const taking = new Recorder<Seen>();
      const fresh = new Recorder<Seen>();
      subscriptions.push(
        await broker.subscribe({
          group: group('taking'),
          topics: [T1],
          takesOverFrom: [group('early'), group('late'), group('never')],
          handler: async (d) => {
            if (d.key.startsWith(prefix)) taking.push(seen('taking', d));
          },
        }),
      );
      await consume('fresh', [T1], fresh);
      await broker.publish([msg(T1, k, 5)]);
      await Promise.all([
        taking.count(4, 'deliveries to the group taking over'),
        fresh.count(1, 'deliveries to the new group'),
      ]);
      assert.deepEqual(
        taking.items.map((s) => s.seq),
        [2, 3, 4, 5],
        'from where the group that stopped first left off',
      );
      assert.deepEqual(
        fresh.items.map((s) => s.seq),
        [5],
        'a group taking over from nobody starts at the end',
      );
    });

    it('close() lets an in-flight handler finish first', async () => {
      const started = deferred();
      const gate = deferred();
      const events: string[] = [];
      await consume('closing', [T1], new Recorder<Seen>(), async () => {
        started.resolve();
        await gate.promise;
        events.push('handler finished');
      });
      await broker.publish([msg(T1, key('closing'), 0)]);
      await withTimeout(started.promise, 'the handler to start');
      const closing = broker.close().then(() => events.push('broker closed'));
      await nextTurn();
      events.push('gate opened');
      gate.resolve();
      await withTimeout(closing, 'close() to resolve');
      assert.deepEqual(events, ['gate opened', 'handler finished', 'broker closed']);
    });

    it('Subscription.close() lets its in-flight handler finish first', async () => {
      const started = deferred();
      const gate = deferred();
      const events: string[] = [];
      const sub = await consume('leaving', [T1], new Recorder<Seen>(), async () => {
        started.resolve();
        await gate.promise;
        events.push('handler finished');
      });
      await broker.publish([msg(T1, key('leaving'), 0)]);
      await withTimeout(started.promise, 'the handler to start');
      const leaving = sub.close().then(() => events.push('left'));
      await nextTurn();
      events.push('gate opened');
      gate.resolve();
      await withTimeout(leaving, 'Subscription.close() to resolve');
      assert.deepEqual(events, ['gate opened', 'handler finished', 'left']);
    });

    it('answers ping while open, and refuses publish and ping with a retriable error once closed', async () => {
      await broker.ping();
      await broker.close();
      const retriableUnavailable = (err: unknown): boolean => {
        assert.ok(err instanceof BrokerUnavailableError);
        assert.equal(err.code, 'BROKER_UNAVAILABLE');
        assert.equal(err.retriable, true);
        return true;
      };
      await assert.rejects(broker.publish([msg(T1, key('late'), 0)]), retriableUnavailable);
      await assert.rejects(broker.ping(), retriableUnavailable);
    });
  });
}
