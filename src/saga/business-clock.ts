/**
 * Business time for step deadlines (rule `faults-heal`, docs/architecture.md): a step's deadline counts how long a customer
 * waits for stock or payment, not how long an answer sat in our own queues. Per partition
 * number, the business clock stands at the latest time T for which both hold:
 *   1. the worker groups (stock, payment) had handled every command appended before T,
 *      as seen at some moment t1; and
 *   2. the saga's own group had, later, handled every message appended before t1, so
 *      every answer those workers sent by t1 has been read.
 * A deadline fires only once it is behind that clock: an order whose command or answer
 * still waits in a queue (a worker restarting, a rebalance, a broker or Redis away) keeps
 * waiting, and a reply that truly never comes still times the step out.
 *
 * With a broker that cannot tell (no handledBefore), business time is wall time.
 */
import type { Clock } from '../clock.ts';
import type { Broker, GroupTopics } from '../ports/broker.ts';

export interface BusinessClockOptions {
  broker: Pick<Broker, 'partitionOf' | 'handledBefore'>;
  clock: Clock;
  /** The groups whose answers the saga waits for. */
  workers: readonly GroupTopics[];
  /** The saga's own group. */
  saga: GroupTopics;
  /**
   * How far behind now the regular probe looks: longer than commits trail handling, so a
   * steady flow of fresh messages does not read as a backlog. 0 for a broker whose
   * commits are immediate (the memory broker).
   */
  graceMs: number;
  /** Probes at most this often; between them the last answer stands. */
  probeEveryMs: number;
}

/** Worker observations not yet confirmed by the saga's group, per partition: bounded. */
const PENDING_KEPT = 64;

interface Observation {
  /** Workers had handled everything appended before this... */
  before: number;
  /** ...as seen at this time. */
  seenAt: number;
}

export interface BusinessClock {
  /** Probes the broker when the last probe is older than probeEveryMs. Rejects when the broker cannot tell. */
  refresh(): Promise<void>;
  /** Business time for this order's partition: never ahead of `now`. */
  at(orderId: string, now: number): number;
}

export function createBusinessClock(opts: BusinessClockOptions): BusinessClock {
  const { broker, clock } = opts;
  if (!broker.handledBefore || !broker.partitionOf) return { refresh: async () => undefined, at: (_id, now) => now };
  const handledBefore = broker.handledBefore.bind(broker);
  const partitionOf = broker.partitionOf.bind(broker);
  const pending: Observation[][] = [];
  const watermark: number[] = [];
  let lastProbe = Number.NEGATIVE_INFINITY;

  const confirm = (p: number, through: number): void => {
    const list = pending[p];
    if (!list) return;
    let i = 0;
    for (; i < list.length && list[i]!.seenAt <= through; i++)
      watermark[p] = Math.max(watermark[p] ?? Number.NEGATIVE_INFINITY, list[i]!.before);
    list.splice(0, i);
  };

  async function probe(): Promise<void> {
    const t0 = clock.now();
    const workers = await handledBefore(opts.workers, t0 - opts.graceMs);
    const seenAt = clock.now();
    workers.forEach((ok, p) => {
      if (!ok) return;
      const list = (pending[p] ??= []);
      list.push({ before: t0 - opts.graceMs, seenAt });
      if (list.length > PENDING_KEPT) list.shift();
    });
    // The saga's group, after the workers were seen: fully caught up to that moment (a
    // quiet system), else up to the grace behind now (a busy one; confirms older sightings).
    const fresh = await handledBefore([opts.saga], seenAt);
    const through = clock.now() - opts.graceMs;
    const behind = opts.graceMs > 0 ? await handledBefore([opts.saga], through) : fresh;
    for (let p = 0; p < pending.length; p++) {
      if (fresh[p]) confirm(p, seenAt);
      else if (behind[p]) confirm(p, through);
    }
  }

  return {
    async refresh() {
      const now = clock.now();
      if (now - lastProbe < opts.probeEveryMs) return;
      lastProbe = now;
      await probe();
    },
    at(orderId, now) {
      return Math.min(now, watermark[partitionOf(orderId)] ?? Number.NEGATIVE_INFINITY);
    },
  };
}
