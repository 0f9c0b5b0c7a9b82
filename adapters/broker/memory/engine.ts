/**
 * The broker's state and the life of one delivery: publish appends to partition logs,
 * a started lane hands its next message to the owning member, and the handler's outcome
 * commits, retries or dead-letters it. Faults are drawn here, from the one seeded rng.
 */
import type { MemoryFaults } from '../../../src/config.ts';
import { BrokerUnavailableError, deadLetterNow, MessageTooLargeError } from '../../../src/errors.ts';
import { planDeadLetter } from '../../../src/messaging/dead-letter.ts';
import { MAX_MESSAGE_BYTES, messageBytes, type Delivery, type Handler } from '../../../src/ports/broker.ts';
import type { Rng } from '../../../src/random.ts';
import { backoffDelay, type BackoffPolicy } from '../../../src/retry.ts';
import { dlqOf, isDlqName, type TopicName } from '../../../src/topics.ts';
import { DeadLetterRing } from './dead-letters.ts';
import type { LogEntry } from './log.ts';
import { partitionOf } from './partitioner.ts';
import { emptyStats } from './stats.ts';
import { Group, Lane, Member, Topic, type LaneHooks } from './topology.ts';

export interface EngineOptions {
  partitions: number;
  rng: Rng;
  faults: MemoryFaults | null;
  redelivery: BackoffPolicy;
  mode: 'auto' | 'manual';
  onError: ((err: unknown, d: Delivery) => void) | undefined;
  /** The append clock (epoch ms). */
  now: () => number;
}

export interface Outgoing {
  topic: string;
  key: string;
  value: unknown;
  headers?: Record<string, string> | undefined;
}

const NO_FAULTS = { dup: 0, crash: 0, reorder: 0, pubfail: 0 } as const;
const DEAD_LETTERS_KEPT = 10_000;

export class Engine implements LaneHooks {
  readonly stats = emptyStats();
  readonly deadLetters = new DeadLetterRing(DEAD_LETTERS_KEPT);
  /** Every lane in creation order, so the manual scheduler sees candidates in a replayable order. */
  readonly lanes: Lane[] = [];
  readonly topics = new Map<string, Topic>();
  readonly faults: Omit<MemoryFaults, 'seed'>;
  closed = false;
  /** Unconsumed messages summed over lanes, so idle() is an O(1) check. */
  backlog = 0;
  inFlight = 0;
  /**
   * Told when a lane became ready (the auto scheduler; null in manual mode). `continuing`
   * is true right after the lane's previous delivery settled.
   */
  onReady: ((lane: Lane, continuing: boolean) => void) | null = null;
  /** Told after every settled delivery (idle and close waiters). */
  onSettled: (() => void) | null = null;
  private readonly groups = new Map<string, Group>();

  constructor(readonly opts: EngineOptions) {
    this.faults = opts.faults ?? NO_FAULTS;
  }

  get rng(): Rng {
    return this.opts.rng;
  }

