/**
 * History in PostgreSQL: completed 10 s buckets of every frontend, backend and the cluster
 * total (`stats_haproxy_10s`, kept `EP_STATS_RETENTION_10S_H`), rolled up per minute in the
 * worker pool (`stats_haproxy_1m`, kept `EP_STATS_RETENTION_1M_D`). Only the lease holder
 * writes (`HistoryWriter.tick`); every write is `ON CONFLICT DO NOTHING` on the primary key,
 * so a writer that overlaps another (or repeats itself after a takeover) adds no duplicate.
 * After a takeover the new writer continues from the newest bucket in the table.
 */
import pg from "pg";
import type { HaproxyModel } from "./model.ts";
import type { StatsPool } from "./pool.ts";
import { METRICS } from "./window.ts";

export const KIND_TOTAL = 9;
export type Table = "stats_haproxy_10s" | "stats_haproxy_1m";
const VALUE_COLS = [
  "sess",
  "req",
  "bytes_in",
  "bytes_out",
  "h1xx",
  "h2xx",
  "h3xx",
  "h4xx",
  "h5xx",
  "hother",
  "errors",
  "scur",
  "qcur",
  "rtime_w",
  "ttime_w",
  "weight",
] as const;

/** Numbers per row of `HistoryStore.series`: the bucket start (ms), then the values. */
export const SERIES_STRIDE = 1 + VALUE_COLS.length;

/** Rows younger than this may still be inserted (one INSERT per tick); never cached. */
export const SETTLE_MS = 5 * 60_000;
/**
 * A cache entry is rebuilt from scratch after this long, which bounds how long a row written
 * late (a writer catching up after a database outage) can stay missing from cached replies.
 */
export const CACHE_REFRESH_MS = 10 * 60_000;
/** Default row budget of the series cache: ~17 MB, e.g. 16 series of 24 h at 10 s. */
export const DEFAULT_CACHE_ROWS = 140_000;

export interface HistRow {
  cluster: string;
  kind: number;
  proxy: string;
  ts: number;
  v: ArrayLike<number>;
}

/**
 * The newest (`max`) or oldest (`min`) bucket start of a history table in ms, optionally of
 * the rows whose `where[0]` column equals `where[1]`; null when there is none. Table and
 * column names are this module's constants, never input.
 */
export async function tsBound(
  pool: pg.Pool,
  agg: "max" | "min",
  table: string,
  where?: readonly [column: string, value: string],
): Promise<number | null> {
  const r = await pool.query<{ m: Date | null }>(
    `SELECT ${agg}(ts) AS m FROM ${table}${where ? ` WHERE ${where[0]} = $1` : ""}`,
    where ? [where[1]] : [],
  );
  return r.rows[0]?.m ? r.rows[0].m.getTime() : null;
}

export class HistoryStore {
  readonly pool: pg.Pool;
  /** Row budget of the series cache (0 = off); a 24 h series at 10 s is 8,640 rows (1.2 MB). */
  readonly cacheRows: number;
  private readonly cache = new Map<string, { from: number; upTo: number; data: number[]; born: number }>();
  private cachedRows = 0;
  constructor(url: string, max = 4, cacheRows = DEFAULT_CACHE_ROWS) {
    this.cacheRows = cacheRows;
    this.pool = new pg.Pool({ connectionString: url, max });
    this.pool.on("error", () => undefined);
  }

  async insert(table: Table, rows: readonly HistRow[], writer: string): Promise<number> {
    if (rows.length === 0) return 0;
    const cols: unknown[][] = [[], [], [], []];
    const vals: number[][] = VALUE_COLS.map(() => []);
    for (const r of rows) {
      cols[0]?.push(r.cluster);
      cols[1]?.push(r.kind);
      cols[2]?.push(r.proxy);
      cols[3]?.push(new Date(r.ts).toISOString());
      for (let m = 0; m < METRICS; m++) vals[m]?.push(r.v[m] as number);
    }
    const params = [...cols, ...vals];
    const casts = ["text[]", "int2[]", "text[]", "timestamptz[]", ...VALUE_COLS.map(() => "float4[]")];
    const sql = `INSERT INTO ${table} (cluster, kind, proxy, ts, ${VALUE_COLS.join(", ")}, written_by)
      SELECT *, $${params.length + 1}::text FROM unnest(${casts.map((c, i) => `$${i + 1}::${c}`).join(", ")})
      ON CONFLICT DO NOTHING`;
    const r = await this.pool.query(sql, [...params, writer]);
    return r.rowCount ?? 0;
  }

