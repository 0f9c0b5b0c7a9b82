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

/**
 * Orders in flight at some moment between the fault's hit and its healing: placed before it
 * healed and not ended before it hit. The count at the instant of the hit is a handful at a
 * 40 ms p99 (and at times none), so whether a fault met orders at all is read from this.
 */
export const inFlightDuring = (orders: readonly TracedOrder[], hitAt: number, healedAt: number): number =>
  orders.filter((o) => o.start <= healedAt && hitAt < o.start + o.latencyMs).length;

/** How far back from the hit the run's normal is taken (the first seconds warm up JITs and pools). */
const NORMAL_WINDOW_MS = 8_000;

/** p99 of the orders placed in the seconds before `t` that ended before it: the run's normal. */
export const p99Before = (orders: readonly TracedOrder[], t: number): number =>
  p99(orders.filter((o) => o.start >= t - NORMAL_WINDOW_MS && o.start + o.latencyMs < t).map((o) => o.latencyMs));

/**
 * A window's p99 counts as normal up to twice the normal p99, or the normal p99 plus
 * 250 ms when that is more: with a 40 ms normal, one GC pause or log flush in a window
 * of 500 orders would otherwise read as a fault that has not healed.
 */
const NORMAL_SLACK_MS = 250;
/** p99 over windows of this many seconds of POSTs, sliding by one second: one slow order is not a trend. */
const WINDOW_S = 5;
/** Windows with fewer orders than this say little about a p99 and are skipped. */
const MIN_WINDOW = 20;

/**
 * Seconds from `healedAt` until the p99 of every later window of orders (by POST time;
 * from the orders in flight when it hit on) is within normal; 0 when it never left
 * normal; null when it never came back before the run ended.
 */
export function recoverySec(
  orders: readonly TracedOrder[],
  hitAt: number,
  healedAt: number,
  normalP99: number,
): number | null {
  const limit = Math.max(2 * normalP99, normalP99 + NORMAL_SLACK_MS);
  const seconds = new Map<number, number[]>();
  for (const o of orders) {
    // Orders that ended before the fault saw none of it; those in flight when it hit did.
    if (o.start + o.latencyMs < hitAt) continue;
    const s = Math.floor((o.start - hitAt) / 1000);
    const list = seconds.get(s) ?? [];
    list.push(o.latencyMs);
    seconds.set(s, list);
  }
  const keys = [...seconds.keys()].sort((a, b) => a - b);
  if (keys.length === 0) return 0;
  let lastBad: number | null = null;
  for (let s = keys[0]!; s <= keys[keys.length - 1]! - WINDOW_S + 1; s++) {
    const window: number[] = [];
    for (let k = s; k < s + WINDOW_S; k++) window.push(...(seconds.get(k) ?? []));
    // Back to normal from the start of the first window after the last slow one.
    if (window.length >= MIN_WINDOW && p99(window) > limit) lastBad = s + 1;
  }
  if (lastBad === null) return 0;
  // The last window of the run was still slow: it never came back while we watched.
  if (lastBad > keys[keys.length - 1]! - WINDOW_S + 1) return null;
  return Math.max(0, Math.round((hitAt + lastBad * 1000 - healedAt) / 100) / 10);
}
