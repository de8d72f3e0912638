/**
 * Stats contracts: the samples agents publish for the stats service (HAProxy `show info` +
 * `show stat` per node, compact rows; WireGuard samples are `WgStatsSample` in
 * `wireguard/model.ts`), the `show sess` request the stats service sends to a node's agent,
 * and the replies of the stats API.
 *
 * Sample subject: `Subjects.stats.haproxySamples(cluster, node)` =
 * `ep.v1.stats.samples.haproxy.<cluster>.<node>` (plain publish, every `EP_STATS_SAMPLE_MS`,
 * 2 s by default). A big node's sample is split into `parts` messages sharing `ts`; every
 * part carries `info` and stands alone (rows are keyed by proxy/server, nothing to reassemble).
 *
 * `buildHaproxySample()` turns the raw admin-socket text into exactly this contract, so the
 * agent's sampler and the tests produce the same thing.
 */
import { z } from "zod";
import { Name } from "../names.ts";

// ---------------------------------------------------------------------------------------
// HAProxy samples (agent → stats)
// ---------------------------------------------------------------------------------------

/** Version of the sample layout; bumped if `columns` semantics change. */
export const HAPROXY_SAMPLE_VERSION = 1;

/**
 * The numeric `show stat` columns a row carries, in this order (names are HAProxy's). Empty
 * CSV cells (not applicable to the row type) are `null`. Counters (`stot`, `bin`, `bout`,
 * `hrsp_*`, `req_tot`, `e*`, `*_abrt`, `lbtot`, `conn_tot`, `wretr`, `wredis`, `chkfail`,
 * `chkdown`, `downtime`) reset on reload and on `clear counters`; `qtime/ctime/rtime/ttime`
 * are HAProxy's averages over the last 1024 requests, in ms.
 */
export const HAPROXY_STAT_COLUMNS = [
  "qcur",
  "qmax",
  "scur",
  "smax",
  "slim",
  "stot",
  "bin",
  "bout",
  "dreq",
  "dresp",
  "ereq",
  "econ",
  "eresp",
  "wretr",
  "wredis",
  "weight",
  "act",
  "bck",
  "chkfail",
  "chkdown",
  "lastchg",
  "downtime",
  "qlimit",
  "lbtot",
  "rate",
  "rate_max",
  "check_duration",
  "hrsp_1xx",
  "hrsp_2xx",
  "hrsp_3xx",
  "hrsp_4xx",
  "hrsp_5xx",
  "hrsp_other",
  "req_rate",
  "req_rate_max",
  "req_tot",
  "cli_abrt",
  "srv_abrt",
  "qtime",
  "ctime",
  "rtime",
  "ttime",
  "conn_rate",
  "conn_tot",
  "eint",
] as const;
export type HaproxyStatColumn = (typeof HAPROXY_STAT_COLUMNS)[number];
/** Column index by name (`row.c[COL.bin]`). */
export const HAPROXY_COL = Object.freeze(
  Object.fromEntries(HAPROXY_STAT_COLUMNS.map((c, i) => [c, i])) as Record<HaproxyStatColumn, number>,
);

/** `show stat` row types carried in samples (listeners, type 3, are left out). */
export const HaproxyRowType = { Frontend: 0, Backend: 1, Server: 2 } as const;
export type HaproxyRowType = (typeof HaproxyRowType)[keyof typeof HaproxyRowType];

/** A proxy or server name as HAProxy prints it (not a routing token: never used in a subject). */
const ProxyName = z.string().min(1).max(128);

export const HaproxyStatRow = z
  .object({
    t: z
      .union([z.literal(0), z.literal(1), z.literal(2)])
      .describe("Row type: 0 frontend, 1 backend, 2 server."),
    px: ProxyName.describe("Proxy name (`pxname`)."),
    sv: ProxyName.describe("`FRONTEND`, `BACKEND` or the server name (`svname`)."),
    st: z.string().max(64).describe("`status` (OPEN, UP, DOWN, MAINT, DRAIN, `UP 1/3`, `no check`, …)."),
    ck: z
      .string()
      .max(64)
      .nullable()
      .describe("`check_status` (L4OK, L7OK, L4CON, …), null when not checked."),
    c: z
      .array(z.number().nullable())
      .describe("Numeric columns in the order of the sample's `columns`; null = empty cell."),
  })
  .describe("One `show stat` row, compact.");
