import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker, type MemoryBroker, type MemoryBrokerOptions } from '../../adapters/broker/memory.ts';
import { PartitionLog } from '../../adapters/broker/memory/log.ts';
import { fnv1a32, partitionOf } from '../../adapters/broker/memory/partitioner.ts';
import { noFaults, type MemoryFaults } from '../../src/config.ts';
import { BrokerUnavailableError, InvalidMessageError, StoreUnavailableError } from '../../src/errors.ts';
import { DlqHeaders, type Delivery, type Handler } from '../../src/ports/broker.ts';
import { FastBackoff } from '../../src/retry.ts';
import { message, Topics, type OutMessage } from '../../src/topics.ts';
import { brokerContract } from '../contract/broker.contract.ts';
import { deferred, nextTurn, Recorder, withTimeout } from '../helpers/wait.ts';

brokerContract('memory (auto mode)', async () => {
  const broker = createMemoryBroker({ redelivery: FastBackoff.redelivery });
  return { broker, cleanup: () => broker.close() };
});

const T1 = Topics.stockRollback;
const T2 = Topics.paymentSuccess;
const SEQ = 'x-seq';
const msg = (
  topic: typeof T1 | typeof T2,
  key: string,
  seq: number,
  headers: Record<string, string> = {},
): OutMessage => message(topic, { orderId: key }, { ...headers, [SEQ]: String(seq) });
const faults = (f: Partial<MemoryFaults>): MemoryFaults => ({ ...noFaults(), ...f });
const manual = (opts: MemoryBrokerOptions = {}): MemoryBroker =>
  createMemoryBroker({ mode: 'manual', redelivery: FastBackoff.redelivery, ...opts });
const label = (d: Delivery): string => `${d.topic}:${d.key}:${d.headers[SEQ]}`;

/** Two groups over two topics, 7 keys; returns every delivery in order as "group/topic:key:seq". */
async function scenario(opts: MemoryBrokerOptions): Promise<string[]> {
  const broker = manual(opts);
  const order: string[] = [];
  const record =
    (g: string): Handler =>
    async (d) => {
      order.push(`${g}/${label(d)}`);
    };
  await broker.subscribe({ group: 'g', topics: [T1, T2], handler: record('g') });
  await broker.subscribe({ group: 'h', topics: [T1], handler: record('h') });
  for (let i = 0; i < 30; i++) await broker.publish([msg(T1, `k${i % 7}`, i), msg(T2, `k${i % 7}`, i)]);
  await broker.drain();
  await broker.close();
  return order;
}

interface Run {
  by: string;
  /** topic/partition/offset */
  place: string;
  offset: number;
  /** The group's committed offset on that partition when the handler started. */
  committed: number;
  start: number;
  end: number;
}

/** Two members of one group on T1, 120 messages over 9 keys, manual mode; every handler run. */
async function twoMembers(f: MemoryFaults): Promise<{ runs: Run[]; stats: ReturnType<MemoryBroker['stats']> }> {
  const broker = manual({ faults: f });
  const runs: Run[] = [];
  let tick = 0;
  const published = new Map<number, number>();
  const member =
    (by: string): Handler =>
    async (d) => {
      const lag = (await broker.lag()).find((l) => l.group === 'g' && l.partition === d.partition)!.lag;
      const run: Run = {
        by,
        place: `${d.topic}/${d.partition}/${d.offset}`,
        offset: d.offset,
        committed: published.get(d.partition)! - lag,
        start: ++tick,
        end: 0,
      };
      runs.push(run);
      await Promise.resolve();
      run.end = ++tick;
    };
  await broker.subscribe({ group: 'g', topics: [T1], handler: member('a') });
  await broker.subscribe({ group: 'g', topics: [T1], handler: member('b') });
  const sent = Array.from({ length: 120 }, (_, i) => msg(T1, `k${i % 9}`, i));
  for (const m of sent) published.set(broker.partitionOf!(m.key), (published.get(broker.partitionOf!(m.key)) ?? 0) + 1);
  await broker.publish(sent);
  await broker.drain();
  const stats = broker.stats();
  await broker.close();
  return { runs, stats };
}

