/**
 * History writer election: two stats instances ingest the same samples, only the lease
 * holder writes 10 s buckets to PostgreSQL; killing it (SIGKILL: no clean hand-over) lets
 * the other write within 10 s, without a duplicate row and without a gap.
 */
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { waitFor } from "../../harness/mod.ts";
import { drive, type StatsMesh, startStatsMesh } from "./fixture.ts";

let m: StatsMesh;
let db: pg.Client;
beforeAll(async () => {
  m = await startStatsMesh({ instances: 2 });
  db = new pg.Client({ connectionString: m.db.url });
  await db.connect();
}, 60_000);
afterAll(async () => {
  await db?.end();
  await m?.close();
});

const STEP = 10_000;

test("stats - kill the history writer: another instance writes within 10 s, no duplicate rows", async () => {
  // Traffic in the background so every bucket has rows.
  let driving = true;
  const traffic = (async () => {
    while (driving) {
      await drive(m.port, "/fast", 5, 1).catch(() => undefined);
      await sleep(200);
    }
  })();
  try {
    const first = await waitFor(
      async () =>
        (
          await db.query<{ written_by: string }>(
            "SELECT written_by FROM stats_haproxy_10s WHERE cluster = 'default' ORDER BY ts DESC LIMIT 1",
          )
        ).rows[0],
      { timeout: 30_000, interval: 200, message: "a first history row" },
    );
    const leader = first.written_by;
    const other = leader === "stats-0" ? "stats-1" : "stats-0";
    // Kill it just after it wrote a bucket (boundary + grace), mid-way to the next one.
    const now = Date.now();
    const next = Math.ceil(now / STEP) * STEP + 4000;
    await sleep(next - now);
    const proc = m.stats[leader === "stats-0" ? 0 : 1];
    const lastBefore = (
      await db.query<{ m: Date }>("SELECT max(ts) AS m FROM stats_haproxy_10s WHERE cluster = 'default'")
    ).rows[0]?.m;
    const killedAt = Date.now();
    await proc?.stop("SIGKILL");

    const took = await waitFor(
      async () => {
        const r = await db.query<{ written_at: Date }>(
          "SELECT min(written_at) AS written_at FROM stats_haproxy_10s WHERE written_by = $1 AND written_at > $2",
          [other, new Date(killedAt)],
        );
        return r.rows[0]?.written_at ? r.rows[0].written_at.getTime() - killedAt : null;
      },
      { timeout: 20_000, interval: 100, message: "the other instance writes" },
    );
    expect(took).toBeLessThanOrEqual(10_000);

    // No gap: the new writer continued right after the old one's newest bucket.
    const r = await db.query<{ ts: Date }>(
      "SELECT DISTINCT ts FROM stats_haproxy_10s WHERE cluster = 'default' AND kind = 9 AND ts >= $1 ORDER BY ts",
      [lastBefore],
    );
    const ts = r.rows.map((x) => x.ts.getTime());
    expect(ts.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < ts.length; i++) expect((ts[i] as number) - (ts[i - 1] as number)).toBe(STEP);
    // No duplicate rows (the primary key forbids them; the count proves nothing was lost to it either).
    const dup = await db.query(
      "SELECT cluster, kind, proxy, ts FROM stats_haproxy_10s GROUP BY 1, 2, 3, 4 HAVING count(*) > 1",
    );
    expect(dup.rowCount).toBe(0);
    // Both writers appear; each bucket by exactly one of them.
    const by = await db.query<{ written_by: string }>("SELECT DISTINCT written_by FROM stats_haproxy_10s");
    expect(by.rows.map((x) => x.written_by).sort()).toEqual(["stats-0", "stats-1"]);
  } finally {
    driving = false;
    await traffic;
  }
}, 90_000);

test("stats - history from PostgreSQL answers the API (source=database)", async () => {
  interface H {
    source: string;
    columns: string[];
    points: Array<Array<number | null>>;
    step_s: number;
  }
  const h = await m.json<H>("/api/stats/history?window=10m&step=10s&source=database");
  expect(h.source).toBe("database");
  const i = h.columns.indexOf("req_rate");
  const total = h.points.reduce((a, p) => a + ((p[i] as number | null) ?? 0) * h.step_s, 0);
  expect(total).toBeGreaterThan(0);
});
