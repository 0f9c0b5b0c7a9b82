/**
 * Where the Kafka tests find a broker, and what they need besides the adapter: a unique
 * topic prefix per test, raw kafkajs access (poison messages, topic cleanup), and a group
 * member in a child process that a test can kill mid-flow.
 *
 * Endpoint: KAFKA_BROKERS when set; else 127.0.0.1:9092 when it answers; else a
 * testcontainers Kafka when a Docker engine answers; else the tests skip with one line
 * saying how to run them, unless REQUIRE_INTEGRATION=1, which makes that a failure.
 */
import { setTimeout as retryAfter } from 'node:timers/promises';
import { connect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel, type RecordMetadata } from 'kafkajs';
import { dockerAnswers, startKafkaContainer, type Started } from './containers.ts';
import { ensureTopics } from '../../adapters/broker/kafka/topics.ts';

export interface KafkaEndpoint {
  brokers: string[];
  stop(): Promise<void>;
}

export type Found = { endpoint: KafkaEndpoint; skip?: undefined } | { endpoint?: undefined; skip: string };

/** What findKafka looks at, replaceable so a test can check the order of the choices. */
export interface KafkaProbes {
  env: Record<string, string | undefined>;
  answers(hostPort: string): Promise<boolean>;
  dockerAnswers(): Promise<boolean>;
  startContainer(): Promise<Started>;
}

const LOCAL = '127.0.0.1:9092';
const HOW =
  'start one with `scripts/kafka-local.sh start`, set KAFKA_BROKERS=host:port, or run a Docker engine (testcontainers)';
const probes: KafkaProbes = { env: process.env, answers, dockerAnswers, startContainer: startKafkaContainer };

export async function findKafka(p: KafkaProbes = probes): Promise<Found> {
  const fromEnv = p.env.KAFKA_BROKERS?.trim();
  if (fromEnv) return { endpoint: { brokers: fromEnv.split(',').map((s) => s.trim()), stop: async () => {} } };
  if (await p.answers(LOCAL)) return { endpoint: { brokers: [LOCAL], stop: async () => {} } };
  let why = 'no Docker engine answers';
  if (await p.dockerAnswers()) {
    try {
      const started = await p.startContainer();
      return { endpoint: { brokers: [started.address], stop: started.stop } };
    } catch (err) {
      // An engine that cannot pull or start the image (offline, say) is a reason to skip, shown in the line.
      why = `a Kafka container did not start (${err instanceof Error ? err.message : String(err)})`;
    }
  }
  const missing = `no Kafka at ${LOCAL} and ${why}; ${HOW}`;
  if (p.env.REQUIRE_INTEGRATION === '1') throw new Error(`REQUIRE_INTEGRATION=1 but ${missing}`);
  return { skip: `Kafka integration tests skipped: ${missing}` };
}

function answers(hostPort: string, timeoutMs = 1_000): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host: host!, port: Number(port) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A topic prefix no other test or run shares. */
export const uniquePrefix = (): string => `t${randomUUID().slice(0, 8)}.`;

const raw = (brokers: string[]): Kafka =>
  new Kafka({ clientId: 'kafka-test-helper', brokers, logLevel: logLevel.NOTHING });

/**
 * Deletes every topic whose name starts with `prefix` (the per-test topics). Listing all
 * topics fails for a moment while another client deletes some (kafkajs fails the whole
 * answer), so several tries over a few seconds; a test's topics left behind are harmless, hence no throw.
 */
export async function deleteTopics(brokers: string[], prefix: string): Promise<void> {
  const admin = raw(brokers).admin();
  try {
    await admin.connect();
    for (let attempt = 1; attempt <= 8; attempt++) {
      try {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
        if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
        return;
      } catch {
        // Cleanup only (no test waits on it): back off before listing again.
        await retryAfter(200 * attempt);
      }
    }
  } catch {
    // Kafka is gone; nothing to clean.
  } finally {
    await admin.disconnect();
  }
}

/** Creates a topic with broker config of its own (e.g. a lower `max.message.bytes`) before the adapter sees it. */
export async function createTopic(
  brokers: string[],
  topic: string,
  partitions: number,
  config: Record<string, string>,
): Promise<void> {
  const admin = raw(brokers).admin();
  await admin.connect();
  try {
    // Not kafkajs's waitForLeaders: on KRaft the metadata answers UNKNOWN_TOPIC_OR_PARTITION
    // for a moment after the create, which it does not retry. The adapter's readiness wait
    // does (creating a topic that exists is a no-op there).
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: partitions,
          configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    await ensureTopics(admin, [topic], partitions);
  } finally {
    await admin.disconnect();
  }
}

/** Writes bytes as they are, bypassing the adapter (which only ever writes JSON). */
export async function publishRaw(
  brokers: string[],
  topic: string,
  message: { key: string; value: string; headers?: Record<string, string> },
): Promise<RecordMetadata> {
  const producer = raw(brokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const [meta] = await producer.send({ topic, acks: -1, messages: [message] });
    return meta!;
  } finally {
    await producer.disconnect();
  }
}

/** What a child member reports to its parent over IPC. */
export type MemberReport =
  { type: 'ready' } | { type: 'delivery'; key: string; seq: number; offset: number; partition: number };

/**
 * Runs in a child process (`node --import tsx test/helpers/kafka.ts member`): joins GROUP on
 * TOPIC, reports each delivery, and never finishes the handler of seq HANG_AT, so the
 * parent can kill it with that message handled but not committed.
 */
async function member(): Promise<void> {
  const { createKafkaBroker } = await import('../../adapters/broker/kafka.ts');
  const env = (name: string): string => process.env[name] ?? '';
  const send = (r: MemberReport): void => void process.send?.(r);
  const broker = await createKafkaBroker({
    brokers: env('KAFKA_BROKERS').split(','),
    partitions: 3,
    topicPrefix: env('TOPIC_PREFIX'),
    ensureTopicsAtStart: false,
    consumer: { sessionTimeout: 6_000, rebalanceTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 20 },
  });
  const hangAt = Number(env('HANG_AT'));
  await broker.subscribe({
    group: env('GROUP'),
    topics: [env('TOPIC') as never],
    handler: async (d) => {
      const seq = Number(d.headers['x-seq']);
      send({ type: 'delivery', key: d.key, seq, offset: d.offset, partition: d.partition });
      if (seq === hangAt) await new Promise(() => {});
    },
  });
  send({ type: 'ready' });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === 'member') {
  member().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
