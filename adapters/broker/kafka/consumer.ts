/**
 * One group member per subscribe(): a kafkajs consumer with the co-partitioned assigner,
 * no auto-commit, and eachBatch. Each fetched batch is handled as a wave (batch-loop.ts):
 * its messages grouped by key (the orderId), one key's messages strictly in offset order,
 * different keys side by side, bounded per partition (keysInFlightPerPartition) and over
 * all the member's partitions (keysInFlight, one Permits); partitions run side by side.
 * The wave's publishes leave together (producer.ts). What is committed (offset + 1) is
 * the highest offset below which every message is handled, after those handlers resolved,
 * at the end of each batch or every commitIntervalMs within a long one; a message to be
 * retried backs its partition off and is fetched again, with what followed it.
 *
 * Start positions: fromBeginning is false, so a partition with no committed offset starts
 * at its end. Each new assignment pauses its partitions, commits the end of any partition
 * that has no committed offset yet, and only then fetches; subscribe() resolves after the
 * first one. So no member ever handles a partition the group has no offset for, and a
 * message published after subscribe() resolved is never skipped, even when its partition
 * moves to a member that joins later.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../../../src/log.ts';
import type { Delivery, SubscribeOptions, Subscription } from '../../../src/ports/broker.ts';
import { backoffDelay, PositionBackoff, type BackoffPolicy } from '../../../src/retry.ts';
import { CoPartitionedAssigner } from './assigner.ts';
import { CommitBatcher } from './commits.ts';
import { unavailable, within } from './errors.ts';
import type { ConsumerTuning } from './options.ts';
import type { TopicNames } from './topic-names.ts';
import { handleBatch } from './batch-loop.ts';
import type { DeliveryDeps } from './delivery.ts';
import { PartitionHolds, tpKey, type TopicPartition } from './holds.ts';
import { Permits } from './permits.ts';
import { startPositions } from './positions.ts';
import type { Publisher } from './producer.ts';

export interface ConsumerDeps {
  kafka: Kafka;
  admin: () => Promise<Admin>;
  publisher: Publisher;
  names: TopicNames;
  redelivery: BackoffPolicy;
  tuning: ConsumerTuning;
  logger: Logger;
  onError: ((err: unknown, d: Delivery) => void) | undefined;
  /** Partitions handled side by side (kafkajs partitionsConsumedConcurrently). */
  concurrency: number;
}

