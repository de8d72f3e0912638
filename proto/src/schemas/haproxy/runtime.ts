/**
 * Runtime control of a cluster's haproxies (no reload): server state and weight,
 * frontend enable/disable and maxconn, global maxconn, counters, map/ACL entries,
 * session shutdown, and read-outs of the runtime API.
 *
 * Lasting changes are *runtime intents*: stored per cluster (KV `ep_haproxy_runtime`, key
 * `<cluster>.intents`), applied on every node, and re-applied by every agent after each
 * converge/reload, at agent start and when it (re)joins, so they survive all three. A
 * node reconciles to the whole intent list: intents that disappeared are reverted
 * (server back to `ready`, weight back to the configured one, frontend enabled, maxconn
 * back to the configuration's value).
 *
 * Everything that reaches the admin socket is a strict word: names are identifiers,
 * map keys/values and ACL patterns are single words without `;`, quotes, `\` or `#`
 * (the CLI splits on spaces and `;`).
 */
import { z } from "zod";
import { nameSchema } from "../../names.ts";
import { identSchema } from "./primitives.ts";

const Ident = (what: string) => identSchema(what);

/** A word the HAProxy CLI takes as exactly one argument. */
export const CLI_WORD_RE = /^[A-Za-z0-9_.:/%+=,@?&*[\]()!<>~^{}|-]{1,1024}$/;
export function cliWord(what: string) {
  return z
    .string()
    .min(1, `${what} must not be empty`)
    .max(1024, `${what} is longer than 1024 characters`)
    .regex(CLI_WORD_RE, `${what}: one word without spaces, ';', quotes, '\\', '#' or '$'`)
    .describe(`${what}: one word without spaces, ';', quotes, '\\', '#' or '$'`);
}

// ---------------------------------------------------------------- intents

const IntentCommon = {
  id: z
    .string()
    .regex(/^int_[0-9a-f]{16}$/)
    .describe(
      "Intent id (`int_…`), derived from what it targets: setting the same target again replaces it.",
    ),
  set_at: z.string().describe("When it was set (ISO 8601)."),
  set_by: z.string().nullable().describe("Who set it."),
  request_id: z.string().nullable().describe("Request that set it."),
};

export const ServerStateIntent = z
  .object({
    kind: z.literal("server_state").describe("A server held in `drain` or `maint`."),
    backend: Ident("backend name").describe("Backend (or listen) name."),
    server: Ident("server name").describe("Server name."),
    state: z.enum(["drain", "maint"]).describe("Administrative state held."),
    ...IntentCommon,
  })
  .describe("Server administrative state.");

export const ServerWeightIntent = z
  .object({
    kind: z.literal("server_weight").describe("A server weight."),
    backend: Ident("backend name").describe("Backend (or listen) name."),
    server: Ident("server name").describe("Server name."),
    weight: z.number().int().min(0).max(256).describe("Weight held (0–256)."),
    ...IntentCommon,
  })
  .describe("Server weight.");

export const FrontendStateIntent = z
  .object({
    kind: z.literal("frontend_state").describe("A disabled frontend."),
    frontend: Ident("frontend name").describe("Frontend (or listen) name."),
    state: z.literal("disabled").describe("Only `disabled` is held; enabling clears the intent."),
    ...IntentCommon,
  })
  .describe("Frontend disabled.");

export const FrontendMaxconnIntent = z
  .object({
    kind: z.literal("frontend_maxconn").describe("A frontend connection limit."),
    frontend: Ident("frontend name").describe("Frontend (or listen) name."),
    max: z.number().int().min(0).max(10_000_000).describe("Limit held."),
    ...IntentCommon,
  })
  .describe("Frontend maxconn.");

export const GlobalMaxconnIntent = z
  .object({
    kind: z.literal("global_maxconn").describe("The process-wide connection limit."),
    max: z.number().int().min(1).max(10_000_000).describe("Limit held (at most the configured hard limit)."),
    ...IntentCommon,
  })
  .describe("Global maxconn.");

export const RuntimeIntent = z
  .discriminatedUnion("kind", [
    ServerStateIntent,
    ServerWeightIntent,
    FrontendStateIntent,
    FrontendMaxconnIntent,
    GlobalMaxconnIntent,
  ])
  .describe("A runtime change held on every node of the cluster until cleared.")
  .meta({ id: "HaproxyRuntimeIntent" });
export type RuntimeIntent = z.infer<typeof RuntimeIntent>;

/** What the KV key `<cluster>.intents` holds. */
export const IntentSet = z
  .object({ items: z.array(RuntimeIntent).describe("Intents in force, oldest first.") })
  .describe("The runtime intents of a cluster.");
export type IntentSet = z.infer<typeof IntentSet>;

