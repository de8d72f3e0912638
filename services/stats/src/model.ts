/**
 * The HAProxy side of the in-memory model: the latest row of every node, rates from counter
 * deltas, and per-cluster rolling windows of frontends and backends (merged across nodes).
 *
 * Counter resets: a new worker PID (reload) or a counter lower than before (`clear
 * counters`) means the counter restarted from zero, so the delta is the new value itself —
 * never negative, never the old total again. Deltas across a gap longer than 3 sampling
 * periods are not put into windows (they would pile up in one bucket as a spike); rates
 * over such a gap are still averaged over the real elapsed time.
 */
import { HAPROXY_COL, type HaproxyInfo, type HaproxySample, type HaproxyStatRow } from "@edgeplane/proto";
import { METRICS, Mx, Ring } from "./window.ts";

/** Rates per second of a row, in `Mx` order for the first 11 (count) metrics. */
export const RATE_COUNT = 11;

/** The counter column feeding each count metric (index = Mx). */
const COUNTER_COLS: readonly (readonly number[])[] = [
  [HAPROXY_COL.stot],
  [HAPROXY_COL.req_tot],
  [HAPROXY_COL.bin],
  [HAPROXY_COL.bout],
  [HAPROXY_COL.hrsp_1xx],
  [HAPROXY_COL.hrsp_2xx],
  [HAPROXY_COL.hrsp_3xx],
  [HAPROXY_COL.hrsp_4xx],
  [HAPROXY_COL.hrsp_5xx],
  [HAPROXY_COL.hrsp_other],
  [HAPROXY_COL.ereq, HAPROXY_COL.econ, HAPROXY_COL.eresp],
];
/** Every counter column (reset-aware). */
const COUNTER_SET = new Set<number>(
  [
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "chkfail",
    "chkdown",
    "downtime",
    "lbtot",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
    "conn_tot",
    "eint",
  ].map((c) => HAPROXY_COL[c as keyof typeof HAPROXY_COL]),
);
export const isCounterColumn = (i: number) => COUNTER_SET.has(i);

export interface RowState {
  t: 0 | 1 | 2;
  px: string;
  sv: string;
  st: string;
  ck: string | null;
  /** Latest raw values (NaN = empty cell). */
  c: Float64Array;
  /** Rates per second at the latest sample (RATE_COUNT values). */
  rates: Float32Array;
  ts: number;
}

export interface NodeState {
  cluster: string;
  node: string;
  ts: number;
  intervalMs: number;
  pid: number;
  startTimeS: number;
  info: HaproxyInfo;
  reloads: number;
  rows: Map<string, RowState>;
  /** `ts` of the last sweep of rows that disappeared. */
  sweptTs: number;
}

export interface ClusterWindows {
  /** Frontend/backend rings, key `<t>\u0001<proxy>`. */
  rings: Map<string, Ring>;
  /** Bucket of the first sample this instance saw for the cluster (earlier buckets are partial). */
  firstBucket: number;
}

export interface ModelOptions {
  stepMs: number;
  windowBuckets: number;
}

export const rowKey = (t: number, px: string, sv: string) => `${t}\u0001${px}\u0001${sv}`;
export const ringKey = (t: number, px: string) => `${t}\u0001${px}`;

export class HaproxyModel {
  readonly opts: ModelOptions;
  readonly nodes = new Map<string, NodeState>(); // `<cluster>\u0001<node>`
  readonly windows = new Map<string, ClusterWindows>();
  samples = 0;
  constructor(opts: ModelOptions) {
    this.opts = opts;
  }

  bucketOf(ts: number): number {
    return Math.floor(ts / this.opts.stepMs);
  }

  clusterWindows(cluster: string, bucket: number): ClusterWindows {
    let w = this.windows.get(cluster);
    if (!w) {
      w = { rings: new Map(), firstBucket: bucket };
      this.windows.set(cluster, w);
    }
    return w;
  }