  /** Newest bucket start of a table (ms), or null. */
  async newest(table: Table, cluster?: string): Promise<number | null> {
    return tsBound(this.pool, "max", table, cluster === undefined ? undefined : ["cluster", cluster]);
  }

  async oldest(table: Table): Promise<number | null> {
    return tsBound(this.pool, "min", table);
  }

  /**
   * One series' buckets in [from, to), packed: `n` rows of `SERIES_STRIDE` numbers each
   * (bucket start in ms, then the 16 values), ts-sorted. PostgreSQL folds the rows into one
   * text of comma-separated numbers that a single `JSON.parse` decodes: node-pg's per-field
   * decoding (17 strings + parseFloat per row) cost more than the index-only scan itself.
   */
  async series(
    table: Table,
    cluster: string,
    kind: number,
    proxy: string,
    from: number,
    to: number,
    stepMs?: number,
  ): Promise<{ n: number; data: number[] }> {
    const values: unknown[] = [
      cluster,
      kind,
      proxy,
      new Date(from).toISOString(),
      new Date(to).toISOString(),
    ];
    const where = `FROM ${table} WHERE cluster = $1 AND kind = $2 AND proxy = $3 AND ts >= $4 AND ts < $5`;
    const ms = "(date_part('epoch', ts) * 1000)";
    let text: string;
    if (stepMs && stepMs > (table === "stats_haproxy_1m" ? 60_000 : 10_000)) {
      // Coarser steps are summed here (every value is a count or a weighted sum), so fewer
      // rows cross the wire; each group is labelled with its step's start.
      values.push(from, stepMs);
      text = `SELECT string_agg(r, ',') FROM (SELECT concat_ws(',', t, ${VALUE_COLS.map((c) => `sum(${c}::float8)`).join(", ")}) AS r
        FROM (SELECT (floor((${ms} - $6::float8) / $7::float8) * $7::float8 + $6::float8)::int8 AS t, ${VALUE_COLS.join(", ")} ${where}) s
        GROUP BY t ORDER BY t) g`;
    } else {
      text = `SELECT string_agg(concat_ws(',', ${ms}::int8, ${VALUE_COLS.join(", ")}), ',')
        FROM (SELECT * ${where} ORDER BY ts) s`;
    }
    const r = await this.pool.query({ text, values, rowMode: "array" });
    const packed = (r.rows[0] as Array<string | null> | undefined)?.[0];
    if (!packed) return { n: 0, data: [] };
    const data = JSON.parse(`[${packed}]`) as number[];
    return { n: data.length / SERIES_STRIDE, data };
  }

  /**
   * `series` through a read-through cache of settled rows. History rows are immutable once
   * written (the writer inserts each bucket of a cluster in one statement and never goes back
   * to an older one), so a repeated query — a dashboard polling the last 24 h — only fetches
   * the rows since the previous one. Entries are per series and window length (the window
   * slides: rows that fell out are dropped), evicted least-recently-used beyond
   * `cacheRows` rows in total. Rows newer than `SETTLE_MS` are always re-read, and an entry
   * is rebuilt every `CACHE_REFRESH_MS`. The answer comes in packed parts (cached rows, then
   * the rows just read) without copying the cached ones; they may start before `from`.
   */
  async seriesCached(
    table: Table,
    cluster: string,
    kind: number,
    proxy: string,
    from: number,
    to: number,
    now = Date.now(),
  ): Promise<{ parts: Array<{ n: number; data: number[] }> }> {
    if (this.cacheRows <= 0) return { parts: [await this.series(table, cluster, kind, proxy, from, to)] };
    const key = `${table}\u0001${cluster}\u0001${kind}\u0001${proxy}\u0001${to - from}`;
    const settled = Math.min(to, now - SETTLE_MS);
    let c = this.cache.get(key);
    const hit = !!c && from >= c.from && to >= c.upTo && c.upTo >= from && now - c.born < CACHE_REFRESH_MS;
    let fresh: { n: number; data: number[] };
    if (c && hit) {
      this.cache.delete(key); // re-inserted below: most recently used last
      fresh = await this.series(table, cluster, kind, proxy, c.upTo, to);
    } else {
      if (c) {
        this.cache.delete(key);
        this.cachedRows -= c.data.length / SERIES_STRIDE;
      }
      c = undefined;
      fresh = await this.series(table, cluster, kind, proxy, from, to);
    }
    // The settled prefix of what was read joins the entry (append-only: a caller still
    // reading an earlier reply sees the same rows at the same offsets).
    let cut = 0;
    while (cut < fresh.data.length && (fresh.data[cut] as number) < settled) cut += SERIES_STRIDE;
    const entry = c ?? { from, upTo: from, data: [] as number[], born: now };
    if (entry.data.length === 0)
      entry.data = cut === fresh.data.length ? fresh.data : fresh.data.slice(0, cut);
    else for (let i = 0; i < cut; i++) entry.data.push(fresh.data[i] as number);
    this.cachedRows += cut / SERIES_STRIDE;
    entry.upTo = Math.max(entry.upTo, settled);
    // Rows that slid out of the window: dropped once they are a tenth of the entry.
    let old = 0;
    while (old < entry.data.length && (entry.data[old] as number) < from) old += SERIES_STRIDE;
    if (old > 0 && old * 10 > entry.data.length) {
      entry.data = entry.data.slice(old);
      this.cachedRows -= old / SERIES_STRIDE;
    }
    entry.from = from;
    // Rows before `from` may still lead the cached part: callers skip rows outside the window.
    const parts = [
      { n: entry.data.length / SERIES_STRIDE, data: entry.data },
      { n: (fresh.data.length - cut) / SERIES_STRIDE, data: cut ? fresh.data.slice(cut) : fresh.data },
    ];
    if (settled > from) {
      this.cache.set(key, entry);
      for (const [k, e] of this.cache) {
        if (this.cachedRows <= this.cacheRows || k === key) break;
        this.cache.delete(k);
        this.cachedRows -= e.data.length / SERIES_STRIDE;
      }
    } else this.cachedRows -= entry.data.length / SERIES_STRIDE;
    return { parts };
  }

