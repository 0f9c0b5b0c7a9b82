/**
 * The in-process broker: the `Broker` port with Kafka's semantics (partitions by key,
 * consumer groups starting at the end, co-partitioned assignment, at-least-once delivery
 * with commit on success, retry holding the partition, dead letters), plus seeded faults.
 * In manual mode a seed replays a run delivery for delivery.
 */
import type { Clock } from '../../../src/clock.ts';
import type { MemoryFaults } from '../../../src/config.ts';
import { BrokerUnavailableError } from '../../../src/errors.ts';
import type { Broker, ConsumerLag, Delivery, Subscription } from '../../../src/ports/broker.ts';
import { seededRng } from '../../../src/random.ts';
import { Backoff, type BackoffPolicy } from '../../../src/retry.ts';
import { startAutoScheduler } from './auto.ts';
import type { DeadLetter } from './dead-letters.ts';
import { Engine } from './engine.ts';
import { drainLanes } from './manual.ts';
import { partitionOf } from './partitioner.ts';
import type { MemoryBrokerStats } from './stats.ts';

export type { DeadLetter, MemoryBrokerStats };

export interface MemoryBrokerOptions {
  partitions?: number;
  faults?: MemoryFaults | null;
  /** Scheduler seed when `faults` is null; with faults, `faults.seed` is the seed. */
  seed?: number;
  /** Stamps appended messages (handledBefore); backoff runs on real timers, which a manual clock could not fire. */
  clock?: Clock;
  redelivery?: BackoffPolicy;
  mode?: 'auto' | 'manual';
  /** Called for every handler error (for logging); what happens to the message does not depend on it. */
  onError?: (err: unknown, d: Delivery) => void;
}

export interface MemoryBroker extends Broker {
  /** manual mode: deliver until nothing is ready or in flight; returns deliveries made; throws (message includes the seed) past maxSteps (default 200000). */
  drain(opts?: { maxSteps?: number }): Promise<number>;
  /**
   * auto mode: resolves once no group has an uncommitted message or a handler in flight.
   * A group whose members all left still counts (its offsets live on, as in Kafka).
   * Rejects if the broker closes first.
   */
  idle(): Promise<void>;
  /** messages that went to any `<topic>.dlq` (copies), oldest first; bounded to the last 10000. */
  deadLetters(): DeadLetter[];
  /** messages currently retained in topic logs (not DLQ). */
  retained(): number;
  /** Counts of deliveries, outcomes and injected faults (a copy). */
  stats(): MemoryBrokerStats;
  /** Every group's lag on every partition it consumes (the port's optional method, always here). */
  lag(): Promise<ConsumerLag[]>;
  readonly seed: number;
}

const DEFAULT_MAX_STEPS = 200_000;

export function createMemoryBroker(opts: MemoryBrokerOptions = {}): MemoryBroker {
  const partitions = opts.partitions ?? 6;
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  const faults = opts.faults ?? null;
  const seed = faults ? faults.seed : (opts.seed ?? 1);
  const mode = opts.mode ?? 'auto';
  const engine = new Engine({
    partitions,
    rng: seededRng(seed),
    faults,
    redelivery: opts.redelivery ?? Backoff.redelivery,
    mode,
    onError: opts.onError,
    now: opts.clock ? () => opts.clock!.now() : () => Date.now(),
  });
  if (mode === 'auto') startAutoScheduler(engine);

  let idleWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const quietWaiters: (() => void)[] = [];
  engine.onSettled = () => {
    if (engine.inFlight !== 0) return;
    if (quietWaiters.length > 0) for (const resolve of quietWaiters.splice(0)) resolve();
    if (engine.backlog === 0 && idleWaiters.length > 0) for (const w of idleWaiters.splice(0)) w.resolve();
  };
  const closedError = (): BrokerUnavailableError => new BrokerUnavailableError('memory broker is closed');
  let draining = false;

  return {
    seed,

    async publish(messages) {
      engine.publish(messages);
    },

    async subscribe({ group, topics, handler, takesOverFrom }) {
      if (topics.length === 0) throw new TypeError(`subscribe(${group}): no topics`);
      const member = engine.join(group, topics, handler, takesOverFrom);
      let leaving: Promise<void> | null = null;
      const subscription: Subscription = { close: () => (leaving ??= engine.leave(member)) };
      return subscription;
    },

    async ping() {
      if (engine.closed) throw closedError();
    },

    partitionOf: (key) => partitionOf(key, partitions),

    async handledBefore(groups, before) {
      if (engine.closed) throw closedError();
      return engine.handledBefore(groups, before);
    },

    async close() {
      if (!engine.closed) {
        engine.stop();
        const waiting = idleWaiters;
        idleWaiters = [];
        for (const w of waiting) w.reject(new BrokerUnavailableError('memory broker closed before it was idle'));
      }
      if (engine.inFlight > 0) await new Promise<void>((resolve) => quietWaiters.push(resolve));
    },

    async drain({ maxSteps = DEFAULT_MAX_STEPS } = {}) {
      if (mode !== 'manual') throw new Error('drain() is for manual mode; in auto mode await idle()');
      if (draining) throw new Error('drain() is already running');
      draining = true;
      try {
        return await drainLanes(engine, seed, maxSteps);
      } finally {
        draining = false;
      }
    },

    idle() {
      if (engine.closed) return Promise.reject(closedError());
      if (engine.backlog === 0 && engine.inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => idleWaiters.push({ resolve, reject }));
    },

    async lag() {
      // Committed offset vs log end on every group's lane; a message in flight still counts.
      return engine.lanes.map((lane) => ({
        group: lane.group.name,
        topic: lane.partition.topic.name,
        partition: lane.partition.index,
        lag: lane.partition.log.end - lane.next,
      }));
    },

    deadLetters: () => engine.deadLetters.list(),
    retained: () => engine.retained(),
    stats: () => ({ ...engine.stats }),
  };
}
