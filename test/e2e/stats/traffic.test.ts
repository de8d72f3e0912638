/**
 * Stats end to end with a real haproxy and real traffic: rates, history, slowest backends,
 * HTTP codes, a reload's counter reset, sessions with GeoIP, and the Prometheus exposition.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { waitFor } from "../../harness/mod.ts";
import { drive, promtool, publicClient, type StatsMesh, startStatsMesh } from "./fixture.ts";

let m: StatsMesh;
beforeAll(async () => {
  m = await startStatsMesh({ instances: 1 });
}, 60_000);
afterAll(async () => {
  await m?.close();
});

interface Row {
  type: string;
  proxy: string;
  node: string | null;
  rates: { req_rate: number; sess_rate: number };
  counters: Record<string, number | null>;
}
interface Current {
  nodes: Array<{ node: string; reloads_seen: number }>;
  frontends: Row[];
  backends: Row[];
}
interface Codes {
  classes: Record<string, number>;
  backends: Array<{ name: string; classes: Record<string, number> }>;
}
interface History {
  columns: string[];
  points: Array<Array<number | null>>;
  step_s: number;
}

const sumHistory = (h: History, col: string) => {
  const i = h.columns.indexOf(col);
  return h.points.reduce((a, p) => a + ((p[i] as number | null) ?? 0) * h.step_s, 0);
};

test("stats - real traffic: rates, history, slowest backends and http codes", async () => {
  const before = await m.json<Codes>("/api/stats/http-codes");
  const base = { ...before.classes };
  const fast = await drive(m.port, "/fast", 30);
  const slow = await drive(m.port, "/slow/x", 8);
  const notFound = await drive(m.port, "/fast?status=404", 10);
  const errors = await drive(m.port, "/fast?status=503", 5);
  expect([...fast, ...slow].every((s) => s === 200)).toBe(true);
  expect(notFound.every((s) => s === 404)).toBe(true);
  expect(errors.every((s) => s === 503)).toBe(true);

  // Counters → rates: the backend's request rate rose above zero while traffic ran.
  const cur = await waitFor(
    async () => {
      const c = await m.json<Current>("/api/v1/stats/clusters/default?view=merged");
      const be = c.backends.find((b) => b.proxy === "be_fast");
      return be && (be.counters.req_tot ?? 0) >= 45 ? c : null;
    },
    { timeout: 10_000, message: "be_fast counters" },
  );
  expect(cur.frontends.some((f) => f.proxy === "fe_main" && f.node === null)).toBe(true);

  // HTTP codes: exactly what we produced (fe_main: 38 × 2xx, 10 × 4xx, 5 × 5xx).
  const codes = await waitFor(
    async () => {
      const c = await m.json<Codes>("/api/stats/http-codes");
      return c.classes["2xx"] - (base["2xx"] ?? 0) === 38 &&
        c.classes["4xx"] - (base["4xx"] ?? 0) === 10 &&
        c.classes["5xx"] - (base["5xx"] ?? 0) === 5
        ? c
        : null;
    },
    { timeout: 10_000, message: "http codes counted" },
  );
  expect(codes.backends.find((b) => b.name === "be_slow")?.classes["2xx"]).toBe(8);

  // History: the total's requests over the window add up to what was sent.
  const h = await m.json<History>("/api/stats/history?window=5m&step=10s");
  expect(Math.round(sumHistory(h, "req_rate"))).toBeGreaterThanOrEqual(53);
  const hb = await m.json<History>("/api/stats/history?window=5m&step=10s&backend=be_slow");
  expect(Math.round(sumHistory(hb, "req_rate"))).toBe(8);

  // Slowest backends: be_slow (150 ms) before be_fast (5 ms).
  const s = await m.json<{ backends: Array<{ backend: string; rtime_ms: number }> }>(
    "/api/stats/slowest-backends?limit=5",
  );
  expect(s.backends.map((b) => b.backend)).toEqual(["be_slow", "be_fast"]);
  expect(s.backends[0]?.rtime_ms).toBeGreaterThan(100);
}, 60_000);

test("stats - a reload (counter reset) gives no negative or spiked rates", async () => {
  const feReq = async () =>
    (await m.json<Current>("/api/stats?view=merged")).frontends.find((f) => f.proxy === "fe_main")?.counters
      .req_tot ?? 0;
  const before = await feReq();
  await drive(m.port, "/fast", 40);
  // Sampled before the reload (what the old worker counts after its last sample is gone with it).
  await waitFor(async () => (await feReq()) >= before + 40);
  const t0 = Date.now();
  await m.haproxy.reload(10_000);
  await drive(m.port, "/fast", 20);
  const c = await waitFor(
    async () => {
      const c = await m.json<Current>("/api/stats?view=both");
      const be = c.backends.find((b) => b.proxy === "be_fast" && b.node === null);
      return c.nodes[0]?.reloads_seen && (be?.counters.req_tot ?? 0) >= 20 ? c : null;
    },
    { timeout: 10_000, message: "reload seen" },
  );
  expect(c.nodes[0]?.reloads_seen).toBeGreaterThanOrEqual(1);
  for (const r of [...c.frontends, ...c.backends]) {
    expect(r.rates.req_rate).toBeGreaterThanOrEqual(0);
    expect(r.rates.req_rate).toBeLessThan(1000);
  }
  // Every request is counted exactly once across the reload (53 in the first test + 40 + 20):
  // no negative bucket, no bucket holding the old totals again.
  let last = -1;
  const h = await waitFor(
    async () => {
      const h = await m.json<History>("/api/stats/history?window=5m&step=10s&frontend=fe_main");
      last = Math.round(sumHistory(h, "req_rate"));
      return last === 113 ? h : null;
    },
    { timeout: 10_000, message: "113 requests in the history" },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: last sum ${last}`);
  });
  const i = h.columns.indexOf("req_rate");
  for (const p of h.points) expect((p[i] as number | null) ?? 0).toBeGreaterThanOrEqual(0);
  expect(t0).toBeGreaterThan(0);
}, 60_000);

test("stats - sessions: a client from a public address has its country, loopback is private", async () => {
  // Long-lived requests: the slow backend holds them 20 s.
  const client = await publicClient(m.proxyPort);
  const loc = connect(m.port, "127.0.0.1");
  try {
    client.hold("/slow/hold?delay=20000");
    await new Promise((r) => loc.once("connect", r));
    loc.write("GET /slow/hold?delay=20000 HTTP/1.1\r\nHost: x\r\n\r\n");
    interface S {
      sessions: Array<{
        src: string;
        frontend: string;
        geo: { label: string; range: string | null; country: string | null };
      }>;
      by_country: Record<string, number>;
      nodes: Array<{ ok: boolean }>;
    }
    const s = await waitFor(
      async () => {
        const s = await m.json<S>("/api/stats/sessions");
        return s.sessions.some((x) => x.src === "81.2.69.142") &&
          s.sessions.some((x) => x.src === "127.0.0.1")
          ? s
          : null;
      },
      { timeout: 10_000, message: "both sessions listed" },
    );
    const p = s.sessions.find((x) => x.src === "81.2.69.142");
    expect(p?.frontend).toBe("fe_edge");
    expect(p?.geo).toMatchObject({ label: "public", country: "GB" });
    const l = s.sessions.find((x) => x.src === "127.0.0.1");
    expect(l?.geo).toMatchObject({ label: "private", range: "loopback", country: null });
    expect(s.by_country.GB).toBeGreaterThanOrEqual(1);
    expect(s.nodes.every((n) => n.ok)).toBe(true);
  } finally {
    loc.destroy();
    await client.close();
  }
}, 30_000);

test("stats - geoip status through the PatchPanel alias", async () => {
  const g = await m.json<{ source: string; type: string; records: number; reloads: number }>(
    "/api/geoip/status",
  );
  expect(g.source).toBe("bundled");
  expect(g.type).toContain("country");
  expect(g.records).toBeGreaterThan(100_000);
  expect(g.reloads).toBeGreaterThanOrEqual(1);
});

test("stats - the fleet exposition passes promtool check metrics", async () => {
  const text = await (await fetch(`http://127.0.0.1:${m.metricsPorts[0]}/metrics`)).text();
  expect(text).toContain(
    'ep_haproxy_backend_http_responses_total{cluster="default",node="node-a",backend="be_fast",code="2xx"}',
  );
  expect(text).toContain("ep_haproxy_server_up");
  const r = await promtool(text);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
});
