/**
 * The shared group of a process hosting every consuming role: one subscribe() for all the
 * roles, each message handed to every role consuming its topic, handled only once all of
 * them are, and a failure that the broker would retry preferred over one it would
 * dead-letter. A fake broker records what the shared group asks of it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BrokerUnavailableError, InvalidMessageError } from '../../src/errors.ts';
import { createSharedGroup } from '../../src/messaging/shared-group.ts';
import type { Broker, Delivery, Handler, SubscribeOptions } from '../../src/ports/broker.ts';
import { Topics, type TopicName } from '../../src/topics.ts';

function fakeBroker() {
  const subscribed: SubscribeOptions[] = [];
  let closes = 0;
  const broker = {
    publish: async () => undefined,
    subscribe: async (options: SubscribeOptions) => {
      subscribed.push(options);
      return { close: async () => void closes++ };
    },
    ping: async () => undefined,
    close: async () => undefined,
  } satisfies Broker;
  return { broker, subscribed, closes: () => closes };
}

function delivery(topic: TopicName, attempt = 1): Delivery {
  return { topic, partition: 0, offset: 0, key: 'o1', value: {}, headers: {}, attempt };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether `p` has settled by the time the microtasks queued now have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

describe('shared group', () => {
  it('joins once, with every role’s topics, each topic once', async () => {
    const fake = fakeBroker();
    const shared = createSharedGroup(fake.broker, 'p.all-services');
    const noop: Handler = async () => undefined;
    await shared.broker.subscribe({
      group: 'p.all-services',
      topics: [Topics.orderStart, Topics.stockRollback],
      handler: noop,
    });
    await shared.broker.subscribe({
      group: 'p.all-services',
      topics: [Topics.orderStart, Topics.stockSuccess],
      handler: noop,
    });
    assert.equal(fake.subscribed.length, 0, 'nothing joins before join()');
    await shared.join();
    assert.equal(fake.subscribed.length, 1);
    assert.equal(fake.subscribed[0]!.group, 'p.all-services');
    assert.deepEqual(fake.subscribed[0]!.topics, [Topics.orderStart, Topics.stockRollback, Topics.stockSuccess]);
    await assert.rejects(
      shared.broker.subscribe({ group: 'p.all-services', topics: [Topics.paymentRequest], handler: noop }),
      /already joined/,
    );
  });

  it('hands a message to every role consuming its topic and counts it handled only when all are', async () => {
    const fake = fakeBroker();
    const shared = createSharedGroup(fake.broker, 'g');
    const stock = deferred();
    const saga = deferred();
    const seen: string[] = [];
    await shared.broker.subscribe({
      group: 'g',
      topics: [Topics.orderStart, Topics.stockRollback],
      handler: async (d) => {
        seen.push(`stock ${d.topic}`);
        if (d.topic === Topics.orderStart) await stock.promise;
      },
    });
    await shared.broker.subscribe({
      group: 'g',
      topics: [Topics.orderStart, Topics.stockSuccess],
      handler: async (d) => {
        seen.push(`saga ${d.topic}`);
        if (d.topic === Topics.orderStart) await saga.promise;
      },
    });
    await shared.join();
    const handle = fake.subscribed[0]!.handler;

    const both = handle(delivery(Topics.orderStart));
    assert.deepEqual(seen, [`stock ${Topics.orderStart}`, `saga ${Topics.orderStart}`], 'side by side');
    stock.resolve();
    assert.equal(await settled(both), false, 'the saga has not finished yet');
    saga.resolve();
    await both;

    seen.length = 0;
    await handle(delivery(Topics.stockSuccess));
    await handle(delivery(Topics.stockRollback));
    assert.deepEqual(seen, [`saga ${Topics.stockSuccess}`, `stock ${Topics.stockRollback}`], 'one role each');
  });

  it('waits for every handler before failing, and prefers the failure the broker retries', async () => {
    const fake = fakeBroker();
    const shared = createSharedGroup(fake.broker, 'g');
    const later = deferred();
    let errors: unknown[] = [];
    await shared.broker.subscribe({
      group: 'g',
      topics: [Topics.orderStart],
      handler: async () => {
        throw errors[0];
      },
    });
    await shared.broker.subscribe({
      group: 'g',
      topics: [Topics.orderStart],
      handler: async () => {
        await later.promise;
        if (errors[1] !== undefined) throw errors[1];
      },
    });
    await shared.join();
    const handle = fake.subscribed[0]!.handler;

    const poison = new InvalidMessageError('bad');
    const away = new BrokerUnavailableError('away');
    errors = [poison, away];
    const failing = handle(delivery(Topics.orderStart));
    assert.equal(await settled(failing), false, 'the other handler is still running');
    later.resolve();
    await assert.rejects(failing, (err) => err === away, 'a retry repeats both, so the retriable error wins');

    errors = [poison, new InvalidMessageError('also bad')];
    await assert.rejects(handle(delivery(Topics.orderStart)), (err) => err === poison, 'none retriable: the first');

    errors = [away, undefined];
    await assert.rejects(handle(delivery(Topics.orderStart)), (err) => err === away);
  });

  it('retries only the handlers that have not resolved, and forgets a message once it is done', async () => {
    const fake = fakeBroker();
    const shared = createSharedGroup(fake.broker, 'g');
    const runs = { stock: 0, saga: 0 };
    let sagaFails: unknown[] = [];
    await shared.broker.subscribe({ group: 'g', topics: [Topics.orderStart], handler: async () => void runs.stock++ });
    await shared.broker.subscribe({
      group: 'g',
      topics: [Topics.orderStart],
      handler: async () => {
        runs.saga++;
        const err = sagaFails.shift();
        if (err !== undefined) throw err;
      },
    });
    await shared.join();
    const handle = fake.subscribed[0]!.handler;
    const at = (offset: number, attempt: number): Delivery => ({ ...delivery(Topics.orderStart, attempt), offset });

    sagaFails = [new BrokerUnavailableError('away'), new BrokerUnavailableError('away')];
    await assert.rejects(handle(at(7, 1)));
    await assert.rejects(handle(at(7, 2)));
    await handle(at(7, 3));
    assert.deepEqual(runs, { stock: 1, saga: 3 }, 'the stock worker ran once, the saga until it succeeded');

    await handle(at(8, 1));
    assert.deepEqual(runs, { stock: 2, saga: 4 }, 'another message runs both');
    await handle(at(7, 1));
    assert.deepEqual(runs, { stock: 3, saga: 5 }, 'a finished message is forgotten: delivered again, it runs both');

    sagaFails = [new InvalidMessageError('bad')];
    await assert.rejects(handle(at(9, 1)), InvalidMessageError);
    await handle(at(9, 1));
    assert.deepEqual(runs, { stock: 5, saga: 7 }, 'a dead-lettered message is forgotten too');
  });

  it('passes another group through, and closes the joined group once for every role', async () => {
    const fake = fakeBroker();
    const shared = createSharedGroup(fake.broker, 'g');
    const noop: Handler = async () => undefined;
    await shared.broker.subscribe({ group: 'other', topics: [Topics.paymentRequest], handler: noop });
    assert.equal(fake.subscribed.length, 1, 'another group subscribes at once');
    const a = await shared.broker.subscribe({ group: 'g', topics: [Topics.orderStart], handler: noop });
    const b = await shared.broker.subscribe({ group: 'g', topics: [Topics.paymentRequest], handler: noop });
    const joined = await shared.join();
    await Promise.all([a.close(), b.close(), joined.close()]);
    assert.equal(fake.closes(), 1);
  });

  it('closes without joining when start-up stopped before the join', async () => {
    const fake = fakeBroker();
    const shared = createSharedGroup(fake.broker, 'g');
    const role = await shared.broker.subscribe({ group: 'g', topics: [Topics.orderStart], handler: async () => {} });
    await role.close();
    assert.equal(fake.subscribed.length, 0);
    assert.equal(fake.closes(), 0);
    assert.throws(() => shared.join(), /closed before it joined/);
  });
});