describe('memory broker, manual mode', () => {
  it('replays the same delivery order across topics for the same seed', async () => {
    const a = await scenario({ seed: 11 });
    assert.equal(a.length, 90, 'group g sees 60, group h 30');
    assert.deepEqual(await scenario({ seed: 11 }), a);
    assert.notDeepEqual(await scenario({ seed: 12 }), a, 'another seed, another order');
  });

  it('replays the same run with every fault on', async () => {
    const f = faults({ dup: 0.2, crash: 0.1, reorder: 0.3, seed: 9 });
    const a = await scenario({ faults: f });
    assert.ok(a.length > 90, 'faults add redeliveries');
    assert.deepEqual(await scenario({ faults: f }), a);
  });

  it('redelivers under dup and crash faults, and an idempotent handler still sees every message', async () => {
    const broker = manual({ faults: faults({ dup: 0.3, crash: 0.2, seed: 5 }) });
    const handled = new Set<string>();
    let deliveries = 0;
    await broker.subscribe({
      group: 'g',
      topics: [T1],
      handler: async (d) => {
        deliveries++;
        handled.add(label(d));
      },
    });
    const sent = Array.from({ length: 200 }, (_, i) => msg(T1, `k${i % 13}`, i));
    await broker.publish(sent);
    await broker.drain();
    assert.equal(handled.size, 200);
    const stats = broker.stats();
    assert.ok(stats.duplicated > 0 && stats.crashed > 0, JSON.stringify(stats));
    // A dup redelivers its message; a crash re-reads its lane from the committed offset, so
    // it may redeliver other keys' messages handled past a gap too.
    assert.ok(
      deliveries >= 200 + stats.duplicated + stats.crashed,
      `${deliveries} deliveries, ${JSON.stringify(stats)}`,
    );
    assert.equal(stats.committed, 200);
    assert.equal(broker.retained(), 0);
  });

  it('rejects a failed publish with BrokerUnavailableError and appends none of its batch', async () => {
    const broker = manual({ faults: faults({ pubfail: 0.5, seed: 3 }) });
    const rec = new Set<string>();
    await broker.subscribe({ group: 'g', topics: [T1], handler: async (d) => void rec.add(d.key) });
    const accepted: string[] = [];
    let failed = 0;
    for (let b = 0; b < 20; b++) {
      const keys = [0, 1, 2].map((i) => `b${b}-${i}`);
      try {
        await broker.publish(keys.map((k, i) => msg(T1, k, i)));
        accepted.push(...keys);
      } catch (err) {
        assert.ok(err instanceof BrokerUnavailableError);
        assert.equal(err.code, 'BROKER_UNAVAILABLE');
        assert.equal(err.retriable, true);
        failed++;
      }
    }
    assert.ok(failed > 0 && accepted.length > 0, `failed ${failed}, accepted ${accepted.length / 3}`);
    assert.equal(broker.retained(), accepted.length);
    await broker.drain();
    assert.deepEqual([...rec].sort(), accepted.sort());
  });

  it('lands a prefix of a publish, or all of it, and still reports failure under the partial fault', async () => {
    const broker = manual({ faults: faults({ partial: 0.5, seed: 3 }) });
    const rec = new Set<string>();
    await broker.subscribe({ group: 'g', topics: [T1], handler: async (d) => void rec.add(d.key) });
    const calls: { keys: string[]; failed: boolean }[] = [];
    for (let b = 0; b < 40; b++) {
      const keys = [0, 1, 2, 3].map((i) => `b${b}-${i}`);
      try {
        await broker.publish(keys.map((k, i) => msg(T1, k, i)));
        calls.push({ keys, failed: false });
      } catch (err) {
        assert.ok(err instanceof BrokerUnavailableError);
        assert.equal(err.retriable, true);
        calls.push({ keys, failed: true });
      }
    }
    await broker.drain();
    const landed = calls.filter((c) => c.failed).map((c) => c.keys.filter((k) => rec.has(k)).length);
    for (const c of calls) {
      const n = c.keys.filter((k) => rec.has(k)).length;
      assert.deepEqual(
        c.keys.map((k) => rec.has(k)),
        c.keys.map((_, i) => i < n),
        `${c.keys[0]}: a prefix landed`,
      );
      if (!c.failed) assert.equal(n, 4, 'a confirmed publish landed whole');
      else assert.ok(n >= 1, 'a partial publish lands at least its first message');
    }
    assert.ok(landed.includes(4), `some failed publish landed whole: ${landed.join(',')}`);
    assert.ok(
      landed.some((n) => n < 4),
      `some failed publish landed a strict prefix: ${landed.join(',')}`,
    );
    assert.ok(calls.some((c) => !c.failed));
    assert.equal(broker.stats().publishPartial, landed.length);
  });

  it('runs a zombie handler on a message its group has committed, after another member handled it again', async () => {
    const { runs, stats } = await twoMembers(faults({ zombie: 0.1, seed: 8 }));
    assert.ok(stats.zombies > 0, JSON.stringify(stats));
    const zombies = runs.filter((r) => r.offset < r.committed);
    assert.ok(zombies.length > 0, 'some handler ran on a committed message');
    for (const z of zombies) {
      assert.ok(
        runs.some((r) => r.place === z.place && r.start > 0 && r !== z && r.end < z.start),
        `${z.place}: handled again before the zombie ran`,
      );
    }
    assert.ok(
      zombies.some((z) => runs.some((r) => r.place === z.place && r.by !== z.by && r.end < z.start)),
      'the other member handled it, the partition having moved',
    );
    assert.equal(stats.committed, 120);
  });

  it('redelivers a span handled past a gap to another member under the span fault', async () => {
    const { runs, stats } = await twoMembers(faults({ span: 0.3, seed: 4 }));
    assert.ok(stats.spans > 0, JSON.stringify(stats));
    const moved = runs.filter((r) => runs.some((q) => q.place === r.place && q.by !== r.by && q.end < r.start));
    assert.ok(moved.length > 0, 'a handled message was handled again by the other member');
    assert.ok(
      runs.every((r) => r.offset >= r.committed),
      'no handler runs on a committed message (that is a zombie)',
    );
    assert.equal(stats.committed, 120);
  });

  it('replays the same run of two members with every fault on', async () => {
    const f = faults({ dup: 0.1, crash: 0.05, reorder: 0.2, zombie: 0.05, span: 0.2, seed: 21 });
    const a = await twoMembers(f);
    assert.ok(a.stats.zombies > 0 && a.stats.spans > 0, JSON.stringify(a.stats));
    assert.deepEqual(await twoMembers(f), a);
  });

  it('drops messages once every group has committed past them, and keeps nothing nobody reads', async () => {
    const broker = manual();
    const noop: Handler = async () => {};
    await broker.subscribe({ group: 'g', topics: [T1], handler: noop });
    const h = await broker.subscribe({ group: 'h', topics: [T1], handler: noop });
    await broker.publish(Array.from({ length: 50 }, (_, i) => msg(T1, `k${i}`, i)));
    await broker.publish([msg(T2, 'nobody-reads', 0)]);
    assert.equal(broker.retained(), 50);
    await broker.drain();
    assert.equal(broker.retained(), 0);

    // A group whose members all left keeps its offsets, as in Kafka, and so its messages.
    await h.close();
    await broker.publish(Array.from({ length: 10 }, (_, i) => msg(T1, `late${i}`, i)));
    await broker.drain();
    assert.equal(broker.retained(), 10, 'held for group h');
    const back = new Set<string>();
    await broker.subscribe({ group: 'h', topics: [T1], handler: async (d) => void back.add(d.key) });
    await broker.drain();
    assert.equal(back.size, 10, 'h resumes from its committed offset');
    assert.equal(broker.retained(), 0);
  });

  it('captures dead letters with the original headers and where and why they failed', async () => {
    const broker = manual();
    const offsets = new Map<string, Delivery>();
    await broker.subscribe({
      group: 'g',
      topics: [T1],
      handler: async (d) => {
        offsets.set(d.headers[SEQ]!, d);
        if (d.headers[SEQ] === '1') throw new InvalidMessageError('no good');
      },
    });
    await broker.publish([0, 1, 2].map((i) => msg(T1, 'o1', i, { trace: 'abc' })));
    await broker.drain();
    const refused = offsets.get('1')!;
    const letters = broker.deadLetters();
    assert.deepEqual(letters, [
      {
        topic: `${T1}.dlq`,
        key: 'o1',
        value: { v: 1, orderId: 'o1' },
        headers: {
          trace: 'abc',
          [SEQ]: '1',
          [DlqHeaders.errorCode]: 'INVALID_MESSAGE',
          [DlqHeaders.errorMessage]: 'no good',
          [DlqHeaders.sourceTopic]: T1,
          [DlqHeaders.sourcePartition]: String(refused.partition),
          [DlqHeaders.sourceOffset]: String(refused.offset),
          [DlqHeaders.attempts]: '1',
        },
      },
    ]);
    letters[0]!.headers.trace = 'edited';
    assert.equal(broker.deadLetters()[0]!.headers.trace, 'abc', 'callers get copies');
    assert.equal(offsets.size, 3, 'moved on past the refused message');
    assert.equal(broker.retained(), 0);
  });

  it('retries a refused message whose dead letter could not be published', async () => {
    // Find a seed whose run fails at least one dead-letter publish (the search is deterministic).
    for (let seed = 1; seed < 50; seed++) {
      const broker = manual({ faults: faults({ pubfail: 0.4, seed }) });
      let deliveries = 0;
      await broker.subscribe({
        group: 'g',
        topics: [T1],
        handler: async () => {
          deliveries++;
          throw new InvalidMessageError('refused');
        },
      });
      while (
        !(await broker.publish([msg(T1, 'o1', 0)]).then(
          () => true,
          () => false,
        ))
      );
      const failedBefore = broker.stats().publishFailed;
      await broker.drain();
      const dlqFailures = broker.stats().publishFailed - failedBefore;
      assert.equal(broker.deadLetters().length, 1);
      assert.equal(deliveries, 1 + dlqFailures);
      if (dlqFailures > 0) return;
    }
    assert.fail('no seed below 50 failed a dead-letter publish');
  });

  it('gives up past maxSteps with the seed in the message', async () => {
    const broker = manual({ seed: 4242 });
    await broker.subscribe({
      group: 'g',
      topics: [T1],
      handler: async () => {
        throw new StoreUnavailableError('down forever');
      },
    });
    await broker.publish([msg(T1, 'o1', 0)]);
    await assert.rejects(broker.drain({ maxSteps: 100 }), /seed 4242/);
  });

  it("lets one key's messages on two topics arrive in both orders across seeds under the reorder fault", async () => {
    const firsts = new Set<string>();
    for (let seed = 1; seed <= 40 && firsts.size < 2; seed++) {
      const order = await scenario({ faults: faults({ reorder: 0.5, seed }) });
      firsts.add(order.find((o) => o.startsWith('g/') && o.endsWith(':k0:0'))!.split(':')[0]!);
    }
    assert.equal(firsts.size, 2);
  });

  it('delivers nothing until drain()', async () => {
    const broker = manual();
    let n = 0;
    await broker.subscribe({ group: 'g', topics: [T1], handler: async () => void n++ });
    await broker.publish([msg(T1, 'o1', 0)]);
    await nextTurn();
    assert.equal(n, 0);
    assert.equal(await broker.drain(), 1);
    assert.equal(n, 1);
  });
});

