/**
 * WireGuard routes, answered by the wg-agent's API role (queue group). Canonical paths are
 * under `/api/v1/wireguard`; PIC's paths (`/api/wireguard/status`, `/api/peers…`) are
 * compatibility routes on the default interface (`EP_WG_DEFAULT_INTERFACE`, `wg0`).
 */
import { z } from "zod";
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import { BinaryReply, ListQuery } from "../schemas/common.ts";
import {
  WgCompatPeerParams,
  WgConfigQuery,
  WgInterface,
  WgInterfaceCreate,
  WgInterfaceList,
  WgInterfaceMutation,
  WgInterfaceParams,
  WgInterfaceStatus,
  WgInterfaceUpdate,
  WgLinkCreated,
  WgLinkParams,
  WgPeer,
  WgPeerCreate,
  WgPeerCreated,
  WgPeerDeleted,
  WgPeerList,
  WgPeerListQuery,
  WgPeerMutation,
  WgPeerParams,
  WgPeerStatus,
  WgPeerUpdate,
  WgQrQuery,
} from "../schemas/wireguard/mod.ts";
import { Subjects } from "../subjects.ts";
import { defineRoute } from "./route.ts";

const S = Subjects.wg;
const tags = ["wireguard"] as const;
const scope = { kind: "wg_interfaces", param: "name" } as const;
const base = "/api/v1/wireguard/interfaces";
/** Mutations wait for every serving node (5 s by default): give the NATS hop room. */
const MUTATION_TIMEOUT_MS = 15_000;
const common = [Errors.Unauthenticated, Errors.Forbidden, Errors.ValidationFailed] as const;

export const wgInterfacesListRoute = defineRoute({
  id: "wireguard.interfaces.list",
  method: "GET",
  path: base,
  summary: "List WireGuard interfaces",
  tags,
  auth: "principal",
  permission: Perm.WgRead,
  subject: S.interfacesList,
  query: ListQuery.strict(),
  reply: WgInterfaceList,
  errors: common,
});

export const wgInterfaceCreateRoute = defineRoute({
  id: "wireguard.interfaces.create",
  method: "POST",
  path: base,
  summary: "Create a WireGuard interface",
  description:
    "Stores the interface and waits until every serving node has brought its device up and published its public key (or the timeout passed; `apply` says which nodes did not confirm, and the status is then 202).",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  subject: S.interfacesCreate,
  body: WgInterfaceCreate,
  reply: WgInterfaceMutation,
  status: 201,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.Conflict],
});

export const wgInterfaceGetRoute = defineRoute({
  id: "wireguard.interfaces.get",
  method: "GET",
  path: `${base}/{name}`,
  summary: "Get a WireGuard interface",
  tags,
  auth: "principal",
  permission: Perm.WgRead,
  scope,
  subject: S.interfaceGet,
  params: WgInterfaceParams,
  reply: WgInterface,
  errors: [...common, Errors.NotFound],
});

export const wgInterfaceUpdateRoute = defineRoute({
  id: "wireguard.interfaces.update",
  method: "PATCH",
  path: `${base}/{name}`,
  summary: "Change a WireGuard interface",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.interfaceUpdate,
  params: WgInterfaceParams,
  body: WgInterfaceUpdate,
  reply: WgInterfaceMutation,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound, Errors.Conflict],
});

export const wgInterfaceDeleteRoute = defineRoute({
  id: "wireguard.interfaces.delete",
  method: "DELETE",
  path: `${base}/{name}`,
  summary: "Delete a WireGuard interface",
  description: "Refused (409) while the interface has peers. The serving nodes remove their device.",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.interfaceDelete,
  params: WgInterfaceParams,
  reply: z.object({
    name: z.string().describe("The deleted interface."),
    apply: WgInterfaceMutation.shape.apply,
  }),
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound, Errors.Conflict],
});

export const wgInterfaceStatusRoute = defineRoute({
  id: "wireguard.interfaces.status",
  method: "GET",
  path: `${base}/{name}/status`,
  summary: "Per-node status of an interface",
  description:
    "Asks every serving node: device up, listen port, installed peers, applied revision, last error, and whether the agent runs render-only.",
  tags,
  auth: "principal",
  permission: Perm.WgRead,
  scope,
  subject: S.interfaceStatus,
  params: WgInterfaceParams,
  reply: WgInterfaceStatus,
  errors: [...common, Errors.NotFound],
});

export const wgPeersListRoute = defineRoute({
  id: "wireguard.peers.list",
  method: "GET",
  path: `${base}/{name}/peers`,
  summary: "List peers",
  description: "Paginated; filter by `tag`, `enabled`, or search `q` in name, id, tags, addresses and key.",
  tags,
  auth: "principal",
  permission: Perm.WgRead,
  scope,
  subject: S.peersList,
  params: WgInterfaceParams,
  query: WgPeerListQuery,
  reply: WgPeerList,
  errors: [...common, Errors.NotFound],
});

