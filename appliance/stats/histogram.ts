/**
 * Latency histograms of two kinds. `Histogram`: fixed bounds in seconds, cumulative over the
 * process's life, as Prometheus exposes them (`le` buckets, a sum and a count). The bins of
 * `binOf` and `percentile`: many narrow ones for percentiles over the sliding window
 * (window.ts keeps them in typed arrays), where bin k covers up to BASE_US * 2^(k/4) us: each
 * bin 19 % wider than the last, so a percentile read from its bin is within 10 % of the
 * truth, from 32 us to about 7 s (then the last bin).
 */

export const LATENCY_BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class Histogram {
  /** One count per bound, then +Inf. */
  readonly counts = new Float64Array(LATENCY_BOUNDS.length + 1);
  readonly bounds = LATENCY_BOUNDS;
  sum = 0;
  count = 0;

  observeUs(us: number): void {
    const s = us / 1e6;
    let i = 0;
    while (i < LATENCY_BOUNDS.length && s > LATENCY_BOUNDS[i]) i++;
    this.counts[i]++;
    this.sum += s;
    this.count++;
  }
}

export const BINS = 72;
const BASE_US = 32;

/** The bin of a latency in microseconds. */
export function binOf(us: number): number {
  if (us <= BASE_US) return 0;
  const k = Math.ceil(4 * Math.log2(us / BASE_US));
  return k < BINS ? k : BINS - 1;
}

/** A bin's middle (geometric), in milliseconds: what a percentile in it reads as. */
export function binMs(k: number): number {
  return (BASE_US * 2 ** ((k - 0.5) / 4)) / 1000;
}

/**
 * The p-th percentile (0 < p <= 1) of `bins[from .. from + BINS)` summed over `spans` spans
 * `stride` apart, in ms; -1 when they hold nothing.
 */
export function percentile(bins: Uint32Array, from: number, stride: number, spans: number, p: number): number {
  let total = 0;
  for (let s = 0; s < spans; s++) for (let k = 0; k < BINS; k++) total += bins[from + s * stride + k];
  if (total === 0) return -1;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (let k = 0; k < BINS; k++) {
    for (let s = 0; s < spans; s++) seen += bins[from + s * stride + k];
    if (seen >= rank) return binMs(k);
  }
  return binMs(BINS - 1);
}