export type HaproxyStatRow = z.infer<typeof HaproxyStatRow>;

export const HaproxyInfo = z
  .object({
    pid: z.number().int().describe("Worker PID (`Pid`); a new PID means a reload: counters restarted."),
    start_time_s: z.number().int().describe("Worker start, Unix seconds (`Start_time_sec`)."),
    uptime_s: z.number().int().describe("Worker uptime in seconds (`Uptime_sec`)."),
    version: z.string().max(64).describe("HAProxy version (`Version`)."),
    release_date: z.string().max(32).describe("HAProxy release date (`Release_date`)."),
    nbthread: z.number().int().describe("Threads (`Nbthread`)."),
    maxconn: z.number().int().describe("Process connection limit (`Maxconn`)."),
    curr_conns: z.number().int().describe("Current connections (`CurrConns`)."),
    cum_conns: z.number().describe("Connections since start (`CumConns`)."),
    cum_req: z.number().describe("HTTP requests since start (`CumReq`)."),
    conn_rate: z.number().describe("Connections per second over the last second (`ConnRate`)."),
    sess_rate: z.number().describe("Sessions per second over the last second (`SessRate`)."),
    max_conn_rate: z.number().describe("Highest `ConnRate` seen (`MaxConnRate`)."),
    tasks: z.number().int().describe("Scheduled tasks (`Tasks`)."),
    run_queue: z.number().int().describe("Tasks in the run queue (`Run_queue`)."),
    idle_pct: z.number().describe("Idle CPU of the worker, percent (`Idle_pct`)."),
    jobs: z.number().int().describe("Active jobs (`Jobs`)."),
    stopping: z.boolean().describe("The worker is stopping (`Stopping`)."),
    bytes_out_total: z.number().describe("Bytes sent since start (`TotalBytesOut`)."),
  })
  .describe("The fields of `show info` the stats service uses.");
export type HaproxyInfo = z.infer<typeof HaproxyInfo>;

export const HaproxySample = z
  .object({
    v: z.literal(HAPROXY_SAMPLE_VERSION).describe("Layout version."),
    cluster: Name.describe("Cluster of the node."),
    node: Name.describe("Node that sampled."),
    ts: z.number().int().describe("Sample time, Unix milliseconds (taken when `show stat` was read)."),
    interval_ms: z.number().int().positive().describe("The sampler's period (staleness is judged from it)."),
    part: z.number().int().min(0).describe("Chunk number, 0-based (big nodes are split)."),
    parts: z.number().int().min(1).describe("Number of chunks of this sample."),
    info: HaproxyInfo,
    columns: z
      .array(z.enum(HAPROXY_STAT_COLUMNS))
      .describe("Names of the numeric columns of every row's `c`."),
    rows: z.array(HaproxyStatRow).describe("Frontend, backend and server rows of this chunk."),
  })
  .describe("One node's `show info` + `show stat`, published by its haproxy-agent.");
export type HaproxySample = z.infer<typeof HaproxySample>;

/** Rows per chunk: keeps one message well under NATS's 1 MiB default payload. */
export const HAPROXY_SAMPLE_MAX_ROWS = 1500;

const num = (v: string | undefined): number | null => {
  if (v === undefined || v === "") return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};

/** Parse `show info` (`Key: value` lines) into a map. */
export function parseShowInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** The `HaproxyInfo` of a `show info` text. */
export function haproxyInfoFrom(text: string): HaproxyInfo {
  const m = parseShowInfo(text);
  const n = (k: string) => num(m.get(k)) ?? 0;
  return {
    pid: n("Pid"),
    start_time_s: n("Start_time_sec"),
    uptime_s: n("Uptime_sec"),
    version: (m.get("Version") ?? "").slice(0, 64),
    release_date: (m.get("Release_date") ?? "").slice(0, 32),
    nbthread: n("Nbthread"),
    maxconn: n("Maxconn"),
    curr_conns: n("CurrConns"),
    cum_conns: n("CumConns"),
    cum_req: n("CumReq"),
    conn_rate: n("ConnRate"),
    sess_rate: n("SessRate"),
    max_conn_rate: n("MaxConnRate"),
    tasks: n("Tasks"),
    run_queue: n("Run_queue"),
    idle_pct: n("Idle_pct"),
    jobs: n("Jobs"),
    stopping: n("Stopping") !== 0,
    bytes_out_total: n("TotalBytesOut"),
  };
}

