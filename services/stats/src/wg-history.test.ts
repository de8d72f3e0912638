/**
 * WireGuard history against a real PostgreSQL: the leader writes completed 10 s buckets (never
 * the first, partial one), two overlapping writers add no duplicate, minutes roll up exactly,
 * retention applies, and the API of a fresh instance (empty memory) answers history from the
 * tables — alone, merged with a memory that started late, and from the 1 min table beyond 24 h.
 */
import { StatsWgQuery, type WgStatsSample } from "@edgeplane/proto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../../proto/src/runtime/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../../../test/harness/mod.ts";
import { type ApiDeps, StatsApi, WG_MAX_POINTS, WG_MAX_REPLY_POINTS } from "./api.ts";
import { WgModel } from "./wg.ts";
import { WgHistoryStore, WgHistoryWriter } from "./wg-history.ts";

const STEP = 10_000;
const MIN = 60_000;
const CAP = 361;
const IFACE = "wg0";
const A = `${"A".repeat(43)}=`;
const B = `${"B".repeat(43)}=`;
/** B's handshake is this old and never renewed: its age grows, the minimum is a bucket's first. */
const H0 = Math.floor(Date.now() / 1000) - 3600;
// 15 whole minutes of samples every 2 s, ending on a minute at least 20 s ago.
const SAMPLE_END = Math.floor((Date.now() - 20_000) / MIN) * MIN;
const T0 = SAMPLE_END - 15 * MIN;
const MID = SAMPLE_END - 5 * MIN;

let db: TestDatabase;
let pool: pg.Pool;
let store: WgHistoryStore;

/** Sample of one node at `t`: A gets 1000 B in / 2000 B out per sample, B 7 B in. */
function sample(t: number, iface = IFACE): WgStatsSample {
  const k = (t - T0) / 2000;
  return {
    interface: iface,
    node: "n1",
    at: new Date(t).toISOString(),
    part: 0,
    parts: 1,
    peers: [
      {
        peer_id: "pa",
        public_key: A,
        endpoint: "10.0.0.2:5000",
        latest_handshake: Math.floor(t / 1000) - 5,
        rx_bytes: 1000 * k,
        tx_bytes: 2000 * k,
      },
      { peer_id: null, public_key: B, endpoint: null, latest_handshake: H0, rx_bytes: 7 * k, tx_bytes: 0 },
    ],
  };
}
const feed = (m: WgModel, from: number, to: number, iface = IFACE) => {
  for (let t = from; t < to; t += 2000) m.ingest(sample(t, iface));
};
const writerOf = (m: WgModel, name: string, leader: () => boolean) =>
  new WgHistoryWriter(store, m, {
    writer: name,
    stepMs: STEP,
    graceMs: 2500,
    keep10sMs: 24 * 3600_000,
    keep1mMs: 30 * 86_400_000,
    isLeader: leader,
  });
const apiOf = (wg: WgModel, withStore = true) =>
  new StatsApi({
    wg,
    wgStore: withStore ? store : null,
    stepMs: STEP,
    keep10sMs: 24 * 3600_000,
  } as ApiDeps);
const rows = async (table: string) =>
  (
    await pool.query<{
      pk: string;
      ts: Date;
      rx: number;
      tx: number;
      hs: number | null;
      by: string;
      id: string;
    }>(
      `SELECT public_key AS pk, ts, rx, tx, handshake_age AS hs, written_by AS by, peer_id AS id
        FROM ${table} ORDER BY public_key, ts`,
    )
  ).rows;

const modelA = new WgModel(STEP, CAP);
const modelB = new WgModel(STEP, CAP);
let leaderB = false;
let writerA: WgHistoryWriter;
let writerB: WgHistoryWriter;

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.url);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  store = new WgHistoryStore(pool);
  writerA = writerOf(modelA, "a", () => true);
  writerB = writerOf(modelB, "b", () => leaderB);
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await db?.[Symbol.asyncDispose]();
});

