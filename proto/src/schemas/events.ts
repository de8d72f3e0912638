/**
 * The domain event catalogue: every event any service publishes to the JetStream stream
 * `EVENTS` (and that WebSocket clients receive) is one member of `DomainEvent`, a
 * discriminated union on `type`. Every event carries the same envelope:
 *
 *   { id, type, version, time, resource: {kind, name}, actor, request_id, data }
 *
 * - `type` is `<domain>.<what>[.<what>]` (`haproxy.state.committed`); the domain (first
 *   segment) decides the read permission needed to see it (`EventDomainPermission`).
 * - `resource` names the one cluster / interface / controller / key the event is about;
 *   its kind is fixed per domain, so resource-scope filtering never guesses.
 * - `version` is the payload version of that type. A breaking payload change adds a
 *   version 2 member for the same type (consumers switch on `version`); additive changes
 *   (a new optional field) keep the version.
 * - The stream sequence (`seq`) is not part of the payload: JetStream assigns it, and
 *   the REST and WebSocket APIs report it beside the event.
 *
 * Producers call `publishEvent(js, {type, resource, data}, ctx)` (proto/src/transport/events.ts).
 */
import { z } from "zod";
import { Perm } from "../perms.ts";
import type { Principal } from "./common.ts";

// ---------------------------------------------------------------- envelope parts

/** Kinds of resource an event can be about, one per domain. */
export const EventResourceKind = {
  Cluster: "cluster",
  Interface: "interface",
  Controller: "controller",
  ApiKey: "api_key",
  AuditLog: "audit_log",
} as const;
export type EventResourceKind = (typeof EventResourceKind)[keyof typeof EventResourceKind];

const RESOURCE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function resourceRef<K extends EventResourceKind>(kind: K, what: string) {
  return z
    .object({
      kind: z.literal(kind).describe(`Always \`${kind}\` for this domain.`),
      name: z
        .string()
        .regex(
          RESOURCE_NAME_RE,
          "1–63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
        )
        .describe(`Name (or id) of the ${what}, as used in API paths and resource scopes.`),
    })
    .describe(`The ${what} this event is about.`);
}

export const ClusterRef = resourceRef(EventResourceKind.Cluster, "HAProxy cluster");
export const InterfaceRef = resourceRef(EventResourceKind.Interface, "WireGuard interface");
export const ControllerRef = resourceRef(EventResourceKind.Controller, "adapter controller");
export const ApiKeyRef = resourceRef(EventResourceKind.ApiKey, "API key (`key_…`)");
export const AuditLogRef = resourceRef(EventResourceKind.AuditLog, "audit log (always `main`)");

/** Any resource reference. */
export const EventResource = z
  .discriminatedUnion("kind", [ClusterRef, InterfaceRef, ControllerRef, ApiKeyRef, AuditLogRef])
  .describe("What the event is about.");
export type EventResource = z.infer<typeof EventResource>;

export const EventActor = z
  .object({
    type: z.enum(["user", "api_key", "system", "anonymous"]).describe("Kind of actor."),
    id: z.string().nullable().describe("User or key id; null for system and anonymous actors."),
    name: z.string().nullable().describe("Username (or component name for system actors), if known."),
  })
  .describe("Who caused the event: the API caller, or `system` for agents acting on their own.");
export type EventActor = z.infer<typeof EventActor>;

/** The actor of a verified principal; no principal = the system itself. */
export function eventActor(p: Principal | undefined, systemName: string | null = null): EventActor {
  if (!p) return { type: "system", id: null, name: systemName };
  if (p.kind === "api_key") return { type: "api_key", id: p.key_id ?? p.user_id, name: p.username };
  if (p.kind === "system") return { type: "system", id: p.user_id, name: p.username };
  return { type: "user", id: p.user_id, name: p.username };
}

const ErrorInfo = z
  .object({
    code: z.string().describe("Stable error code (catalogue code or component-specific)."),
    message: z.string().describe("Human-readable explanation; never a secret."),
  })
  .describe("Why it failed.");

const Node = z.string().max(128).describe("The agent node that did it (hostname or node name).");
const Revision = z
  .number()
  .int()
  .nonnegative()
  .describe("State revision (the KV revision of the cluster's state).");

