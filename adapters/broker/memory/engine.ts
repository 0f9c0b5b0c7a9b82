/**
 * The broker's state and the life of one delivery: publish appends to partition logs, a
 * ready lane hands a message whose key has nothing earlier unhandled to the owning member,
 * and the handler's outcome marks it handled (the committed offset moves up to the first
 * gap), retries it (the lane re-reads from the committed offset) or dead-letters it.
 * Faults are drawn here, from the one seeded rng.
 */
import { noFaults, type MemoryFaults } from '../../../src/config.ts';
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
import { Flight, Group, Lane, Member, Topic, type LaneHooks } from './topology.ts';

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

const DEAD_LETTERS_KEPT = 10_000;
/** Deliveries of one lane (different keys) in flight at once, as the Kafka adapter runs a partition's keys. */
export const LANE_CONCURRENCY = 16;
/** How far past the committed offset a lane reads (a fetch): a slow key holds back at most this many others. */
export const LANE_WINDOW = 512;

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
  /** Zombie handlers waiting for their offset to be handled again by the lane's current owner. */
  readonly parked: Flight[] = [];
  /** Manual mode: zombie handlers free to run, for the scheduler to pick. */
  readonly released: Flight[] = [];
  private readonly groups = new Map<string, Group>();

  constructor(readonly opts: EngineOptions) {
    this.faults = opts.faults ?? noFaults();
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
    // Encode and measure the whole call before appending any of it: a message Kafka would
    // refuse is refused here too, and nothing of its call is sent.
    const values = messages.map((m) => {
      const value = encode(m.value);
      if (!surelyFits(m.key, value, m.headers)) {
        const bytes = messageBytes(m.key, value, m.headers);
        if (bytes > MAX_MESSAGE_BYTES) throw new MessageTooLargeError(bytes, MAX_MESSAGE_BYTES);
      }
      return value;
    });
    // The partial fault: a prefix lands (perhaps all of it) and the call still fails, as a
    // Kafka batch whose acknowledgement was lost part-way.
    const partial = messages.length > 0 && this.rng.chance(this.faults.partial);
    const landing = partial ? 1 + this.rng.int(messages.length) : messages.length;
    const at = this.opts.now();
    for (let i = 0; i < landing; i++) {
      const m = messages[i]!;
      this.append(m.topic, { key: m.key, value: values[i]!, headers: m.headers ? { ...m.headers } : null, at });
    }
    if (partial) {
      this.stats.publishPartial++;
      throw new BrokerUnavailableError(
        `publish not confirmed, ${landing} of ${messages.length} messages landed (MEMORY_FAULTS partial)`,
      );
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

  join(groupName: string, topics: readonly string[], handler: Handler, takesOverFrom: readonly string[] = []): Member {
    if (this.closed) throw new BrokerUnavailableError('memory broker is closed');
    let group = this.groups.get(groupName);
    if (!group) {
      group = new Group(groupName);
      this.groups.set(groupName, group);
    }
    const member = new Member(group, new Set(topics), handler);
    for (const name of member.topics) {
      if (group.lanes.has(name)) continue;
      // A group new to a topic starts where the groups it takes over from have handled up
      // to, else at its end, as the Kafka adapter does (fromBeginning: false).
      const lanes = this.topic(name).partitions.map((p, i) => {
        const taken = takesOverFrom.flatMap((g) => this.groups.get(g)?.lanes.get(name)?.[i]?.next ?? []);
        const lane = new Lane(group, p, taken.length > 0 ? Math.min(...taken) : p.log.end, this);
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
    // A leaving member's zombies run now: it cannot be gone while its handlers still are.
    for (const list of [this.parked, this.released]) {
      for (let j = list.length - 1; j >= 0; j--) {
        if (list[j]!.runner === member) void this.runZombie(list.splice(j, 1)[0]!);
      }
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
    if (this.closed || lane.owner === null || lane.waiting || lane.stop !== null) return false;
    if (lane.flights >= LANE_CONCURRENCY) return false;
    if (lane.ready.length === 0) this.readAhead(lane);
    return lane.ready.length > 0;
  }

  /**
   * Hands a ready message of the lane (the oldest, or `offset`) to its owner; the promise
   * settles once the outcome is applied. Call only when isReady(lane).
   */
  start(lane: Lane, offset?: number): Promise<void> {
    const at = offset === undefined ? 0 : lane.ready.indexOf(offset);
    const o = lane.ready[at]!;
    lane.ready.splice(at, 1);
    const entry = lane.partition.log.at(o)!;
    const member = lane.owner!;
    const delivery: Delivery = {
      topic: lane.partition.topic.name as TopicName,
      partition: lane.partition.index,
      offset: o,
      key: entry.key,
      value: JSON.parse(entry.value) as unknown,
      headers: entry.headers ? { ...entry.headers } : {},
      attempt: lane.attempts.get(o) ?? 1,
    };
    const flight = new Flight(lane, delivery, member, lane.epoch);
    member.inFlight++;
    this.inFlight++;
    this.stats.delivered++;
    if (this.rng.chance(this.faults.zombie)) {
      // The zombie fault: the partition moves to another member before this handler is
      // done. The lane re-reads from its committed offset there, and this handler runs
      // to the end on the old member only after that offset has been handled again.
      this.stats.zombies++;
      this.parked.push(flight);
      this.crash(lane, true);
      return Promise.resolve();
    }
    lane.flights++;
    let result: Promise<void>;
    try {
      result = Promise.resolve(member.handler(delivery));
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(
      () => this.settle(flight, undefined, false),
      (err: unknown) => this.settle(flight, err, true),
    );
  }

  /** Runs a zombie's handler on its old member; whatever it does, its outcome commits nothing. */
  runZombie(flight: Flight): Promise<void> {
    let result: Promise<void>;
    try {
      result = Promise.resolve(flight.runner.handler(flight.delivery));
    } catch (err) {
      result = Promise.reject(err);
    }
    const done = (): void => {
      this.inFlight--;
      flight.runner.settled();
      this.onSettled?.();
    };
    return result.then(done, (err: unknown) => {
      this.report(err, flight.delivery);
      done();
    });
  }

  private settle(flight: Flight, err: unknown, failed: boolean): void {
    const { lane, delivery } = flight;
    lane.flights--;
    this.inFlight--;
    if (flight.epoch !== lane.epoch) {
      // The member crashed while this ran: its outcome is lost, the lane re-reads it.
      if (failed) this.report(err, delivery);
    } else if (!failed) {
      // dup, crash and span model a consumer that did the work but never committed it.
      if (this.rng.chance(this.faults.dup)) {
        // Seen again as if fresh (attempt starts over), and its key waits for it.
        this.stats.duplicated++;
        lane.attempts.delete(delivery.offset);
        lane.ready.unshift(delivery.offset);
      } else if (this.rng.chance(this.faults.crash)) {
        this.stats.crashed++;
        lane.attempts.delete(delivery.offset);
        this.crash(lane, false);
      } else {
        this.handled(lane, delivery);
        // The span fault: a crash once later messages were handled past a gap; another
        // member re-reads the whole span from the committed offset.
        if (lane.handled.size > 0 && this.rng.chance(this.faults.span)) {
          this.stats.spans++;
          this.crash(lane, true);
        }
      }
    } else {
      this.report(err, delivery);
      if (deadLetterNow(err, delivery.attempt) && this.deadLetter(lane, delivery, err)) this.handled(lane, delivery);
      else this.retry(lane, delivery);
    }
    flight.runner.settled();
    this.resume(lane);
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
    // A reorder postponement may still be pending when a retry's backoff begins: the backoff replaces it.
    if (lane.timer) clearTimeout(lane.timer);
    lane.waiting = true;
    lane.timer = setTimeout(lane.wake, ms);
  }

  stop(): void {
    this.closed = true;
    // Zombies not yet run never will be: their member is gone with the broker.
    for (const flight of [...this.parked.splice(0), ...this.released.splice(0)]) {
      this.inFlight--;
      flight.runner.settled();
    }
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

  /** Reads the lane's window into per-key chains; a key's first unhandled message becomes ready. */
  private readAhead(lane: Lane): void {
    const log = lane.partition.log;
    const until = Math.min(log.end, lane.next + LANE_WINDOW);
    while (lane.read < until) {
      const o = lane.read++;
      const key = log.at(o)!.key;
      const chain = lane.chains.get(key);
      if (chain) chain.push(o);
      else {
        lane.chains.set(key, [o]);
        lane.ready.push(o);
      }
    }
  }

  /** Marks a delivery handled: its key's next message becomes ready, and the commit moves up to the first gap. */
  private handled(lane: Lane, delivery: Delivery): void {
    const o = delivery.offset;
    const chain = lane.chains.get(delivery.key)!;
    chain.shift();
    if (chain.length > 0) lane.ready.push(chain[0]!);
    else lane.chains.delete(delivery.key);
    if (lane.attempts.size > 0) lane.attempts.delete(o);
    if (o !== lane.next) {
      lane.handled.add(o);
      return;
    }
    let n = 1;
    lane.next++;
    while (lane.handled.size > 0 && lane.handled.delete(lane.next)) {
      lane.next++;
      n++;
    }
    this.backlog -= n;
    this.stats.committed += n;
    lane.partition.trim();
    if (this.parked.length > 0) this.releaseZombies(lane);
  }

  /** A retriable failure: the key's chain stops, the lane starts nothing new, and re-reads from the committed offset once its flights settle. */
  private retry(lane: Lane, delivery: Delivery): void {
    this.stats.retried++;
    lane.attempts.set(delivery.offset, delivery.attempt + 1);
    if (delivery.attempt > lane.backoffAttempt) lane.backoffAttempt = delivery.attempt;
    if (lane.stop === null) lane.stop = 'retry';
  }

  /**
   * The lane's member dies before committing: whatever its flights still do counts for
   * nothing, and the lane re-reads from its committed offset once they settle. `move`
   * hands its partition number (on every topic of the group) on to the next member, if any.
   */
  private crash(lane: Lane, move: boolean): void {
    lane.epoch++;
    lane.stop = 'crash';
    if (move) {
      const { shifts } = lane.group;
      const p = lane.partition.index;
      shifts.set(p, (shifts.get(p) ?? 0) + 1);
      this.reassign(lane.group);
    }
    this.resume(lane);
  }

  /** Once a stopped lane has nothing in flight: re-read from the committed offset (after a backoff, for a retry in auto mode). */
  private resume(lane: Lane): void {
    if (lane.stop === null || lane.flights > 0) return;
    const backoff = lane.stop === 'retry' && this.opts.mode === 'auto' ? lane.backoffAttempt : 0;
    lane.stop = null;
    lane.backoffAttempt = 0;
    lane.rewind();
    // Manual mode leaves the timing to the seeded scheduler: the lane is eligible again at once.
    if (backoff > 0) this.hold(lane, backoffDelay(this.opts.redelivery, backoff));
    else if (this.isReady(lane)) this.onReady?.(lane, false);
  }

  private releaseZombies(lane: Lane): void {
    for (let i = 0; i < this.parked.length;) {
      const flight = this.parked[i]!;
      if (flight.lane !== lane || flight.delivery.offset >= lane.next) {
        i++;
        continue;
      }
      this.parked.splice(i, 1);
      if (this.opts.mode === 'auto') void this.runZombie(flight);
      else this.released.push(flight);
    }
  }

  /** Manual mode, nothing else ready: zombies whose offset will not be handled again soon run anyway. */
  releaseAllZombies(): void {
    this.released.push(...this.parked.splice(0));
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

/**
 * True when the message is within MAX_MESSAGE_BYTES whatever its characters: UTF-8 takes at
 * most 3 bytes per UTF-16 code unit, so string lengths bound the size without encoding
 * anything. Only a message near the limit is measured exactly (messageBytes).
 */
function surelyFits(key: string, value: string, headers: Readonly<Record<string, string>> | undefined): boolean {
  let units = key.length + value.length;
  if (headers) for (const name in headers) units += name.length + headers[name]!.length;
  return 3 * units <= MAX_MESSAGE_BYTES;
}

function encode(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('message value is not JSON-serialisable');
  return text;
}
