/**
 * What a chaos run measured, from the load generator's per-order trace (start offset and
 * latency of every ended order) and the fault's times: orders in flight when it hit, the
 * p99 before it, and how long after it healed the p99 of newly started orders was normal.
 */
export interface TracedOrder {
  /** Epoch ms of the POST. */
  start: number;
  latencyMs: number;
  status: string;
}

export function parseTrace(csv: string, firstPostEpochMs: number): TracedOrder[] {
  return csv
    .split('\n')
    .slice(1)
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [, startMs, latencyMs, status] = line.split(',');
      return { start: firstPostEpochMs + Number(startMs), latencyMs: Number(latencyMs), status: status ?? '' };
    });
}

export function p99(latencies: number[]): number {
  if (latencies.length === 0) return 0;
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

export const inFlightAt = (orders: readonly TracedOrder[], t: number): number =>
  orders.filter((o) => o.start <= t && t < o.start + o.latencyMs).length;

/** How far back from the hit the run's normal is taken (the first seconds warm up JITs and pools). */
const NORMAL_WINDOW_MS = 8_000;

/** p99 of the orders placed in the seconds before `t` that ended before it: the run's normal. */
export const p99Before = (orders: readonly TracedOrder[], t: number): number =>
  p99(orders.filter((o) => o.start >= t - NORMAL_WINDOW_MS && o.start + o.latencyMs < t).map((o) => o.latencyMs));

/** A second's p99 counts as normal up to twice the normal p99, and never below this. */
const NORMAL_FLOOR_MS = 100;
const BUCKET_MS = 1_000;
/** Seconds with fewer orders than this say little about a p99 and are skipped. */
const MIN_BUCKET = 5;

/**
 * Seconds from `healedAt` until every later second's orders (by POST time; from the
 * orders in flight when it hit on) have a p99 within normal; 0 when it never left normal; null when it never came back.
 */
export function recoverySec(orders: readonly TracedOrder[], hitAt: number, healedAt: number, normalP99: number): number | null {
  const limit = Math.max(2 * normalP99, NORMAL_FLOOR_MS);
  const buckets = new Map<number, number[]>();
  for (const o of orders) {
    // Orders that ended before the fault saw none of it; those in flight when it hit did.
    if (o.start + o.latencyMs < hitAt) continue;
    const b = Math.floor((o.start - hitAt) / BUCKET_MS);
    const list = buckets.get(b) ?? [];
    list.push(o.latencyMs);
    buckets.set(b, list);
  }
  const keys = [...buckets.keys()].filter((b) => buckets.get(b)!.length >= MIN_BUCKET).sort((a, b) => a - b);
  if (keys.length === 0) return 0;
  let lastBad = -1;
  for (const b of keys) if (p99(buckets.get(b)!) > limit) lastBad = b;
  if (lastBad === -1) return 0;
  if (lastBad === keys[keys.length - 1]) return null;
  const backAt = hitAt + (lastBad + 1) * BUCKET_MS;
  return Math.max(0, Math.round((backAt - healedAt) / 100) / 10);
}
