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

  summary(): LatencySummary {
    const ms = (us: number) => (this.count === 0 ? 0 : Math.round(us) / 1_000);
    return {
      p50: ms(this.histogram.getValueAtPercentile(50)),
      p95: ms(this.histogram.getValueAtPercentile(95)),
      p99: ms(this.histogram.getValueAtPercentile(99)),
      max: ms(this.histogram.maxValue),
    };
  }
}