function envelope<T extends string, R extends z.ZodType, D extends z.ZodType>(
  type: T,
  resource: R,
  data: D,
  description: string,
) {
  return z
    .object({
      id: z.string().min(1).max(64).describe("Event id (`evt_…`), unique; JetStream de-duplicates on it."),
      type: z.literal(type).describe(`Event type: \`${type}\`.`),
      version: z.literal(1).describe("Payload version of this event type."),
      time: z.string().describe("When it happened (ISO 8601, UTC)."),
      resource,
      actor: EventActor,
      request_id: z.string().nullable().describe("Request id of the API call that caused it, if any."),
      data,
    })
    .describe(description);
}

// ---------------------------------------------------------------- haproxy

const StateCounts = z
  .object({
    frontends: z.number().int().nonnegative().describe("Number of frontends."),
    backends: z.number().int().nonnegative().describe("Number of backends."),
    servers: z.number().int().nonnegative().describe("Number of servers across all backends."),
  })
  .describe("Size of the committed state document.");

export const HaproxyStateCommitted = envelope(
  "haproxy.state.committed",
  ClusterRef,
  z.object({
    revision: Revision,
    previous_revision: Revision.nullable().describe("Revision it replaced; null for the first."),
    counts: StateCounts.optional(),
    changed: z.array(z.string()).max(200).optional().describe("Top-level sections that changed."),
  }),
  "A new desired state was committed for a cluster (agents will converge to it).",
);
export const HaproxyStateApplied = envelope(
  "haproxy.state.applied",
  ClusterRef,
  z.object({
    revision: Revision,
    node: Node,
    duration_ms: z.number().nonnegative().describe("Render → serving, in milliseconds."),
    reloaded: z.boolean().describe("Whether HAProxy had to reload (false: the config was unchanged)."),
  }),
  "A node of the cluster now serves the given revision.",
);
export const HaproxyStateFailed = envelope(
  "haproxy.state.failed",
  ClusterRef,
  z.object({
    revision: Revision,
    node: Node,
    stage: z.enum(["render", "validate", "swap", "reload", "confirm"]).describe("Where applying failed."),
    error: ErrorInfo,
  }),
  "A node could not apply a revision and keeps serving the previous one.",
);
export const HaproxyReload = envelope(
  "haproxy.reload",
  ClusterRef,
  z.object({
    node: Node,
    result: z.enum(["success", "failure"]).describe("Whether the new worker took over."),
    reason: z.enum(["state", "manual", "certificate", "runtime", "start"]).describe("What triggered it."),
    duration_ms: z.number().nonnegative().describe("Reload request → new worker serving, in milliseconds."),
    worker_pid: z.number().int().positive().optional().describe("PID of the new worker on success."),
    error: ErrorInfo.optional(),
  }),
  "HAProxy was reloaded on a node.",
);
export const HaproxyRuntimeChanged = envelope(
  "haproxy.runtime.changed",
  ClusterRef,
  z.object({
    backend: z.string().max(128).describe("Backend name."),
    server: z.string().max(128).nullable().describe("Server name; null for backend-wide changes."),
    action: z
      .enum(["drain", "ready", "maint", "weight", "maxconn", "enable", "disable", "map", "acl"])
      .describe("What changed."),
    value: z
      .union([z.string(), z.number()])
      .nullable()
      .optional()
      .describe("New value, if the action has one."),
    node: Node.optional(),
  }),
  "A runtime intent (drain, weight, maxconn, …) was set on a cluster.",
);
const CertData = z.object({
  name: z.string().max(255).describe("Certificate name (file name in the cluster's certificate store)."),
  domains: z.array(z.string().max(255)).max(100).optional().describe("Subject alternative names."),
  not_after: z.string().optional().describe("Expiry (ISO 8601)."),
  fingerprint_sha256: z.string().max(95).optional().describe("SHA-256 fingerprint of the certificate."),
});
export const HaproxyCertCreated = envelope(
  "haproxy.cert.created",
  ClusterRef,
  CertData,
  "A certificate was added to a cluster.",
);
export const HaproxyCertUpdated = envelope(
  "haproxy.cert.updated",
  ClusterRef,
  CertData,
  "A certificate was replaced (uploaded or renewed).",
);
export const HaproxyCertDeleted = envelope(
  "haproxy.cert.deleted",
  ClusterRef,
  CertData.pick({ name: true }),
  "A certificate was removed from a cluster.",
);
export const HaproxyCertExpiring = envelope(
  "haproxy.cert.expiring",
  ClusterRef,
  CertData.extend({ days_left: z.number().int().describe("Whole days until expiry (negative: expired).") }),
  "A certificate expires soon.",
);
export const HaproxyCertRenewalFailed = envelope(
  "haproxy.cert.renewal_failed",
  ClusterRef,
  CertData.extend({ error: ErrorInfo }),
  "Renewing a certificate failed; the old one stays in place.",
);

