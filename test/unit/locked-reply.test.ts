/**
 * effectThenReply: the reply of a command leaves once its effect is done, without waiting
 * for the locks' release to be answered; the handler returns only once both are done; an
 * effect that fails publishes nothing, and a publish that fails fails the handler after the
 * locks are released.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker } from '../../src/ports/broker.ts';
import type { Store } from '../../src/ports/store.ts';
import { message, Topics, type OutMessage } from '../../src/topics.ts';
import { effectThenReply } from '../../src/workers/locked-reply.ts';
import { deferred } from '../helpers/wait.ts';

/**
 * Ports whose lock release and publish complete only when the test says so; `log` records
 * what happened in order.
 */
function fakePorts() {
  const log: string[] = [];
  const released = deferred();
  const published = deferred();
  const store = {
    async withLocks<T>(resources: readonly string[], fn: () => Promise<T>): Promise<T> {
      log.push(`lock ${resources.join(',')}`);
      try {
        return await fn();
      } finally {
        log.push('release sent');
        await released.promise;
        log.push('release answered');
      }
    },
  } as unknown as Store;
  const broker = {
    async publish(messages: OutMessage[]): Promise<void> {
      log.push(`publish ${messages.map((m) => m.topic).join(',')}`);
      await published.promise;
      log.push('publish acknowledged');
    },
  } as unknown as Broker;
  return { log, released, published, ports: { store, broker } };
}

const reply = (orderId: string) => [message(Topics.stockReleased, { orderId })];
/** Lets every pending continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('effectThenReply', () => {
  it('publishes the reply before the release is answered, and returns once both are done', async () => {
    const { log, released, published, ports } = fakePorts();
    let done = false;
    const handled = effectThenReply(
      ports,
      ['p:1'],
      async () => 'ok',
      () => reply('o1'),
    ).then((v) => {
      done = true;
      return v;
    });
    await settle();
    assert.deepEqual(log, ['lock p:1', `publish ${Topics.stockReleased}`, 'release sent']);
    published.resolve();
    await settle();
    assert.equal(done, false, 'returned before the locks were released');
    released.resolve();
    assert.equal(await handled, 'ok');
    assert.deepEqual(log.slice(3), ['publish acknowledged', 'release answered']);
  });

  it('waits for the publish when the release is answered first', async () => {
    const { released, published, ports } = fakePorts();
    let done = false;
    const handled = effectThenReply(
      ports,
      ['p:1'],
      async () => 1,
      () => reply('o1'),
    ).then(() => {
      done = true;
    });
    released.resolve();
    await settle();
    assert.equal(done, false, 'returned before the reply was acknowledged');
    published.resolve();
    await handled;
  });

  it('publishes nothing when the effect fails', async () => {
    const { log, released, ports } = fakePorts();
    released.resolve();
    await assert.rejects(
      effectThenReply(
        ports,
        ['p:1'],
        async () => {
          throw new Error('refused');
        },
        () => reply('o1'),
      ),
      /refused/,
    );
    assert.deepEqual(log, ['lock p:1', 'release sent', 'release answered']);
  });

  it('fails with the publish, after the locks are released, and leaves no unhandled rejection', async () => {
    const { log, released, published, ports } = fakePorts();
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const handled = effectThenReply(
        ports,
        ['p:1'],
        async () => 1,
        () => reply('o1'),
      );
      await settle();
      published.reject(new Error('broker away'));
      await settle();
      await settle();
      released.resolve();
      await assert.rejects(handled, /broker away/);
      assert.deepEqual(log, ['lock p:1', `publish ${Topics.stockReleased}`, 'release sent', 'release answered']);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
