/**
 * The order worker: hosts the sagas (consumes every saga input topic in one
 * co-partitioned group), runs the deadline sweeper, and starts the retention clock of
 * finished orders' effect records.
 */
import { dispatch } from '../messaging/dispatch.ts';
import { createBusinessClock } from '../saga/business-clock.ts';
import { createEffectRetention, type EffectRetention } from '../saga/effect-retention.ts';
import { crashWhen } from '../saga/crash-hook.ts';
import { createSagaHost, type SagaHost } from '../saga/host.ts';
import type { SagaInspector } from '../saga/inspector.ts';
import { createSweeper, type Sweeper } from '../saga/sweeper.ts';
import { Subscriptions } from '../topics.ts';
import type { WorkerDeps } from './deps.ts';

export interface OrderWorkerOptions extends WorkerDeps {
  casAttempts: number;
  sweepIntervalMs: number;
  leaseMs: number;
  /** Fault injection (MEMORY_FAULTS, tests): true means "die" right after the snapshot write, before the sends. */
  crashAfterSnapshot?: () => boolean;
  inspector?: SagaInspector;
  /** false leaves the sweeper and the retention to the caller (tests tick them with a manual clock). */
  autoSweep?: boolean;
  /** The worker groups' ids (with the deployment's prefix), whose queues deadlines wait for. */
  workerGroups: { stock: string; payment: string };
  /** Business clock: how far behind now its probe looks, and how often it probes. */
  businessClock: { graceMs: number; probeEveryMs: number };
}

export interface OrderWorker {
  host: SagaHost;
  sweeper: Sweeper;
  retention: EffectRetention;
  close(): Promise<void>;
}

export async function startOrderWorker(opts: OrderWorkerOptions): Promise<OrderWorker> {
  const host = createSagaHost({
    ...opts,
    ...(opts.crashAfterSnapshot ? { afterCommit: crashWhen(opts.crashAfterSnapshot) } : {}),
  });
  const businessClock = createBusinessClock({
    broker: opts.broker,
    clock: opts.clock,
    workers: [
      { group: opts.workerGroups.stock, topics: Subscriptions.stock },
      { group: opts.workerGroups.payment, topics: Subscriptions.payment },
    ],
    saga: { group: opts.group, topics: Subscriptions.order },
    ...opts.businessClock,
  });
  const sweeper = createSweeper({ ...opts, host, businessClock });
  const retention = createEffectRetention(opts);
  const subscription = await opts.broker.subscribe({
    group: opts.group,
    topics: Subscriptions.order,
    handler: dispatch(host.inbox, opts),
  });
  if (opts.autoSweep !== false) {
    sweeper.start(opts.sweepIntervalMs);
    retention.start(opts.sweepIntervalMs);
  }
  return {
    host,
    sweeper,
    retention,
    async close() {
      await sweeper.stop();
      await retention.stop();
      await subscription.close();
      host.detach();
    },
  };
}
