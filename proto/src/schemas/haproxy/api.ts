/**
 * Requests, replies and events of the HAProxy cluster API (everything around the state
 * document itself, which is in `state.ts`).
 */
import { z } from "zod";
import { nameSchema } from "../../names.ts";
import { hasControlChar } from "./primitives.ts";
import { StateDocument } from "./state.ts";

export const ClusterParams = z.object({ cluster: nameSchema("cluster") });
export const NodeParams = z.object({ cluster: nameSchema("cluster"), node: nameSchema("node") });

/** One haproxy message mapped back to the document. */
export const Hint = z
  .object({
    severity: z.enum(["ALERT", "WARNING", "NOTICE"]).describe("haproxy's severity."),
    line: z.number().int().nullable().describe("Line of the rendered configuration, if haproxy named one."),
    message: z.string().describe("haproxy's message, without the file/line prefix."),
    entity: z
      .object({
        kind: z
          .string()
          .describe("Entity kind: `backend`, `server`, `frontend`, `bind`, `acl`, `http_request`, …"),
        name: z.string().describe("Entity name, e.g. `app/web1` for a server."),
      })
      .nullable()
      .describe("The document entity that produced the line."),
    field: z
      .string()
      .nullable()
      .describe("Dotted path of that entity in the document, e.g. `backends.2.servers.0`."),
    ref: z.string().nullable().describe("Reserved (PatchPanel compatibility); always null."),
  })
  .describe("A parsed haproxy message.")
  .meta({ id: "HaproxyHint" });
export type Hint = z.infer<typeof Hint>;

/** Details of a `haproxy_config_invalid` (502) error. */
export const InvalidConfigDetails = z
  .object({
    output: z.string().describe("haproxy's literal stderr."),
    hints: z.array(Hint).describe("Messages mapped back to the document."),
  })
  .describe("Why haproxy rejected the rendered configuration.");

export const NodeResult = z
  .object({
    node: z.string().describe("Node name."),
    result: z
      .enum(["applied", "failed", "timeout", "offline"])
      .describe(
        "`applied`: serving this revision; `failed`: rejected, still serving the previous one; `timeout`: no answer in time; `offline`: the node's agent is away (it converges when back).",
      ),
    revision: z.number().int().nullable().describe("Revision the node serves now."),
    error: z.string().nullable().describe("Why it failed, if it did."),
  })
  .describe("Outcome of a revision on one node.");

export const PutStateQuery = z.object({
  wait: z.enum(["true", "false"]).default("true").describe("`false`: reply 202 right after the commit."),
  timeout_ms: z.coerce
    .number()
    .int()
    .min(0)
    .max(120_000)
    .optional()
    .describe("How long to wait for the nodes (default: the agent's EP_HAPROXY_APPLY_WAIT_MS)."),
});

export const PutStateReply = z
  .object({
    ok: z.literal(true).describe("Always true (PatchPanel style)."),
    revision: z.number().int().describe("The committed revision."),
    previous_revision: z.number().int().describe("The revision it replaced (0 = none)."),
    unchanged: z
      .boolean()
      .describe("True when the document was identical to the current one (nothing committed)."),
    hash: z.string().describe("SHA-256 of the rendered configuration (as validated)."),
    results: z.array(NodeResult).describe("Per-node outcome (empty with `wait=false`)."),
  })
  .describe("A committed state document.");

export const ValidateReply = z
  .object({
    valid: z.boolean().describe("True when haproxy accepts the rendered configuration."),
    cfg: z.string().describe("The rendered haproxy.cfg."),
    hash: z.string().describe("SHA-256 of `cfg`."),
    output: z.string().describe("haproxy's stderr of `haproxy -c`."),
    hints: z.array(Hint).describe("Messages mapped back to the document."),
    node: z.string().describe("Node whose agent ran the check."),
  })
  .describe("Result of a dry run.");

export const NodeState = z.enum(["starting", "applying", "applied", "failed", "stopped", "not_installed"]);

