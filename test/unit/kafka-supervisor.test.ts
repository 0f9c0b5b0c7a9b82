import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  consumerClientTuning,
  defaultClientTuning,
  defaultConsumerTuning,
  retryBudgetMs,
} from '../../adapters/broker/kafka/options.ts';
import { SupervisedSubscription, type Member } from '../../adapters/broker/kafka/supervisor.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { deferred, Recorder, withTimeout } from '../helpers/wait.ts';

/** A member that dies when told to, and records its close. */
function fakeMember(name: string, closed: Recorder<string>) {
  const death = deferred<unknown>();
  const member: Member & { die(err: unknown): void } = {
    dead: death.promise,
    die: (err) => death.resolve(err),
    close: async () => void closed.push(name),
  };
  return member;
}

const immediately = async (): Promise<void> => {};

describe('Kafka subscription supervisor', () => {
  it('builds a new member, retrying while Kafka refuses, when kafkajs gives the old one up', async () => {
    const closed = new Recorder<string>();
    const rebuilt = new Recorder<string>();
    const first = fakeMember('first', closed);
    const second = fakeMember('second', closed);
    const builds = [
      () => first,
      () => Promise.reject(new BrokerUnavailableError('joining: no answer')),
      () => Promise.reject(new BrokerUnavailableError('still no answer')),
      () => second,
    ];
    let n = 0;
    const sub = await SupervisedSubscription.start(async () => builds[n++]!(), {
      group: 'g',
      logger: silentLogger,
      sleep: immediately,
      onRebuilt: () => rebuilt.push('rebuilt'),
    });
    assert.equal(n, 1);

    first.die(new Error('KafkaJSNonRetriableError: the coordinator said no'));
    await rebuilt.count(1, 'rebuild');
    assert.equal(n, 4, 'two refused joins, then the new member');
    assert.deepEqual(closed.items, ['first'], 'the dead member is closed before the new one joins');

    await sub.close();
    assert.deepEqual(closed.items, ['first', 'second']);
  });

  it('keeps rebuilding as often as members die', async () => {
    const closed = new Recorder<string>();
    const rebuilt = new Recorder<string>();
    const members = [fakeMember('m0', closed), fakeMember('m1', closed), fakeMember('m2', closed)];
    let n = 0;
    const sub = await SupervisedSubscription.start(async () => members[n++]!, {
      group: 'g',
      logger: silentLogger,
      sleep: immediately,
      onRebuilt: () => rebuilt.push('rebuilt'),
    });
    members[0]!.die(new Error('crash'));
    await rebuilt.count(1, 'first rebuild');
    members[1]!.die(new Error('crash again'));
    await rebuilt.count(2, 'second rebuild');
    await sub.close();
    assert.deepEqual(closed.items, ['m0', 'm1', 'm2']);
  });

  it('close() during a rebuild stops the retries and leaves nothing running', async () => {
    const closed = new Recorder<string>();
    const first = fakeMember('first', closed);
    const attempts = new Recorder<number>();
    let n = 0;
    const sub = await SupervisedSubscription.start(
      async () => {
        if (n++ === 0) return first;
        attempts.push(n);
        throw new BrokerUnavailableError('Kafka is away');
      },
      // A real (long) backoff: close() must cut it short.
      { group: 'g', logger: silentLogger, policy: { initialMs: 60_000, maxMs: 60_000, factor: 1 } },
    );
    first.die(new Error('crash'));
    await attempts.count(1, 'a refused rejoin');
    await withTimeout(sub.close(), 'close() during the backoff');
    assert.deepEqual(closed.items, ['first']);
    assert.equal(attempts.items.length, 1);
  });

  it('a member that fails to start is the caller’s error (start-up waits for Kafka elsewhere)', async () => {
    await assert.rejects(
      SupervisedSubscription.start(
        () => Promise.reject(new BrokerUnavailableError('could not join consumer group g')),
        { group: 'g', logger: silentLogger },
      ),
      (err: unknown) => err instanceof BrokerUnavailableError && err.code === 'BROKER_UNAVAILABLE',
    );
  });
});

describe('kafka consumers ride out a broker restart', () => {
  it("retry connecting for longer than a broker's restart (10 s down, ~10 s to start), while producers fail in bounded time", () => {
    assert.equal(retryBudgetMs({ retries: 3, initialRetryTime: 100, maxRetryTime: 250 }), 100 + 200 + 250);
    const consumers = consumerClientTuning(defaultClientTuning, defaultConsumerTuning);
    assert.ok(retryBudgetMs(consumers) >= 45_000, `consumers retry for ${retryBudgetMs(consumers)} ms`);
    // The shared client (admin, producer) keeps its few retries: a publish fails in seconds.
    assert.ok(
      retryBudgetMs(defaultClientTuning) <= 5_000,
      `the shared client retries for ${retryBudgetMs(defaultClientTuning)} ms`,
    );
    // A tuning that asks for more keeps it.
    assert.equal(consumerClientTuning({ ...defaultClientTuning, retries: 100 }, { retries: 2 }).retries, 100);
  });
});
