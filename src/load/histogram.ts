/**
 * Latency histograms of the load generator: HDR histograms of microseconds (3 significant
 * digits), which the testnet merges across nodes exactly, and their summary in milliseconds.
 */
import { build, type Histogram } from 'hdr-histogram-js';

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Microsecond latency histograms, mergeable across processes. */
export function newHistogram(): Histogram {
  return build({ numberOfSignificantValueDigits: 3, useWebAssembly: false, autoResize: true });
}

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
  };
}