export const NodeStatus = z
  .object({
    cluster: z.string().describe("Cluster."),
    node: z.string().describe("Node name."),
    online: z.boolean().describe("The agent reported within the last 30 s and has not signed off."),
    state: NodeState.describe(
      "What the node is doing: `applied` (serving `revision`), `failed` (last apply failed; still serving `revision`), `stopped` (haproxy not running), `not_installed`.",
    ),
    revision: z.number().int().describe("Revision the node serves (0 = none yet)."),
    desired_revision: z.number().int().describe("Latest revision the agent has seen."),
    failed_revision: z.number().int().nullable().describe("Revision that failed last, if any."),
    haproxy_version: z.string().nullable().describe("haproxy version, when installed."),
    master_pid: z.number().int().nullable().describe("PID of the haproxy master."),
    worker_pids: z.array(z.number().int()).describe("PIDs of the current workers."),
    reloads: z.number().int().describe("Reloads since the master started."),
    last_reload_at: z.string().nullable().describe("When the last confirmed reload happened."),
    last_error: z.string().nullable().describe("Last error, if any."),
    control_strategy: z.string().describe("How the agent controls haproxy."),
    agent: z.string().describe("Agent instance."),
    updated_at: z.string().describe("When the agent last changed this status."),
    seen_at: z.string().describe("Last heartbeat of the agent."),
  })
  .describe("One node of a cluster, as its agent reports it.")
  .meta({ id: "HaproxyNodeStatus" });
export type NodeStatus = z.infer<typeof NodeStatus>;

export const NodesReply = z.object({ items: z.array(NodeStatus).describe("Nodes, by name.") });

export const SnapshotSummary = z
  .object({
    revision: z.number().int().describe("Revision."),
    committed_at: z.string().describe("Commit time."),
    committed_by: z.string().nullable().describe("Actor."),
    comment: z.string().nullable().describe("Change note (`meta.comment`)."),
    restored_from: z.number().int().nullable().describe("Revision this one restored, if it was a restore."),
    frontends: z.number().int().describe("Number of frontends."),
    backends: z.number().int().describe("Number of backends."),
    servers: z.number().int().describe("Number of servers."),
  })
  .describe("One kept revision.");

export const SnapshotList = z
  .object({ items: z.array(SnapshotSummary).describe("Newest first.") })
  .describe("Kept revisions of a cluster.");

export const Snapshot = SnapshotSummary.extend({
  state: StateDocument.describe("The document of this revision."),
});

export const RevisionParams = ClusterParams.extend({
  revision: z.coerce.number().int().min(1).describe("Revision."),
});
export const DiffParams = ClusterParams.extend({
  a: z.coerce.number().int().min(0).describe("From revision (0 = empty document)."),
  b: z.coerce.number().int().min(1).describe("To revision."),
});

export const DiffChange = z
  .object({
    op: z.enum(["add", "remove", "change"]).describe("What happened."),
    path: z
      .string()
      .describe(
        "Dotted path; list items of named entities are addressed by name (`backends[app].servers[web1].weight`).",
      ),
    from: z.unknown().optional().describe("Old value."),
    to: z.unknown().optional().describe("New value."),
  })
  .describe("One structural change.");

export const DiffReply = z
  .object({
    from: z.number().int().describe("From revision."),
    to: z.number().int().describe("To revision."),
    changes: z.array(DiffChange).describe("Structural changes."),
    unified: z.string().describe("Unified diff of the rendered haproxy.cfg."),
  })
  .describe("Difference between two revisions.");

export const RestoreBody = z
  .object({
    revision: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Current revision expected (optimistic concurrency); absent = latest."),
    comment: z
      .string()
      .max(500)
      .refine((v) => !hasControlChar(v), "no control characters")
      .optional()
      .describe("Change note."),
  })
  .optional();

export const CfgQuery = z.object({
  source: z
    .enum(["disk", "state"])
    .default("disk")
    .describe("`disk`: the node's haproxy.cfg; `state`: rendered fresh from the latest revision."),
});

export const ControlResult = z
  .object({
    node: z.string().describe("Node."),
    ok: z.boolean().describe("Whether the action succeeded (confirmed)."),
    message: z.string().describe("What happened."),
    master_pid: z.number().int().nullable().describe("haproxy master PID after the action."),
    worker_pids: z.array(z.number().int()).describe("Worker PIDs after the action."),
  })
  .describe("Outcome of a control action on one node.");

