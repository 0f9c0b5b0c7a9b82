/**
 * Options of the Kafka adapter, the kafkajs client built from them, and physical topic
 * names: every name on the wire is TOPIC_PREFIX + the registry name (dead letters too).
 */
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';
import { BrokerUnavailableError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/log.ts';
import type { Delivery } from '../../../src/ports/broker.ts';
import type { BackoffPolicy } from '../../../src/retry.ts';
import type { TopicName } from '../../../src/topics.ts';

/** Consumer timings; tests lower them so group joins and takeovers stay quick. */
export interface ConsumerTuning {
  sessionTimeout: number;
  rebalanceTimeout: number;
  heartbeatInterval: number;
  /** Longest a fetch waits on the broker for data (latency of an idle partition). */
  maxWaitTimeInMs: number;
  /** How long subscribe() waits for the first assignment before giving up. */
  joinTimeoutMs: number;
  /** Bound on Subscription.close() (stop fetching, finish the handler, commit, leave). */
  closeTimeoutMs: number;
  /** A long batch commits what it has handled at least this often. */
  commitIntervalMs: number;
}

/** Connection and retry timings of every client (admin, producer, consumers). */
export interface ClientTuning {
  connectionTimeout: number;
  requestTimeout: number;
  /** kafkajs retries per operation; the idempotent producer always keeps at least 1. */
  retries: number;
  initialRetryTime: number;
  maxRetryTime: number;
  pingTimeoutMs: number;
}

export interface KafkaBrokerOptions {
  /** KAFKA_BROKERS */
  brokers: string[];
  clientId?: string;
  /** KAFKA_PARTITIONS: used when this process creates topics. */
  partitions: number;
  /** TOPIC_PREFIX: every physical topic name = prefix + registry name (dlq too). */
  topicPrefix?: string;
  /** Default Backoff.redelivery. */
  redelivery?: BackoffPolicy;
  /** kafkajs logs are bridged at warn and above. */
  logger?: Logger;
  /** Called for every handler error (for logging); what happens to the message does not depend on it. */
  onError?: (err: unknown, d: Delivery) => void;
  /**
   * Create every registry topic and its `.dlq` at start and refuse to start when the
   * saga's inputs differ in partition count. Default true; false is for tools and tests
   * that must build a broker without reaching Kafka.
   */
  ensureTopicsAtStart?: boolean;
  consumer?: Partial<ConsumerTuning>;
  client?: Partial<ClientTuning>;
}

// Handover is business time (rule `faults-heal`, docs/architecture.md): a member that died
// holds its partitions until its session times out, and every member learns of a
// rebalance only at its next heartbeat, so both are short next to a step's deadline.
// 6 s is the broker's floor (group.min.session.timeout.ms): twelve missed heartbeats of
// 500 ms, and the heartbeat keeps a rebalance's stop-the-world pause near half a second.
export const defaultConsumerTuning: ConsumerTuning = {
  sessionTimeout: 6_000,
  rebalanceTimeout: 10_000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 50,
  joinTimeoutMs: 60_000,
  closeTimeoutMs: 10_000,
  commitIntervalMs: 1_000,
};

export const defaultClientTuning: ClientTuning = {
  connectionTimeout: 3_000,
  requestTimeout: 30_000,
  retries: 5,
  initialRetryTime: 100,
  maxRetryTime: 1_000,
  pingTimeoutMs: 2_000,
};

/** Registry names <-> names on the wire. */
export class TopicNames {
  constructor(readonly prefix: string) {}
  physical(name: string): string {
    return this.prefix + name;
  }
  /** The registry name of a physical topic (a DLQ name for a dead-letter topic). */
  logical(physical: string): TopicName {
    return (physical.startsWith(this.prefix) ? physical.slice(this.prefix.length) : physical) as TopicName;
  }
}

export const isDeadLetterTopic = (name: string): boolean => name.endsWith('.dlq');

// Deliberate choices kafkajs warns about at every start; we keep them and say why here:
// bounded producer retries (a publish must fail in bounded time; the producer is replaced
// after a failure so no sequence number is reused), and the v2 default partitioner (chosen
// explicitly: murmur2, as Java clients, so one key maps to one partition number on every topic).
const EXPECTED_WARNINGS = ['Limiting retries for the idempotent producer', 'KafkaJS v2.0.0 switched default partitioner'];

/** kafkajs log lines go to pino at warn and above. */
function bridge(logger: Logger): logCreator {
  const log = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...fields } = entry;
      if (level === logLevel.WARN && EXPECTED_WARNINGS.some((w) => message.startsWith(w))) return;
      // kafkajs logs every error answer of the protocol (a heartbeat told to rejoin, a
      // partition whose leader is still moving in) at error level, and then handles it; our
      // callers see real failures through their own errors, so these are debug lines here
      // (a fresh topic's "not the leader" answers at every start were only noise).
      // Likewise a refused connection: while Kafka is away it comes several times a second,
      // and the caller's own wait line says so every few seconds.
      const routine =
        (namespace === 'Connection' && (message.startsWith('Response ') || message.startsWith('Connection error'))) ||
        (namespace === 'BrokerPool' && message.startsWith('Failed to connect to seed broker'));
      if (routine) log.debug({ namespace, ...fields }, message);
      else if (level === logLevel.ERROR) log.error({ namespace, ...fields }, message);
      else if (level === logLevel.WARN) log.warn({ namespace, ...fields }, message);
    };
}

export function createClient(opts: KafkaBrokerOptions, tuning: ClientTuning, logger: Logger): Kafka {
  return new Kafka({
    clientId: opts.clientId ?? 'order-saga',
    brokers: opts.brokers,
    connectionTimeout: tuning.connectionTimeout,
    requestTimeout: tuning.requestTimeout,
    retry: { retries: tuning.retries, initialRetryTime: tuning.initialRetryTime, maxRetryTime: tuning.maxRetryTime },
    logLevel: logLevel.WARN,
    logCreator: bridge(logger),
  });
}

/** Every client failure reaches callers as one retriable error, the kafkajs error kept as its cause. */
export function unavailable(what: string, cause: unknown): BrokerUnavailableError {
  if (cause instanceof BrokerUnavailableError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new BrokerUnavailableError(`${what}: ${detail}`, cause);
}

/** Rejects after `ms` unless `promise` settles first; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
