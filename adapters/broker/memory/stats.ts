/** What the broker did, for tests and the load report: faults are counted apart from real outcomes. */
export interface MemoryBrokerStats {
  published: number;
  delivered: number;
  committed: number;
  /** Retriable handler failures (each one redelivers later). */
  retried: number;
  deadLettered: number;
  /** Commits skipped by the `dup` fault. */
  duplicated: number;
  /** Commits skipped by the `crash` fault (the lane re-reads from its committed offset). */
  crashed: number;
  /** Handled spans lost and re-read by another member (the `span` fault). */
  spans: number;
  /** Handlers left running on a member that lost their partition (the `zombie` fault). */
  zombies: number;
  /** Ready lanes passed over by the `reorder` fault. */
  reordered: number;
  /** Publishes rejected by the `pubfail` fault. */
  publishFailed: number;
  /** Publishes that landed a prefix (or all) of their messages and still failed (the `partial` fault). */
  publishPartial: number;
}

export const emptyStats = (): MemoryBrokerStats => ({
  published: 0,
  delivered: 0,
  committed: 0,
  retried: 0,
  deadLettered: 0,
  duplicated: 0,
  crashed: 0,
  spans: 0,
  zombies: 0,
  reordered: 0,
  publishFailed: 0,
  publishPartial: 0,
});