export const wgPeerCreateRoute = defineRoute({
  id: "wireguard.peers.create",
  method: "POST",
  path: `${base}/{name}/peers`,
  summary: "Create a peer",
  description:
    "Allocates the next free address(es) (or checks a static one), stores the peer and replies once every serving node has installed it (201), or after the timeout with the nodes that did not (202). Without `public_key` the server generates the key pair and returns `private_key` and the full `config` in this response only.",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peersCreate,
  params: WgInterfaceParams,
  body: WgPeerCreate,
  reply: WgPeerCreated,
  status: 201,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [
    ...common,
    Errors.NotFound,
    Errors.Conflict,
    Errors.WgAddressExhausted,
    Errors.WgAddressInUse,
    Errors.WgSealingUnavailable,
  ],
});

export const wgPeerGetRoute = defineRoute({
  id: "wireguard.peers.get",
  method: "GET",
  path: `${base}/{name}/peers/{id}`,
  summary: "Get a peer (by id or name)",
  tags,
  auth: "principal",
  permission: Perm.WgRead,
  scope,
  subject: S.peerGet,
  params: WgPeerParams,
  reply: WgPeer,
  errors: [...common, Errors.NotFound],
});

export const wgPeerUpdateRoute = defineRoute({
  id: "wireguard.peers.update",
  method: "PATCH",
  path: `${base}/{name}/peers/{id}`,
  summary: "Change a peer",
  description:
    "Only the given fields change. Replies once every serving node applied the change (or the timeout).",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerUpdate,
  params: WgPeerParams,
  body: WgPeerUpdate,
  reply: WgPeerMutation,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound, Errors.Conflict],
});

export const wgPeerDeleteRoute = defineRoute({
  id: "wireguard.peers.delete",
  method: "DELETE",
  path: `${base}/{name}/peers/{id}`,
  summary: "Delete a peer",
  description: "Removes it from every serving node and releases its addresses.",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerDelete,
  params: WgPeerParams,
  reply: WgPeerDeleted,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound],
});

export const wgPeerEnableRoute = defineRoute({
  id: "wireguard.peers.enable",
  method: "POST",
  path: `${base}/{name}/peers/{id}/enable`,
  summary: "Enable a peer",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerEnable,
  params: WgPeerParams,
  reply: WgPeerMutation,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound],
});

export const wgPeerDisableRoute = defineRoute({
  id: "wireguard.peers.disable",
  method: "POST",
  path: `${base}/{name}/peers/{id}/disable`,
  summary: "Disable a peer",
  description:
    "Removes the peer from every device (its traffic stops) but keeps its definition and addresses.",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerDisable,
  params: WgPeerParams,
  reply: WgPeerMutation,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound],
});

export const wgPeerConfigRoute = defineRoute({
  id: "wireguard.peers.config",
  method: "GET",
  path: `${base}/{name}/peers/{id}/config`,
  summary: "A peer's wg-quick client config",
  description:
    "Contains the private key only when it was stored sealed (`store_private_key`); otherwise a comment marks where the client puts its own. Needs `wg:write` (the config may hold a secret).",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerConfig,
  params: WgPeerParams,
  query: WgConfigQuery,
  reply: z.string().describe("The client config (text/plain)."),
  replyType: "text",
  errors: [...common, Errors.NotFound, Errors.WgSealingUnavailable],
});

export const wgPeerQrRoute = defineRoute({
  id: "wireguard.peers.qr",
  method: "GET",
  path: `${base}/{name}/peers/{id}/qr`,
  summary: "A peer's client config as a QR code",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerQr,
  params: WgPeerParams,
  query: WgQrQuery,
  reply: BinaryReply,
  replyType: "binary",
  errors: [...common, Errors.NotFound, Errors.WgSealingUnavailable],
});

export const wgPeerLinkRoute = defineRoute({
  id: "wireguard.peers.link",
  method: "POST",
  path: `${base}/{name}/peers/{id}/links`,
  summary: "A one-time download link for a peer's config",
  description: "The link is public, works once, and expires after 15 minutes.",
  tags,
  auth: "principal",
  permission: Perm.WgWrite,
  scope,
  subject: S.peerLink,
  params: WgPeerParams,
  reply: WgLinkCreated,
  status: 201,
  errors: [...common, Errors.NotFound],
});

export const wgLinkRedeemRoute = defineRoute({
  id: "wireguard.links.redeem",
  method: "GET",
  path: "/api/v1/wireguard/links/{token}",
  summary: "Download a config through a one-time link",
  description: "No credential: the token is one. It dies on first use and after 15 minutes.",
  tags,
  auth: "public",
  rateClass: "auth",
  subject: S.linkRedeem,
  params: WgLinkParams,
  reply: z.string().describe("The client config (text/plain)."),
  replyType: "text",
  // Redeeming consumes the token: audited, never retried.
  mutation: true,
  errors: [Errors.NotFound, Errors.ValidationFailed],
});

