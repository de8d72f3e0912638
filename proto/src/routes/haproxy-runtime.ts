/**
 * HAProxy runtime control (no reload) and live stats under
 * `/api/v1/haproxy/clusters/{cluster}`, plus PatchPanel's `/api/haproxy/servers/…`,
 * `/api/runtime/…` on the `default` cluster (`/api/stats` belongs to the stats service).
 *
 * Subjects carry only the cluster (`ep.v1.haproxy.<cluster>.runtime.…`); proxy and server
 * names travel in the validated payload. Any agent of the cluster answers (queue group)
 * and fans the change out to every node (`ep.v1.haproxy.<cluster>.node.<node>.runtime.…`).
 */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { ClusterParams } from "../schemas/haproxy/api.ts";
import {
  AclDeleteQuery,
  AclEntryBody,
  AclEntryQuery,
  AclParams,
  FrontendParams,
  HaproxyStatsQuery,
  HaproxyStatsReply,
  IntentList,
  IntentParams,
  MapDeleteQuery,
  MapEntryBody,
  MapParams,
  MaxconnBody,
  NodeQuery,
  RuntimeReply,
  RuntimeShowParams,
  RuntimeShowReply,
  ServerParams,
  ServerStateBody,
  SessionParams,
  ShutdownQuery,
  WeightBody,
} from "../schemas/haproxy/runtime.ts";
import { defaultClusterAlias } from "./haproxy-compat.ts";
import { defineRoute, type RouteSpec } from "./route.ts";

const P = "/api/v1/haproxy/clusters/{cluster}";
const S = "ep.v1.haproxy.{cluster}";
const scope = { kind: "haproxy_clusters", param: "cluster" } as const;
const tags = ["haproxy-runtime"] as const;
/** Fan-out to every node plus, for map/ACL entries, a commit that waits for the nodes. */
const RUNTIME_TIMEOUT_MS = 60_000;
const held =
  "Applied on every online node at once (per-node result in the reply) and held as a runtime intent: re-applied after every reload, agent restart and on nodes that join later, until cleared.";

const common = { tags, auth: "principal", scope, timeoutMs: RUNTIME_TIMEOUT_MS } as const;

export const haproxyServerStateRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.server_state",
  method: "POST",
  path: `${P}/servers/{backend}/{server}/state`,
  summary: "Set a server's administrative state (ready / drain / maint)",
  description: `${held} \`ready\` clears the server's state intent.`,
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.server-state`,
  params: ServerParams,
  body: ServerStateBody,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.HaproxyUnavailable],
});

export const haproxyServerWeightRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.server_weight",
  method: "POST",
  path: `${P}/servers/{backend}/{server}/weight`,
  summary: "Set a server's weight",
  description: held,
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.server-weight`,
  params: ServerParams,
  body: WeightBody,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.HaproxyUnavailable],
});

const frontendToggle = (verb: "enable" | "disable") =>
  defineRoute({
    ...common,
    id: `haproxy.runtime.frontend_${verb}`,
    method: "POST",
    path: `${P}/frontends/{name}/${verb}`,
    summary: verb === "disable" ? "Disable a frontend (stop accepting connections)" : "Enable a frontend",
    description:
      verb === "disable"
        ? `${held} Its listeners refuse new connections.`
        : "Clears the frontend's disable intent.",
    permission: Perm.HaproxyRuntime,
    subject: `${S}.runtime.frontend-${verb}`,
    params: FrontendParams,
    reply: RuntimeReply,
    errors: [Errors.NotFound, Errors.HaproxyUnavailable],
  });
export const haproxyFrontendEnableRoute = frontendToggle("enable");
export const haproxyFrontendDisableRoute = frontendToggle("disable");

export const haproxyFrontendMaxconnRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.maxconn_frontend",
  method: "POST",
  path: `${P}/maxconn/frontend/{name}`,
  summary: "Set a frontend's maxconn",
  description: held,
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.maxconn-frontend`,
  params: FrontendParams,
  body: MaxconnBody,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.HaproxyUnavailable],
});

export const haproxyGlobalMaxconnRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.maxconn_global",
  method: "POST",
  path: `${P}/maxconn/global`,
  summary: "Set the process-wide maxconn",
  description: `${held} Cannot exceed the configured hard limit.`,
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.maxconn-global`,
  params: ClusterParams,
  body: MaxconnBody,
  reply: RuntimeReply,
  errors: [Errors.HaproxyUnavailable],
});

export const haproxyCountersClearRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.counters_clear",
  method: "POST",
  path: `${P}/counters/clear`,
  summary: "Reset all max and total counters on every node",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.counters-clear`,
  params: ClusterParams,
  reply: RuntimeReply,
  errors: [Errors.HaproxyUnavailable],
});

export const haproxyIntentsListRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.intents_list",
  method: "GET",
  path: `${P}/runtime/intents`,
  summary: "Runtime intents in force",
  permission: Perm.HaproxyRead,
  subject: `${S}.runtime.intents-list`,
  params: ClusterParams,
  reply: IntentList,
});

export const haproxyIntentClearRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.intents_clear",
  method: "DELETE",
  path: `${P}/runtime/intents/{id}`,
  summary: "Clear a runtime intent",
  description:
    "Removes the intent and reverts it on every node: server back to `ready`, weight and maxconn back to the configured values, frontend enabled.",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.intents-clear`,
  params: IntentParams,
  reply: RuntimeReply,
  errors: [Errors.NotFound],
});

