/**
 * The WireGuard domain on the wire: interfaces (a WireGuard network served by one or more
 * gateway nodes), peers (clients with allocated tunnel addresses), per-node status and
 * runtime, apply reports, one-time download links, and the messages between the API
 * handlers and the agents. Snake_case everywhere.
 */
import { z } from "zod";
import { ListQuery, listOf } from "../common.ts";
import {
  interfaceCidrSchema,
  WgAllowedIp,
  WgHost,
  WgInterfaceName,
  WgIp,
  WgKeepalive,
  WgListenPort,
  WgMtu,
  WgNodeName,
  WgPeerName,
  WgPeerRef,
  WgPresharedKey,
  WgPublicKey,
  WgSearch,
  WgTag,
  WgTimestamp,
} from "./fields.ts";

// --- interfaces ---------------------------------------------------------------------------

const interfaceFields = {
  listen_port: WgListenPort,
  endpoint_host: WgHost,
  dns: z.array(WgIp).max(4).describe("DNS servers written into client configs (at most 4)."),
  mtu: WgMtu.nullable().describe("Tunnel MTU; null = WireGuard's default (1420)."),
  persistent_keepalive: WgKeepalive,
  nodes: z
    .array(WgNodeName)
    .min(1)
    .max(16)
    .refine((a) => new Set(a).size === a.length, "nodes must not repeat")
    .describe("Gateway nodes serving this interface (their wg-agent's EP_NODE_NAME)."),
};

export const WgInterfaceCreate = z
  .strictObject({
    name: WgInterfaceName,
    address_v4: interfaceCidrSchema(4).optional(),
    address_v6: interfaceCidrSchema(6).optional(),
    listen_port: interfaceFields.listen_port,
    endpoint_host: interfaceFields.endpoint_host,
    dns: interfaceFields.dns.default([]),
    mtu: interfaceFields.mtu.optional(),
    persistent_keepalive: interfaceFields.persistent_keepalive.default(25),
    nodes: interfaceFields.nodes,
  })
  .refine((b) => b.address_v4 !== undefined || b.address_v6 !== undefined, {
    message: "an interface needs address_v4, address_v6 or both",
    path: ["address_v4"],
  })
  .describe("A new WireGuard interface (network).");
export type WgInterfaceCreate = z.infer<typeof WgInterfaceCreate>;

export const WgInterfaceUpdate = z
  .strictObject({
    listen_port: interfaceFields.listen_port.optional(),
    endpoint_host: interfaceFields.endpoint_host.optional(),
    dns: interfaceFields.dns.optional(),
    mtu: interfaceFields.mtu.optional(),
    persistent_keepalive: interfaceFields.persistent_keepalive.optional(),
    nodes: interfaceFields.nodes.optional(),
  })
  .describe("Changes to an interface. Subnets cannot change while peers hold addresses in them.");
export type WgInterfaceUpdate = z.infer<typeof WgInterfaceUpdate>;

/** The stored desired state of an interface (KV `wg` bucket, key `if.<name>`). */
export const WgInterfaceRecord = z
  .object({
    name: WgInterfaceName,
    address_v4: z.string().nullable().describe("Gateway address with prefix (`10.8.0.1/24`), or null."),
    address_v6: z.string().nullable().describe("Gateway IPv6 address with prefix, or null."),
    listen_port: interfaceFields.listen_port,
    endpoint_host: interfaceFields.endpoint_host,
    dns: z.array(z.string()).describe("DNS servers for clients."),
    mtu: interfaceFields.mtu,
    persistent_keepalive: interfaceFields.persistent_keepalive,
    nodes: z.array(z.string()).describe("Serving nodes."),
    created_at: z.string().describe("Creation time (UTC)."),
    updated_at: z.string().describe("Last change (UTC)."),
  })
  .describe("Desired state of one interface.");
export type WgInterfaceRecord = z.infer<typeof WgInterfaceRecord>;

export const WgServer = z
  .object({
    node: z.string().describe("Node name."),
    public_key: z
      .string()
      .nullable()
      .describe("The node's public key for this interface; null until published."),
    endpoint: z.string().nullable().describe("`host:port` clients use for this node."),
  })
  .describe("One node serving an interface, as clients see it.");