export const wgPeerStatusRoute = defineRoute({
  id: "wireguard.peers.status",
  method: "GET",
  path: `${base}/{name}/peers/{id}/status`,
  summary: "A peer's runtime on every serving node",
  description: "Latest handshake, endpoint and rx/tx bytes as each node's device reports them.",
  tags,
  auth: "principal",
  permission: Perm.WgRead,
  scope,
  subject: S.peerStatus,
  params: WgPeerParams,
  reply: WgPeerStatus,
  errors: [...common, Errors.NotFound],
});

// --- PIC compatibility (default interface) ------------------------------------------------

const compatTags = ["wireguard", "compat"] as const;
const compatNote = "Compatibility alias (PIC) on the default interface.";

export const wgCompatStatusRoute = defineRoute({
  id: "wireguard.compat.status",
  method: "GET",
  path: "/api/wireguard/status",
  summary: "WireGuard running state and stats",
  description: `${compatNote} Same as \`GET /api/v1/wireguard/interfaces/{default}/status\`.`,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgRead,
  subject: S.compatStatus,
  reply: WgInterfaceStatus,
  errors: [...common, Errors.NotFound],
});

export const wgCompatPeersListRoute = defineRoute({
  id: "wireguard.compat.peers.list",
  method: "GET",
  path: "/api/peers",
  summary: "List all peers",
  description: compatNote,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgRead,
  subject: S.compatPeersList,
  query: WgPeerListQuery,
  reply: WgPeerList,
  errors: [...common, Errors.NotFound],
});

export const wgCompatPeerCreateRoute = defineRoute({
  id: "wireguard.compat.peers.create",
  method: "POST",
  path: "/api/peers",
  summary: "Add a peer",
  description: compatNote,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgWrite,
  subject: S.compatPeersCreate,
  body: WgPeerCreate,
  reply: WgPeerCreated,
  status: 201,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: wgPeerCreateRoute.errors,
});

export const wgCompatPeerGetRoute = defineRoute({
  id: "wireguard.compat.peers.get",
  method: "GET",
  path: "/api/peers/{name}",
  summary: "Get peer details",
  description: compatNote,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgRead,
  subject: S.compatPeerGet,
  params: WgCompatPeerParams,
  reply: WgPeer,
  errors: [...common, Errors.NotFound],
});

export const wgCompatPeerPutRoute = defineRoute({
  id: "wireguard.compat.peers.put",
  method: "PUT",
  path: "/api/peers/{name}",
  summary: "Update peer",
  description: `${compatNote} Takes the same fields as PATCH on the canonical path; only the given fields change.`,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgWrite,
  subject: S.compatPeerPut,
  params: WgCompatPeerParams,
  body: WgPeerUpdate,
  reply: WgPeerMutation,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound, Errors.Conflict],
});

export const wgCompatPeerDeleteRoute = defineRoute({
  id: "wireguard.compat.peers.delete",
  method: "DELETE",
  path: "/api/peers/{name}",
  summary: "Remove peer",
  description: compatNote,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgWrite,
  subject: S.compatPeerDelete,
  params: WgCompatPeerParams,
  reply: WgPeerDeleted,
  timeoutMs: MUTATION_TIMEOUT_MS,
  errors: [...common, Errors.NotFound],
});

export const wgCompatPeerQrRoute = defineRoute({
  id: "wireguard.compat.peers.qr",
  method: "GET",
  path: "/api/peers/{name}/qr",
  summary: "Peer config as QR code",
  description: compatNote,
  tags: compatTags,
  auth: "principal",
  permission: Perm.WgWrite,
  subject: S.compatPeerQr,
  params: WgCompatPeerParams,
  query: WgQrQuery,
  reply: BinaryReply,
  replyType: "binary",
  errors: [...common, Errors.NotFound, Errors.WgSealingUnavailable],
});

/** Every WireGuard route, in the docs' order. */
export const wireguardRoutes = [
  wgInterfacesListRoute,
  wgInterfaceCreateRoute,
  wgInterfaceGetRoute,
  wgInterfaceUpdateRoute,
  wgInterfaceDeleteRoute,
  wgInterfaceStatusRoute,
  wgPeersListRoute,
  wgPeerCreateRoute,
  wgPeerGetRoute,
  wgPeerUpdateRoute,
  wgPeerDeleteRoute,
  wgPeerEnableRoute,
  wgPeerDisableRoute,
  wgPeerConfigRoute,
  wgPeerQrRoute,
  wgPeerLinkRoute,
  wgPeerStatusRoute,
  wgLinkRedeemRoute,
  wgCompatStatusRoute,
  wgCompatPeersListRoute,
  wgCompatPeerCreateRoute,
  wgCompatPeerGetRoute,
  wgCompatPeerPutRoute,
  wgCompatPeerDeleteRoute,
  wgCompatPeerQrRoute,
] as const;