export class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  private readonly holds: PartitionHolds;
  private readonly commits = new CommitBatcher();
  /** Keys in flight over all this member's partitions (tuning.keysInFlight). */
  private readonly permits: Permits;
  private readonly delivery: DeliveryDeps;
  private readonly group: string;
  /** SubscribeOptions.takesOverFrom: where a partition this group never committed starts. */
  private readonly takesOverFrom: readonly string[];
  private readonly log: Logger;
  private assigned = new Set<string>();
  private generation = 0;
  /** Set when a heartbeat failed: every batch stops at its next message so the member rejoins quickly. */
  private rejoining = false;
  private stopping = false;
  private closing: Promise<void> | null = null;
  private joined!: () => void;
  private crashed!: (err: unknown) => void;
  private readonly firstJoin = new Promise<void>((resolve, reject) => {
    this.joined = resolve;
    this.crashed = reject;
  });
  private died!: (err: unknown) => void;
  /** Resolves when kafkajs gave this member up (a crash it does not restart from): it fetches no more. */
  readonly dead = new Promise<unknown>((resolve) => {
    this.died = resolve;
  });

  private constructor(
    private readonly deps: ConsumerDeps,
    options: SubscribeOptions,
  ) {
    this.group = options.group;
    this.takesOverFrom = options.takesOverFrom ?? [];
    this.log = deps.logger.child({ group: options.group });
    const t = deps.tuning;
    this.consumer = deps.kafka.consumer({
      groupId: options.group,
      partitionAssigners: [CoPartitionedAssigner],
      sessionTimeout: t.sessionTimeout,
      rebalanceTimeout: t.rebalanceTimeout,
      heartbeatInterval: t.heartbeatInterval,
      maxWaitTimeInMs: t.maxWaitTimeInMs,
      minBytes: 1,
      allowAutoTopicCreation: false,
      retry: { retries: t.retries, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    // A crash after start() stopped waiting must not become an unhandled rejection.
    this.firstJoin.catch(() => undefined);
    this.holds = new PartitionHolds(this.consumer);
    this.permits = new Permits(t.keysInFlight);
    const { names, publisher, redelivery, onError } = deps;
    this.delivery = {
      handler: options.handler,
      names,
      publisher,
      redelivery,
      holds: this.holds,
      log: this.log,
      onError,
    };
    const { GROUP_JOIN, CRASH, FETCH_START } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => this.onJoin(e.payload.memberAssignment));
    this.consumer.on(FETCH_START, () => {
      this.rejoining = false;
    });
    this.consumer.on(CRASH, (e) => {
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'kafka consumer crashed');
      if (e.payload.restart) return;
      this.crashed(e.payload.error);
      this.died(e.payload.error);
    });
  }

  static async start(deps: ConsumerDeps, options: SubscribeOptions): Promise<KafkaSubscription> {
    const sub = new KafkaSubscription(deps, options);
    try {
      await sub.consumer.connect();
      await sub.consumer.subscribe({ topics: options.topics.map((t) => deps.names.physical(t)), fromBeginning: false });
      await sub.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: deps.concurrency,
        eachBatch: (payload) => sub.eachBatch(payload),
      });
      await within(sub.firstJoin, deps.tuning.joinTimeoutMs, `joining consumer group ${options.group}`);
      return sub;
    } catch (err) {
      await sub.close();
      throw unavailable(`could not join consumer group ${options.group}`, err);
    }
  }

  /** Stops fetching, lets the in-flight handlers finish, commits them, leaves the group; bounded by closeTimeoutMs. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.holds.clear();
      try {
        await within(
          this.consumer.disconnect(),
          this.deps.tuning.closeTimeoutMs,
          `leaving consumer group ${this.group}`,
        );
      } catch (err) {
        this.log.warn({ err }, 'kafka consumer did not close in time');
      }
    })();
    return this.closing;
  }

  private onJoin(assignment: Record<string, number[]>): void {
    const generation = ++this.generation;
    const tps: TopicPartition[] = Object.entries(assignment).flatMap(([topic, ps]) =>
      ps.map((partition) => ({ topic, partition })),
    );
    this.assigned = new Set(tps.map((tp) => tpKey(tp.topic, tp.partition)));
    this.holds.keepOnly(this.assigned);
    // Synchronous, inside kafkajs's join: the pauses are in place before its first fetch.
    for (const tp of tps) this.holds.hold(tp, 'join');
    void this.position(generation, tps);
  }

  /** Commits the start of any partition the group has no offset for, then lets the assignment fetch. */
  private async position(generation: number, tps: TopicPartition[]): Promise<void> {
    const current = (): boolean => generation === this.generation && !this.stopping;
    for (let attempt = 1; current(); attempt++) {
      try {
        await startPositions(await this.deps.admin(), this.consumer, this.group, tps, this.takesOverFrom);
        break;
      } catch (err) {
        this.log.warn({ err, attempt }, 'could not set start positions of a new assignment; retrying');
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(PositionBackoff, attempt)));
      }
    }
    if (!current()) return;
    for (const tp of tps) this.holds.release(tp, 'join');
    this.joined();
  }

  private eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const k = tpKey(batch.topic, batch.partition);
    return handleBatch(
      {
        delivery: this.delivery,
        holds: this.holds,
        commits: this.commits,
        permits: this.permits,
        keysInFlightPerPartition: this.deps.tuning.keysInFlightPerPartition,
        commitIntervalMs: this.deps.tuning.commitIntervalMs,
        heartbeatInterval: this.deps.tuning.heartbeatInterval,
        halted: () => this.stopping || this.rejoining || !isRunning() || isStale() || !this.assigned.has(k),
        onHeartbeatFailed: () => {
          this.rejoining = true;
        },
      },
      { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary },
    );
  }
}
