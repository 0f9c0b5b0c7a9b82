/**
 * The Broker port on Kafka (kafkajs 2.2.4): one client for one shared idempotent producer
 * and one admin, another for one consumer per subscribe(), rebuilt if kafkajs gives it up. Topics are
 * created and checked at start, before any consumer subscribes.
 */
import type { Admin } from 'kafkajs';
import { BrokerUnavailableError } from '../../../src/errors.ts';
import { silentLogger } from '../../../src/log.ts';
import type { Broker, Subscription } from '../../../src/ports/broker.ts';
import { Backoff } from '../../../src/retry.ts';
import { Topics } from '../../../src/topics.ts';
import { createClient } from './client.ts';
import { unavailable, within } from './errors.ts';
import {
  consumerClientTuning,
  defaultClientTuning,
  defaultConsumerTuning,
  type KafkaBrokerOptions,
} from './options.ts';
import { TopicNames } from './topic-names.ts';
import { KafkaSubscription } from './consumer.ts';
import { handledBefore } from './handled.ts';
import { consumerLag, type PartitionLag } from './lag.ts';
import { partitionOfKey } from './partitioner.ts';
import { Publisher, type OutRecord } from './producer.ts';
import { SupervisedSubscription } from './supervisor.ts';
import { checkCoPartitioned, ensureTopics, registryTopics } from './topics.ts';

export type { ClientTuning, ConsumerTuning, KafkaBrokerOptions } from './options.ts';
export { CoPartitionedAssigner, coPartition } from './assigner.ts';

export interface KafkaBroker extends Broker {
  /** Creates these topics (registry names; the prefix is added) when missing, with `partitions` partitions. */
  ensureTopics(topics: string[]): Promise<void>;
  /** Lag of the groups this process consumes in, per partition (registry topic names). */
  lag(): Promise<PartitionLag[]>;
}

/** True when kafkajs failed on the broker's error answer, not on the way to it. */
function answered(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++)
    if (e.name === 'KafkaJSProtocolError') return true;
  return false;
}

