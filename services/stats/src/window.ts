/**
 * Rolling windows in typed arrays: one ring of `cap` buckets of `step` ms per series, each
 * bucket `METRICS` float32 values. A slot remembers which bucket it holds, so stale slots
 * are recognised (and reset) without sweeping. 1 h at 10 s × 16 metrics = 23 KB per series.
 */

/** Metric indexes of a bucket. Counters are deltas summed into the bucket. */
export const Mx = {
  sess: 0,
  req: 1,
  bin: 2,
  bout: 3,
  h1: 4,
  h2: 5,
  h3: 6,
  h4: 7,
  h5: 8,
  hother: 9,
  err: 10,
  /** Time-weighted sums: value × dt / step, so a bucket holds the average cluster total. */
  scur: 11,
  qcur: 12,
  /** rtime × weight, ttime × weight, and the weight (requests, else sessions). */
  rtw: 13,
  ttw: 14,
  w: 15,
} as const;
export const METRICS = 16;
/** Metrics that are plain counts (summed on rollup); the others are averages or weights. */
export const COUNT_METRICS = 11;

export class Ring {
  readonly cap: number;
  readonly width: number;
  readonly data: Float32Array;
  readonly stamp: Int32Array;
  constructor(cap: number, width = METRICS) {
    this.cap = cap;
    this.width = width;
    this.data = new Float32Array(cap * width);
    this.stamp = new Int32Array(cap).fill(-1);
  }
  /** Offset of a bucket's values, resetting a stale slot; -1 when the slot holds a newer bucket. */
  slot(bucket: number): number {
    const s = bucket % this.cap;
    const cur = this.stamp[s] as number;
    if (cur === bucket) return s * this.width;
    if (cur > bucket) return -1;
    this.stamp[s] = bucket;
    this.data.fill(0, s * this.width, (s + 1) * this.width);
    return s * this.width;
  }
  /** Offset of a bucket when the ring holds it, else -1 (read-only). */
  find(bucket: number): number {
    const s = bucket % this.cap;
    return this.stamp[s] === bucket ? s * this.width : -1;
  }
}
