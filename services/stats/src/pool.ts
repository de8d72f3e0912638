/**
 * The worker pool (piscina): GeoIP batches, top-N/percentiles over windows, history rollups.
 * Results come back as data; a failed task (`{ok:false, error}`) becomes a `PoolTaskError`
 * carrying the worker's `{name, message, code}` — never an exception object from the thread.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import type { Geo, GeoDb } from "./geoip.ts";
import {
  type PoolResult,
  type PoolTask,
  PRIVATE_RANGES,
  RANGE_NAMES,
  type WorkerError,
} from "./pool-types.ts";

/** Addresses per GeoIP task: big enough to amortise the hand-off, small enough to balance. */
export const GEOIP_TASK_MAX = 5_000;

export class PoolTaskError extends Error {
  readonly code: string;
  readonly workerName: string;
  constructor(e: WorkerError) {
    super(e.message);
    this.name = "PoolTaskError";
    this.code = e.code;
    this.workerName = e.name;
  }
}

type Ok<O extends string> = Extract<PoolResult, { ok: true; op: O }>;

export class StatsPool {
  readonly piscina: Piscina;
  constructor(threads = Math.max(1, Math.min(4, availableParallelism()))) {
    this.piscina = new Piscina({
      filename: new URL("./worker.ts", import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  async run<O extends PoolTask["op"]>(
    task: Extract<PoolTask, { op: O }>,
    transfer?: ArrayBuffer[],
  ): Promise<Ok<O>> {
    const r = (await this.piscina.run(task, transfer ? { transferList: transfer } : {})) as PoolResult;
    if (!r.ok) throw new PoolTaskError(r.error);
    return r as Ok<O>;
  }

  /**
   * Enrich addresses, packed (see `GeoDb.lookupPacked`). The addresses cross as one string
   * and the results come back as transferred typed arrays (no per-address objects either
   * way). A large batch is cut into tasks of at most `GEOIP_TASK_MAX` addresses, so every
   * thread gets a share and a thread slowed by other load does not hold the whole batch.
   */
  async geoipPacked(db: GeoDb, ips: readonly string[]): Promise<Ok<"geoip">> {
    const info = db.info;
    if (!info)
      throw new PoolTaskError({
        name: "GeoIpError",
        message: "no GeoIP database loaded",
        code: "geoip_unavailable",
      });
    const one = (part: readonly string[]) =>
      this.run({
        op: "geoip",
        path: info.path,
        asnPath: db.asnPath,
        version: info.version,
        ips: part.join("\n"),
      });
    if (ips.length <= GEOIP_TASK_MAX) return one(ips);
    const parts: Array<readonly string[]> = [];
    for (let i = 0; i < ips.length; i += GEOIP_TASK_MAX) parts.push(ips.slice(i, i + GEOIP_TASK_MAX));
    const res = await Promise.all(parts.map(one));
    const n = ips.length;
    const out: Ok<"geoip"> = {
      ok: true,
      op: "geoip",
      labels: new Uint8Array(n),
      countries: new Uint16Array(n),
      asns: new Int32Array(n),
      orgs: db.asnPath ? [] : null,
    };
    let at = 0;
    for (const r of res) {
      out.labels.set(r.labels, at);
      out.countries.set(r.countries, at);
      out.asns.set(r.asns, at);
      if (out.orgs) for (const o of r.orgs ?? new Array(r.labels.length).fill(null)) out.orgs.push(o);
      at += r.labels.length;
    }
    return out;
  }

  /** Enrich addresses in one task (batches of any size). */
  async geoip(db: GeoDb, ips: readonly string[]): Promise<Geo[]> {
    if (ips.length === 0) return [];
    return decodeGeo(await this.geoipPacked(db, ips));
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}

export function decodeGeo(r: Ok<"geoip">): Geo[] {
  const out: Geo[] = new Array(r.labels.length);
  for (let i = 0; i < r.labels.length; i++) {
    const code = r.labels[i] as number;
    const range = code === 255 ? "invalid" : (RANGE_NAMES[code] ?? "invalid");
    const c = r.countries[i] as number;
    const asn = r.asns[i] as number;
    out[i] = {
      label: range === "public" ? "public" : PRIVATE_RANGES.has(range) ? "private" : "reserved",
      range: range === "public" ? null : range,
      country: c ? String.fromCharCode(c >> 8, c & 0xff) : null,
      asn: asn >= 0 ? asn : null,
      as_org: r.orgs?.[i] ?? null,
    };
  }
  return out;
}
