/**
 * Stats routes (answered by any stats instance, queue group): current `show info` +
 * `show stat`, history, slowest backends, HTTP codes and GeoIP-enriched sessions per HAProxy
 * cluster under `/api/v1/stats/clusters/{cluster}`; GeoIP status; WireGuard per-peer traffic.
 * PatchPanel's `/api/stats*` and `/api/geoip/status` are the same subjects on `default`.
 */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import {
  GeoipStatusReply,
  StatsClusterParams,
  StatsCurrentQuery,
  StatsCurrentReply,
  StatsHistoryQuery,
  StatsHistoryReply,
  StatsHttpCodesQuery,
  StatsHttpCodesReply,
  StatsSessionsQuery,
  StatsSessionsReply,
  StatsSlowestQuery,
  StatsSlowestReply,
  StatsWgParams,
  StatsWgQuery,
  StatsWgReply,
} from "../schemas/stats.ts";
import { defineRoute, type RouteSpec } from "./route.ts";

const P = "/api/v1/stats/clusters/{cluster}";
const S = "ep.v1.stats.cluster.{cluster}";
const scope = { kind: "haproxy_clusters", param: "cluster" } as const;
const tags = ["stats"] as const;
const common = { tags, auth: "principal", permission: Perm.StatsRead } as const;

export const statsCurrentRoute = defineRoute({
  ...common,
  id: "stats.current",
  method: "GET",
  path: P,
  summary: "Current show info + show stat of a cluster",
  description:
    "Every node's `show info` and `show stat` rows with rates computed from counter deltas, merged across the cluster's fresh nodes and per node.",
  scope,
  subject: `${S}.current`,
  params: StatsClusterParams,
  query: StatsCurrentQuery,
  reply: StatsCurrentReply,
  errors: [Errors.NotFound],
});

export const statsHistoryRoute = defineRoute({
  ...common,
  id: "stats.history",
  method: "GET",
  path: `${P}/history`,
  summary: "Traffic over time",
  description:
    "Total, one frontend's or one backend's traffic: from the in-memory window (1 h at 10 s) when it covers the request, else from PostgreSQL (10 s for 24 h, 1 min for 30 days).",
  scope,
  subject: `${S}.history`,
  params: StatsClusterParams,
  query: StatsHistoryQuery,
  reply: StatsHistoryReply,
  errors: [Errors.ValidationFailed],
});

export const statsSlowestRoute = defineRoute({
  ...common,
  id: "stats.slowest-backends",
  method: "GET",
  path: `${P}/slowest-backends`,
  summary: "Backends by response time",
  scope,
  subject: `${S}.slowest`,
  params: StatsClusterParams,
  query: StatsSlowestQuery,
  reply: StatsSlowestReply,
});

export const statsHttpCodesRoute = defineRoute({
  ...common,
  id: "stats.http-codes",
  method: "GET",
  path: `${P}/http-codes`,
  summary: "HTTP response distribution (1 h)",
  scope,
  subject: `${S}.http-codes`,
  params: StatsClusterParams,
  query: StatsHttpCodesQuery,
  reply: StatsHttpCodesReply,
});

export const statsSessionsRoute = defineRoute({
  ...common,
  id: "stats.sessions",
  method: "GET",
  path: `${P}/sessions`,
  summary: "Active sessions with GeoIP",
  description:
    "`show sess` of every node of the cluster, enriched with country/ASN; private and reserved ranges labelled.",
  scope,
  subject: `${S}.sessions`,
  params: StatsClusterParams,
  query: StatsSessionsQuery,
  reply: StatsSessionsReply,
  timeoutMs: 15_000,
});

export const geoipStatusRoute = defineRoute({
  ...common,
  id: "stats.geoip.status",
  method: "GET",
  path: "/api/v1/stats/geoip",
  aliases: ["/api/geoip/status"],
  summary: "GeoIP database status",
  subject: "ep.v1.stats.geoip.status",
  reply: GeoipStatusReply,
});

export const statsWgRoute = defineRoute({
  ...common,
  id: "stats.wireguard",
  method: "GET",
  path: "/api/v1/stats/wireguard/{interface}",
  summary: "WireGuard per-peer traffic and handshake history",
  description:
    "Per peer: current counters and rates, and rx/tx rates and seconds-since-handshake over the window (up to 30 days): the last hour from the in-memory window, older parts from PostgreSQL (10 s for 24 h, 1 min for 30 days), so a restarted instance still answers history.",
  scope: { kind: "wg_interfaces", param: "interface" },
  subject: "ep.v1.stats.wg.{interface}.peers",
  params: StatsWgParams,
  query: StatsWgQuery,
  reply: StatsWgReply,
  errors: [Errors.ValidationFailed],
});

// ---- PatchPanel compatibility: the same subjects, on the default cluster.
const compatScope = { kind: "haproxy_clusters", param: "cluster", fixed: "default" } as const;
const D = "ep.v1.stats.cluster.default";
const compat = <R extends RouteSpec>(r: R, path: string, verb: string): R =>
  Object.freeze({
    ...r,
    id: `patchpanel.${r.id}`,
    path,
    aliases: undefined,
    params: undefined,
    scope: compatScope,
    subject: `${D}.${verb}`,
    summary: `${r.summary} (PatchPanel, default cluster)`,
    tags: ["patchpanel"],
  }) as R;

export const statsCompatRoutes: readonly RouteSpec[] = [
  compat(statsCurrentRoute, "/api/stats", "current"),
  compat(statsHistoryRoute, "/api/stats/history", "history"),
  compat(statsSlowestRoute, "/api/stats/slowest-backends", "slowest"),
  compat(statsHttpCodesRoute, "/api/stats/http-codes", "http-codes"),
  compat(statsSessionsRoute, "/api/stats/sessions", "sessions"),
];

export const statsRoutes: readonly RouteSpec[] = [
  statsCurrentRoute,
  statsHistoryRoute,
  statsSlowestRoute,
  statsHttpCodesRoute,
  statsSessionsRoute,
  geoipStatusRoute,
  statsWgRoute,
  ...statsCompatRoutes,
];