// ---------------------------------------------------------------- wireguard

const PeerData = z.object({
  peer_id: z.string().max(64).describe("Peer id (`peer_…`)."),
  name: z.string().max(128).optional().describe("Peer display name."),
  public_key: z
    .string()
    .max(64)
    .optional()
    .describe("The peer's WireGuard public key (never a private key)."),
  allowed_ips: z.array(z.string().max(64)).max(256).optional().describe("Allowed IPs (CIDRs)."),
});
export const WireguardPeerCreated = envelope(
  "wireguard.peer.created",
  InterfaceRef,
  PeerData,
  "A peer was added to an interface.",
);
export const WireguardPeerUpdated = envelope(
  "wireguard.peer.updated",
  InterfaceRef,
  PeerData.extend({
    changed: z.array(z.string().max(64)).max(50).optional().describe("Fields that changed."),
  }),
  "A peer was changed.",
);
export const WireguardPeerDeleted = envelope(
  "wireguard.peer.deleted",
  InterfaceRef,
  PeerData,
  "A peer was removed.",
);
export const WireguardPeerExpired = envelope(
  "wireguard.peer.expired",
  InterfaceRef,
  PeerData.extend({ expired_at: z.string().describe("When it expired (ISO 8601).") }),
  "A peer reached its expiry and was disabled.",
);
export const WireguardPeerHandshake = envelope(
  "wireguard.peer.handshake",
  InterfaceRef,
  PeerData.extend({
    node: Node,
    latest_handshake: z.string().describe("Time of the handshake (ISO 8601)."),
    endpoint: z.string().max(128).nullable().optional().describe("The peer's current endpoint (ip:port)."),
  }),
  "A peer completed a handshake after being idle (first contact or roaming).",
);

// ---------------------------------------------------------------- adapters

const ChangeData = z.object({
  change_id: z.string().max(64).describe("Staged change id (`chg_…`)."),
  vendor: z.string().max(64).optional().describe("Driver of the controller (`nftables`, `opnsense`, …)."),
  summary: z.string().max(1024).optional().describe("One-line description of the change."),
  operations: z.number().int().nonnegative().optional().describe("Number of operations in the change."),
});
export const AdaptersChangeStaged = envelope(
  "adapters.change.staged",
  ControllerRef,
  ChangeData,
  "A change was staged for a controller (nothing was written yet).",
);
export const AdaptersChangeApplied = envelope(
  "adapters.change.applied",
  ControllerRef,
  ChangeData,
  "A staged change was written to the device.",
);
export const AdaptersChangeFailed = envelope(
  "adapters.change.failed",
  ControllerRef,
  ChangeData.extend({ error: ErrorInfo }),
  "Applying a staged change failed.",
);
export const AdaptersChangeRolledBack = envelope(
  "adapters.change.rolled_back",
  ControllerRef,
  ChangeData.extend({
    reason: z.enum(["not_confirmed", "failed", "manual"]).describe("Why it was rolled back."),
  }),
  "An applied change was rolled back.",
);
export const AdaptersChangeDiscarded = envelope(
  "adapters.change.discarded",
  ControllerRef,
  ChangeData,
  "A staged change was discarded without being applied.",
);

// ---------------------------------------------------------------- audit, auth

