/**
 * Fleet-wide Prometheus exposition (text format 0.0.4), written straight from the model:
 * one scrape target for every HAProxy node and WireGuard peer the samples cover. Label
 * cardinality is bounded: at most `maxSeries` label sets per family (frontends and backends
 * first, servers next, peers last); what does not fit is counted in
 * `ep_stats_exposition_dropped_series`. No default Node metrics here (they fail promtool).
 */
import { HAPROXY_COL } from "@edgeplane/proto";
import type { HaproxyModel, RowState } from "./model.ts";
import type { WgModel } from "./wg.ts";
import { Mx } from "./window.ts";

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (l: Record<string, string>) =>
  Object.keys(l).length === 0
    ? ""
    : `{${Object.entries(l)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(",")}}`;
const fmt = (v: number) =>
  Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";

class Family {
  readonly lines: string[] = [];
  readonly name: string;
  readonly type: "gauge" | "counter";
  readonly help: string;
  constructor(name: string, type: "gauge" | "counter", help: string) {
    this.name = name;
    this.type = type;
    this.help = help;
  }
  add(l: Record<string, string>, v: number) {
    if (Number.isNaN(v)) return;
    this.lines.push(`${this.name}${labels(l)} ${fmt(v)}`);
  }
}

export interface ExpositionOptions {
  maxSeries: number;
  now?: number;
}

export function renderMetrics(model: HaproxyModel, wg: WgModel, o: ExpositionOptions): string {
  const now = o.now ?? Date.now();
  const fams = new Map<string, Family>();
  const f = (name: string, type: "gauge" | "counter", help: string) => {
    let x = fams.get(name);
    if (!x) {
      x = new Family(name, type, help);
      fams.set(name, x);
    }
    return x;
  };
  let budget = o.maxSeries;
  let dropped = 0;

  const up = f("ep_haproxy_node_up", "gauge", "1 when the node's latest sample is fresh.");
  const conns = f(
    "ep_haproxy_node_current_connections",
    "gauge",
    "Current connections of the node (show info CurrConns).",
  );
  const uptime = f("ep_haproxy_node_uptime_seconds", "gauge", "Uptime of the node's worker.");
  const age = f("ep_haproxy_node_sample_age_seconds", "gauge", "Age of the node's latest sample.");
  const reloads = f(
    "ep_haproxy_node_reloads_seen_total",
    "counter",
    "Worker changes (reloads) this stats instance saw.",
  );

  const rowsByPrio: Array<{ r: RowState; cluster: string; node: string }> = [];
  for (const n of model.nodes.values()) {
    const l = { cluster: n.cluster, node: n.node };
    const stale = model.isStale(n, now);
    up.add(l, stale ? 0 : 1);
    conns.add(l, n.info.curr_conns);
    uptime.add(l, n.info.uptime_s);
    age.add(l, Math.max(0, (now - n.ts) / 1000));
    reloads.add(l, n.reloads);
    if (stale) continue;
    for (const r of n.rows.values()) rowsByPrio.push({ r, cluster: n.cluster, node: n.node });
  }
  rowsByPrio.sort((a, b) => a.r.t - b.r.t);

  const kinds = ["frontend", "backend", "server"] as const;
  for (const { r, cluster, node } of rowsByPrio) {
    const kind = kinds[r.t] as string;
    const per = r.t === 2 ? 14 : 12; // series per row, to keep the budget honest
    if (budget < per) {
      dropped++;
      continue;
    }
    budget -= per;
    const l: Record<string, string> =
      r.t === 2 ? { cluster, node, backend: r.px, server: r.sv } : { cluster, node, [kind]: r.px };
    const c = (col: keyof typeof HAPROXY_COL) => r.c[HAPROXY_COL[col]] as number;
    const p = `ep_haproxy_${kind}`;
    f(`${p}_current_sessions`, "gauge", `Current sessions per ${kind}.`).add(l, c("scur"));
    f(`${p}_sessions_total`, "counter", `Sessions per ${kind} since the worker started.`).add(l, c("stot"));
    f(`${p}_bytes_in_total`, "counter", `Bytes received per ${kind}.`).add(l, c("bin"));
    f(`${p}_bytes_out_total`, "counter", `Bytes sent per ${kind}.`).add(l, c("bout"));
    f(`${p}_http_requests_total`, "counter", `HTTP requests per ${kind}.`).add(l, c("req_tot"));
    f(
      `${p}_http_requests_per_second`,
      "gauge",
      `HTTP request rate per ${kind} over the last sample period.`,
    ).add(l, r.rates[Mx.req] as number);
    const codes = f(`${p}_http_responses_total`, "counter", `HTTP responses per ${kind} by class.`);
    for (const [code, col] of [
      ["1xx", "hrsp_1xx"],
      ["2xx", "hrsp_2xx"],
      ["3xx", "hrsp_3xx"],
      ["4xx", "hrsp_4xx"],
      ["5xx", "hrsp_5xx"],
      ["other", "hrsp_other"],
    ] as const)
      codes.add({ ...l, code }, c(col));
    if (r.t !== 0) {
      f(`${p}_current_queue`, "gauge", `Queued requests per ${kind}.`).add(l, c("qcur"));
      f(
        `${p}_response_time_average_seconds`,
        "gauge",
        `Average response time (last 1024 requests) per ${kind}.`,
      ).add(l, c("rtime") / 1000);
      f(`${p}_up`, "gauge", `1 when the ${kind} is UP (or has no check).`).add(
        l,
        /^(UP|OPEN|no check)/.test(r.st) ? 1 : 0,
      );
    }
    if (r.t === 2) {
      f(`${p}_check_failures_total`, "counter", "Failed health checks per server.").add(l, c("chkfail"));
      f(`${p}_check_status`, "gauge", "1 for the server's last check result.").add(
        { ...l, status: r.ck ?? "none" },
        1,
      );
      f(`${p}_weight`, "gauge", "Effective weight per server.").add(l, c("weight"));
    }
  }

  const rx = f(
    "ep_wireguard_peer_receive_bytes_total",
    "counter",
    "Bytes received from the peer (per node).",
  );
  const tx = f("ep_wireguard_peer_transmit_bytes_total", "counter", "Bytes sent to the peer (per node).");
  const hs = f(
    "ep_wireguard_peer_seconds_since_handshake",
    "gauge",
    "Seconds since the latest handshake (+Inf: never).",
  );
  for (const [iface, peers] of wg.ifaces) {
    for (const peer of peers.values()) {
      for (const pn of peer.nodes.values()) {
        if (budget < 3) {
          dropped++;
          continue;
        }
        budget -= 3;
        const l = { interface: iface, node: pn.node, peer: peer.peerId ?? peer.publicKey };
        rx.add(l, pn.rx);
        tx.add(l, pn.tx);
        hs.add(l, pn.handshake > 0 ? Math.max(0, now / 1000 - pn.handshake) : Number.POSITIVE_INFINITY);
      }
    }
  }
  f("ep_stats_exposition_dropped_series", "gauge", "Rows left out of this exposition by the series cap.").add(
    {},
    dropped,
  );
  f("ep_stats_samples_ingested_total", "counter", "HAProxy sample messages ingested by this instance.").add(
    {},
    model.samples,
  );

  const out: string[] = [];
  for (const fam of fams.values()) {
    if (fam.lines.length === 0) continue;
    out.push(`# HELP ${fam.name} ${fam.help}`, `# TYPE ${fam.name} ${fam.type}`, ...fam.lines);
  }
  return `${out.join("\n")}\n`;
}
