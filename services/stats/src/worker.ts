/**
 * The piscina worker: GeoIP lookups, top-N + percentile aggregation over windows, and history
 * rollups. Every task answers `{ok: true, ...}` or `{ok: false, error: {name, message, code}}`:
 * errors cross the thread boundary as data, never as thrown objects.
 */
import { Piscina } from "piscina";
import { GeoDb } from "./geoip.ts";
import { LABEL_CODES, type PoolResult, type PoolTask } from "./pool-types.ts";
import { METRICS, Mx } from "./window.ts";

let db: { version: string; geo: GeoDb } | null = null;

async function geoFor(path: string, asnPath: string | null, version: string): Promise<GeoDb> {
  if (db?.version === version) return db.geo;
  const geo = new GeoDb({ path, asnPath: asnPath ?? undefined });
  await geo.load();
  db = { version, geo };
  return geo;
}

/**
 * A result whose typed arrays are transferred to the main thread instead of cloned: piscina
 * moves the buffers of a top-level "transferable" (value + transfer list) it is handed.
 */
function moved(result: PoolResult, buffers: ArrayBufferLike[]): PoolResult {
  return Piscina.move({
    [Piscina.transferableSymbol]: buffers,
    [Piscina.valueSymbol]: result,
  } as unknown as ArrayBuffer) as unknown as PoolResult;
}

export default async function run(task: PoolTask): Promise<PoolResult> {
  try {
    switch (task.op) {
      case "geoip": {
        const geo = await geoFor(task.path, task.asnPath, task.version);
        const ips = task.ips.split("\n");
        const n = ips.length;
        const labels = new Uint8Array(n);
        const countries = new Uint16Array(n);
        const asns = new Int32Array(n).fill(-1);
        const orgs: Array<string | null> | null = task.asnPath ? new Array(n).fill(null) : null;
        geo.lookupPacked(ips, LABEL_CODES, { labels, countries, asns, orgs });
        // The packed arrays are transferred, not cloned (Piscina.move marks their buffers).
        return moved({ ok: true, op: "geoip", labels, countries, asns, orgs }, [
          labels.buffer,
          countries.buffer,
          asns.buffer,
        ]);
      }
      case "topn": {
        // series: n × buckets × METRICS (only rtw, ttw, w, req used)
        const { n, buckets, limit } = task;
        const d = task.data;
        const rows: Array<{
          i: number;
          rt: number;
          tt: number;
          req: number;
          p50: number | null;
          p95: number | null;
        }> = [];
        const per: number[] = [];
        for (let i = 0; i < n; i++) {
          let rtw = 0;
          let ttw = 0;
          let w = 0;
          let req = 0;
          per.length = 0;
          for (let b = 0; b < buckets; b++) {
            const o = (i * buckets + b) * METRICS;
            const bw = d[o + Mx.w] as number;
            rtw += d[o + Mx.rtw] as number;
            ttw += d[o + Mx.ttw] as number;
            w += bw;
            req += d[o + Mx.req] as number;
            if (bw > 0) per.push((d[o + Mx.rtw] as number) / bw);
          }
          if (w <= 0) continue;
          per.sort((a, b) => a - b);
          const pct = (p: number) =>
            per.length ? (per[Math.min(per.length - 1, Math.floor(p * per.length))] as number) : null;
          rows.push({ i, rt: rtw / w, tt: ttw / w, req, p50: pct(0.5), p95: pct(0.95) });
        }
        rows.sort((a, b) => b.rt - a.rt);
        return { ok: true, op: "topn", rows: rows.slice(0, limit) };
      }
      case "rollup": {
        // data: n × k × METRICS → n × METRICS (counts and weights summed, gauges averaged over k)
        const { n, k } = task;
        const out = new Float32Array(n * METRICS);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < k; j++) {
            const o = (i * k + j) * METRICS;
            for (let m = 0; m < METRICS; m++)
              out[i * METRICS + m] = (out[i * METRICS + m] as number) + (task.data[o + m] as number);
          }
          out[i * METRICS + Mx.scur] = (out[i * METRICS + Mx.scur] as number) / task.slots;
          out[i * METRICS + Mx.qcur] = (out[i * METRICS + Mx.qcur] as number) / task.slots;
        }
        return moved({ ok: true, op: "rollup", data: out }, [out.buffer]);
      }
      default:
        return { ok: false, error: { name: "TaskError", message: `unknown op`, code: "bad_task" } };
    }
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return {
      ok: false,
      error: {
        name: e.name ?? "Error",
        message: e.message ?? String(err),
        code: typeof e.code === "string" ? e.code : "worker_error",
      },
    };
  }
}
