/** Task and result shapes of the stats worker pool (plain data both ways). */

export type PoolTask =
  | { op: "geoip"; path: string; asnPath: string | null; version: string; ips: string }
  | { op: "topn"; n: number; buckets: number; limit: number; data: Float32Array }
  | { op: "rollup"; n: number; k: number; slots: number; data: Float32Array };

export interface WorkerError {
  name: string;
  message: string;
  code: string;
}

export type PoolResult =
  | {
      ok: true;
      op: "geoip";
      labels: Uint8Array;
      countries: Uint16Array;
      asns: Int32Array;
      orgs: Array<string | null> | null;
    }
  | {
      ok: true;
      op: "topn";
      rows: Array<{ i: number; rt: number; tt: number; req: number; p50: number | null; p95: number | null }>;
    }
  | { ok: true; op: "rollup"; data: Float32Array }
  | { ok: false; error: WorkerError };

/** Range names ↔ compact codes for GeoIP results (0 = public, 255 = invalid). */
export const RANGE_NAMES = [
  "public",
  "loopback",
  "rfc1918",
  "ula",
  "link-local",
  "cgnat",
  "unspecified",
  "multicast",
  "documentation",
  "benchmarking",
  "ietf-protocol",
  "future-use",
  "discard-only",
] as const;
export const LABEL_CODES = new Map<string, number>(RANGE_NAMES.map((r, i) => [r, i]));
export const PRIVATE_RANGES = new Set(["loopback", "rfc1918", "ula", "link-local", "cgnat"]);
