/**
 * Starts the retention clock of finished orders' effect records (rule `idempotent-effects`, docs/architecture.md). The
 * store writes an entry to its retention index in the same atomic commit that makes an
 * order terminal; this loop, run by the order role beside the deadline sweeper, hands
 * those entries to Store.retainEffects, which leases each one and removes it only once
 * every record of the order expires from the terminal time. So nothing is lost when a
 * process dies between the two steps: at worst a record's clock is set late, never early.
 */
import { periodic } from './periodic.ts';
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

  /** Retains every entry due now; returns how many it handled. */
  async function tick(): Promise<number> {
    let done = 0;
    for (;;) {
      const handled = await opts.store.retainEffects(opts.clock.now(), batch, opts.leaseMs);
      done += handled;
      if (handled < batch) return done;
    }
  }

  const every = periodic(tick, (err: unknown) => {
    // The entries stay in the index: the next tick (or another process) takes them.
    opts.logger.warn({ code: errorCode(err), err }, 'effect retention failed; next tick retries');
  });
  return { tick, start: every.start, stop: every.stop };
}

export type EffectRetention = ReturnType<typeof createEffectRetention>;
