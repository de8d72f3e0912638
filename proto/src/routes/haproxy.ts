/**
 * HAProxy cluster routes: the state document (read, replace, validate), nodes, snapshots,
 * control and import, under `/api/v1/haproxy/clusters/{cluster}`; plus PatchPanel's
 * paths on the `default` cluster (`/api/state`, `/api/haproxy/*`, `/api/snapshots`).
 *
 * Cluster-scoped subjects (`ep.v1.haproxy.<cluster>.…`) are served by any agent of the
 * cluster (queue group); the compatibility routes use the same subjects filled with
 * `default`, so one subscription serves both.
 */
import { z } from "zod";
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import {
  CfgQuery,
  ClusterParams,
  ControlReply,
  ControlStrategy,
  DiffParams,
  DiffReply,
  ImportBody,
  ImportQuery,
  ImportReply,
  NodeParams,
  NodesReply,
  PutStateQuery,
  PutStateReply,
  RestoreBody,
  RevisionParams,
  Snapshot,
  SnapshotList,
  SslCapabilities,
  StopBody,
  ValidateReply,
} from "../schemas/haproxy/api.ts";
import { StateDocument } from "../schemas/haproxy/state.ts";
import { defaultClusterAlias } from "./haproxy-compat.ts";
import { defineRoute, type RouteSpec } from "./route.ts";

const P = "/api/v1/haproxy/clusters/{cluster}";
const S = "ep.v1.haproxy.{cluster}";
const scope = { kind: "haproxy_clusters", param: "cluster" } as const;
const tags = ["haproxy"] as const;
/** Long enough for a validation of a 10k-backend document plus the nodes' reloads. */
const WRITE_TIMEOUT_MS = 130_000;

export const haproxyStateGetRoute = defineRoute({
  id: "haproxy.state.get",
  method: "GET",
  path: `${P}/state`,
  summary: "Read the cluster's state document",
  description:
    "The current document with `meta.revision` (also the `ETag`). Revision 0 with an empty document when nothing was committed yet. Edit it and PUT it back: the revision travels in `meta.revision`.",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.state.get`,
  params: ClusterParams,
  reply: StateDocument,
});

const putDescription =
  "Renders the document, runs `haproxy -c` on it and, if it passes, commits it with compare-and-set on the revision given in `If-Match` or `meta.revision` (required once the cluster has state). A stale revision is 409 `stale_revision` with the current one; a configuration haproxy rejects is 502 `haproxy_config_invalid` with `output` and `hints` and changes nothing. Then waits for every online node to apply it (`applied`/`failed`/`timeout` per node) unless `wait=false` (202). Changing `advanced` requires `haproxy:raw`.";

export const haproxyStatePutRoute = defineRoute({
  id: "haproxy.state.put",
  method: "PUT",
  path: `${P}/state`,
  summary: "Replace the cluster's state document",
  description: putDescription,
  tags,
  auth: "principal",
  permission: Perm.HaproxyStateWrite,
  scope,
  subject: `${S}.state.put`,
  params: ClusterParams,
  query: PutStateQuery,
  body: StateDocument,
  bodyCheck: "service",
  headers: ["if-match"],
  reply: PutStateReply,
  timeoutMs: WRITE_TIMEOUT_MS,
  errors: [Errors.StaleRevision, Errors.PreconditionRequired, Errors.HaproxyConfigInvalid, Errors.Forbidden],
});

export const haproxyStateValidateRoute = defineRoute({
  id: "haproxy.state.validate",
  method: "POST",
  path: `${P}/state/validate`,
  summary: "Dry run: render and check a document",
  description:
    "Same checks as a PUT (schema, references, `haproxy -c`) without committing: returns the rendered configuration and haproxy's verdict with hints. For CI pipelines.",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.state.validate`,
  params: ClusterParams,
  body: StateDocument,
  bodyCheck: "service",
  reply: ValidateReply,
  mutation: false,
  timeoutMs: WRITE_TIMEOUT_MS,
});