describe("wireguard history", () => {
  it("only the leader writes completed buckets, never the first partial one", async () => {
    feed(modelA, T0, MID);
    feed(modelB, T0, MID);
    await writerB.tick(MID);
    expect(writerB.rowsWritten).toBe(0);
    await writerA.tick(MID);
    const r = await rows("stats_wg_10s");
    // Buckets T0+10 s … MID-20 s (MID-10 s is not complete at MID with 2.5 s of grace).
    const buckets = (MID - T0) / STEP - 2;
    expect(r.length).toBe(2 * buckets);
    expect(new Set(r.map((x) => x.by))).toEqual(new Set(["a"]));
    expect(r.some((x) => x.ts.getTime() === T0)).toBe(false);
    const a = r.filter((x) => x.pk === A);
    expect(a[0]?.ts.getTime()).toBe(T0 + STEP);
    expect(a.every((x) => x.rx === 5000 && x.tx === 10_000 && x.hs === 5 && x.id === "pa")).toBe(true);
    const b = r.filter((x) => x.pk === B);
    expect(b.every((x) => x.rx === 35 && x.tx === 0 && x.id === null)).toBe(true);
    expect(b.every((x) => x.hs === x.ts.getTime() / 1000 - H0)).toBe(true);
  });

  it("two writers overlapping after a takeover add no duplicate and leave no gap", async () => {
    feed(modelA, MID, SAMPLE_END);
    feed(modelB, MID, SAMPLE_END);
    leaderB = true;
    const now = SAMPLE_END + 15_000;
    await Promise.all([writerA.tick(now), writerB.tick(now)]);
    const r = await rows("stats_wg_10s");
    const buckets = (SAMPLE_END - T0) / STEP - 1;
    expect(r.length).toBe(2 * buckets);
    const dup = await pool.query(
      "SELECT interface, public_key, ts FROM stats_wg_10s GROUP BY 1, 2, 3 HAVING count(*) > 1",
    );
    expect(dup.rowCount).toBe(0);
    const ts = r.filter((x) => x.pk === A).map((x) => x.ts.getTime());
    for (let i = 1; i < ts.length; i++) expect((ts[i] as number) - (ts[i - 1] as number)).toBe(STEP);
    // Writing the same buckets again (a third writer) changes nothing.
    const again = await store.insert(
      "stats_wg_10s",
      [{ iface: IFACE, publicKey: A, peerId: "x", ts: T0 + STEP, rx: 1, tx: 1, hsAge: 0 }],
      "c",
    );
    expect(again).toBe(0);
    expect(writerA.rowsWritten + writerB.rowsWritten).toBe(2 * buckets);
  });

  it("rolls minutes up exactly: sums of rx/tx, the smallest handshake age", async () => {
    const m = await rows("stats_wg_1m");
    expect(m.length).toBe(2 * 15);
    const exact = await pool.query(
      `SELECT count(*)::int AS n FROM stats_wg_1m m JOIN (
         SELECT public_key, to_timestamp(floor(date_part('epoch', ts) / 60) * 60) AS ts,
           sum(rx) AS rx, sum(tx) AS tx, min(handshake_age) AS hs
         FROM stats_wg_10s GROUP BY 1, 2) s USING (public_key, ts)
       WHERE m.rx = s.rx AND m.tx = s.tx AND m.handshake_age IS NOT DISTINCT FROM s.hs`,
    );
    expect(exact.rows[0].n).toBe(30);
    const a = m.filter((x) => x.pk === A);
    expect(a[0]).toMatchObject({ rx: 25_000, tx: 50_000, hs: 5, id: "pa" }); // first minute: 5 buckets
    expect(a.slice(1).every((x) => x.rx === 30_000 && x.tx === 60_000 && x.hs === 5)).toBe(true);
    const b = m.filter((x) => x.pk === B);
    expect(b.slice(1).every((x) => x.rx === 210 && x.hs === x.ts.getTime() / 1000 - H0)).toBe(true);
  });

  it("a fresh instance (empty memory) answers history from the tables", async () => {
    const memory = await apiOf(modelA, false).wireguard(IFACE, { window: 7200, step: 60 });
    const fresh = await apiOf(new WgModel(STEP, CAP)).wireguard(IFACE, { window: 7200, step: 60 });
    const pa = fresh.peers.find((p) => p.public_key === A);
    expect(pa).toMatchObject({ peer_id: "pa", nodes: [], latest_handshake: 0 });
    expect(fresh.peers.map((p) => p.public_key).sort()).toEqual([A, B]);
    const mem = memory.peers.find((p) => p.public_key === A);
    const h = pa?.history ?? [];
    expect(h.length).toBe(120);
    expect(h.find((x) => x[0] === T0)).toEqual([T0, 416.667, 833.333, 5]); // bytes/s, 3 decimals
    // Every later minute equals what a memory that saw everything answers.
    const later = (x: Array<number | null>) => (x[0] as number) > T0 && (x[0] as number) < SAMPLE_END;
    expect(h.filter(later)).toEqual(mem?.history.filter(later));
    expect(h.filter(later).length).toBe(14);
    expect(h.filter((x) => !later(x) && x[0] !== T0).every((x) => x[1] === null)).toBe(true);
    // A memory that started 5 minutes before the end: the same points, merged.
    const late = new WgModel(STEP, CAP);
    feed(late, MID, SAMPLE_END);
    const merged = await apiOf(late).wireguard(IFACE, { window: 7200, step: 60, peer: "pa" });
    expect(merged.peers.map((p) => p.public_key)).toEqual([A]);
    expect(merged.peers[0]?.nodes).toEqual(["n1"]);
    expect(merged.peers[0]?.history).toEqual(h);
  });

  it("beyond 24 h reads the 1 min table, filling not-yet-rolled minutes from the 10 s one", async () => {
    const total = async (wg = new WgModel(STEP, CAP)) => {
      const r = await apiOf(wg).wireguard(IFACE, { window: 2 * 86_400, step: 3600 });
      const a = r.peers.find((p) => p.public_key === A);
      return a?.history.reduce((s, x) => s + ((x[1] as number | null) ?? 0) * 3600, 0);
    };
    expect(await total()).toBeCloseTo(15 * 30_000 - 5000, -1);
    // Memory that started mid-minute takes over at the next whole minute: no minute counted twice.
    const late = new WgModel(STEP, CAP);
    feed(late, MID, SAMPLE_END);
    expect(await total(late)).toBeCloseTo(15 * 30_000 - 5000, -1);
    await pool.query("DELETE FROM stats_wg_1m WHERE ts >= $1", [new Date(SAMPLE_END - 2 * MIN)]);
    expect(await total()).toBeCloseTo(15 * 30_000 - 5000, -1);
  });

  it("reads an interface's time range as an index-only scan of the primary key once vacuumed", async () => {
    await store.vacuum();
    const plan = await pool.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, COSTS OFF) SELECT public_key, peer_id, ts, rx, tx, handshake_age FROM stats_wg_10s
        WHERE interface = $1 AND ts >= $2 AND ts < $3`,
      [IFACE, new Date(MID), new Date(SAMPLE_END)],
    );
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/Index Only Scan using stats_wg_10s_pkey/);
    expect(text).toMatch(/Heap Fetches: 0/);
  });

  it("applies retention", async () => {
    const now = Date.now();
    await store.insert(
      "stats_wg_10s",
      [{ iface: IFACE, publicKey: A, peerId: null, ts: now - 25 * 3600_000, rx: 1, tx: 1, hsAge: null }],
      "x",
    );
    await store.insert(
      "stats_wg_1m",
      [{ iface: IFACE, publicKey: A, peerId: null, ts: now - 31 * 86_400_000, rx: 1, tx: 1, hsAge: null }],
      "x",
    );
    await writerOf(new WgModel(STEP, CAP), "r", () => true).tick(now);
    const old = await pool.query(
      "SELECT 1 FROM stats_wg_10s WHERE written_by = 'x' UNION ALL SELECT 1 FROM stats_wg_1m WHERE written_by = 'x'",
    );
    expect(old.rowCount).toBe(0);
    expect((await rows("stats_wg_10s")).length).toBe(2 * ((SAMPLE_END - T0) / STEP - 1));
  });

  it("accepts windows up to 30 days; beyond, or too many points, is a 422 naming the field", async () => {
    expect(StatsWgQuery.parse({ window: "2h" }).window).toBe(7200);
    expect(StatsWgQuery.parse({ window: "30d", step: "15m" })).toMatchObject({
      window: 2_592_000,
      step: 900,
    });
    const over = StatsWgQuery.safeParse({ window: "31d" });
    expect(over.success).toBe(false);
    expect(over.error?.issues[0]?.path).toEqual(["window"]);
    const api = apiOf(new WgModel(STEP, CAP));
    const err = await api.wireguard(IFACE, { window: 30 * 86_400, step: 60 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 422, details: [{ field: "query.step" }] });
    const ok = await api.wireguard(IFACE, { window: 30 * 86_400, step: 900 });
    expect(ok.peers[0]?.history.length).toBeLessThanOrEqual(WG_MAX_POINTS);
    // The whole reply is bounded too (one NATS message): 10 peers × 2,880 points is too many.
    const big = new WgModel(STEP, CAP);
    const many = Array.from({ length: 10 }, (_, i) => ({
      peer_id: `p${i}`,
      public_key: `${String(i).padStart(43, "k")}=`,
      endpoint: null,
      latest_handshake: 0,
      rx_bytes: 0,
      tx_bytes: 0,
    }));
    big.ingest({
      interface: "big",
      node: "n1",
      at: new Date().toISOString(),
      part: 0,
      parts: 1,
      peers: many,
    });
    const wide = await apiOf(big)
      .wireguard("big", { window: 30 * 86_400, step: 900 })
      .catch((e: unknown) => e);
    expect(wide).toMatchObject({ status: 422, details: [{ field: "query.per_page" }] });
    expect(10 * WG_MAX_POINTS).toBeGreaterThan(WG_MAX_REPLY_POINTS);
    const one = await apiOf(big).wireguard("big", { window: 30 * 86_400, step: 900, peer: "p3" });
    expect(one.peers.map((p) => p.peer_id)).toEqual(["p3"]);
    // Any number of peers is read in pages (ordered by public key) that each fit the bound.
    const seen: string[] = [];
    for (let page = 1; page <= 4; page++) {
      const r = await apiOf(big).wireguard("big", { window: 30 * 86_400, step: 900, page, per_page: 3 });
      expect(r).toMatchObject({ total: 10, page, per_page: 3, pages: 4 });
      expect(r.peers.length).toBe(page < 4 ? 3 : 1);
      seen.push(...r.peers.map((p) => p.public_key));
    }
    expect(seen).toEqual(many.map((p) => p.public_key).sort());
  });

  it("a new interface's first bucket is whole; memory fills the buckets the tables lack", async () => {
    // Listening a minute before wg1's first sample: there was no earlier one to miss.
    const listening = new WgModel(STEP, CAP, T0 - MIN);
    feed(listening, T0, T0 + 2 * MIN, "wg1");
    expect(listening.firstWhole("wg1")).toBe(T0 / STEP);
    await writerOf(listening, "n", () => true).tick(T0 + 2 * MIN);
    const w = await pool.query<{ ts: Date; rx: number }>(
      "SELECT ts, rx FROM stats_wg_10s WHERE interface = 'wg1' AND public_key = $1 ORDER BY ts",
      [A],
    );
    expect(w.rows.length).toBe(11); // T0 … T0+100 s: complete at T0+2 min with 2.5 s of grace
    expect(w.rows[0]).toEqual({ ts: new Date(T0), rx: 4000 }); // 4 deltas: nothing before the first sample
    // Started after wg2's samples: its first bucket is partial, nobody stored it; memory shows it.
    const late = new WgModel(STEP, CAP);
    feed(late, T0, T0 + 2 * MIN, "wg2");
    expect(late.firstWhole("wg2")).toBe(T0 / STEP + 1);
    const r = await apiOf(late).wireguard("wg2", { window: 7200, step: 60, peer: A });
    const h = r.peers[0]?.history ?? [];
    expect(h.find((x) => x[0] === T0)?.[1]).toBe(483.333); // (4000 + 5 × 5000) / 60
    expect(h.find((x) => x[0] === T0 + MIN)?.[1]).toBe(30_000 / 60);
  });
});
