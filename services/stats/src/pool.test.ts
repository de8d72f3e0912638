/**
 * The piscina pool's GeoIP path: a batch larger than one task is cut into tasks and put back
 * in order, the packed results (transferred typed arrays) equal the same lookups on this
 * thread, and a worker's failure arrives as data (`PoolTaskError` with the worker's code).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GeoDb } from "./geoip.ts";
import { GEOIP_TASK_MAX, PoolTaskError, StatsPool } from "./pool.ts";
import { LABEL_CODES } from "./pool-types.ts";

let pool: StatsPool;
const db = new GeoDb();
beforeAll(async () => {
  await db.load();
  pool = new StatsPool(2);
});
afterAll(async () => {
  await pool?.close();
});

describe("stats pool: geoip", () => {
  it("splits a large batch into tasks and answers in order, like the single-thread lookup", async () => {
    const n = GEOIP_TASK_MAX * 2 + 17;
    const ips = Array.from({ length: n }, (_, i) =>
      i % 7 === 0
        ? "10.0.0.1"
        : i % 11 === 0
          ? "2001:db8::1"
          : `${1 + (i % 200)}.${(i * 7) % 256}.${i % 256}.9`,
    );
    const r = await pool.geoipPacked(db, ips);
    const want = {
      labels: new Uint8Array(n),
      countries: new Uint16Array(n),
      asns: new Int32Array(n).fill(-1),
      orgs: null,
    };
    db.lookupPacked(ips, LABEL_CODES, want);
    expect(r.labels).toEqual(want.labels);
    expect(r.countries).toEqual(want.countries);
    expect(r.asns).toEqual(want.asns);
    const geo = await pool.geoip(db, ["10.0.0.1", "2001:db8::1"]);
    expect(geo.map((g) => g.label)).toEqual(["private", "reserved"]);
  });

  it("returns a worker's failure as data", async () => {
    const err = await pool.run({ op: "no-such-op" } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PoolTaskError);
    expect((err as PoolTaskError).code).toBe("bad_task");
  });
});
