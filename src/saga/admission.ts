/**
 * Admission control (rule `shed-at-the-door`, docs/architecture.md): how many orders may be in flight before new ones are
 * refused. Pure: the caller feeds what the store counted and the time, so tests move time
 * instead of waiting.
 *
 * The limit follows Little's law: in flight = completion rate x time in the system. Holding
 * in flight at capacity x targetLatency keeps the mean time in the system near
 * targetLatency on whatever machine this runs; a constant would be right on one machine
 * only. Capacity is the best completion rate over a sliding window seen in the last
 * `memoryMs`: a worker restarting stops completions for seconds without shrinking what
 * the system can do, so the door does not slam on a stall the queues will absorb. MAX_IN_FLIGHT caps it, and a floor lets an idle system start (no
 * completions yet means no rate to go by) and grow from there.
 */

export interface AdmissionPolicy {
  /** Hard cap; 0 turns admission control off. */
  maxInFlight: number;
  /** Mean time in the system the limit aims at (a fraction of the step timeout). */
  targetLatencyMs: number;
  /** The limit never goes below this (nor above maxInFlight). */
  floor: number;
  /** Completion rate is measured over this much recent time. */
  windowMs: number;
  /** The best rate measured in this much recent time counts as the capacity. */
  memoryMs: number;
  /** Retry-After never says more than this. */
  maxRetryAfterSec: number;
}

/** What the store counted, system-wide: orders not terminal, and terminal orders ever. */
export interface Observed {
  inFlight: number;
  terminal: number;
}

export type Verdict = { admitted: true } | { admitted: false; retryAfterSec: number; limit: number; inFlight: number };

/**
 * Mean latency aimed at: a tenth of the step timeout. Under 3x overload on a 2-core machine
 * the p99 was measured at 2.4x what a quarter aimed at (17.8 s with a 30 s step timeout):
 * the best 5-second completion rate overstates what the saga sustains while the api takes
 * 3x capacity worth of requests on the same cores, and admitted orders are not served in
 * order. A tenth keeps that p99 under half the step timeout with room, and the limit it
 * gives (capacity x 3 s) is still far above the in flight that saturates the saga
 * (256 measure its capacity), so throughput does not pay for it.
 */
export const targetLatencyMs = (stepTimeoutMs: number): number => stepTimeoutMs / 10;

/** An idle system may take this many at once before any completion rate is known. */
export const ADMISSION_FLOOR = 500;

export function admissionPolicy(maxInFlight: number, stepTimeoutMs: number): AdmissionPolicy {
  return {
    maxInFlight,
    targetLatencyMs: targetLatencyMs(stepTimeoutMs),
    floor: ADMISSION_FLOOR,
    windowMs: 5_000,
    memoryMs: 60_000,
    maxRetryAfterSec: 30,
  };
}

export class AdmissionController {
  /** Terminal totals seen, oldest first; one sample at or before the window's start is kept. */
  private samples: { at: number; terminal: number }[] = [];
  /** Completion rates measured at each observation, oldest first, for memoryMs. */
  private rates: { at: number; rate: number }[] = [];
  private counted = 0;
  /** Admissions of this process (less those not created), a running total. */
  private reserved = 0;
  /** `reserved` when the store was asked for the counts last seen. */
  private mark = 0;

  constructor(readonly policy: AdmissionPolicy) {}

  get enabled(): boolean {
    return this.policy.maxInFlight > 0;
  }

  /** Call when asking the store; hand the result to observe() with it. */
  beginRefresh(): number {
    return this.reserved;
  }

  /** The store's counts, asked for at `mark`: admissions since then may not be in them yet. */
  observe(now: number, observed: Observed, mark: number): void {
    this.counted = observed.inFlight;
    this.mark = mark;
    const last = this.samples[this.samples.length - 1];
    // Running totals only grow; a drop means the counts were reset, so start over.
    if (last && (observed.terminal < last.terminal || now < last.at)) this.samples = [];
    this.samples.push({ at: now, terminal: observed.terminal });
    const start = now - this.policy.windowMs;
    while (this.samples.length > 1 && this.samples[1]!.at <= start) this.samples.shift();
    if (this.rates.length > 0 && now < this.rates[this.rates.length - 1]!.at) this.rates = [];
    this.rates.push({ at: now, rate: this.completionRate });
    while (this.rates.length > 1 && this.rates[0]!.at <= now - this.policy.memoryMs) this.rates.shift();
  }

  /** The best completion rate measured within memoryMs: what the system has shown it can do. */
  get capacity(): number {
    let best = 0;
    for (const r of this.rates) if (r.rate > best) best = r.rate;
    return best;
  }

  /** In flight as far as this process knows: the store's count plus what it admitted since. */
  get inFlight(): number {
    return this.counted + this.reserved - this.mark;
  }

  /** Terminal orders per second over the window; 0 until two samples span some time. */
  get completionRate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return ((last.terminal - first.terminal) * 1000) / (last.at - first.at);
  }

  get limit(): number {
    const { maxInFlight, floor, targetLatencyMs } = this.policy;
    if (maxInFlight === 0) return Number.POSITIVE_INFINITY;
    const followed = Math.floor((this.capacity * targetLatencyMs) / 1000);
    return Math.min(maxInFlight, Math.max(floor, followed));
  }

  /** Admits one order (counting it in flight at once) or says when to come back. */
  admit(): Verdict {
    if (!this.enabled) return { admitted: true };
    const { limit, inFlight } = this;
    if (inFlight < limit) {
      this.reserved++;
      return { admitted: true };
    }
    return { admitted: false, retryAfterSec: this.retryAfterSec(inFlight - limit + 1), limit, inFlight };
  }

  /** An admitted order that was not created after all (a repeat, a failed write). */
  release(): void {
    if (this.enabled) this.reserved--;
  }

  /**
   * Seconds until `excess` orders drain at the observed rate. With no rate yet, the time
   * admitted work is meant to take: a guess, but one that lets a burst on an idle system
   * come back soon instead of at the cap.
   */
  private retryAfterSec(excess: number): number {
    const rate = this.capacity;
    const seconds = rate > 0 ? excess / rate : this.policy.targetLatencyMs / 1000;
    return Math.min(this.policy.maxRetryAfterSec, Math.max(1, Math.ceil(seconds)));
  }
}
