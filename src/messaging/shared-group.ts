/**
 * One consumer group for every role a process hosts (`all`): each role subscribes as it
 * would on its own, through `broker`, which only records the role's topics and handler;
 * `join()` then joins the group once, with every role's topics, and hands each message to
 * the handler of every role that consumes its topic (`Topics.orderStart` goes to the stock
 * worker and the saga). So one process fetches, commits and rebalances once for all its
 * roles instead of once per role: fewer requests per order when batches are small.
 *
 * A message is handled when every handler of its topic has resolved; they run side by
 * side, and a failure waits for the others to settle, so nothing of a message is still
 * running when it is delivered again. When several fail, the error the broker would retry
 * wins, else the first. A retry runs only the handlers that have not resolved yet (each
 * is idempotent anyway: a redelivery after a crash or a rebalance repeats them all).
 */
import { deadLetterNow } from '../errors.ts';
import type { Broker, Delivery, Handler, SubscribeOptions, Subscription } from '../ports/broker.ts';
import type { TopicName } from '../topics.ts';

export interface SharedGroup {
  /** The broker to give the roles: subscribe() to the shared group records; the rest is the broker itself. */
  readonly broker: Broker;
  /** Joins the group with every recorded role. Once, after the roles have subscribed. */
  join(): Promise<Subscription>;
}

/** `takesOverFrom`: the groups of the roles when each ran on its own (SubscribeOptions.takesOverFrom). */
export function createSharedGroup(broker: Broker, group: string, takesOverFrom: readonly string[] = []): SharedGroup {
  const roles: SubscribeOptions[] = [];
  let joined: Promise<Subscription> | null = null;
  let closing: Promise<void> | null = null;

  const close = (): Promise<void> =>
    (closing ??=
      joined === null
        ? Promise.resolve()
        : joined.then(
            (s) => s.close(),
            () => undefined,
          ));

  async function subscribe(options: SubscribeOptions): Promise<Subscription> {
    if (options.group !== group) return broker.subscribe(options);
    if (joined) throw new Error(`subscribe(${group}): the shared group has already joined`);
    roles.push(options);
    // Any role closing closes the group: roles close together, when the process stops.
    return { close };
  }

  return {
    broker: Object.assign(Object.create(broker) as Broker, { subscribe }),
    join() {
      if (joined) throw new Error(`join(${group}): already joined`);
      if (closing) throw new Error(`join(${group}): closed before it joined`);
      if (roles.length === 0) throw new TypeError(`join(${group}): no role subscribed`);
      const byTopic = new Map<TopicName, Handler[]>();
      for (const { topics, handler } of roles)
        for (const topic of topics) byTopic.set(topic, [...(byTopic.get(topic) ?? []), handler]);
      joined = broker.subscribe({ group, topics: [...byTopic.keys()], handler: fanOut(byTopic), takesOverFrom });
      return joined.then(() => ({ close }));
    },
  };
}

/** The broker with every subscribe() taking over from `groups` (roles that ran in one shared group before). */
export function takingOverFrom(broker: Broker, groups: readonly string[]): Broker {
  const subscribe = (options: SubscribeOptions) => broker.subscribe({ takesOverFrom: groups, ...options });
  return Object.assign(Object.create(broker) as Broker, { subscribe });
}

/** Messages some handlers have finished and others must retry, at most this many (oldest forgotten first). */
const REMEMBERED_PARTIAL = 1_024;

function fanOut(byTopic: ReadonlyMap<TopicName, readonly Handler[]>): Handler {
  // Per message being retried: the handlers that already resolved, so a retry repeats
  // only what failed, as separate groups would (the one that finished would have committed).
  const finished = new Map<string, Set<Handler>>();
  return async (delivery: Delivery) => {
    const handlers = byTopic.get(delivery.topic) ?? [];
    if (handlers.length === 1) return handlers[0]!(delivery);
    const place = `${delivery.topic}|${delivery.partition}|${delivery.offset}`;
    const done = finished.get(place);
    const pending = done ? handlers.filter((h) => !done.has(h)) : handlers;
    const results = await Promise.allSettled(pending.map((h) => h(delivery)));
    const failed: unknown[] = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') failed.push(result.reason);
      else if (done) done.add(pending[i]!);
    });
    if (failed.length === 0) {
      finished.delete(place);
      return;
    }
    const retried = failed.find((err) => !deadLetterNow(err, delivery.attempt));
    if (retried === undefined) {
      finished.delete(place);
      throw failed[0];
    }
    if (!done) {
      finished.set(place, new Set(pending.filter((_, i) => results[i]!.status === 'fulfilled')));
      if (finished.size > REMEMBERED_PARTIAL) finished.delete(finished.keys().next().value!);
    }
    throw retried;
  };
}