export async function createKafkaBroker(opts: KafkaBrokerOptions): Promise<KafkaBroker> {
  if (!Number.isInteger(opts.partitions) || opts.partitions < 1)
    throw new RangeError(`partitions must be a positive integer, got ${opts.partitions}`);
  if (opts.brokers.length === 0) throw new RangeError('brokers: at least one host:port');
  const logger = opts.logger ?? silentLogger;
  const client = { ...defaultClientTuning, ...opts.client };
  const tuning = { ...defaultConsumerTuning, ...opts.consumer };
  const names = new TopicNames(opts.topicPrefix ?? '');
  const kafka = createClient(opts, client, logger);
  // Consumers get a client of their own whose connection-level retries (metadata, finding
  // the coordinator, reconnecting) outlast a broker restart: with the shared client's few
  // retries a consumer crashed ~3 s into an outage, kafkajs rebuilt it as a new member, and
  // the group then waited out the old member's session once the broker was back.
  const consumerKafka = createClient(opts, consumerClientTuning(client, tuning), logger);
  const publisher = new Publisher(kafka, client);
  /** Open members and what they consume (group id, physical topics), for close() and lag(). */
  const subscriptions = new Map<Subscription, { group: string; topics: Set<string> }>();
  let open = true;
  let closing: Promise<void> | null = null;
  let partitionCounts = new Map<string, number>();

  let admin: Admin | null = null;
  let adminConnecting: Promise<Admin> | null = null;
  const connectedAdmin = (): Promise<Admin> => {
    if (admin) return Promise.resolve(admin);
    adminConnecting ??= (async () => {
      const a = kafka.admin();
      try {
        await a.connect();
      } catch (err) {
        await a.disconnect().catch(() => undefined);
        throw err;
      } finally {
        adminConnecting = null;
      }
      admin = a;
      return a;
    })();
    return adminConnecting;
  };
  const closedError = (): BrokerUnavailableError => new BrokerUnavailableError('kafka broker is closed');

  async function ensure(topics: readonly string[]): Promise<Map<string, number>> {
    try {
      return await ensureTopics(
        await connectedAdmin(),
        topics.map((t) => names.physical(t)),
        opts.partitions,
      );
    } catch (err) {
      throw unavailable(`could not create or describe Kafka topics on ${opts.brokers.join(',')}`, err);
    }
  }

  async function close(): Promise<void> {
    closing ??= (async () => {
      await Promise.all([...subscriptions.keys()].map((s) => s.close()));
      // Publishing stays possible until the consumers are gone: their in-flight handlers may still send.
      open = false;
      await publisher.close();
      const a = admin ?? (await adminConnecting?.catch(() => null)) ?? null;
      admin = null;
      await a?.disconnect().catch(() => undefined);
    })();
    return closing;
  }

  if (opts.ensureTopicsAtStart ?? true) {
    try {
      partitionCounts = await ensure(registryTopics());
      checkCoPartitioned(names, partitionCounts);
    } catch (err) {
      await close();
      throw err;
    }
  }

  return {
    async publish(messages) {
      if (!open) throw closedError();
      const records: OutRecord[] = messages.map((m) => {
        const value = JSON.stringify(m.value);
        if (value === undefined) throw new TypeError('message value is not JSON-serialisable');
        return { topic: names.physical(m.topic), key: m.key, value, headers: m.headers };
      });
      await publisher.send(records);
    },

    async subscribe({ group, topics, handler, takesOverFrom }) {
      if (closing) throw closedError();
      if (topics.length === 0) throw new TypeError(`subscribe(${group}): no topics`);
      const widest = Math.max(...topics.map((t) => partitionCounts.get(names.physical(t)) ?? opts.partitions));
      const deps = {
        kafka: consumerKafka,
        admin: connectedAdmin,
        publisher,
        names,
        redelivery: opts.redelivery ?? Backoff.redelivery,
        tuning,
        logger,
        onError: opts.onError,
        concurrency: Math.min(256, topics.length * widest),
      };
      const sub = await SupervisedSubscription.start(
        () => KafkaSubscription.start(deps, { group, topics, handler, ...(takesOverFrom ? { takesOverFrom } : {}) }),
        {
          group,
          logger,
        },
      );
      if (closing) {
        // close() began while this member was joining: it would not have waited for it.
        await sub.close();
        throw closedError();
      }
      subscriptions.set(sub, { group, topics: new Set(topics.map((t) => names.physical(t))) });
      return {
        close: async () => {
          await sub.close();
          subscriptions.delete(sub);
        },
      };
    },

    async ping() {
      if (!open || closing) throw closedError();
      try {
        const a = await within(connectedAdmin(), client.pingTimeoutMs, 'connecting to Kafka');
        // Metadata of one topic: cheap, unlike describeCluster (metadata of every topic).
        await within(
          a.fetchTopicMetadata({ topics: [names.physical(Topics.orderStart)] }),
          client.pingTimeoutMs,
          'Kafka ping',
        );
      } catch (err) {
        // An error answer (that topic missing, a leader moving) still proves Kafka is there.
        if (!answered(err)) throw unavailable(`Kafka at ${opts.brokers.join(',')} did not answer`, err);
      }
    },

    async lag() {
      const groups = new Map<string, Set<string>>();
      for (const { group, topics } of subscriptions.values())
        groups.set(group, new Set([...(groups.get(group) ?? []), ...topics]));
      if (groups.size === 0) return [];
      try {
        return await within(
          connectedAdmin().then((a) => consumerLag(a, names, groups)),
          client.pingTimeoutMs,
          'reading consumer lag',
        );
      } catch (err) {
        throw unavailable('could not read consumer lag from Kafka', err);
      }
    },

    partitionOf(key) {
      return partitionOfKey(key, partitionCounts.get(names.physical(Topics.orderStart)) ?? opts.partitions);
    },

    async handledBefore(groups, before) {
      try {
        return await within(
          connectedAdmin().then((a) => handledBefore(a, names, groups, before)),
          client.requestTimeout,
          'reading committed offsets',
        );
      } catch (err) {
        throw unavailable('could not read committed offsets from Kafka', err);
      }
    },

    close,

    async ensureTopics(topics) {
      const counts = await ensure(topics);
      for (const [t, n] of counts) partitionCounts.set(t, n);
    },
  };
}
