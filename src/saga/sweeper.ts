/**
 * Deadlines don't wait for messages (rule `deadlines-are-data`, docs/architecture.md). The
 * sweeper leases due entries of the store's deadline index (bumping their score, never
 * removing them) and sends each a TIMEOUT through the host's compare-and-set path, so a
 * deadline fires once and a sweeper that dies mid-way only delays it by the lease.
 */
import { periodic } from './periodic.ts';
import type { Clock } from '../clock.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../ports/store.ts';
import type { BusinessClock } from './business-clock.ts';
import type { SagaHost } from './host.ts';

export interface SweeperOptions {
  store: Store;
  host: Pick<SagaHost, 'timeout'>;
  /** Deadlines wait while their answer may still sit in our queues; none: wall time. */
  businessClock?: BusinessClock;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** How long a claimed entry is ours before another sweeper may take it. */
  leaseMs: number;
  batch?: number;
}

export function createSweeper(opts: SweeperOptions) {
  const batch = opts.batch ?? 200;
  let heldLoggedAt = Number.NEGATIVE_INFINITY;

  /** Fires every entry due now; returns how many it fired. */
  async function tick(): Promise<number> {
    let fired = 0;
    // Without a fresh answer from the broker, the last one stands: deadlines wait rather than
    // fire on the strength of a queue we cannot see.
    await opts.businessClock?.refresh().catch((err: unknown) => {
      const now = opts.clock.now();
      if (now - heldLoggedAt < 5_000) return;
      heldLoggedAt = now;
      opts.logger.warn({ code: errorCode(err), err }, 'cannot read consumer positions; deadlines wait');
    });
    for (;;) {
      const now = opts.clock.now();
      const due = await opts.store.claimDue(now, batch, opts.leaseMs);
      await Promise.all(
        due.map((orderId) =>
          opts.host.timeout(orderId, now, opts.businessClock?.at(orderId, now) ?? now).then(
            () => opts.metrics.deadlinesFired.inc(),
            (err: unknown) =>
              opts.logger.warn({ orderId, code: errorCode(err), err }, 'deadline not handled; retried after the lease'),
          ),
        ),
      );
      fired += due.length;
      if (due.length < batch) return fired;
    }
  }

  const every = periodic(tick, (err: unknown) => {
    opts.logger.warn({ code: errorCode(err), err }, 'sweep failed; next tick retries');
  });
  return { tick, start: every.start, stop: every.stop };
}

export type Sweeper = ReturnType<typeof createSweeper>;