export const WgInterface = WgInterfaceRecord.extend({
  gateway_address: z.string().nullable().describe("The interface's own IPv4 tunnel address."),
  gateway_address_v6: z.string().nullable().describe("The interface's own IPv6 tunnel address."),
  servers: z.array(WgServer).describe("Serving nodes with their published public keys."),
  peer_count: z.number().int().describe("Number of peers defined on the interface."),
  revision: z.number().int().describe("KV revision of this interface's definition."),
}).describe("A WireGuard interface.");
export type WgInterface = z.infer<typeof WgInterface>;

export const WgInterfaceList = listOf(WgInterface).describe("A page of interfaces.");

export const WgInterfaceParams = z.object({ name: WgInterfaceName });

// --- apply reports ------------------------------------------------------------------------

export const WgNodeAck = z
  .object({
    node: z.string().describe("Node name."),
    installed: z.boolean().describe("True when the node's device reflects this revision."),
    applied_revision: z.number().int().describe("Highest desired-state revision the node has applied."),
    reason: z.string().nullable().describe("Why it is not installed (render-only, apply error, timeout)."),
  })
  .describe("One node's answer to 'is revision N installed?'.");
export type WgNodeAck = z.infer<typeof WgNodeAck>;

export const WgApplyReport = z
  .object({
    revision: z.number().int().describe("Desired-state revision written by this request."),
    confirmed: z.array(z.string()).describe("Nodes that confirmed the change is installed."),
    unconfirmed: z
      .array(z.object({ node: z.string(), reason: z.string() }))
      .describe("Nodes that did not confirm within the timeout, with the reason."),
  })
  .describe(
    "Which serving nodes installed the change. A mutation replies only after every node answered or the timeout passed.",
  );
export type WgApplyReport = z.infer<typeof WgApplyReport>;

export const WgInterfaceMutation = WgInterface.extend({ apply: WgApplyReport }).describe(
  "An interface after a change, with the nodes' apply report.",
);

// --- peers --------------------------------------------------------------------------------

export const WgPeerCreate = z
  .strictObject({
    name: WgPeerName,
    public_key: WgPublicKey.optional().describe(
      "The client's public key (recommended: the server never sees the private key). Absent: the server generates a key pair and returns the private key once.",
    ),
    preshared_key: WgPresharedKey.optional(),
    allowed_ips: z
      .array(WgAllowedIp)
      .max(64)
      .default([])
      .describe("Extra prefixes routed to this peer (networks behind it), besides its tunnel addresses."),
    address: WgIp.optional().describe(
      "A static tunnel address (inside the interface's subnet). Absent: the next free one is allocated.",
    ),
    enabled: z.boolean().default(true).describe("A disabled peer is removed from every device."),
    expires_at: WgTimestamp.nullable()
      .optional()
      .describe("After this instant the peer is removed from devices."),
    tags: z.array(WgTag).max(16).default([]).describe("Tags for filtering."),
    store_private_key: z
      .boolean()
      .default(false)
      .describe(
        "Keep the generated private key, sealed (AES-256-GCM), so configs and QR codes can be fetched later. Only with a generated key.",
      ),
  })
  .refine((b) => !(b.store_private_key && b.public_key !== undefined), {
    message: "store_private_key needs a server-generated key: omit public_key",
    path: ["store_private_key"],
  })
  .describe("A new peer.");
export type WgPeerCreate = z.infer<typeof WgPeerCreate>;

export const WgPeerUpdate = z
  .strictObject({
    name: WgPeerName.optional(),
    public_key: WgPublicKey.optional().describe("A new client public key (rotation)."),
    preshared_key: WgPresharedKey.nullable().optional().describe("A new preshared key; null removes it."),
    allowed_ips: z.array(WgAllowedIp).max(64).optional().describe("Replaces the extra routed prefixes."),
    enabled: z.boolean().optional().describe("Enable or disable the peer."),
    expires_at: WgTimestamp.nullable().optional().describe("New expiry; null = never."),
    tags: z.array(WgTag).max(16).optional().describe("Replaces the tags."),
  })
  .describe("Changes to a peer (only the fields given change).");
export type WgPeerUpdate = z.infer<typeof WgPeerUpdate>;

