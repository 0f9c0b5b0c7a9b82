/** Per-order latency in an HDR histogram: recorded in microseconds, reported in ms. */
import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class Latency {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000, // one hour, in µs
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  /** Records one order: `ms` from its POST to its terminal status. */
  record(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1_000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /**
   * A percentile is read as the top of its bucket (3 significant digits), which can lie
   * above the largest value recorded; no order took longer than the max, so none is
   * reported above it.
   */
  summary(): LatencySummary {
    const ms = (us: number) => (this.count === 0 ? 0 : Math.round(us) / 1_000);
    const max = this.histogram.maxValue;
    const at = (percentile: number) => ms(Math.min(this.histogram.getValueAtPercentile(percentile), max));
    return { p50: at(50), p95: at(95), p99: at(99), max: ms(max) };
  }
}