  /**
   * Keeps the visibility map current so history queries stay index-only scans (the writer
   * calls it every few minutes; cheap: only pages changed since the last run are visited,
   * and PostgreSQL ≥ 14 skips index vacuuming when retention left few dead rows).
   */
  async vacuum(): Promise<void> {
    await this.pool.query("VACUUM stats_haproxy_10s, stats_haproxy_1m");
  }

  /** Every 10 s row of [from, to) (a rollup's input). */
  async range(from: number, to: number): Promise<HistRow[]> {
    const r = await this.pool.query({
      text: `SELECT cluster, kind, proxy, (extract(epoch FROM ts) * 1000)::float8 AS t, ${VALUE_COLS.join(", ")}
        FROM stats_haproxy_10s WHERE ts >= $1 AND ts < $2 ORDER BY cluster, kind, proxy, ts`,
      values: [new Date(from).toISOString(), new Date(to).toISOString()],
      rowMode: "array",
    });
    return (r.rows as unknown[][]).map((row) => ({
      cluster: row[0] as string,
      kind: row[1] as number,
      proxy: row[2] as string,
      ts: row[3] as number,
      v: row.slice(4) as number[],
    }));
  }

  async retention(keep10sMs: number, keep1mMs: number, now = Date.now()): Promise<number> {
    const a = await this.pool.query("DELETE FROM stats_haproxy_10s WHERE ts < $1", [
      new Date(now - keep10sMs).toISOString(),
    ]);
    const b = await this.pool.query("DELETE FROM stats_haproxy_1m WHERE ts < $1", [
      new Date(now - keep1mMs).toISOString(),
    ]);
    return (a.rowCount ?? 0) + (b.rowCount ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** How often the writer vacuums the history tables (visibility map for index-only scans). */
export const VACUUM_EVERY_MS = 5 * 60_000;

export interface WriterOptions {
  writer: string;
  stepMs: number;
  /** How long after a bucket's end its samples are all in (one sampling period + slack). */
  graceMs: number;
  keep10sMs: number;
  keep1mMs: number;
  isLeader: () => boolean;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void };
  /** WireGuard history (`wg-history.ts`), written in the same tick by the same leader. */
  wg?: { reset(): void; tick(now: number): Promise<void> };
}

/** Writes completed buckets (leader only), rolls minutes up, applies retention. */
export class HistoryWriter {
  private readonly store: HistoryStore;
  private readonly model: HaproxyModel;
  private readonly pool: StatsPool;
  private readonly o: WriterOptions;
  /** Newest bucket written, per cluster (null = ask the table). */
  private written = new Map<string, number>();
  private rolled: number | null = null;
  private lastRetention = 0;
  private lastVacuum = 0;
  private wasLeader = false;
  rowsWritten = 0;

  constructor(store: HistoryStore, model: HaproxyModel, pool: StatsPool, o: WriterOptions) {
    this.store = store;
    this.model = model;
    this.pool = pool;
    this.o = o;
  }

  async tick(now = Date.now()): Promise<void> {
    const leader = this.o.isLeader();
    if (leader && !this.wasLeader) {
      // Continue from what the table has (another writer may have gone further).
      this.written.clear();
      this.rolled = null;
      this.o.wg?.reset();
    }
    this.wasLeader = leader;
    if (!leader) return;
    const step = this.o.stepMs;
    const complete = Math.floor((now - this.o.graceMs) / step) - 1;
    for (const [cluster, win] of this.model.windows) {
      let last = this.written.get(cluster);
      if (last === undefined) {
        const newest = await this.store.newest("stats_haproxy_10s", cluster);
        last = newest === null ? -1 : Math.floor(newest / step);
      }
      // Never the first (partial) bucket this instance saw, never beyond what the ring holds.
      const cap = this.model.opts.windowBuckets;
      const from = Math.max(last + 1, win.firstBucket + 1, complete - cap + 2);
      if (from > complete) continue;
      const rows: HistRow[] = [];
      for (let b = from; b <= complete; b++) {
        const total = new Float64Array(METRICS);
        let any = false;
        for (const [k, ring] of win.rings) {
          const off = ring.find(b);
          if (off < 0) continue;
          const sep = k.indexOf("\u0001");
          const kind = Number(k.slice(0, sep));
          const v = ring.data.subarray(off, off + METRICS);
          rows.push({ cluster, kind, proxy: k.slice(sep + 1), ts: b * step, v });
          if (kind === 0) {
            any = true;
            for (let m = 0; m < METRICS; m++) total[m] = (total[m] as number) + (v[m] as number);
          }
        }
        if (any) rows.push({ cluster, kind: KIND_TOTAL, proxy: "", ts: b * step, v: total });
      }
      if (!this.o.isLeader()) return;
      this.rowsWritten += await this.store.insert("stats_haproxy_10s", rows, this.o.writer);
      this.written.set(cluster, complete);
    }
    await this.rollup(complete);
    if (now - this.lastRetention > 60_000) {
      this.lastRetention = now;
      await this.store.retention(this.o.keep10sMs, this.o.keep1mMs, now);
    }
    if (now - this.lastVacuum > VACUUM_EVERY_MS) {
      this.lastVacuum = now;
      await this.store.vacuum();
    }
    await this.o.wg?.tick(now);
  }

  /** Roll completed minutes of the 10 s table into the 1 min table (at most 60 per tick). */
  private async rollup(completeBucket: number): Promise<void> {
    const minute = 60_000;
    const doneUntil = Math.floor(((completeBucket + 1) * this.o.stepMs) / minute) * minute; // exclusive
    if (this.rolled === null) {
      const newest = await this.store.newest("stats_haproxy_1m");
      if (newest !== null) this.rolled = newest + minute;
      else {
        const oldest = await this.store.oldest("stats_haproxy_10s");
        if (oldest === null) return;
        this.rolled = Math.floor(oldest / minute) * minute;
      }
    }
    const slots = minute / this.o.stepMs;
    for (let n = 0; n < 60 && (this.rolled as number) < doneUntil; n++) {
      const start: number = this.rolled as number;
      const rows = await this.store.range(start, start + minute);
      if (rows.length > 0) {
        // Group per series: k buckets each, padded to the longest group.
        const groups = new Map<string, HistRow[]>();
        for (const r of rows) {
          const key = `${r.cluster}\u0001${r.kind}\u0001${r.proxy}`;
          const g = groups.get(key);
          if (g) g.push(r);
          else groups.set(key, [r]);
        }
        const keys = [...groups.keys()];
        const data = new Float32Array(keys.length * slots * METRICS);
        keys.forEach((key, i) => {
          (groups.get(key) as HistRow[]).forEach((r, j) => {
            if (j < slots) data.set(Array.from(r.v), (i * slots + j) * METRICS);
          });
        });
        const out = await this.pool.run({ op: "rollup", n: keys.length, k: slots, slots, data }, [
          data.buffer as ArrayBuffer,
        ]);
        const agg: HistRow[] = keys.map((key, i) => {
          const first = (groups.get(key) as HistRow[])[0] as HistRow;
          return {
            cluster: first.cluster,
            kind: first.kind,
            proxy: first.proxy,
            ts: start,
            v: out.data.subarray(i * METRICS, (i + 1) * METRICS),
          };
        });
        if (!this.o.isLeader()) return;
        await this.store.insert("stats_haproxy_1m", agg, this.o.writer);
      }
      this.rolled = start + minute;
    }
  }
}