export const haproxyRuntimeShowRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.show",
  method: "GET",
  path: `${P}/runtime/{what}`,
  summary: "Inspect runtime state: ACLs, maps, stick tables, resolvers, errors, sessions, servers",
  description: "Straight from the runtime API of every online node (or `node`), with parsed entries.",
  permission: Perm.HaproxyRead,
  subject: `${S}.runtime.show`,
  params: RuntimeShowParams,
  query: NodeQuery,
  reply: RuntimeShowReply,
});

export const haproxyMapEntryAddRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.map_add",
  method: "POST",
  path: `${P}/runtime/maps/{name}/entries`,
  summary: "Add or replace a map entry",
  description:
    "Applied at once on every node through the runtime API, and written into the state document (a new revision) so a reload keeps it.",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.map-add`,
  params: MapParams,
  body: MapEntryBody,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.StaleRevision],
});

export const haproxyMapEntryDeleteRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.map_delete",
  method: "DELETE",
  path: `${P}/runtime/maps/{name}/entries`,
  summary: "Delete a map entry",
  description: "Removed at once on every node and from the state document.",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.map-delete`,
  params: MapParams,
  query: MapDeleteQuery,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.StaleRevision],
});

export const haproxyAclEntryAddRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.acl_add",
  method: "POST",
  path: `${P}/runtime/acls/{name}/entries`,
  summary: "Add a pattern to a named ACL",
  description:
    "Applied at once on every node (`add acl`) and written into the ACL's `values` in the state document (a new revision).",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.acl-add`,
  params: AclParams,
  query: AclEntryQuery,
  body: AclEntryBody,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.StaleRevision],
});

export const haproxyAclEntryDeleteRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.acl_delete",
  method: "DELETE",
  path: `${P}/runtime/acls/{name}/entries`,
  summary: "Remove a pattern from a named ACL",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.acl-delete`,
  params: AclParams,
  query: AclDeleteQuery,
  reply: RuntimeReply,
  errors: [Errors.NotFound, Errors.StaleRevision],
});

export const haproxySessionShutdownRoute = defineRoute({
  ...common,
  id: "haproxy.runtime.session_shutdown",
  method: "POST",
  path: `${P}/sessions/{id}/shutdown`,
  summary: "Kill a session",
  description: "On `node`, or on every node (only the one holding the session succeeds).",
  permission: Perm.HaproxyRuntime,
  subject: `${S}.runtime.session-shutdown`,
  params: SessionParams,
  query: ShutdownQuery,
  reply: RuntimeReply,
  errors: [Errors.NotFound],
});

export const haproxyStatsRoute = defineRoute({
  ...common,
  id: "haproxy.stats.current",
  method: "GET",
  path: `${P}/stats`,
  summary: "Current `show info` + `show stat`, merged over the nodes",
  description:
    "Asked from the agents directly (each answers with its latest sample, at most one sampling period old). `node` limits it to one node.",
  permission: Perm.HaproxyRead,
  subject: `${S}.stats.current`,
  params: ClusterParams,
  query: HaproxyStatsQuery,
  reply: HaproxyStatsReply,
});

// ---- PatchPanel compatibility: the same subjects, on the default cluster.

export const haproxyRuntimeCompatRoutes: readonly RouteSpec[] = [
  defaultClusterAlias(
    haproxyServerStateRoute,
    "patchpanel.runtime.server_state",
    "/api/haproxy/servers/{backend}/{server}/state",
  ),
  defaultClusterAlias(
    haproxyServerWeightRoute,
    "patchpanel.runtime.server_weight",
    "/api/haproxy/servers/{backend}/{server}/weight",
  ),
  defaultClusterAlias(
    haproxyFrontendEnableRoute,
    "patchpanel.runtime.frontend_enable",
    "/api/runtime/frontends/{name}/enable",
  ),
  defaultClusterAlias(
    haproxyFrontendDisableRoute,
    "patchpanel.runtime.frontend_disable",
    "/api/runtime/frontends/{name}/disable",
  ),
  defaultClusterAlias(
    haproxyFrontendMaxconnRoute,
    "patchpanel.runtime.maxconn_frontend",
    "/api/runtime/maxconn/frontend/{name}",
  ),
  defaultClusterAlias(
    haproxyGlobalMaxconnRoute,
    "patchpanel.runtime.maxconn_global",
    "/api/runtime/maxconn/global",
  ),
  defaultClusterAlias(
    haproxyCountersClearRoute,
    "patchpanel.runtime.counters_clear",
    "/api/runtime/counters/clear",
  ),
  defaultClusterAlias(haproxyIntentsListRoute, "patchpanel.runtime.intents_list", "/api/runtime/intents"),
  defaultClusterAlias(haproxyRuntimeShowRoute, "patchpanel.runtime.show", "/api/runtime/{what}"),
  defaultClusterAlias(
    haproxySessionShutdownRoute,
    "patchpanel.runtime.session_shutdown",
    "/api/runtime/sessions/{id}/shutdown",
  ),
];

/** Every runtime/stats route, canonical first. */
export const haproxyRuntimeRoutes: readonly RouteSpec[] = [
  haproxyServerStateRoute,
  haproxyServerWeightRoute,
  haproxyFrontendEnableRoute,
  haproxyFrontendDisableRoute,
  haproxyFrontendMaxconnRoute,
  haproxyGlobalMaxconnRoute,
  haproxyCountersClearRoute,
  haproxyIntentsListRoute,
  haproxyIntentClearRoute,
  haproxyRuntimeShowRoute,
  haproxyMapEntryAddRoute,
  haproxyMapEntryDeleteRoute,
  haproxyAclEntryAddRoute,
  haproxyAclEntryDeleteRoute,
  haproxySessionShutdownRoute,
  haproxyStatsRoute,
  ...haproxyRuntimeCompatRoutes,
];
