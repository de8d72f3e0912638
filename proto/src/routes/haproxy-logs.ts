/**
 * Live HAProxy logs as Server-Sent Events, answered by the gateway itself (no subject): it
 * subscribes to the cluster's log subject (`ep.v1.logs.haproxy.<cluster>.*`, see
 * `schemas/haproxy/logs.ts`) for as long as the client reads, after the usual
 * authentication, permission and cluster-scope checks. PatchPanel's `GET /api/logs` is the
 * same stream on the `default` cluster.
 */
import { z } from "zod";
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { LogsParams, LogsQuery } from "../schemas/haproxy/logs.ts";
import { defineRoute, type RouteSpec } from "./route.ts";

const description = [
  "`text/event-stream`: one `event: log` per haproxy log line (`data` = a `HaproxyLogEntry` as JSON),",
  "from every node of the cluster, filtered by `node`, `frontend`, `backend` and `status` classes.",
  "A comment line every 15 s keeps proxies from closing an idle stream. A client that reads too",
  "slowly never slows haproxy or the agents: beyond a bounded buffer lines are dropped for that",
  "client, and an `event: dropped` with the running count tells it so.",
].join(" ");

export const haproxyLogsRoute = defineRoute({
  id: "haproxy.logs.stream",
  method: "GET",
  path: "/api/v1/haproxy/clusters/{cluster}/logs",
  summary: "Live haproxy logs (Server-Sent Events)",
  description,
  tags: ["haproxy-runtime"],
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope: { kind: "haproxy_clusters", param: "cluster" },
  params: LogsParams,
  query: LogsQuery,
  reply: z.string().describe("text/event-stream"),
  errors: [Errors.Unauthenticated, Errors.Forbidden],
  rateClass: "none",
});

export const patchpanelLogsRoute = defineRoute({
  ...haproxyLogsRoute,
  id: "patchpanel.logs",
  path: "/api/logs",
  params: undefined,
  scope: { kind: "haproxy_clusters", param: "cluster", fixed: "default" },
  summary: "Live haproxy logs (PatchPanel, default cluster)",
  tags: ["patchpanel"],
});

export const haproxyLogRoutes: readonly RouteSpec[] = [haproxyLogsRoute, patchpanelLogsRoute];
