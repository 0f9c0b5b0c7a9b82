/**
 * Topics, consumer groups and lanes. A lane is one group's cursor on one partition, as
 * the Kafka adapter handles one: messages of different keys run side by side (up to
 * LANE_CONCURRENCY), one key's messages strictly in offset order, and the committed offset
 * is the highest contiguous handled one. A retry or a crash re-reads from there.
 */
import type { Delivery, Handler } from '../../../src/ports/broker.ts';
import { PartitionLog } from './log.ts';

export class Topic {
  readonly partitions: Partition[];
  constructor(
    readonly name: string,
    count: number,
  ) {
    this.partitions = Array.from({ length: count }, (_, index) => new Partition(this, index));
  }
}

export class Partition {
  readonly log = new PartitionLog();
  /** One lane per group that consumes this topic. */
  readonly lanes: Lane[] = [];
  constructor(
    readonly topic: Topic,
    readonly index: number,
  ) {}

  /** Drops what every group has committed past; with no group at all, drops everything. */
  trim(): void {
    let low = this.log.end;
    for (const lane of this.lanes) if (lane.next < low) low = lane.next;
    if (low > this.log.start) this.log.trimTo(low);
  }
}

export class Member {
  inFlight = 0;
  private drained: (() => void)[] = [];
  constructor(
    readonly group: Group,
    readonly topics: ReadonlySet<string>,
    readonly handler: Handler,
  ) {}

  whenDrained(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.drained.push(resolve));
  }

  settled(): void {
    if (--this.inFlight === 0 && this.drained.length > 0) {
      for (const resolve of this.drained.splice(0)) resolve();
    }
  }
}

/**
 * A group outlives its members, as a Kafka group's committed offsets do: when the last
 * member leaves, its lanes keep their offsets (and hold back retention) for a later member.
 */
export class Group {
  /** Live members in join order: the order partitions are dealt out in. */
  readonly members: Member[] = [];
  readonly lanes = new Map<string, Lane[]>();
  /** Per partition number, added to it when dealing: a fault moves that partition on to another member. */
  readonly shifts = new Map<number, number>();
  constructor(readonly name: string) {}

  /**
   * Co-partitioned assignment: partition p of every topic goes to members[(p + shift) % n]
   * (shift is 0 unless a fault moved p),
   * so one key's messages on all the group's topics reach one member. Returns the lanes
   * whose owner changed. A lane's handlers in flight keep running on their member; the
   * new owner starts only other keys until they settle, one key's messages being in order.
   */
  assign(): Lane[] {
    const changed: Lane[] = [];
    for (const [topic, lanes] of this.lanes) {
      const eligible = this.members.filter((m) => m.topics.has(topic));
      for (const lane of lanes) {
        const p = lane.partition.index;
        const owner = eligible.length === 0 ? null : eligible[(p + (this.shifts.get(p) ?? 0)) % eligible.length]!;
        if (owner !== lane.owner) {
          lane.owner = owner;
          changed.push(lane);
        }
      }
    }
    return changed;
  }
}

/** One delivery on its way: which lane, offset and key, the member running it, and the lane's epoch then. */
export class Flight {
  constructor(
    readonly lane: Lane,
    readonly delivery: Delivery,
    readonly runner: Member,
    readonly epoch: number,
  ) {}
}

/**
 * Why a lane has stopped starting deliveries until the ones in flight settle: `retry` (a
 * key's message must be redelivered; the others' outcomes still count) or `crash` (the
 * member died: what it handled and did not commit is lost).
 */
export type LaneStop = 'retry' | 'crash' | null;

export interface LaneHooks {
  wake(lane: Lane): void;
}

export class Lane {
  owner: Member | null = null;
  /** The group's committed offset here: every message below it is handled. */
  next: number;
  /** The next offset to read into `chains` (never below `next`). */
  read: number;
  /** Handled offsets above `next`, waiting for the gap below them to close (contiguous commit). */
  readonly handled = new Set<number>();
  /** Per key, its read and unhandled offsets in order; the head is in flight or in `ready`. */
  readonly chains = new Map<string, number[]>();
  /** Offsets whose key has nothing earlier unhandled: startable, oldest first. */
  readonly ready: number[] = [];
  /** Deliveries in flight, at most LANE_CONCURRENCY. */
  flights = 0;
  /** Attempts so far of an offset that failed retriably (cleared once committed past). */
  readonly attempts = new Map<number, number>();
  /** The highest attempt that failed since the lane stopped for a retry: how long it backs off. */
  backoffAttempt = 0;
  /** Bumped by a crash: flights of an older epoch settle without effect. */
  epoch = 0;
  stop: LaneStop = null;
  /** Backing off after a retriable failure, or postponed by the reorder fault. */
  waiting = false;
  timer: NodeJS.Timeout | null = null;
  /** Already in the pump's queue. */
  queued = false;
  /** Deliveries started back to back since the pump last visited, to bound starvation. */
  burst = 0;
  readonly wake: () => void;

  constructor(
    readonly group: Group,
    readonly partition: Partition,
    next: number,
    hooks: LaneHooks,
  ) {
    this.next = next;
    this.read = next;
    this.wake = () => hooks.wake(this);
  }

  /** Forgets what was read past the committed offset, so the partition is re-read from there. */
  rewind(): void {
    this.read = this.next;
    this.handled.clear();
    this.chains.clear();
    this.ready.length = 0;
  }
}
