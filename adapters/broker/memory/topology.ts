/**
 * Topics, consumer groups and lanes. A lane is one group's cursor on one partition: it
 * holds the group's committed offset there and at most one message in flight, which is
 * what keeps order within a partition while different lanes run side by side.
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
  constructor(readonly name: string) {}

  /**
   * Co-partitioned assignment: partition p of every topic goes to members[p % n], so one
   * key's messages on all the group's topics reach one member. Returns the lanes whose
   * owner changed. A lane with a handler in flight keeps running it; the new owner's
   * first delivery waits for it, because a lane has at most one message in flight.
   */
  assign(): Lane[] {
    const changed: Lane[] = [];
    for (const [topic, lanes] of this.lanes) {
      const eligible = this.members.filter((m) => m.topics.has(topic));
      for (const lane of lanes) {
        const owner = eligible.length === 0 ? null : eligible[lane.partition.index % eligible.length]!;
        if (owner !== lane.owner) {
          lane.owner = owner;
          changed.push(lane);
        }
      }
    }
    return changed;
  }
}

export interface LaneHooks {
  settle(lane: Lane, err: unknown, failed: boolean): void;
  wake(lane: Lane): void;
}

export class Lane {
  owner: Member | null = null;
  /** The member running the delivery in flight (the owner may have changed since). */
  runner: Member | null = null;
  inFlight: Delivery | null = null;
  attempt = 1;
  /** Backing off after a retriable failure, or postponed by the reorder fault. */
  waiting = false;
  timer: NodeJS.Timeout | null = null;
  /** Already in the pump's queue. */
  queued = false;
  /** Deliveries started back to back since the pump last visited, to bound starvation. */
  burst = 0;
  // Bound once per lane so a delivery allocates no callbacks of its own.
  readonly onOk: () => void;
  readonly onErr: (err: unknown) => void;
  readonly wake: () => void;

  constructor(
    readonly group: Group,
    readonly partition: Partition,
    /** The group's committed offset here: the next message to deliver. */
    public next: number,
    hooks: LaneHooks,
  ) {
    this.onOk = () => hooks.settle(this, undefined, false);
    this.onErr = (err) => hooks.settle(this, err, true);
    this.wake = () => hooks.wake(this);
  }
}