export const IntentList = z
  .object({
    revision: z.number().int().describe("KV revision of the intent set (0 = never set)."),
    items: z.array(RuntimeIntent).describe("Intents in force, oldest first."),
  })
  .describe("Runtime intents in force.");

// ---------------------------------------------------------------- requests

export const ServerParams = z.object({
  cluster: nameSchema("cluster"),
  backend: Ident("backend name"),
  server: Ident("server name"),
});
export const FrontendParams = z.object({ cluster: nameSchema("cluster"), name: Ident("frontend name") });
export const IntentParams = z.object({
  cluster: nameSchema("cluster"),
  id: z
    .string()
    .regex(/^int_[0-9a-f]{16}$/, "an intent id (`int_` and 16 hex digits)")
    .describe("Intent id."),
});
export const SessionParams = z.object({
  cluster: nameSchema("cluster"),
  id: z
    .string()
    .regex(/^0x[0-9a-f]{1,16}$/, "a session id as `show sess` prints it (`0x…`)")
    .describe("Session id (`0x…`)."),
});
export const RuntimeShowParams = z.object({
  cluster: nameSchema("cluster"),
  what: z
    .enum(["acls", "maps", "tables", "resolvers", "errors", "sessions", "servers"])
    .describe("What to read: `show acl|map|table|resolvers|errors|sess|servers state`."),
});
export const NodeQuery = z.object({
  node: nameSchema("node").optional().describe("Only this node (default: every online node, merged)."),
});

export const ServerStateBody = z
  .strictObject({
    state: z
      .enum(["ready", "drain", "maint"])
      .describe("`drain`/`maint` are held as an intent; `ready` clears it."),
  })
  .describe("New administrative state of a server.");
export const WeightBody = z
  .strictObject({
    weight: z
      .number()
      .int()
      .min(0)
      .max(256)
      .describe(
        "New weight (0–256); held as an intent until cleared (clearing restores the configured one).",
      ),
  })
  .describe("New weight of a server.");
export const MaxconnBody = z
  .strictObject({ max: z.number().int().min(0).max(10_000_000).describe("New connection limit.") })
  .describe("New connection limit.");
export const ShutdownQuery = NodeQuery;

export const MapParams = z.object({ cluster: nameSchema("cluster"), name: Ident("map name") });
export const MapEntryBody = z
  .strictObject({
    key: cliWord("map key"),
    value: cliWord("map value").optional().describe("Value (absent for a key-only map)."),
  })
  .describe("A map entry to add (or replace).");
export const MapDeleteQuery = z.object({ key: cliWord("map key") });
export const AclParams = z.object({
  cluster: nameSchema("cluster"),
  name: Ident("ACL name"),
});
export const AclEntryQuery = z.object({
  proxy: Ident("proxy name")
    .optional()
    .describe("Frontend/listen owning the ACL; absent = a shared (document-level) ACL."),
});
export const AclEntryBody = z
  .strictObject({ value: cliWord("ACL pattern") })
  .describe("A pattern to add to a named ACL.");
export const AclDeleteQuery = AclEntryQuery.extend({ value: cliWord("ACL pattern") });

// ---------------------------------------------------------------- node wire (agent ↔ agent)

/** One runtime operation, as sent to a node (the node builds the CLI command itself). */
export const RuntimeOp = z.discriminatedUnion("op", [
  z.object({ op: z.literal("clear_counters").describe("`clear counters all`.") }),
  z.object({
    op: z.literal("map_add").describe("`add map`/`set map`."),
    map: Ident("map name"),
    key: cliWord("map key"),
    value: cliWord("map value").optional(),
  }),
  z.object({
    op: z.literal("map_del").describe("`del map`."),
    map: Ident("map name"),
    key: cliWord("map key"),
  }),
  z.object({
    op: z.literal("acl_add").describe("`add acl #id`."),
    acl: Ident("ACL name"),
    proxy: Ident("proxy name").optional(),
    value: cliWord("ACL pattern"),
  }),
  z.object({
    op: z.literal("acl_del").describe("`del acl #id`."),
    acl: Ident("ACL name"),
    proxy: Ident("proxy name").optional(),
    value: cliWord("ACL pattern"),
  }),
  z.object({
    op: z.literal("session_shutdown").describe("`shutdown session`."),
    id: z.string().regex(/^0x[0-9a-f]{1,16}$/),
  }),
  z.object({
    op: z.literal("server_ready").describe("`set server <b>/<s> state ready`."),
    backend: Ident("backend name"),
    server: Ident("server name"),
  }),
  z.object({
    op: z.literal("frontend_enable").describe("`enable frontend`."),
    frontend: Ident("frontend name"),
  }),
]);
export type RuntimeOp = z.infer<typeof RuntimeOp>;

