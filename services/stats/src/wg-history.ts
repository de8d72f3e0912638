/**
 * WireGuard history in PostgreSQL (migration 003): completed 10 s buckets of every peer
 * (`stats_wg_10s`: bytes rx/tx in the bucket, smallest seconds-since-handshake, kept
 * `EP_STATS_RETENTION_10S_H`), rolled up per minute in SQL (`stats_wg_1m`: sums and the
 * smallest age, kept `EP_STATS_RETENTION_1M_D`). Written by the HAProxy history writer's tick
 * (lease holder only), with the same rules: `ON CONFLICT DO NOTHING` on the primary key, never
 * a first bucket this instance saw only in part (`WgModel.firstWhole`), continue from the
 * table's newest bucket after a takeover. Read by the WireGuard API for the part of a window memory does not hold.
 */
import type pg from "pg";
import { tsBound } from "./history.ts";
import { WG_HS, WG_RX, WG_TX, type WgModel } from "./wg.ts";

export type WgTable = "stats_wg_10s" | "stats_wg_1m";

export interface WgRow {
  iface: string;
  publicKey: string;
  peerId: string | null;
  ts: number;
  rx: number;
  tx: number;
  /** Seconds since the handshake, at best; null = none seen in the bucket. */
  hsAge: number | null;
}

/** A peer's sums over one step of a query: `p` is the step's index from the query's start. */
export interface WgPoint {
  publicKey: string;
  peerId: string | null;
  p: number;
  rx: number;
  tx: number;
  hsAge: number | null;
}

/** Which peers a read covers: one (public key or id), and/or a list of public keys (a page). */
export interface PeerFilter {
  peer?: string | undefined;
  keys?: readonly string[];
}

/** Rows per INSERT: a writer catching up an hour of a big interface stays in bounded statements. */
const INSERT_CHUNK = 5000;
const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

