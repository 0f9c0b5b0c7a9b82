/**
 * Starts the retention clock of finished orders' effect records (rule `idempotent-effects`, docs/architecture.md). The
 * store writes an entry to its retention index in the same atomic commit that makes an
 * order terminal; this loop, run by the order role beside the deadline sweeper, hands
 * those entries to Store.retainEffects, which leases each one and removes it only once
 * every record of the order expires from the terminal time. So nothing is lost when a
 * process dies between the two steps: at worst a record's clock is set late, never early.
 */
import type { Clock } from '../clock.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../ports/store.ts';

export interface EffectRetentionOptions {
  store: Pick<Store, 'retainEffects'>;
  clock: Clock;
  logger: Logger;
  /** How long a claimed entry is ours before another order worker may take it. */
  leaseMs: number;
  batch?: number;
}

export function createEffectRetention(opts: EffectRetentionOptions) {
  const batch = opts.batch ?? 200;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;

  /** Retains every entry due now; returns how many it handled. */
  async function tick(): Promise<number> {
    let done = 0;
    for (;;) {
      const handled = await opts.store.retainEffects(opts.clock.now(), batch, opts.leaseMs);
      done += handled;
      if (handled < batch) return done;
    }
  }

  return {
    tick,
    start(intervalMs: number): void {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        running = tick()
          .catch((err: unknown) => {
            // The entries stay in the index: the next tick (or another process) takes them.
            opts.logger.warn({ code: errorCode(err), err }, 'effect retention failed; next tick retries');
            return 0;
          })
          .finally(() => {
            running = null;
          });
      }, intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

export type EffectRetention = ReturnType<typeof createEffectRetention>;