  /** Nodes of a cluster. */
  nodesOf(cluster: string): NodeState[] {
    const out: NodeState[] = [];
    for (const n of this.nodes.values()) if (n.cluster === cluster) out.push(n);
    return out.sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  clusters(): string[] {
    return [...new Set([...this.nodes.values()].map((n) => n.cluster))].sort();
  }

  isStale(n: NodeState, now = Date.now()): boolean {
    return now - n.ts > 3 * n.intervalMs + 1000;
  }

  /** Ingest one (validated) sample message. */
  ingest(s: HaproxySample): void {
    this.samples++;
    const nk = `${s.cluster}\u0001${s.node}`;
    let n = this.nodes.get(nk);
    const bucket = this.bucketOf(s.ts);
    let reset = false;
    let first = false;
    if (!n) {
      first = true;
      n = {
        cluster: s.cluster,
        node: s.node,
        ts: s.ts,
        intervalMs: s.interval_ms,
        pid: s.info.pid,
        startTimeS: s.info.start_time_s,
        info: s.info,
        reloads: 0,
        rows: new Map(),
        sweptTs: s.ts,
      };
      this.nodes.set(nk, n);
    } else if (s.ts < n.ts) {
      return; // out of order: older than what we have
    } else if (s.info.pid !== n.pid || s.info.start_time_s !== n.startTimeS) {
      reset = true;
      n.reloads++;
      n.pid = s.info.pid;
      n.startTimeS = s.info.start_time_s;
    }
    n.ts = s.ts;
    n.intervalMs = s.interval_ms;
    n.info = s.info;
    const win = this.clusterWindows(s.cluster, bucket);
    const colIdx = s.columns.map((c) => HAPROXY_COL[c]);
    const ncols = this.columnCount;
    const step = this.opts.stepMs;
    const gapMs = 3 * s.interval_ms + 1000;

    for (const r of s.rows) {
      const key = rowKey(r.t, r.px, r.sv);
      let row = n.rows.get(key);
      const fresh = !row;
      if (!row) {
        row = {
          t: r.t,
          px: r.px,
          sv: r.sv,
          st: r.st,
          ck: r.ck,
          c: new Float64Array(ncols).fill(Number.NaN),
          rates: new Float32Array(RATE_COUNT),
          ts: 0,
        };
        n.rows.set(key, row);
      }
      if (row.ts === s.ts) continue; // duplicate delivery
      const dtMs = row.ts > 0 ? s.ts - row.ts : 0;
      const prev = row.c;
      const cur = new Float64Array(ncols).fill(Number.NaN);
      for (let i = 0; i < colIdx.length; i++) {
        const v = r.c[i];
        const ci = colIdx[i] as number;
        if (v !== null && v !== undefined) cur[ci] = v;
      }
      // A row that appears on a known node after the worker started (new backend, reload)
      // counted everything since then: its first values are deltas.
      const countFromZero = fresh && !first && n.startTimeS * 1000 >= s.ts - gapMs;
      const counting = dtMs > 0 || countFromZero;
      const toWindow = counting && (dtMs === 0 ? true : dtMs <= gapMs) && r.t !== 2;
      let ring: Ring | undefined;
      let off = -1;
      if (toWindow) {
        const rk = ringKey(r.t, r.px);
        ring = win.rings.get(rk);
        if (!ring) {
          ring = new Ring(this.opts.windowBuckets);
          win.rings.set(rk, ring);
        }
        off = ring.slot(bucket);
      }
      for (let m = 0; m < RATE_COUNT; m++) {
        let d = 0;
        for (const ci of COUNTER_COLS[m] as readonly number[]) {
          const c = cur[ci] as number;
          if (Number.isNaN(c)) continue;
          const p = prev[ci] as number;
          if (fresh) d += countFromZero ? c : 0;
          else if (reset || Number.isNaN(p) || c < p) d += c;
          else d += c - p;
        }
        row.rates[m] = dtMs > 0 ? (d * 1000) / dtMs : 0;
        if (ring && off >= 0) (ring.data[off + m] as number) += d;
      }
      if (ring && off >= 0) {
        const dt = Math.min(dtMs > 0 ? dtMs : s.interval_ms, gapMs);
        const scur = cur[HAPROXY_COL.scur] as number;
        const qcur = cur[HAPROXY_COL.qcur] as number;
        const d = ring.data;
        if (!Number.isNaN(scur)) d[off + Mx.scur] = (d[off + Mx.scur] as number) + (scur * dt) / step;
        if (!Number.isNaN(qcur)) d[off + Mx.qcur] = (d[off + Mx.qcur] as number) + (qcur * dt) / step;
        const reqD = (row.rates[Mx.req] as number) * (dtMs > 0 ? dtMs / 1000 : 0);
        const sessD = (row.rates[Mx.sess] as number) * (dtMs > 0 ? dtMs / 1000 : 0);
        const w = reqD > 0 ? reqD : sessD;
        const rt = cur[HAPROXY_COL.rtime] as number;
        const tt = cur[HAPROXY_COL.ttime] as number;
        if (w > 0 && !Number.isNaN(rt)) {
          d[off + Mx.rtw] = (d[off + Mx.rtw] as number) + rt * w;
          d[off + Mx.ttw] = (d[off + Mx.ttw] as number) + (Number.isNaN(tt) ? 0 : tt) * w;
          d[off + Mx.w] = (d[off + Mx.w] as number) + w;
        }
      }
      row.c = cur;
      row.st = r.st;
      row.ck = r.ck;
      row.ts = s.ts;
    }
    // Rows gone from the node (backend removed) are dropped once older than the gap.
    if (s.ts - n.sweptTs > gapMs) {
      for (const [k, r] of n.rows) if (s.ts - r.ts > gapMs) n.rows.delete(k);
      n.sweptTs = s.ts;
    }
  }

  get columnCount(): number {
    return Object.keys(HAPROXY_COL).length;
  }

  /** Drop nodes without samples for `maxAgeMs`. */
  expire(now: number, maxAgeMs: number): void {
    for (const [k, n] of this.nodes) if (now - n.ts > maxAgeMs) this.nodes.delete(k);
  }

  /**
   * Sum a cluster's rings over buckets [from, to] into `out` (`nb` × METRICS, bucket-major),
   * for rings whose key passes `filter`.
   */
  gather(
    cluster: string,
    from: number,
    to: number,
    filter: (t: number, px: string) => boolean,
  ): Float64Array {
    const nb = to - from + 1;
    const out = new Float64Array(nb * METRICS);
    const w = this.windows.get(cluster);
    if (!w) return out;
    for (const [k, ring] of w.rings) {
      const sep = k.indexOf("\u0001");
      if (!filter(Number(k.slice(0, sep)), k.slice(sep + 1))) continue;
      for (let b = from; b <= to; b++) {
        const off = ring.find(b);
        if (off < 0) continue;
        const o = (b - from) * METRICS;
        for (let m = 0; m < METRICS; m++)
          out[o + m] = (out[o + m] as number) + (ring.data[off + m] as number);
      }
    }
    return out;
  }
}

/** Raw values of a row as the `counters` record of the API. */
export function rowCounters(c: Float64Array): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, i] of Object.entries(HAPROXY_COL)) {
    const v = c[i] as number;
    out[name] = Number.isNaN(v) ? null : v;
  }
  return out;
}

export type { HaproxyStatRow };