/** The stored desired state of a peer (KV `wg` bucket, key `peer.<interface>.<id>`). */
export const WgPeerRecord = z
  .object({
    id: z.string().describe("Peer id (`peer_…`)."),
    name: z.string().describe("Peer name, unique per interface."),
    interface: z.string().describe("The interface the peer belongs to."),
    public_key: z.string().describe("The client's public key."),
    preshared_key: z.string().nullable().describe("Preshared key (desired state only; never returned)."),
    addresses: z.array(z.string()).describe("Allocated tunnel addresses (`10.8.0.2/32`, `fd00::2/128`)."),
    allowed_ips: z.array(z.string()).describe("Extra routed prefixes."),
    enabled: z.boolean().describe("Whether the peer is installed on devices."),
    expires_at: z.string().nullable().describe("Expiry (UTC) or null."),
    tags: z.array(z.string()).describe("Tags."),
    key_origin: z.enum(["client", "server"]).describe("Who generated the key pair."),
    private_key_stored: z.boolean().describe("True when a sealed private key is kept for later downloads."),
    created_at: z.string().describe("Creation time (UTC)."),
    updated_at: z.string().describe("Last change (UTC)."),
    created_by: z.string().nullable().describe("Who created it (user name)."),
    updated_by: z.string().nullable().describe("Who changed it last."),
  })
  .describe("Desired state of one peer.");
export type WgPeerRecord = z.infer<typeof WgPeerRecord>;

export const WgPeer = WgPeerRecord.omit({ preshared_key: true })
  .extend({
    has_preshared_key: z
      .boolean()
      .describe("Whether a preshared key is set (the key itself is never returned)."),
    expired: z.boolean().describe("True when `expires_at` has passed."),
    revision: z.number().int().describe("KV revision of this peer's definition."),
  })
  .describe("A WireGuard peer.");
export type WgPeer = z.infer<typeof WgPeer>;

export const WgPeerCreated = WgPeer.extend({
  private_key: z
    .string()
    .optional()
    .describe(
      "The generated private key, returned only in this response (absent when the client supplied its key).",
    ),
  config: z
    .string()
    .optional()
    .describe("The full wg-quick client config, returned once when the key was generated."),
  apply: WgApplyReport,
}).describe("The new peer, with its one-time secrets and the nodes' apply report.");

export const WgPeerMutation = WgPeer.extend({ apply: WgApplyReport }).describe(
  "A peer after a change, with the nodes' apply report.",
);

export const WgPeerDeleted = z
  .object({ id: z.string().describe("The deleted peer's id."), apply: WgApplyReport })
  .describe("A deleted peer and the nodes' apply report.");

export const WgPeerList = listOf(WgPeer).describe("A page of peers.");

// The gateway forwards the parsed query and the service parses it again: accept both forms.
const boolQuery = z
  .union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
  .describe("`true` or `false`.");

export const WgPeerListQuery = ListQuery.extend({
  tag: WgTag.optional().describe("Only peers with this tag."),
  enabled: boolQuery.optional().describe("Only enabled (`true`) or disabled (`false`) peers."),
  q: WgSearch.optional(),
}).strict();

export const WgPeerParams = z.object({ name: WgInterfaceName, id: WgPeerRef });
export const WgCompatPeerParams = z.object({ name: WgPeerName });

export const WgConfigQuery = z
  .strictObject({
    node: WgNodeName.optional().describe(
      "Serving node to connect to (default: the first with a published key).",
    ),
  })
  .describe("Client config options.");
export const WgQrQuery = WgConfigQuery.extend({
  format: z.enum(["png", "svg"]).default("png").describe("Image format."),
}).strict();

export const WgLinkCreated = z
  .object({
    token: z.string().describe("The one-time token (shown once)."),
    path: z
      .string()
      .describe("Path of the download (`/api/v1/wireguard/links/<token>`), public, usable once."),
    expires_at: z.string().describe("When the link dies if unused."),
  })
  .describe("A one-time download link for a peer's client config.");
export const WgLinkParams = z.object({
  token: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "not a download token")
    .describe("The one-time token."),
});

// --- status and runtime -----------------------------------------------------------------