  publish(messages: readonly Outgoing[]): void {
    if (this.closed) throw new BrokerUnavailableError('memory broker is closed');
    if (this.rng.chance(this.faults.pubfail)) {
      this.stats.publishFailed++;
      throw new BrokerUnavailableError('publish not confirmed (MEMORY_FAULTS pubfail)');
    }
    // Encode and measure the whole batch before appending any of it: a batch lands entirely
    // or not at all, and a message Kafka would refuse is refused here too.
    const values = messages.map((m) => {
      const value = encode(m.value);
      const bytes = messageBytes(m.key, value, m.headers);
      if (bytes > MAX_MESSAGE_BYTES) throw new MessageTooLargeError(bytes, MAX_MESSAGE_BYTES);
      return value;
    });
    const at = this.opts.now();
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      this.append(m.topic, { key: m.key, value: values[i]!, headers: m.headers ? { ...m.headers } : null, at });
    }
  }

  topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = new Topic(name, this.opts.partitions);
      this.topics.set(name, topic);
    }
    return topic;
  }

  join(groupName: string, topics: readonly string[], handler: Handler): Member {
    if (this.closed) throw new BrokerUnavailableError('memory broker is closed');
    let group = this.groups.get(groupName);
    if (!group) {
      group = new Group(groupName);
      this.groups.set(groupName, group);
    }
    const member = new Member(group, new Set(topics), handler);
    for (const name of member.topics) {
      if (group.lanes.has(name)) continue;
      // A group new to a topic starts at its end, as kafkajs does with fromBeginning: false.
      const lanes = this.topic(name).partitions.map((p) => {
        const lane = new Lane(group, p, p.log.end, this);
        p.lanes.push(lane);
        this.lanes.push(lane);
        return lane;
      });
      group.lanes.set(name, lanes);
    }
    group.members.push(member);
    this.reassign(group);
    return member;
  }

  leave(member: Member): Promise<void> {
    const members = member.group.members;
    const i = members.indexOf(member);
    if (i >= 0) {
      members.splice(i, 1);
      this.reassign(member.group);
    }
    return member.whenDrained();
  }

  /** Per partition number: has each named group handled everything appended before `before`? */
  handledBefore(groups: readonly { group: string; topics: readonly string[] }[], before: number): boolean[] {
    const ok = new Array<boolean>(this.opts.partitions).fill(true);
    for (const { group, topics } of groups) {
      const lanesByTopic = this.groups.get(group)?.lanes;
      for (const topic of topics) {
        for (const lane of lanesByTopic?.get(topic) ?? []) {
          const oldest = lane.partition.log.at(lane.next);
          if (oldest !== undefined && oldest.at < before) ok[lane.partition.index] = false;
        }
      }
    }
    return ok;
  }

  isReady(lane: Lane): boolean {
    return (
      !this.closed &&
      lane.owner !== null &&
      lane.inFlight === null &&
      !lane.waiting &&
      lane.next < lane.partition.log.end
    );
  }

  /** Hands the lane's next message to its owner; the promise settles once the outcome is applied. */
  start(lane: Lane): Promise<void> {
    const entry = lane.partition.log.at(lane.next)!;
    const member = lane.owner!;
    const delivery: Delivery = {
      topic: lane.partition.topic.name as TopicName,
      partition: lane.partition.index,
      offset: lane.next,
      key: entry.key,
      value: JSON.parse(entry.value) as unknown,
      headers: entry.headers ? { ...entry.headers } : {},
      attempt: lane.attempt,
    };
    lane.inFlight = delivery;
    lane.runner = member;
    member.inFlight++;
    this.inFlight++;
    this.stats.delivered++;
    let result: Promise<void>;
    try {
      result = Promise.resolve(member.handler(delivery));
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(lane.onOk, lane.onErr);
  }

  settle(lane: Lane, err: unknown, failed: boolean): void {
    const delivery = lane.inFlight!;
    lane.inFlight = null;
    const runner = lane.runner!;
    lane.runner = null;
    this.inFlight--;
    if (!failed) {
      // Both faults model a consumer that did the work but never committed: the group
      // sees the message again as if fresh, so attempt starts over.
      if (this.rng.chance(this.faults.dup)) {
        this.stats.duplicated++;
        lane.attempt = 1;
      } else if (this.rng.chance(this.faults.crash)) {
        this.stats.crashed++;
        lane.attempt = 1;
      } else this.commit(lane);
    } else {
      this.report(err, delivery);
      if (deadLetterNow(err, delivery.attempt) && this.deadLetter(lane, delivery, err)) this.commit(lane);
      else this.retry(lane, delivery);
    }
    runner.settled();
    this.onSettled?.();
    if (this.isReady(lane)) this.onReady?.(lane, true);
  }

  wake(lane: Lane): void {
    lane.waiting = false;
    lane.timer = null;
    if (this.isReady(lane)) this.onReady?.(lane, false);
  }

  /** Holds the lane for a while (backoff, or the reorder fault's postponement). */
  hold(lane: Lane, ms: number): void {
    if (this.closed) return;
    lane.waiting = true;
    lane.timer = setTimeout(lane.wake, ms);
  }

  stop(): void {
    this.closed = true;
    for (const lane of this.lanes) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
      lane.waiting = false;
    }
  }

  retained(): number {
    let n = 0;
    for (const topic of this.topics.values()) {
      if (isDlqName(topic.name)) continue;
      for (const p of topic.partitions) n += p.log.size;
    }
    return n;
  }

  private append(topicName: string, entry: LogEntry): void {
    const topic = this.topic(topicName);
    const partition = topic.partitions[partitionOf(entry.key, topic.partitions.length)]!;
    partition.log.append(entry);
    this.stats.published++;
    const lanes = partition.lanes;
    if (lanes.length === 0) {
      partition.trim();
      return;
    }
    this.backlog += lanes.length;
    if (this.onReady) for (const lane of lanes) if (this.isReady(lane)) this.onReady(lane, false);
  }

  private commit(lane: Lane): void {
    lane.next++;
    lane.attempt = 1;
    this.backlog--;
    this.stats.committed++;
    lane.partition.trim();
  }

  private retry(lane: Lane, delivery: Delivery): void {
    this.stats.retried++;
    lane.attempt = delivery.attempt + 1;
    // Manual mode leaves the timing to the seeded scheduler: the lane is eligible again at once.
    if (this.opts.mode === 'auto') this.hold(lane, backoffDelay(this.opts.redelivery, delivery.attempt));
  }

  /** False when the dead letter could not be published: the caller retries instead of losing it. */
  private deadLetter(lane: Lane, delivery: Delivery, err: unknown): boolean {
    if (this.closed) return false;
    if (this.rng.chance(this.faults.pubfail)) {
      this.stats.publishFailed++;
      return false;
    }
    const entry = lane.partition.log.at(delivery.offset)!;
    const plan = planDeadLetter(delivery, entry.value, entry.headers, err);
    const letter = {
      topic: dlqOf(delivery.topic),
      key: entry.key,
      // A stub has no value: its consumer sees null, as on Kafka.
      value: plan.keepValue ? entry.value : 'null',
      headers: plan.headers,
      at: this.opts.now(),
    };
    this.append(letter.topic, letter);
    this.deadLetters.push(letter);
    this.stats.deadLettered++;
    return true;
  }

  private report(err: unknown, delivery: Delivery): void {
    try {
      this.opts.onError?.(err, delivery);
    } catch {
      // A failing logger must not change what happens to the message.
    }
  }

  private reassign(group: Group): void {
    for (const lane of group.assign()) if (this.isReady(lane)) this.onReady?.(lane, false);
  }
}

function encode(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('message value is not JSON-serialisable');
  return text;
}