export const NodeRuntimeResult = z
  .object({
    node: z.string().describe("Node."),
    ok: z.boolean().describe("Whether the change took effect on this node."),
    message: z.string().describe("haproxy's answer, or why it failed."),
  })
  .describe("Outcome of a runtime change on one node.");
export type NodeRuntimeResult = z.infer<typeof NodeRuntimeResult>;

export const RuntimeReply = z
  .object({
    ok: z.boolean().describe("True when every online node applied it."),
    intent: RuntimeIntent.nullable().describe(
      "The intent now in force (null when none: cleared or one-off).",
    ),
    cleared: z.array(z.string()).describe("Ids of intents this change removed."),
    revision: z
      .number()
      .int()
      .nullable()
      .describe("State revision committed for map/ACL entries (they are written into the document too)."),
    results: z.array(NodeRuntimeResult).describe("Per node (offline nodes apply it when they come back)."),
  })
  .describe("Outcome of a runtime change on every node of the cluster.");

export const RuntimeShowNode = z
  .object({
    node: z.string().describe("Node."),
    ok: z.boolean().describe("Whether the node answered."),
    output: z.string().describe("The runtime API's text answer."),
    items: z
      .array(z.record(z.string(), z.unknown()))
      .describe("Parsed entries (`show acl`/`show map`/`show table` list; sessions; servers state)."),
  })
  .describe("One node's runtime read-out.");
export const RuntimeShowReply = z
  .object({
    what: z.string().describe("What was read."),
    nodes: z.array(RuntimeShowNode).describe("Per node."),
  })
  .describe("Runtime read-out of the cluster's nodes.");

/** Node-addressed requests. */
export const NodeReconcileRequest = z
  .object({
    revision: z.number().int().min(0).describe("Reconcile to at least this intent-set revision."),
    target: z.string().optional().describe("Intent id whose outcome the caller wants."),
    also: RuntimeOp.optional().describe(
      "An explicit operation to run right after the pass (ready / enable).",
    ),
  })
  .describe("Ask a node to reconcile its runtime state to the cluster's intents.");
export const NodeExecRequest = z.object({ op: RuntimeOp }).describe("Run one runtime operation on a node.");
export const NodeShowRequest = z
  .object({ what: RuntimeShowParams.shape.what })
  .describe("Read one runtime table on a node.");

// ---------------------------------------------------------------- stats (merged view)

export const HaproxyStatsQuery = z.object({
  node: nameSchema("node").optional().describe("Only this node (default: every online node, merged)."),
});

export const HaproxyStatsRow = z
  .object({
    type: z.enum(["frontend", "backend", "server"]).describe("Row type."),
    proxy: z.string().describe("Proxy name."),
    name: z.string().describe("`FRONTEND`, `BACKEND` or the server name."),
    status: z.string().describe("Status; when nodes disagree, `node:status` pairs joined by `, `."),
    weight: z.number().nullable().describe("Weight (servers/backends)."),
    scur: z.number().describe("Current sessions (summed over nodes)."),
    stot: z.number().describe("Total sessions (summed)."),
    bin: z.number().describe("Bytes in (summed)."),
    bout: z.number().describe("Bytes out (summed)."),
    req_tot: z.number().describe("HTTP requests (summed)."),
    hrsp_2xx: z.number().describe("2xx responses (summed)."),
    hrsp_4xx: z.number().describe("4xx responses (summed)."),
    hrsp_5xx: z.number().describe("5xx responses (summed)."),
    ereq: z.number().describe("Request errors (summed)."),
    econ: z.number().describe("Connection errors (summed)."),
    eresp: z.number().describe("Response errors (summed)."),
    rtime: z.number().nullable().describe("Average response time in ms (max over nodes)."),
    per_node: z
      .record(z.string(), z.object({ status: z.string(), weight: z.number().nullable(), scur: z.number() }))
      .describe("Status, weight and current sessions per node."),
  })
  .describe("One proxy/server row merged over the nodes.");

export const HaproxyStatsReply = z
  .object({
    cluster: z.string().describe("Cluster."),
    ts: z.number().int().describe("When the view was assembled (Unix ms)."),
    nodes: z
      .array(
        z.object({
          node: z.string().describe("Node."),
          ok: z.boolean().describe("Whether it answered."),
          ts: z.number().int().nullable().describe("Time of its sample (Unix ms)."),
          info: z.record(z.string(), z.unknown()).nullable().describe("Its `show info` (compact)."),
          error: z.string().nullable().describe("Why it did not answer."),
        }),
      )
      .describe("Per node."),
    rows: z.array(HaproxyStatsRow).describe("Frontends, backends and servers merged over the nodes."),
  })
  .describe("Current `show info` + `show stat` of the cluster, straight from the agents.");
