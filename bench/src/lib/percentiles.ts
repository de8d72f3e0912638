/**
 * Latency samples and their percentiles. We keep every sample (a float in ms) instead of
 * autocannon's histogram: its latency histogram has a 1 ms resolution, and with a rate
 * limit set it adds coordinated-omission corrections at a 1 ms interval, both too coarse
 * for sub-millisecond round trips.
 */

/** A growable list of latency samples in milliseconds. */
export class Samples {
  #data = new Float64Array(1 << 16);
  #n = 0;

  add(ms: number): void {
    if (this.#n === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = ms;
  }

  addAll(other: Samples): void {
    for (const v of other.values()) this.add(v);
  }

  get count(): number {
    return this.#n;
  }

  values(): Float64Array {
    return this.#data.subarray(0, this.#n);
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile (`q` in 0..100) of sorted values. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** The upper median of a few repeated measurements (0 when there are none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function summarize(samples: Samples): LatencySummary {
  const sorted = Float64Array.from(samples.values()).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: round3(sorted.length ? sum / sorted.length : Number.NaN),
    p50: round3(percentile(sorted, 50)),
    p90: round3(percentile(sorted, 90)),
    p99: round3(percentile(sorted, 99)),
    p999: round3(percentile(sorted, 99.9)),
    max: round3(sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN),
  };
}
