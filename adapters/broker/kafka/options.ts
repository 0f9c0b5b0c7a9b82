/** Options of the Kafka adapter and their defaults. */
import type { KafkaSecurity } from '../../../src/config.ts';
import type { Logger } from '../../../src/log.ts';
import type { Delivery } from '../../../src/ports/broker.ts';
import type { BackoffPolicy } from '../../../src/retry.ts';

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
  /** Keys (orderIds) of one partition handled side by side; default KEYS_IN_FLIGHT_PER_PARTITION. */
  keysInFlightPerPartition: number;
  /** Keys handled side by side over all the partitions of one subscription; default KEYS_IN_FLIGHT. */
  keysInFlight: number;
  /**
   * kafkajs retries inside a running consumer before it crashes, and the connection-level
   * retries of the consumers' client (at most maxRetryTime apart: 60 ride out about a
   * minute without the broker). A crashed consumer restarts as a new group member, and
   * the group then waits out the old member's session; riding out a broker restart as the
   * same member rejoins at once.
   */
  retries: number;
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
  /** KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_*: TLS and SASL of every client. Default: plaintext. */
  security?: KafkaSecurity;
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

/**
 * Bounds of the batched loop (consumer.ts): a partition's batch runs at most this many
 * keys' chains at once, and one subscription at most KEYS_IN_FLIGHT over all its
 * partitions. Each chain is one order's messages of that batch, one after the other.
 */
export const KEYS_IN_FLIGHT_PER_PARTITION = 64;
export const KEYS_IN_FLIGHT = 512;

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
  keysInFlightPerPartition: KEYS_IN_FLIGHT_PER_PARTITION,
  keysInFlight: KEYS_IN_FLIGHT,
  retries: 60,
};

export const defaultClientTuning: ClientTuning = {
  connectionTimeout: 3_000,
  requestTimeout: 30_000,
  retries: 5,
  initialRetryTime: 100,
  maxRetryTime: 1_000,
  pingTimeoutMs: 2_000,
};

/**
 * The consumers' client: the shared tuning with as many connection-level retries as the
 * consumer's own, so a consumer outlasts a broker restart instead of crashing ~3 s into it
 * and rejoining as a new member (the group then waits out the old member's session).
 */
export function consumerClientTuning(client: ClientTuning, consumer: Pick<ConsumerTuning, 'retries'>): ClientTuning {
  return { ...client, retries: Math.max(client.retries, consumer.retries) };
}

/** How long kafkajs keeps retrying one operation at most: its backoff doubles up to maxRetryTime. */
export function retryBudgetMs(t: Pick<ClientTuning, 'retries' | 'initialRetryTime' | 'maxRetryTime'>): number {
  let total = 0;
  for (let i = 0, wait = t.initialRetryTime; i < t.retries; i++, wait *= 2) total += Math.min(wait, t.maxRetryTime);
  return total;
}