/**
 * Rows of a `show stat` CSV (header `# pxname,svname,…`), columns found by the header so a
 * different HAProxy version's column order is no problem. Listener rows are skipped.
 */
export function haproxyRowsFrom(csv: string): HaproxyStatRow[] {
  const lines = csv.split("\n");
  const head = lines.findIndex((l) => l.startsWith("# pxname"));
  if (head < 0) return [];
  const names = (lines[head] as string).slice(2).split(",");
  const idx = (k: string) => names.indexOf(k);
  const iPx = idx("pxname");
  const iSv = idx("svname");
  const iType = idx("type");
  const iSt = idx("status");
  const iCk = idx("check_status");
  const cols = HAPROXY_STAT_COLUMNS.map(idx);
  const rows: HaproxyStatRow[] = [];
  for (const line of lines.slice(head + 1)) {
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(",");
    const t = Number(f[iType]);
    if (t !== 0 && t !== 1 && t !== 2) continue;
    const px = f[iPx] ?? "";
    const sv = f[iSv] ?? "";
    if (px === "" || sv === "") continue;
    rows.push({
      t,
      px: px.slice(0, 128),
      sv: sv.slice(0, 128),
      st: (f[iSt] ?? "").slice(0, 64),
      ck: iCk >= 0 && f[iCk] ? (f[iCk] as string).slice(0, 64) : null,
      c: cols.map((i) => (i < 0 ? null : num(f[i]))),
    });
  }
  return rows;
}

/**
 * Build the sample message(s) of one node from the raw `show info` and `show stat` texts:
 * one message per `maxRows` rows (at least one), all sharing `ts`.
 */