export const haproxyNodesRoute = defineRoute({
  id: "haproxy.nodes.list",
  method: "GET",
  path: `${P}/nodes`,
  summary: "Nodes of the cluster and what they serve",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.nodes.list`,
  params: ClusterParams,
  reply: NodesReply,
});

export const haproxySnapshotsRoute = defineRoute({
  id: "haproxy.snapshots.list",
  method: "GET",
  path: `${P}/snapshots`,
  summary: "Kept revisions of the cluster",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.snapshots.list`,
  params: ClusterParams,
  reply: SnapshotList,
});

export const haproxySnapshotGetRoute = defineRoute({
  id: "haproxy.snapshots.get",
  method: "GET",
  path: `${P}/snapshots/{revision}`,
  summary: "One kept revision",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.snapshots.get`,
  params: RevisionParams,
  reply: Snapshot,
  errors: [Errors.HaproxyRevisionNotFound],
});

export const haproxySnapshotDiffRoute = defineRoute({
  id: "haproxy.snapshots.diff",
  method: "GET",
  path: `${P}/snapshots/{a}/diff/{b}`,
  summary: "Difference between two revisions",
  description: "A structural diff of the documents and a unified diff of the rendered configurations.",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.snapshots.diff`,
  params: DiffParams,
  reply: DiffReply,
  errors: [Errors.HaproxyRevisionNotFound],
});

export const haproxySnapshotRestoreRoute = defineRoute({
  id: "haproxy.snapshots.restore",
  method: "POST",
  path: `${P}/snapshots/{revision}/restore`,
  summary: "Restore a kept revision as a new revision",
  description: "Goes through the same validate → commit → converge path as a PUT.",
  tags,
  auth: "principal",
  permission: Perm.HaproxyStateWrite,
  scope,
  subject: `${S}.snapshots.restore`,
  params: RevisionParams,
  body: RestoreBody,
  reply: PutStateReply,
  timeoutMs: WRITE_TIMEOUT_MS,
  errors: [Errors.StaleRevision, Errors.HaproxyConfigInvalid, Errors.HaproxyRevisionNotFound],
});

export const haproxyCfgRoute = defineRoute({
  id: "haproxy.cfg.get",
  method: "GET",
  path: `${P}/cfg`,
  summary: "haproxy.cfg of a node (or rendered from state)",
  description:
    "`source=disk`: the file the answering node runs; `source=state`: rendered fresh from the latest revision.",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.cfg.get`,
  params: ClusterParams,
  query: CfgQuery,
  reply: z.string().describe("haproxy.cfg"),
  replyType: "text",
});

export const haproxyNodeCfgRoute = defineRoute({
  id: "haproxy.nodes.cfg",
  method: "GET",
  path: `${P}/nodes/{node}/cfg`,
  summary: "haproxy.cfg on one node",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.node.{node}.cfg.get`,
  params: NodeParams,
  query: CfgQuery,
  reply: z.string().describe("haproxy.cfg"),
  replyType: "text",
});

const control = (verb: "reload" | "start" | "stop", summary: string, description: string) =>
  defineRoute({
    id: `haproxy.control.${verb}`,
    method: "POST",
    path: `${P}/${verb}`,
    summary,
    description,
    tags,
    auth: "principal",
    permission: Perm.HaproxyControl,
    scope,
    subject: `${S}.control.${verb}`,
    params: ClusterParams,
    ...(verb === "stop" ? { body: StopBody } : {}),
    reply: ControlReply,
    timeoutMs: WRITE_TIMEOUT_MS,
    errors: [Errors.HaproxyUnavailable],
  });

export const haproxyReloadRoute = control(
  "reload",
  "Reload haproxy on every node",
  "Dumps the server state, reloads through the master CLI and confirms the new worker on every online node.",
);
export const haproxyStartRoute = control(
  "start",
  "Start haproxy on every node",
  "Starts haproxy with the current configuration where it is not running. Driven by the agent with the `child` and `pid` control strategies (`pid`: the configured pidfile's master, started like a child when none runs); `systemd`/`s6`/`none` are detect-only: such a node answers `ok: false` naming the supervisor to use.",
);
export const haproxyStopRoute = control(
  "stop",
  "Stop haproxy on every node",
  'Requires `{"confirm": true}`: traffic stops. `child` and `pid` strategies: SIGTERM to the master named by the master socket or the pidfile; `systemd`/`s6`/`none` are detect-only (`ok: false`, stop it through the supervisor).',
);