export class WgHistoryStore {
  readonly pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  async insert(table: WgTable, rows: readonly WgRow[], writer: string): Promise<number> {
    let n = 0;
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const part = rows.slice(i, i + INSERT_CHUNK);
      const r = await this.pool.query(
        `INSERT INTO ${table} (interface, public_key, peer_id, ts, rx, tx, handshake_age, written_by)
          SELECT *, $8::text FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
            $5::float8[], $6::float8[], $7::int4[])
          ON CONFLICT DO NOTHING`,
        [
          part.map((r) => r.iface),
          part.map((r) => r.publicKey),
          part.map((r) => r.peerId),
          part.map((r) => iso(r.ts)),
          part.map((r) => r.rx),
          part.map((r) => r.tx),
          part.map((r) => r.hsAge),
          writer,
        ],
      );
      n += r.rowCount ?? 0;
    }
    return n;
  }

  /** Newest bucket start of a table (ms), of one interface or of all; null when empty. */
  async newest(table: WgTable, iface?: string): Promise<number | null> {
    return tsBound(this.pool, "max", table, iface === undefined ? undefined : ["interface", iface]);
  }

  async oldest(table: WgTable): Promise<number | null> {
    return tsBound(this.pool, "min", table);
  }

  /**
   * One interface's peers over [from, to), summed per step of `stepMs` counted from `from`
   * (handshake age: the smallest). From the 1 min table, the minutes not rolled up yet (after
   * its newest row) are filled from the 10 s table, so a window reaching into the last minute
   * or two has no hole. `peers.peer` matches a public key or a peer id; `peers.keys` limits to those public keys.
   */
  async points(
    table: WgTable,
    iface: string,
    from: number,
    to: number,
    stepMs: number,
    peers: PeerFilter = {},
  ): Promise<WgPoint[]> {
    const values: unknown[] = [iface, iso(from), iso(to), from, stepMs];
    const src = this.source(table, "public_key, peer_id, ts, rx, tx, handshake_age", values, peers);
    const r = await this.pool.query({
      text: `SELECT public_key, max(peer_id),
          floor((date_part('epoch', ts) * 1000 - $4::float8) / $5::float8)::int4 AS p,
          sum(rx), sum(tx), min(handshake_age)
        FROM (${src}) s GROUP BY public_key, p ORDER BY public_key, p`,
      values,
      rowMode: "array",
    });
    return (r.rows as unknown[][]).map((row) => ({
      publicKey: row[0] as string,
      peerId: row[1] as string | null,
      p: row[2] as number,
      rx: row[3] as number,
      tx: row[4] as number,
      hsAge: row[5] as number | null,
    }));
  }

  /**
   * The public keys with rows in [from, to) (the tables `points` would read), sorted: the
   * peers a paged reply counts and slices before reading any values.
   */
  async peerKeys(table: WgTable, iface: string, from: number, to: number, peer?: string): Promise<string[]> {
    const values: unknown[] = [iface, iso(from), iso(to)];
    const src = this.source(table, "public_key", values, peer ? { peer } : {});
    const r = await this.pool.query({
      text: `SELECT DISTINCT public_key FROM (${src}) s ORDER BY public_key`,
      values,
      rowMode: "array",
    });
    return (r.rows as unknown[][]).map((row) => row[0] as string);
  }

  /**
   * The rows of one interface in [$2, $3) as a sub-select of `cols`: from the 1 min table,
   * the minutes not rolled up yet (after its newest row) filled from the 10 s table. Filters
   * are appended to `values` as parameters.
   */
  private source(table: WgTable, cols: string, values: unknown[], f: PeerFilter): string {
    let where = "interface = $1 AND ts < $3";
    if (f.peer) {
      values.push(f.peer);
      where += ` AND (public_key = $${values.length} OR peer_id = $${values.length})`;
    }
    if (f.keys) {
      values.push(f.keys);
      where += ` AND public_key = ANY($${values.length}::text[])`;
    }
    return table === "stats_wg_10s"
      ? `SELECT ${cols} FROM stats_wg_10s WHERE ${where} AND ts >= $2`
      : `SELECT ${cols} FROM stats_wg_1m WHERE ${where} AND ts >= $2
         UNION ALL
         SELECT ${cols} FROM stats_wg_10s WHERE ${where} AND ts >= greatest($2::timestamptz,
           (SELECT max(ts) + interval '1 minute' FROM stats_wg_1m WHERE interface = $1))`;
  }

  /** Roll the 10 s rows of [from, to) (whole minutes) up into the 1 min table. */
  async rollup(from: number, to: number, writer: string): Promise<number> {
    const r = await this.pool.query(
      `INSERT INTO stats_wg_1m (interface, public_key, ts, peer_id, rx, tx, handshake_age, written_by)
        SELECT interface, public_key, to_timestamp(floor(date_part('epoch', ts) / 60) * 60) AS m,
          max(peer_id), sum(rx), sum(tx), min(handshake_age), $3::text
        FROM stats_wg_10s WHERE ts >= $1 AND ts < $2
        GROUP BY interface, public_key, m
        ON CONFLICT DO NOTHING`,
      [iso(from), iso(to), writer],
    );
    return r.rowCount ?? 0;
  }

  async retention(keep10sMs: number, keep1mMs: number, now = Date.now()): Promise<number> {
    const a = await this.pool.query("DELETE FROM stats_wg_10s WHERE ts < $1", [iso(now - keep10sMs)]);
    const b = await this.pool.query("DELETE FROM stats_wg_1m WHERE ts < $1", [iso(now - keep1mMs)]);
    return (a.rowCount ?? 0) + (b.rowCount ?? 0);
  }

  /** Visibility map current: reads stay index-only scans (see `HistoryStore.vacuum`). */
  async vacuum(): Promise<void> {
    await this.pool.query("VACUUM stats_wg_10s, stats_wg_1m");
  }
}

