/**
 * The run's one-line JSON report (docs/api.md, "Load generator report"): the contract's
 * fields first, in its order, then the extras.
 */
import type { LatencySummary } from './latency.ts';

export interface Report {
  mode: 'in-process' | 'http';
  broker: string;
  /** Orders the run set out to place, shed ones included. */
  orders: number;
  completed: number;
  cancelled: number;
  rejected: number;
  /** Accepted, but not terminal by the deadline. */
  stuck: number;
  /** Refused by the api with 503 OVERLOADED (nothing recorded); not retried unless --retry-shed. */
  shed: number;
  /** From the first POST to the last terminal status. */
  elapsedMs: number;
  /** Accepted orders that reached a terminal status, per second of elapsedMs. */
  ordersPerSec: number;
  latencyMs: LatencySummary;
  invariants: string;
  /** Peak resident set of this process (in-process: generator and engine together). */
  rssMB: number;
  /** Highest V8 heap used seen during the run (sampled). */
  heapMB: number;
  /** Open loop: the rate POSTs were actually issued at. */
  offeredPerSec?: number;
  seed: number;
  // extras
  store: string;
  /** Orders that could not be placed at all (never accepted). */
  errors: number;
  concurrency?: number;
  rate?: number;
  /** Unmeasured orders placed before the run. */
  warmup?: number;
  /** REJECTED and CANCELLED orders by reason code. */
  reasons: Record<string, number>;
  /** Products and users whose final counter drifted from what the COMPLETED orders leave. */
  drift?: { lost: number; doubled: number };
  /** Epoch ms of the first POST (the trace's startMs are offsets from it). */
  firstPostEpochMs?: number;
  /**
   * From the first POST to the last accepted one: orders accepted and orders ended per
   * second. Whether the saga keeps finishing orders while the api takes them in (one
   * process serving both must not let intake starve the saga).
   */
  intake?: { ms: number; acceptedPerSec: number; endedPerSec: number };
}

const round = (n: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export const mb = (bytes: number): number => round(bytes / 1024 / 1024, 1);

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? round((count * 1000) / ms, 1) : 0;
}

export function formatReport(report: Report): string {
  return JSON.stringify(report);
}

/** Exit code of a run: 0 when the invariants hold and every order was placed and ended. */
export function exitCode(report: Report): 0 | 1 {
  return report.invariants === 'ok' && report.stuck === 0 && report.errors === 0 ? 0 : 1;
}