export const WgNodeStatus = z
  .object({
    node: z.string().describe("Node name."),
    reachable: z.boolean().describe("Whether the node's agent answered."),
    mode: z
      .enum(["wireguard-go", "render-only", "unknown"])
      .describe("How the agent drives WireGuard; `render-only` keeps state but installs nothing."),
    reason: z.string().nullable().describe("Why the agent is render-only, if it is."),
    device: z.string().nullable().describe("The Linux device name on that node."),
    interface_up: z.boolean().describe("Whether the device exists and answers."),
    listen_port: z.number().int().nullable().describe("UDP port the device listens on."),
    public_key: z.string().nullable().describe("The node's public key for this interface."),
    peer_count: z.number().int().describe("Peers installed on the device."),
    applied_revision: z.number().int().describe("Highest desired-state revision applied."),
    last_applied_at: z.string().nullable().describe("When the last change was applied."),
    last_error: z.string().nullable().describe("The last apply error, or null."),
  })
  .describe("One node's view of an interface.");
export type WgNodeStatus = z.infer<typeof WgNodeStatus>;

export const WgInterfaceStatus = z
  .object({
    interface: z.string().describe("Interface name."),
    running: z.boolean().describe("True when every serving node has the device up."),
    peer_count: z.number().int().describe("Peers defined."),
    nodes: z.array(WgNodeStatus).describe("Per-node status."),
  })
  .describe("Status of an interface across its serving nodes.");

export const WgPeerRuntime = z
  .object({
    node: z.string().describe("Node name."),
    reachable: z.boolean().describe("Whether the node's agent answered."),
    installed: z.boolean().describe("Whether the peer is on the node's device."),
    endpoint: z.string().nullable().describe("The client's last seen `ip:port`."),
    latest_handshake: z.string().nullable().describe("Time of the latest handshake (UTC), or null."),
    rx_bytes: z.number().describe("Bytes received from the peer."),
    tx_bytes: z.number().describe("Bytes sent to the peer."),
  })
  .describe("A peer as one node's device sees it.");
export type WgPeerRuntime = z.infer<typeof WgPeerRuntime>;

export const WgPeerStatus = z
  .object({
    id: z.string().describe("Peer id."),
    nodes: z.array(WgPeerRuntime).describe("Per-node runtime."),
  })
  .describe("Runtime of one peer across the serving nodes.");

// --- agent messages (NATS only) ---------------------------------------------------------

export const WgAppliedRequest = z
  .object({
    interface: WgInterfaceName,
    revision: z.number().int().min(0).describe("Revision to wait for."),
    timeout_ms: z.number().int().min(0).max(60_000).describe("How long the agent may hold the request."),
  })
  .describe("Ask a node to answer once it has applied a revision.");

export const WgNodeStatusRequest = z
  .object({
    interface: WgInterfaceName,
    public_key: WgPublicKey.optional().describe("Also return this peer's runtime."),
  })
  .describe("Ask a node for its view of an interface.");

export const WgNodeStatusReply = z.object({
  status: WgNodeStatus,
  peer: WgPeerRuntime.nullable().optional(),
});

/** A peer-stats sample published by every agent (`ep.v1.wg.samples.<interface>.<node>`). */
export const WgStatsSample = z
  .object({
    interface: z.string().describe("Interface name."),
    node: z.string().describe("Node that sampled."),
    at: z.string().describe("Sample time (UTC)."),
    part: z.number().int().describe("Chunk number (samples of big interfaces are split)."),
    parts: z.number().int().describe("Number of chunks of this sample."),
    peers: z
      .array(
        z.object({
          peer_id: z.string().nullable().describe("Peer id, when the key belongs to a known peer."),
          public_key: z.string().describe("Peer public key."),
          endpoint: z.string().nullable().describe("Last seen `ip:port`."),
          latest_handshake: z.number().int().describe("Unix seconds of the latest handshake; 0 = never."),
          rx_bytes: z.number().describe("Bytes received."),
          tx_bytes: z.number().describe("Bytes sent."),
        }),
      )
      .describe("One entry per installed peer."),
  })
  .describe("Peer counters of one interface on one node.");
export type WgStatsSample = z.infer<typeof WgStatsSample>;
