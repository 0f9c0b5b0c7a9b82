/**
 * One fetched batch of one partition, handled as a wave. The batch's messages are grouped
 * by key (the orderId), each group keeping offset order; each group is a chain, handled
 * strictly one message after the other, and the chains run side by side, at most
 * `keysInFlightPerPartition` of this partition at once and at most as many as the
 * subscription's permits allow over all its partitions. Handlers publish through the
 * shared producer, which gathers the sends of one turn into one sendBatch, so a wave's
 * sends are acknowledged together.
 *
 * A chain stops at its first message to be retried (deliver() gave a delay); the other
 * chains go on. What is committed is the highest offset below which every message of the
 * batch is handled (contiguous), never more: nothing is committed before its effects and
 * sends are acknowledged (rule `outbox-in-snapshot`, docs/architecture.md). Only that
 * offset is resolved, so when a message must be retried the partition backs off and the
 * next fetch starts at the first unhandled offset (kafkajs fetches from the last resolved
 * offset): messages after it that were handled come again, duplicates which the handlers
 * absorb (rule `idempotent-effects`; the saga's compare-and-set, rule `store-is-truth`).
 *
 * No chain starts a message once `halted()` (stopping, rejoining, stale, unassigned) or a
 * heartbeat or commit failed; the ones in flight settle, their progress is committed, and
 * the failure is thrown to kafkajs. The wave heartbeats every `heartbeatInterval` on a timer
 * (kafkajs's heartbeat() sends nothing sooner anyway) and commits its contiguous progress
 * every `commitIntervalMs`.
 */
import type { EachBatchPayload } from 'kafkajs';
import type { CommitBatcher } from './commits.ts';
import { deliver, type DeliveryDeps } from './delivery.ts';
import type { PartitionHolds } from './holds.ts';
import type { Permits } from './permits.ts';

export interface BatchLoopDeps {
  delivery: DeliveryDeps;
  holds: PartitionHolds;
  commits: CommitBatcher;
  /** The subscription's bound on keys in flight over all its partitions. */
  permits: Permits;
  keysInFlightPerPartition: number;
  commitIntervalMs: number;
  heartbeatInterval: number;
  /** True once no new message may start (stopping, rejoining, stale, unassigned). */
  halted: () => boolean;
  /** Called when a heartbeat failed: the member must rejoin. */
  onHeartbeatFailed: () => void;
}

type BatchPayload = Pick<EachBatchPayload, 'batch' | 'resolveOffset' | 'heartbeat' | 'commitOffsetsIfNecessary'>;

export async function handleBatch(deps: BatchLoopDeps, payload: BatchPayload): Promise<void> {
  const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary } = payload;
  const { topic, partition, messages } = batch;
  const n = messages.length;
  if (n === 0) return;

  const chains = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = messages[i]!.key?.toString() ?? '';
    let chain = chains.get(key);
    if (!chain) chains.set(key, (chain = []));
    chain.push(i);
  }

  const handled = new Uint8Array(n);
  /** Messages [0, contiguous) are all handled. */
  let contiguous = 0;
  let committedUpTo = 0;
  let lastCommit = Date.now();
  let committing: Promise<void> | null = null;
  /** The lowest-offset message to be retried, with its delay. */
  let retry: { index: number; delay: number } | null = null;
  /** A heartbeat or commit that failed: no message starts after it, and it is thrown at the end. */
  let failure: { err: unknown } | null = null;
  let beating = false;

  const stopped = (): boolean => failure !== null || deps.halted();
  const commitProgress = (): Promise<void> => {
    if (contiguous <= committedUpTo) return Promise.resolve();
    committedUpTo = contiguous;
    lastCommit = Date.now();
    const next = Number(messages[contiguous - 1]!.offset) + 1;
    return deps.commits.commit(commitOffsetsIfNecessary, topic, partition, next);
  };
  const beat = (): void => {
    if (beating || failure) return;
    beating = true;
    heartbeat().then(
      () => {
        beating = false;
      },
      (err: unknown) => {
        beating = false;
        failure ??= { err };
        deps.onHeartbeatFailed();
      },
    );
  };
  const advance = (): void => {
    const before = contiguous;
    while (contiguous < n && handled[contiguous] === 1) contiguous++;
    if (contiguous === before) return;
    resolveOffset(messages[contiguous - 1]!.offset);
    if (committing === null && Date.now() - lastCommit >= deps.commitIntervalMs) {
      committing = commitProgress()
        .catch((err: unknown) => {
          failure ??= { err };
        })
        .finally(() => {
          committing = null;
        });
    }
  };

  const runChain = async (chain: readonly number[]): Promise<void> => {
    await deps.permits.acquire();
    try {
      for (const i of chain) {
        if (stopped()) return;
        const retryIn = await deliver(deps.delivery, topic, partition, messages[i]!);
        if (retryIn !== null) {
          if (retry === null || i < retry.index) retry = { index: i, delay: retryIn };
          return;
        }
        handled[i] = 1;
        advance();
      }
    } finally {
      deps.permits.release();
    }
  };

  const queue = [...chains.values()];
  let taken = 0;
  const worker = async (): Promise<void> => {
    while (taken < queue.length && !stopped()) await runChain(queue[taken++]!);
  };
  const timer = setInterval(beat, deps.heartbeatInterval);
  let settled: PromiseSettledResult<void>[];
  try {
    settled = await Promise.allSettled(
      Array.from({ length: Math.min(deps.keysInFlightPerPartition, queue.length) }, worker),
    );
  } finally {
    clearInterval(timer);
  }
  for (const s of settled) if (s.status === 'rejected') failure ??= { err: s.reason };

  // Assigned in the closures above: TypeScript's narrowing does not see it.
  const pending = retry as { index: number; delay: number } | null;
  const inFlight = committing as Promise<void> | null;
  if (pending !== null && contiguous < n) deps.holds.backOff({ topic, partition }, pending.delay);
  if (inFlight) await inFlight;
  try {
    await commitProgress();
  } catch (err) {
    failure ??= { err };
  }
  if (failure) throw failure.err;
}