export const AuditAppended = envelope(
  "audit.appended",
  AuditLogRef,
  z.object({
    audit_id: z.string().max(64).describe("Id of the audit event (`evt_…`)."),
    seq: z.number().int().nonnegative().describe("Position in the hash chain."),
    action: z.string().max(128).describe("Audited action."),
    category: z.string().max(64).describe("Audited area."),
    result: z.enum(["success", "failure", "denied"]).describe("Outcome of the audited action."),
    target_type: z.string().max(64).nullable().describe("Kind of object acted on."),
    target_id: z.string().max(256).nullable().describe("Id of the object acted on."),
    hash: z.string().max(128).optional().describe("Chain hash of the appended row."),
    first_seq: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        "First chain position of the appended batch: the writer publishes one event per batch " +
          "(`first_seq`…`seq`, `count` rows) describing its last row.",
      ),
    count: z.number().int().positive().optional().describe("Rows appended in the batch."),
  }),
  "Audit events were appended to the hash-chained audit log (one event per appended batch).",
);
export const AuthKeyCreated = envelope(
  "auth.key.created",
  ApiKeyRef,
  z.object({
    key_id: z.string().max(64).describe("Key id (`key_…`); never the secret."),
    name: z.string().max(128).describe("Key name."),
    prefix: z.string().max(64).optional().describe("Public prefix identifying the key."),
    user_id: z.string().max(64).describe("Owner of the key."),
    scopes: z.array(z.string().max(64)).max(64).describe("Permissions granted to the key."),
    expires_at: z.string().nullable().describe("Expiry (ISO 8601); null = never."),
  }),
  "An API key was created.",
);
export const AuthKeyRevoked = envelope(
  "auth.key.revoked",
  ApiKeyRef,
  z.object({
    key_id: z.string().max(64).describe("Key id (`key_…`)."),
    name: z.string().max(128).optional().describe("Key name."),
    user_id: z.string().max(64).describe("Owner of the key."),
    reason: z.string().max(256).optional().describe("Why it was revoked."),
  }),
  "An API key was revoked.",
);

// ---------------------------------------------------------------- the union

export const DomainEvent = z
  .discriminatedUnion("type", [
    HaproxyStateCommitted,
    HaproxyStateApplied,
    HaproxyStateFailed,
    HaproxyReload,
    HaproxyRuntimeChanged,
    HaproxyCertCreated,
    HaproxyCertUpdated,
    HaproxyCertDeleted,
    HaproxyCertExpiring,
    HaproxyCertRenewalFailed,
    WireguardPeerCreated,
    WireguardPeerUpdated,
    WireguardPeerDeleted,
    WireguardPeerExpired,
    WireguardPeerHandshake,
    AdaptersChangeStaged,
    AdaptersChangeApplied,
    AdaptersChangeFailed,
    AdaptersChangeRolledBack,
    AdaptersChangeDiscarded,
    AuditAppended,
    AuthKeyCreated,
    AuthKeyRevoked,
  ])
  .describe("A domain event, as stored in the EVENTS stream.")
  .meta({ id: "DomainEvent" });
export type DomainEvent = z.infer<typeof DomainEvent>;
export type EventType = DomainEvent["type"];
/** The event of one type. */
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

/** Every event type of the catalogue. */
export const EVENT_TYPES: readonly EventType[] = Object.freeze(
  DomainEvent.options.map((o) => o.shape.type.value) as EventType[],
);

export const EventDomain = {
  Haproxy: "haproxy",
  Wireguard: "wireguard",
  Adapters: "adapters",
  Audit: "audit",
  Auth: "auth",
} as const;
export type EventDomain = (typeof EventDomain)[keyof typeof EventDomain];

/** The permission needed to see events of a domain. */
export const EventDomainPermission: Readonly<Record<EventDomain, Perm>> = Object.freeze({
  haproxy: Perm.HaproxyRead,
  wireguard: Perm.WgRead,
  adapters: Perm.AdaptersRead,
  audit: Perm.AuditRead,
  auth: Perm.KeysManage,
});

/** The resource-scope list (of `Principal.resources`) that applies to a resource kind. */
export const ScopeOfResourceKind: Readonly<
  Record<EventResourceKind, "haproxy_clusters" | "wg_interfaces" | "adapter_controllers" | null>
> = Object.freeze({
  cluster: "haproxy_clusters",
  interface: "wg_interfaces",
  controller: "adapter_controllers",
  api_key: null,
  audit_log: null,
});

/** `haproxy.state.committed` → `{domain: "haproxy", rest: "state.committed"}`. */
export function splitEventType(type: string): { domain: string; rest: string } {
  const i = type.indexOf(".");
  return i < 0 ? { domain: type, rest: "" } : { domain: type.slice(0, i), rest: type.slice(i + 1) };
}