export interface WgWriterOptions {
  writer: string;
  stepMs: number;
  /** How long after a bucket's end its samples are all in. */
  graceMs: number;
  keep10sMs: number;
  keep1mMs: number;
  isLeader: () => boolean;
  /** How often retention and VACUUM run. */
  retentionEveryMs?: number;
  vacuumEveryMs?: number;
}

/** Writes completed WireGuard buckets, rolls minutes up, applies retention (leader only). */
export class WgHistoryWriter {
  private readonly store: WgHistoryStore;
  private readonly model: WgModel;
  private readonly o: WgWriterOptions;
  /** Newest bucket written, per interface (absent = ask the table). */
  private readonly written = new Map<string, number>();
  /** Start of the next minute to roll up (null = ask the tables). */
  private rolled: number | null = null;
  private lastRetention = 0;
  private lastVacuum = 0;
  rowsWritten = 0;

  constructor(store: WgHistoryStore, model: WgModel, o: WgWriterOptions) {
    this.store = store;
    this.model = model;
    this.o = o;
  }

  /** Forget progress: after (re)gaining the lease, continue from what the tables have. */
  reset(): void {
    this.written.clear();
    this.rolled = null;
  }

  async tick(now = Date.now()): Promise<void> {
    if (!this.o.isLeader()) return;
    const step = this.o.stepMs;
    const complete = Math.floor((now - this.o.graceMs) / step) - 1;
    for (const [iface, peers] of this.model.ifaces) {
      let last = this.written.get(iface);
      if (last === undefined) {
        const newest = await this.store.newest("stats_wg_10s", iface);
        last = newest === null ? -1 : Math.floor(newest / step);
      }
      // Never a first, partial bucket (`firstWhole`), never beyond what the rings hold.
      const whole = this.model.firstWhole(iface) ?? complete + 1;
      const from = Math.max(last + 1, whole, complete - this.model.cap + 2);
      if (from > complete) continue;
      const rows: WgRow[] = [];
      for (let b = from; b <= complete; b++)
        for (const p of peers.values()) {
          const off = p.ring.find(b);
          if (off < 0) continue;
          const hs = p.ring.data[off + WG_HS] as number; // age + 1, 0 = none
          rows.push({
            iface,
            publicKey: p.publicKey,
            peerId: p.peerId,
            ts: b * step,
            rx: p.ring.data[off + WG_RX] as number,
            tx: p.ring.data[off + WG_TX] as number,
            hsAge: hs > 0 ? hs - 1 : null,
          });
        }
      if (!this.o.isLeader()) return;
      this.rowsWritten += await this.store.insert("stats_wg_10s", rows, this.o.writer);
      this.written.set(iface, complete);
    }
    await this.rollup(complete);
    if (now - this.lastRetention > (this.o.retentionEveryMs ?? 60_000)) {
      this.lastRetention = now;
      await this.store.retention(this.o.keep10sMs, this.o.keep1mMs, now);
    }
    if (now - this.lastVacuum > (this.o.vacuumEveryMs ?? 5 * 60_000)) {
      this.lastVacuum = now;
      await this.store.vacuum();
    }
  }

  /** Roll completed minutes into the 1 min table, at most an hour of them per tick. */
  private async rollup(completeBucket: number): Promise<void> {
    const doneUntil = Math.floor(((completeBucket + 1) * this.o.stepMs) / MINUTE) * MINUTE; // exclusive
    if (this.rolled === null) {
      const newest = await this.store.newest("stats_wg_1m");
      if (newest !== null) this.rolled = newest + MINUTE;
      else {
        const oldest = await this.store.oldest("stats_wg_10s");
        if (oldest === null) return;
        this.rolled = Math.floor(oldest / MINUTE) * MINUTE;
      }
    }
    const until = Math.min(doneUntil, this.rolled + 60 * MINUTE);
    if (until <= this.rolled || !this.o.isLeader()) return;
    await this.store.rollup(this.rolled, until, this.o.writer);
    this.rolled = until;
  }
}
