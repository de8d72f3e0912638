/**
 * HistoryStore against a real PostgreSQL: the packed series query (native and summed per
 * coarser step), the covering primary key (index-only scan once vacuumed), and the cache of
 * settled rows (a repeat reads only newer rows; unsettled rows are re-read).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../../proto/src/runtime/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../../../test/harness/mod.ts";
import { HistoryStore, type HistRow, KIND_TOTAL, SERIES_STRIDE, SETTLE_MS } from "./history.ts";
import { METRICS } from "./window.ts";

const STEP = 10_000;
let db: TestDatabase;
let store: HistoryStore;
const end = Math.floor(Date.now() / 60_000) * 60_000;
const start = end - 3600_000;

const rowsAt = (ts: number): HistRow[] => [
  { cluster: "c", kind: 1, proxy: "be", ts, v: Float32Array.from({ length: METRICS }, (_, m) => m + 1) },
  { cluster: "c", kind: KIND_TOTAL, proxy: "", ts, v: new Float32Array(METRICS).fill(0.5) },
];

/** The rows of a `seriesCached` answer inside [from, ∞), flattened. */
const flat = (r: { parts: Array<{ n: number; data: number[] }> }, from: number) => {
  const data: number[] = [];
  for (const part of r.parts)
    for (let o = 0; o < part.n * SERIES_STRIDE; o += SERIES_STRIDE)
      if ((part.data[o] as number) >= from) data.push(...part.data.slice(o, o + SERIES_STRIDE));
  return { n: data.length / SERIES_STRIDE, data };
};

beforeAll(async () => {
  db = await createTestDatabase();
  await migrate(db.url);
  store = new HistoryStore(db.url, 2);
  const rows: HistRow[] = [];
  for (let ts = start; ts < end - 30 * STEP; ts += STEP) rows.push(...rowsAt(ts));
  await store.insert("stats_haproxy_10s", rows, "t");
}, 60_000);
afterAll(async () => {
  await store?.close();
  await db?.[Symbol.asyncDispose]();
});

describe("history store", () => {
  it("reads one series packed, ts-sorted, and sums coarser steps in SQL", async () => {
    const a = await store.series("stats_haproxy_10s", "c", 1, "be", start, end);
    expect(a.n).toBe(330);
    expect(a.data.length).toBe(330 * SERIES_STRIDE);
    expect(a.data.slice(0, SERIES_STRIDE)).toEqual([
      start,
      ...Array.from({ length: METRICS }, (_, m) => m + 1),
    ]);
    expect(a.data[SERIES_STRIDE]).toBe(start + STEP);
    const g = await store.series("stats_haproxy_10s", "c", 1, "be", start, end, 60_000);
    expect(g.n).toBe(55); // 330 buckets of 10 s → 55 minutes
    expect(g.data.slice(0, 3)).toEqual([start, 6, 12]);
    expect(g.data[SERIES_STRIDE]).toBe(start + 60_000);
    expect((await store.series("stats_haproxy_10s", "c", 0, "none", start, end)).n).toBe(0);
  });

  it("is an index-only scan of the covering primary key once vacuumed", async () => {
    await store.vacuum();
    const plan = await store.pool.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, COSTS OFF) SELECT ts, sess, weight FROM stats_haproxy_10s
        WHERE cluster = 'c' AND kind = 1 AND proxy = 'be' AND ts >= $1 ORDER BY ts`,
      [new Date(start).toISOString()],
    );
    const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toMatch(/Index Only Scan using stats_haproxy_10s_pkey/);
    expect(text).toMatch(/Heap Fetches: 0/);
  });

  it("caches settled rows: a repeat reads only newer ones, unsettled rows are re-read", async () => {
    const now = end - 10 * STEP; // rows from end - 30 steps on are 'just written'
    const first = flat(
      await store.seriesCached("stats_haproxy_10s", "c", KIND_TOTAL, "", start, end, now),
      start,
    );
    expect(first.n).toBe(330);
    // A row inside the settled range is not seen again (immutable history)…
    await store.pool.query("UPDATE stats_haproxy_10s SET sess = 99 WHERE kind = $1 AND ts = $2", [
      KIND_TOTAL,
      new Date(start).toISOString(),
    ]);
    // …rows written after the last read are.
    await store.insert("stats_haproxy_10s", rowsAt(end - 20 * STEP), "t");
    const again = flat(
      await store.seriesCached("stats_haproxy_10s", "c", KIND_TOTAL, "", start, end, now + 1000),
      start,
    );
    expect(again.n).toBe(331);
    expect(again.data[1]).toBe(0.5);
    expect(again.data[330 * SERIES_STRIDE]).toBe(end - 20 * STEP);
    // Unsettled (younger than SETTLE_MS) rows come from the database every time.
    const youngest = again.data[(again.n - 1) * SERIES_STRIDE] as number;
    expect(youngest).toBeGreaterThan(now - SETTLE_MS);
    // Another window length is its own entry, read in full.
    const other = flat(
      await store.seriesCached("stats_haproxy_10s", "c", KIND_TOTAL, "", start + STEP, end, now),
      start + STEP,
    );
    expect(other.data[0]).toBe(start + STEP);
    expect(other.data[1]).toBe(0.5);
    // The window slides: a later query of the same length drops the rows before its start.
    const slid = flat(
      await store.seriesCached(
        "stats_haproxy_10s",
        "c",
        KIND_TOTAL,
        "",
        start + 60_000,
        end + 60_000,
        now + 60_000,
      ),
      start + 60_000,
    );
    expect(slid.data[0]).toBe(start + 60_000);
    expect(slid.n).toBe(331 - 6);
    const uncached = new HistoryStore(db.url, 1, 0);
    try {
      const fresh = flat(
        await uncached.seriesCached("stats_haproxy_10s", "c", KIND_TOTAL, "", start, end, now),
        start,
      );
      expect(fresh.data[1]).toBe(99);
    } finally {
      await uncached.close();
    }
  });
});