describe('memory broker, auto mode', () => {
  async function firstTopic(f: MemoryFaults | null): Promise<string> {
    const broker = createMemoryBroker({ faults: f });
    const rec = new Recorder<string>();
    await broker.subscribe({ group: 'g', topics: [T1, T2], handler: async (d) => rec.push(d.topic) });
    await broker.publish([msg(T1, 'o1', 0), msg(T2, 'o1', 0)]);
    const [first] = await rec.count(2, 'deliveries');
    await broker.close();
    return first!;
  }

  it("lets one key's messages on two topics arrive in both orders across seeds under the reorder fault", async () => {
    const firsts = new Set<string>();
    for (let seed = 1; seed <= 40 && firsts.size < 2; seed++)
      firsts.add(await firstTopic(faults({ reorder: 0.5, seed })));
    assert.deepEqual([...firsts].sort(), [T2, T1].sort());
  });

  it('idle() waits for every group to commit, under dup faults too', async () => {
    const broker = createMemoryBroker({ faults: faults({ dup: 0.2, crash: 0.1, seed: 2 }) });
    const handled = new Set<string>();
    await broker.subscribe({ group: 'g', topics: [T1, T2], handler: async (d) => void handled.add(label(d)) });
    await broker.publish(Array.from({ length: 500 }, (_, i) => msg(i % 2 ? T1 : T2, `k${i % 17}`, i)));
    await withTimeout(broker.idle(), 'idle');
    assert.equal(handled.size, 500);
    assert.ok(broker.stats().duplicated > 0);
    assert.equal(broker.retained(), 0);
    await broker.close();
    await assert.rejects(broker.idle(), BrokerUnavailableError);
  });

  it("moves a leaving member's partitions to the others once its in-flight handler finishes", async () => {
    const broker = createMemoryBroker();
    const rec = new Recorder<{ by: string; key: string; seq: number }>();
    const gate = deferred();
    const held = deferred<Delivery>();
    const member =
      (by: string): Handler =>
      async (d) => {
        rec.push({ by, key: d.key, seq: Number(d.headers[SEQ]) });
        if (by === 'a' && d.key === 'k0' && d.headers[SEQ] === '0') {
          held.resolve(d);
          await gate.promise;
        }
      };
    const keys = Array.from({ length: 24 }, (_, i) => `k${i}`);
    const a = await broker.subscribe({ group: 'g', topics: [T1], handler: member('a') });
    await broker.subscribe({ group: 'g', topics: [T1], handler: member('b') });
    // k0 must belong to member a (even partitions) for the scenario to hold.
    assert.equal(partitionOf('k0', 6) % 2, 0);
    await broker.publish(keys.map((k) => msg(T1, k, 0)));
    await withTimeout(held.promise, 'a to hold k0');
    let left = false;
    const leaving = a.close().then(() => (left = true));
    await broker.publish(keys.map((k) => msg(T1, k, 1)));
    // k0's second message waits for a's handler of its first; every other key goes on, on
    // k0's partition too (keys of one partition run side by side), now all with b.
    await rec.until(
      (items) => items.filter((s) => s.seq === 1).length === keys.length - 1,
      'second messages of every key but k0',
    );
    assert.equal(left, false, 'a is still running its handler');
    assert.ok(!rec.items.some((s) => s.key === 'k0' && s.seq === 1), "k0's second message waits for its first");
    const p0 = partitionOf('k0', 6);
    assert.ok(
      rec.items.some((s) => s.key !== 'k0' && partitionOf(s.key, 6) === p0 && s.seq === 1),
      "another key of k0's partition went on",
    );
    gate.resolve();
    await withTimeout(leaving, 'a to leave');
    await rec.until((items) => items.some((s) => s.key === 'k0' && s.seq === 1), "k0's second message");
    await withTimeout(broker.idle(), 'idle');
    assert.ok(
      rec.items.filter((s) => s.seq === 1).every((s) => s.by === 'b'),
      'b has every partition now',
    );
    assert.equal(rec.items.length, 48, 'each message once');
    await broker.close();
  });

  it('moves 200k messages through two groups and retains nothing after', async () => {
    const broker = createMemoryBroker();
    let n = 0;
    await broker.subscribe({ group: 'g', topics: [T1], handler: async () => void n++ });
    await broker.subscribe({ group: 'h', topics: [T1, T2], handler: async () => void n++ });
    for (let i = 0; i < 200; i++) {
      await broker.publish(Array.from({ length: 1000 }, (_, j) => msg(T1, `k${j % 101}`, i * 1000 + j)));
      if (i % 20 === 0) await nextTurn();
    }
    await withTimeout(broker.idle(), 'idle', 20_000);
    assert.equal(n, 400_000);
    assert.equal(broker.retained(), 0);
    await broker.close();
  });
});

describe('memory broker parts', () => {
  it('partitions by FNV-1a 32 of the key', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    assert.equal(fnv1a32('é'), fnv1a32(String.fromCharCode(0xe9)), 'hashes UTF-8 bytes');
    assert.equal(partitionOf('foobar', 6), 0xbf9cf968 % 6);
  });

  it('keeps offsets while trimming and compacting its head', () => {
    const log = new PartitionLog();
    for (let i = 0; i < 5000; i++)
      assert.equal(log.append({ key: `k${i}`, value: String(i), headers: null, at: i }), i);
    log.trimTo(3000);
    assert.deepEqual([log.start, log.end, log.size], [3000, 5000, 2000]);
    assert.equal(log.at(2999), undefined);
    assert.equal(log.at(3000)?.value, '3000');
    assert.equal(log.at(4999)?.value, '4999');
    log.trimTo(5000);
    assert.deepEqual([log.start, log.end, log.size], [5000, 5000, 0]);
    assert.equal(log.append({ key: 'x', value: '1', headers: null, at: 0 }), 5000);
    assert.equal(log.at(5000)?.key, 'x');
  });
});