export const haproxyControlStrategyRoute = defineRoute({
  id: "haproxy.control-strategy",
  method: "GET",
  path: `${P}/control-strategy`,
  summary: "How the agent starts/stops haproxy",
  description:
    "The strategy in force and every one detected. `child` and `pid` (an existing master found by its pidfile, driven by signals and its master CLI) are driven by the agent; `systemd` and `s6` are detected and reported only — reloads still go through the master CLI, start/stop are left to the supervisor.",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.control-strategy`,
  params: ClusterParams,
  reply: ControlStrategy,
});

export const haproxySslCapabilitiesRoute = defineRoute({
  id: "haproxy.ssl-capabilities",
  method: "GET",
  path: `${P}/ssl-capabilities`,
  summary: "TLS protocols, ciphers, curves and sigalgs this haproxy supports",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.ssl-capabilities`,
  params: ClusterParams,
  reply: SslCapabilities,
});

export const haproxyImportRoute = defineRoute({
  id: "haproxy.import",
  method: "POST",
  path: `${P}/import`,
  summary: "Import an existing haproxy.cfg",
  description:
    "Body: the configuration as `text/plain`. Returns a state document: what is understood becomes structured fields, the rest raw lines in `advanced` (listed in `raw_lines`), never dropped silently. `commit=true` also commits it (needs `haproxy:state-write`, and `haproxy:raw` when it has raw lines; the revision is taken from `If-Match`).",
  tags,
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope,
  subject: `${S}.import`,
  params: ClusterParams,
  query: ImportQuery,
  body: ImportBody,
  bodyType: "text",
  headers: ["if-match"],
  reply: ImportReply,
  timeoutMs: WRITE_TIMEOUT_MS,
  errors: [Errors.StaleRevision, Errors.HaproxyConfigInvalid],
});

// ---- PatchPanel compatibility: the same subjects, on the default cluster.

export const patchpanelRoutes: readonly RouteSpec[] = [
  defaultClusterAlias(haproxyStateGetRoute, "patchpanel.state.get", "/api/state"),
  defaultClusterAlias(haproxyStatePutRoute, "patchpanel.state.put", "/api/state"),
  defaultClusterAlias(haproxyCfgRoute, "patchpanel.haproxy.cfg", "/api/haproxy/cfg"),
  defaultClusterAlias(haproxyReloadRoute, "patchpanel.haproxy.reload", "/api/haproxy/reload"),
  defaultClusterAlias(haproxyStartRoute, "patchpanel.haproxy.start", "/api/haproxy/start"),
  defaultClusterAlias(haproxyStopRoute, "patchpanel.haproxy.stop", "/api/haproxy/stop"),
  defaultClusterAlias(
    haproxyControlStrategyRoute,
    "patchpanel.haproxy.control-strategy",
    "/api/haproxy/control-strategy",
  ),
  defaultClusterAlias(
    haproxySslCapabilitiesRoute,
    "patchpanel.haproxy.ssl-capabilities",
    "/api/haproxy/ssl-capabilities",
  ),
  defaultClusterAlias(haproxySnapshotsRoute, "patchpanel.snapshots", "/api/snapshots"),
];

/** Every HAProxy route, canonical first. */
export const haproxyRoutes: readonly RouteSpec[] = [
  haproxyStateGetRoute,
  haproxyStatePutRoute,
  haproxyStateValidateRoute,
  haproxyNodesRoute,
  haproxyNodeCfgRoute,
  haproxyCfgRoute,
  haproxyReloadRoute,
  haproxyStartRoute,
  haproxyStopRoute,
  haproxyControlStrategyRoute,
  haproxySslCapabilitiesRoute,
  haproxySnapshotsRoute,
  haproxySnapshotGetRoute,
  haproxySnapshotDiffRoute,
  haproxySnapshotRestoreRoute,
  haproxyImportRoute,
  ...patchpanelRoutes,
];