export const ControlReply = z
  .object({
    ok: z.boolean().describe("True when every node succeeded."),
    results: z.array(ControlResult).describe("Per node."),
  })
  .describe("Outcome of a control action on every node of the cluster.");

export const StopBody = z
  .object({ confirm: z.literal(true).describe("Must be `true`: stopping haproxy stops serving traffic.") })
  .describe("Stopping needs an explicit confirmation.");

export const ControlStrategyKind = z.enum(["child", "systemd", "s6", "pid", "none"]);
export const ControlStrategy = z
  .object({
    node: z.string().describe("Node."),
    strategy: ControlStrategyKind.describe(
      "How haproxy is started/stopped: `child` (the agent's own master-worker child), `systemd`, `s6`, `pid` (an existing master, found by its pidfile/socket), `none`.",
    ),
    configured: z.string().describe("EP_HAPROXY_CONTROL as configured (`auto` = detected)."),
    detected: z.array(ControlStrategyKind).describe("Every strategy available on this node."),
    haproxy_bin: z.string().describe("haproxy executable."),
    installed: z.boolean().describe("haproxy was found and runs."),
    version: z.string().nullable().describe("haproxy version."),
    running: z.boolean().describe("A master answers on the master socket."),
    master_socket: z.string().describe("Master CLI socket."),
    config_file: z.string().describe("The configuration file haproxy runs."),
  })
  .describe("How this node's agent controls haproxy.");

export const SslCapabilities = z
  .object({
    node: z.string().describe("Node."),
    haproxy_version: z.string().nullable().describe("haproxy version."),
    openssl: z.string().nullable().describe("OpenSSL haproxy was built with / runs."),
    protocols: z.array(z.string()).describe("TLS protocol versions supported."),
    ciphers: z.array(z.string()).describe("TLS ≤ 1.2 cipher names (OpenSSL names)."),
    ciphersuites: z.array(z.string()).describe("TLS 1.3 cipher suites."),
    curves: z.array(z.string()).describe("Elliptic curves / groups."),
    sigalgs: z.array(z.string()).describe("Signature algorithms."),
  })
  .describe("What this node's haproxy/OpenSSL supports.");

/** Max size of an imported haproxy.cfg (the gateway's body cap applies too). */
export const IMPORT_MAX_BYTES = 1024 * 1024;

export const ImportQuery = z.object({
  commit: z
    .enum(["true", "false"])
    .default("false")
    .describe("`true`: also commit the result (validated like a PUT)."),
});
export const ImportBody = z.string().max(IMPORT_MAX_BYTES).describe("An existing haproxy.cfg (text/plain).");

export const ImportReply = z
  .object({
    state: StateDocument.describe("The imported document."),
    raw_lines: z
      .array(
        z.object({
          section: z.string().describe("Section header (`backend app`)."),
          line: z.number().int().describe("Line of the imported file."),
          text: z.string().describe("The line, as kept in `advanced`."),
        }),
      )
      .describe("Lines not understood structurally: kept verbatim in `advanced`, never dropped."),
    dropped: z
      .array(
        z.object({
          line: z.number().int().describe("Line."),
          text: z.string().describe("Line."),
          reason: z.string().describe("Why."),
        }),
      )
      .describe(
        "Lines the agent manages itself and replaces (master-worker, stats socket, daemon, pidfile…).",
      ),
    committed: PutStateReply.nullable().describe("The commit, with `commit=true`."),
  })
  .describe("An imported configuration.");

/** Event published on `ep.v1.evt.haproxy.<cluster>.<applied|failed>`. */
export const ApplyEvent = z
  .object({
    cluster: z.string().describe("Cluster."),
    node: z.string().describe("Node."),
    revision: z.number().int().describe("Revision applied or attempted."),
    result: z.enum(["applied", "failed"]).describe("Outcome."),
    error: z.string().nullable().describe("Why it failed."),
    duration_ms: z.number().describe("Render → confirmed reload."),
    time: z.string().describe("When."),
  })
  .describe("A node applied (or failed to apply) a revision.");
