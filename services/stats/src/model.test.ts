import { HAPROXY_COL, HAPROXY_STAT_COLUMNS, type HaproxySample } from "@edgeplane/proto";
import { expect, test } from "vitest";
import { HaproxyModel } from "./model.ts";
import { Mx } from "./window.ts";

const info = (pid: number, start: number) => ({
  pid,
  start_time_s: start,
  uptime_s: 1,
  version: "2.6.12",
  release_date: "2023/03/28",
  nbthread: 1,
  maxconn: 1000,
  curr_conns: 0,
  cum_conns: 0,
  cum_req: 0,
  conn_rate: 0,
  sess_rate: 0,
  max_conn_rate: 0,
  tasks: 1,
  run_queue: 0,
  idle_pct: 100,
  jobs: 1,
  stopping: false,
  bytes_out_total: 0,
});
function sample(ts: number, pid: number, start: number, req: number): HaproxySample {
  const c: Array<number | null> = HAPROXY_STAT_COLUMNS.map(() => 0);
  c[HAPROXY_COL.req_tot] = req;
  c[HAPROXY_COL.hrsp_2xx] = req;
  c[HAPROXY_COL.stot] = req;
  return {
    v: 1,
    cluster: "c",
    node: "n",
    ts,
    interval_ms: 2000,
    part: 0,
    parts: 1,
    info: info(pid, start),
    columns: [...HAPROXY_STAT_COLUMNS],
    rows: [{ t: 0, px: "fe", sv: "FRONTEND", st: "OPEN", ck: null, c }],
  };
}
const T = 1_800_000_000_000;

test("model - counters become rates; a reload and a clear counters never go negative or spike", () => {
  const m = new HaproxyModel({ stepMs: 10_000, windowBuckets: 400 });
  m.ingest(sample(T, 1, 100, 1000)); // first sample: baseline only
  m.ingest(sample(T + 2000, 1, 100, 1100)); // +100 in 2 s
  const row = () => [...(m.nodes.values().next().value?.rows.values() ?? [])][0];
  expect(row()?.rates[Mx.req]).toBe(50);
  m.ingest(sample(T + 4000, 2, Math.floor((T + 3000) / 1000), 30)); // reload: new worker counted 30
  expect(row()?.rates[Mx.req]).toBe(15);
  m.ingest(sample(T + 6000, 2, Math.floor((T + 3000) / 1000), 50));
  m.ingest(sample(T + 8000, 2, Math.floor((T + 3000) / 1000), 4)); // clear counters
  expect(row()?.rates[Mx.req]).toBe(2);
  const g = m.gather("c", Math.floor(T / 10_000), Math.floor((T + 8000) / 10_000), () => true);
  let total = 0;
  for (let b = 0; b < g.length / 16; b++) total += g[b * 16 + Mx.req] as number;
  expect(total).toBe(100 + 30 + 20 + 4);
});

test("model - a long gap is not put into one bucket", () => {
  const m = new HaproxyModel({ stepMs: 10_000, windowBuckets: 400 });
  m.ingest(sample(T, 1, 100, 0));
  m.ingest(sample(T + 600_000, 1, 100, 6000)); // 10 min later
  const g = m.gather("c", Math.floor(T / 10_000), Math.floor((T + 600_000) / 10_000), () => true);
  expect(Math.max(...Array.from(g))).toBe(0);
  const row = [...(m.nodes.values().next().value?.rows.values() ?? [])][0];
  expect(row?.rates[Mx.req]).toBe(10); // averaged over the real time
});