export function buildHaproxySample(input: {
  cluster: string;
  node: string;
  ts: number;
  intervalMs: number;
  info: string;
  stat: string;
  maxRows?: number;
}): HaproxySample[] {
  const info = haproxyInfoFrom(input.info);
  const rows = haproxyRowsFrom(input.stat);
  const max = input.maxRows ?? HAPROXY_SAMPLE_MAX_ROWS;
  const parts = Math.max(1, Math.ceil(rows.length / max));
  const out: HaproxySample[] = [];
  for (let p = 0; p < parts; p++) {
    out.push({
      v: HAPROXY_SAMPLE_VERSION,
      cluster: input.cluster,
      node: input.node,
      ts: input.ts,
      interval_ms: input.intervalMs,
      part: p,
      parts,
      info,
      columns: [...HAPROXY_STAT_COLUMNS],
      rows: rows.slice(p * max, (p + 1) * max),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// `show sess` (stats → one node's agent)
// ---------------------------------------------------------------------------------------

/** Request on `Subjects.stats.haproxySessions(cluster, node)`. */
export const HaproxySessionsRequest = z
  .object({
    limit: z.number().int().min(1).max(100_000).default(10_000).describe("Most sessions to return."),
  })
  .describe("Ask one node's agent for its active sessions (`show sess`).");
export type HaproxySessionsRequest = z.infer<typeof HaproxySessionsRequest>;

export const HaproxySession = z
  .object({
    id: z.string().max(32).describe("HAProxy's session pointer (`0x…`), the id `shutdown session` takes."),
    proto: z.string().max(32).describe("`tcpv4`, `tcpv6`, …"),
    src: z.string().max(64).nullable().describe("Client address (after PROXY protocol), null for non-IP."),
    src_port: z.number().int().nullable().describe("Client port."),
    frontend: z.string().max(128).describe("Frontend (`fe=`)."),
    backend: z.string().max(128).nullable().describe("Backend (`be=`), null before one is chosen."),
    server: z.string().max(128).nullable().describe("Server (`srv=`), null before one is chosen."),
    age_s: z.number().describe("Session age in seconds."),
  })
  .describe("One active session.");
export type HaproxySession = z.infer<typeof HaproxySession>;

export const HaproxySessionsReply = z
  .object({
    cluster: Name.describe("Cluster of the node."),
    node: Name.describe("Node that answered."),
    ts: z.number().int().describe("When `show sess` was read, Unix ms."),
    total: z.number().int().describe("Client sessions the node reported (before `limit`)."),
    truncated: z.boolean().describe("More sessions than `limit` existed."),
    sessions: z.array(HaproxySession).describe("Client sessions (the admin socket's own are left out)."),
  })
  .describe("A node's active sessions.");
export type HaproxySessionsReply = z.infer<typeof HaproxySessionsReply>;

/** `age=1d2h`, `3m4s`, `5s` → seconds. */
function parseAge(v: string): number {
  let s = 0;
  for (const m of v.matchAll(/(\d+)([dhms])/g)) {
    const n = Number(m[1]);
    s += m[2] === "d" ? n * 86400 : m[2] === "h" ? n * 3600 : m[2] === "m" ? n * 60 : n;
  }
  return s;
}

/** Parse `show sess` output: client sessions only (internal/admin ones have no IP source). */
export function parseShowSess(text: string): HaproxySession[] {
  const out: HaproxySession[] = [];
  for (const line of text.split("\n")) {
    const m = /^(0x[0-9a-f]+):\s+(.*)$/.exec(line);
    if (!m) continue;
    const kv = new Map<string, string>();
    for (const part of (m[2] as string).split(" ")) {
      const i = part.indexOf("=");
      if (i > 0 && !part.includes("[")) kv.set(part.slice(0, i), part.slice(i + 1));
    }
    const proto = kv.get("proto") ?? "";
    if (!proto.startsWith("tcp") && !proto.startsWith("udp") && !proto.startsWith("quic")) continue;
    const src = kv.get("src") ?? "";
    const at = src.lastIndexOf(":");
    let ip = at > 0 ? src.slice(0, at) : src;
    if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
    const port = at > 0 ? Number(src.slice(at + 1)) : Number.NaN;
    const be = kv.get("be") ?? "";
    const srv = kv.get("srv") ?? "";
    out.push({
      id: (m[1] as string).slice(0, 32),
      proto: proto.slice(0, 32),
      src: ip === "" ? null : ip.slice(0, 64),
      src_port: Number.isInteger(port) ? port : null,
      frontend: (kv.get("fe") ?? "").slice(0, 128),
      backend: be === "" || be === "<NONE>" ? null : be.slice(0, 128),
      server: srv === "" || srv === "<none>" ? null : srv.slice(0, 128),
      age_s: parseAge(kv.get("age") ?? ""),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The stats API
// ---------------------------------------------------------------------------------------

const DURATION_RE = /^(\d{1,6})(s|m|h|d)?$/;
/** `90`, `90s`, `15m`, `24h`, `30d` → seconds. */
export function parseDuration(v: string): number | null {
  const m = DURATION_RE.exec(v);
  if (!m) return null;
  const n = Number(m[1]);
  const mult = m[2] === "d" ? 86400 : m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1;
  return n * mult;
}
const duration = (what: string, dflt: string, min: number, max: number) =>
  z
    .union([z.string(), z.number()])
    .default(dflt)
    .transform((v, ctx) => {
      // A number is seconds already (the gateway forwards the parsed query).
      const s = typeof v === "number" ? v : parseDuration(v);
      if (s === null) {
        ctx.addIssue({ code: "custom", message: `${what} must look like 90s, 15m, 24h or 30d` });
        return z.NEVER;
      }
      if (s < min || s > max) {
        ctx.addIssue({ code: "custom", message: `${what} must be between ${min} s and ${max} s` });
        return z.NEVER;
      }
      return s;
    })
    .describe(`${what}: a number with s, m, h or d (default ${dflt}).`);

export const StatsClusterParams = z.object({ cluster: Name.describe("HAProxy cluster.") });

/** The metrics of a window bucket / history point, in this order. */
export const STATS_SERIES_COLUMNS = [
  "ts",
  "req_rate",
  "sess_rate",
  "bytes_in_rate",
  "bytes_out_rate",
  "http_1xx",
  "http_2xx",
  "http_3xx",
  "http_4xx",
  "http_5xx",
  "http_other",
  "errors",
  "scur",
  "qcur",
  "rtime_ms",
  "ttime_ms",
] as const;

export const StatsRates = z
  .object({
    req_rate: z.number().describe("HTTP requests per second (from `req_tot` deltas)."),
    sess_rate: z.number().describe("Sessions per second (from `stot` deltas)."),
    bytes_in_rate: z.number().describe("Bytes received per second."),
    bytes_out_rate: z.number().describe("Bytes sent per second."),
    http_rate: z
      .object({
        "1xx": z.number(),
        "2xx": z.number(),
        "3xx": z.number(),
        "4xx": z.number(),
        "5xx": z.number(),
        other: z.number(),
      })
      .describe("Responses per second by class."),
    errors_rate: z.number().describe("Request + connection + response errors per second."),
  })
  .describe("Rates computed from counter deltas (resets after reload / `clear counters` handled).");

export const StatsRow = z
  .object({
    type: z.enum(["frontend", "backend", "server"]).describe("Row type."),
    proxy: z.string().describe("Frontend or backend name."),
    server: z.string().nullable().describe("Server name (server rows)."),
    node: z.string().nullable().describe("Node of the row; null = merged across the cluster's fresh nodes."),
    status: z.string().describe("HAProxy status; merged rows: the node statuses joined when they differ."),
    check_status: z.string().nullable().describe("Last check result (`L7OK`, `L4CON`, …)."),
    counters: z
      .record(z.string(), z.number().nullable())
      .describe("`show stat` numeric columns (merged: counters and current values summed; times averaged)."),
    rates: StatsRates,
  })
  .describe("One frontend, backend or server.");

export const StatsNode = z
  .object({
    node: z.string().describe("Node name."),
    ts: z.number().int().describe("Time of its latest sample, Unix ms."),
    age_ms: z.number().int().describe("How old that sample is."),
    stale: z.boolean().describe("No sample for 3 sampling periods: left out of merged rows."),
    reloads_seen: z
      .number()
      .int()
      .describe("Worker PID changes observed (reloads) since this instance started."),
    info: HaproxyInfo,
  })
  .describe("One HAProxy node of the cluster.");

export const StatsCurrentQuery = z.object({
  view: z
    .enum(["merged", "nodes", "both"])
    .default("both")
    .describe("Rows merged across nodes, per node, or both."),
});
export const StatsCurrentReply = z
  .object({
    cluster: z.string().describe("Cluster."),
    ts: z.number().int().describe("When this answer was made, Unix ms."),
    nodes: z.array(StatsNode).describe("Nodes with their `show info`."),
    info: z
      .object({
        curr_conns: z.number().describe("Current connections, summed over fresh nodes."),
        conn_rate: z.number().describe("Connections per second, summed."),
        sess_rate: z.number().describe("Sessions per second, summed."),
        cum_req: z.number().describe("Requests since the workers started, summed."),
      })
      .describe("`show info` merged across fresh nodes."),
    frontends: z.array(StatsRow).describe("Frontend rows."),
    backends: z.array(StatsRow).describe("Backend rows."),
    servers: z.array(StatsRow).describe("Server rows."),
  })
  .describe("Current `show info` + `show stat` of a cluster.");

export const StatsHistoryQuery = z.object({
  window: duration("window", "1h", 10, 30 * 86400),
  step: duration("step", "10s", 1, 86400),
  frontend: z.string().max(128).optional().describe("Only this frontend."),
  backend: z.string().max(128).optional().describe("Only this backend."),
  source: z
    .enum(["auto", "memory", "database"])
    .default("auto")
    .describe("auto: the in-memory window when it covers the request, else PostgreSQL."),
});
export const StatsHistoryReply = z
  .object({
    cluster: z.string().describe("Cluster."),
    series: z.string().describe("`total`, `frontend:<name>` or `backend:<name>`."),
    window_s: z.number().int().describe("Window, seconds."),
    step_s: z.number().int().describe("Point spacing, seconds."),
    source: z.enum(["memory", "database"]).describe("Where the points came from."),
    resolution_s: z.number().int().describe("Resolution of the underlying data (10 s or 60 s)."),
    columns: z.array(z.string()).describe("Names of each point's values (first is `ts`, Unix ms)."),
    points: z
      .array(z.array(z.number().nullable()))
      .describe("One array per step (oldest first); rates per second, gauges averaged; null = no data."),
  })
  .describe("Traffic over time.");

export const StatsSlowestQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(5).describe("How many backends."),
  window: duration("window", "5m", 10, 3600),
});
export const StatsSlowestReply = z
  .object({
    cluster: z.string().describe("Cluster."),
    window_s: z.number().int().describe("Window the averages cover."),
    backends: z
      .array(
        z.object({
          backend: z.string().describe("Backend name."),
          rtime_ms: z
            .number()
            .describe("Response time (HAProxy `rtime`), weighted by requests over the window."),
          rtime_p50_ms: z.number().nullable().describe("Median of the 10 s averages in the window."),
          rtime_p95_ms: z.number().nullable().describe("95th percentile of the 10 s averages."),
          ttime_ms: z.number().describe("Total session time, weighted likewise."),
          requests: z.number().describe("Requests in the window."),
        }),
      )
      .describe("Slowest first."),
  })
  .describe("Backends ordered by response time.");

export const StatsHttpCodesQuery = z.object({
  window: duration("window", "1h", 10, 3600),
});
const Classes = z
  .object({
    "1xx": z.number(),
    "2xx": z.number(),
    "3xx": z.number(),
    "4xx": z.number(),
    "5xx": z.number(),
    other: z.number(),
  })
  .describe("Responses by class.");
export const StatsHttpCodesReply = z
  .object({
    cluster: z.string().describe("Cluster."),
    window_s: z.number().int().describe("Window covered."),
    total: z.number().describe("Responses counted (frontends)."),
    classes: Classes,
    codes: z
      .record(z.string(), z.number())
      .describe(
        "Per status code. `show stat` only counts classes, so codes are known only when an agent publishes them; empty otherwise.",
      ),
    frontends: z.array(z.object({ name: z.string(), classes: Classes })).describe("Per frontend."),
    backends: z.array(z.object({ name: z.string(), classes: Classes })).describe("Per backend."),
  })
  .describe("HTTP response distribution over the window (default 1 h).");

export const GeoInfo = z
  .object({
    label: z.enum(["public", "private", "reserved"]).describe("Address class."),
    range: z
      .string()
      .nullable()
      .describe("Special range (`loopback`, `rfc1918`, `link-local`, `cgnat`, `ula`, `documentation`, …)."),
    country: z.string().nullable().describe("ISO country code from the database."),
    asn: z
      .number()
      .int()
      .nullable()
      .describe("Autonomous system number, when an ASN database is configured."),
    as_org: z.string().nullable().describe("AS organisation."),
  })
  .describe("GeoIP enrichment of an address.");
export type GeoInfo = z.infer<typeof GeoInfo>;

export const StatsSessionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100_000).default(1000).describe("Most sessions to return."),
});
export const StatsSessionsReply = z
  .object({
    cluster: z.string().describe("Cluster."),
    ts: z.number().int().describe("When the nodes were asked, Unix ms."),
    total: z.number().int().describe("Sessions reported by the nodes."),
    truncated: z.boolean().describe("Some sessions were left out (`limit`)."),
    nodes: z
      .array(
        z.object({
          node: z.string(),
          ok: z.boolean(),
          total: z.number().int(),
          error: z.string().nullable(),
        }),
      )
      .describe("Per node: did it answer."),
    by_country: z
      .record(z.string(), z.number())
      .describe("Sessions per country (or `private` / `reserved`)."),
    sessions: z.array(HaproxySession.extend({ node: z.string(), geo: GeoInfo })).describe("Active sessions."),
  })
  .describe("Active sessions of every node, enriched with GeoIP.");

export const GeoipStatusReply = z
  .object({
    database: z.string().describe("Path of the database in use."),
    source: z.enum(["bundled", "configured"]).describe("The npm-shipped database or a configured path."),
    type: z.string().describe("`databaseType` from the file's metadata."),
    build_date: z.string().describe("Build time of the database (ISO 8601)."),
    records: z.number().int().describe("Search-tree nodes of the database (its size in networks)."),
    ip_version: z.number().int().describe("4 or 6 (6 covers both)."),
    last_reload: z.string().nullable().describe("When the file was last (re)loaded."),
    reloads: z.number().int().describe("Reloads since start (the file is watched)."),
    fallback: z
      .string()
      .nullable()
      .describe("Set when the configured database could not be loaded and the bundled one is used."),
    asn_database: z.string().nullable().describe("ASN database path, if any."),
    last_error: z.string().nullable().describe("Last load error."),
  })
  .describe("GeoIP database state.");

export const StatsWgParams = z.object({ interface: Name.describe("WireGuard interface.") });
export const StatsWgQuery = z.object({
  window: duration("window", "1h", 10, 30 * 86400).describe(
    "window: how far back, a number with s, m, h or d, at most 30d (default 1h). The in-memory window (1 h by default) answers the recent part, PostgreSQL the older one (10 s rows up to 24 h, 1 min rows beyond).",
  ),
  step: duration("step", "60s", 10, 86400).describe(
    "step: point spacing, a number with s, m, h or d (default 60s), rounded up to a multiple of the data's resolution (10 s; with PostgreSQL, 60 s for windows over 24 h). window/step may give at most 2880 points per peer (else a 422 naming `query.step`).",
  ),
  peer: z.string().max(64).optional().describe("Only this peer (public key or id)."),
  page: z.coerce.number().int().min(1).default(1).describe("1-based page of peers (ordered by public key)."),
  per_page: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .describe(
      "Peers per page (1–200, default 50). A page carries at most 20000 points in all (points per peer × peers on the page), so one reply stays one bounded message; beyond: a 422 naming `query.per_page` (fewer peers per page, or a coarser step).",
    ),
});
export const StatsWgReply = z
  .object({
    interface: z.string().describe("Interface."),
    ts: z.number().int().describe("Answer time, Unix ms."),
    peers: z
      .array(
        z.object({
          public_key: z.string().describe("Peer public key."),
          peer_id: z.string().nullable().describe("Peer id."),
          nodes: z
            .array(z.string())
            .describe("Nodes reporting the peer (empty for a peer only stored history knows)."),
          endpoint: z.string().nullable().describe("Latest endpoint."),
          latest_handshake: z
            .number()
            .int()
            .describe(
              "Unix seconds of the most recent handshake (0 = never, or unknown: a peer only stored history knows).",
            ),
          rx_bytes: z.number().describe("Bytes received (summed over nodes)."),
          tx_bytes: z.number().describe("Bytes sent."),
          rx_rate: z.number().describe("Bytes/s received."),
          tx_rate: z.number().describe("Bytes/s sent."),
          history: z
            .array(z.array(z.number().nullable()))
            .describe(
              "Points `[ts, rx_rate, tx_rate, seconds_since_handshake]` over the window, oldest first: `ts` Unix ms of the step's start, rates in bytes/s averaged over the step (3 decimals), the smallest handshake age seen in it (null = none); all null = no data. Recent steps from memory, older ones from PostgreSQL.",
            ),
        }),
      )
      .describe("Peers of this page, ordered by public key."),
    total: z.number().int().describe("Peers with data in the window, across all pages."),
    page: z.number().int().describe("This page's number (1-based)."),
    per_page: z.number().int().describe("Page size used."),
    pages: z.number().int().describe("Number of pages."),
  })
  .describe("WireGuard per-peer traffic and handshake history (up to 30 days), paged by peer.");
