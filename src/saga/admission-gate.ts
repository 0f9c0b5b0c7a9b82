/**
 * The admission controller fed from the store: in flight is known system-wide (the api may
 * run in another process than the saga, and there may be several apis), from
 * `store.statusCounts()`, which moves in the same atomic writes as the snapshots. The store
 * is read at most once per refresh interval, never per order: requests that find the view
 * stale wait together for one read, the others go by the cached view plus what this
 * process admitted since.
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../ports/store.ts';
import { OrderStatuses, TerminalStatuses } from '../schemas.ts';
import { AdmissionController, type AdmissionPolicy, type Observed, type Verdict } from './admission.ts';

export type Refusal = Extract<Verdict, { admitted: false }>;

export const ADMISSION_REFRESH_MS = 200;
/** Shedding is logged at most this often, with the count since the last line. */
const LOG_EVERY_MS = 1_000;

export interface AdmissionGate {
  /** Admits one new order (it counts as in flight at once) or says when to come back. */
  admit(): Promise<Verdict>;
  /** An admitted order that was not created after all (a repeat, a failed write). */
  release(): void;
  /** Counts (and now and then logs) an order refused for good: not a repeat of a recorded one. */
  shed(verdict: Refusal): void;
  /** What admission sees now (metrics, logs). */
  view(): { limit: number; inFlight: number; completionRate: number };
  close(): void;
}

export interface AdmissionGateOptions {
  store: Pick<Store, 'statusCounts'>;
  clock: Clock;
  policy: AdmissionPolicy;
  refreshMs?: number;
  metrics?: Metrics;
  logger?: Logger;
}

export function observed(counts: Awaited<ReturnType<Store['statusCounts']>>): Observed {
  let inFlight = 0;
  let terminal = 0;
  for (const status of OrderStatuses) {
    if (TerminalStatuses.has(status)) terminal += counts[status];
    else inFlight += counts[status];
  }
  return { inFlight, terminal };
}

export function createAdmissionGate(o: AdmissionGateOptions): AdmissionGate {
  const controller = new AdmissionController(o.policy);
  const refreshMs = o.refreshMs ?? ADMISSION_REFRESH_MS;
  let refreshedAt = Number.NEGATIVE_INFINITY;
  let refreshing: Promise<void> | null = null;
  let shedSinceLog = 0;
  let loggedAt = Number.NEGATIVE_INFINITY;

  const view = () => ({
    limit: controller.limit,
    inFlight: controller.inFlight,
    completionRate: controller.completionRate,
  });
  const untrack = controller.enabled && o.metrics ? o.metrics.trackAdmission(view) : () => {};

  function refresh(): Promise<void> {
    refreshing ??= (async () => {
      const mark = controller.beginRefresh();
      try {
        const counts = await o.store.statusCounts();
        controller.observe(o.clock.now(), observed(counts), mark);
      } catch (err) {
        // Keep the last view (none: admit up to the floor); the order's own write will
        // meet the same store and answer for it.
        o.logger?.debug({ err }, 'admission: status counts unavailable');
      } finally {
        refreshedAt = o.clock.now();
        refreshing = null;
      }
    })();
    return refreshing;
  }

  function shed(verdict: Refusal): void {
    o.metrics?.ordersShed.inc();
    shedSinceLog++;
    const now = o.clock.now();
    if (now - loggedAt < LOG_EVERY_MS) return;
    o.logger?.warn(
      {
        shed: shedSinceLog,
        limit: verdict.limit,
        inFlight: verdict.inFlight,
        completionPerSec: Math.round(controller.completionRate),
        retryAfterSec: verdict.retryAfterSec,
      },
      'admission: shedding load, new orders refused with 503 OVERLOADED',
    );
    loggedAt = now;
    shedSinceLog = 0;
  }

  return {
    async admit() {
      if (!controller.enabled) return { admitted: true };
      if (o.clock.now() - refreshedAt >= refreshMs) await refresh();
      return controller.admit();
    },
    release: () => controller.release(),
    shed,
    view,
    close: untrack,
  };
}
