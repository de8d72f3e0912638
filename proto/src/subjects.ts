/**
 * The subject scheme. Everything is under `ep.v1.`; the second token after the version
 * names the domain, routing tokens (cluster, node, interface) come next and are always
 * validated Names mapped through `subjectToken`:
 *
 *   ep.v1.<domain>[.<routing token>…].<resource>.<verb>   request/reply (queue groups)
 *   ep.v1.evt.<domain>.<resource id>.<type>               domain events  → stream EVENTS
 *   ep.v1.audit.<category>.<action>                       audit events   → stream AUDIT
 *   ep.v1.bcast.<domain>.<what>                           fan-out notices (plain pub/sub)
 */
import { subjectToken } from "./names.ts";

export const SUBJECT_ROOT = "ep.v1";

export const Subjects = {
  auth: {
    verify: "ep.v1.auth.verify",
    setupStatus: "ep.v1.auth.setup.status",
    setupComplete: "ep.v1.auth.setup.complete",
    me: "ep.v1.auth.me",
    // --- sessions, tokens, MFA (issue 3) ---
    login: "ep.v1.auth.session.login",
    loginMfa: "ep.v1.auth.session.login-mfa",
    logout: "ep.v1.auth.session.logout",
    logoutAll: "ep.v1.auth.session.logout-all",
    csrfToken: "ep.v1.auth.session.csrf",
    sessionsList: "ep.v1.auth.session.list",
    sessionDelete: "ep.v1.auth.session.delete",
    token: "ep.v1.auth.token.issue",
    refresh: "ep.v1.auth.token.refresh",
    mfaSetup: "ep.v1.auth.mfa.setup",
    mfaEnable: "ep.v1.auth.mfa.enable",
    mfaDisable: "ep.v1.auth.mfa.disable",
    changePassword: "ep.v1.auth.password.change",
    resetRequest: "ep.v1.auth.password.reset-request",
    resetConfirm: "ep.v1.auth.password.reset-confirm",
    // --- users and API keys ---
    usersCreate: "ep.v1.auth.users.create",
    usersList: "ep.v1.auth.users.list",
    usersGet: "ep.v1.auth.users.get",
    usersUpdate: "ep.v1.auth.users.update",
    usersDelete: "ep.v1.auth.users.delete",
    usersResetPassword: "ep.v1.auth.users.reset-password",
    usersResetPasswordByName: "ep.v1.auth.users.reset-password-by-name",
    keysCreate: "ep.v1.auth.keys.create",
    keysList: "ep.v1.auth.keys.list",
    keysDelete: "ep.v1.auth.keys.delete",
    // --- the audit table ---
    auditQuery: "ep.v1.auth.audit.query",
    auditExport: "ep.v1.auth.audit.export",
    auditVerify: "ep.v1.auth.audit.verify",
  },
  /** Notices for out-of-band delivery (plain pub/sub, never persisted: they may carry one-time secrets). */
  notify: {
    /** A password-reset token to deliver to the user (`{user_id, username, token, expires_at}`). */
    passwordReset: "ep.v1.notify.auth.password-reset",
  },
  mesh: {
    echo: "ep.v1.mesh.echo",
  },
  /**
   * WireGuard. API handlers (queue group over every wg-agent with the API role):
   * `ep.v1.wg.interfaces.*`, `ep.v1.wg.if.<interface>.*`, `ep.v1.wg.compat.*` (PIC aliases
   * on the default interface), `ep.v1.wg.links.redeem`. Node-addressed (one agent each):
   * `ep.v1.wg.node.<node>.{applied,status}`. Peer-stats samples: `ep.v1.wg.samples.<interface>.<node>`.
   */
  wg: {
    interfacesList: "ep.v1.wg.interfaces.list",
    interfacesCreate: "ep.v1.wg.interfaces.create",
    interfaceGet: "ep.v1.wg.if.{name}.get",
    interfaceUpdate: "ep.v1.wg.if.{name}.update",
    interfaceDelete: "ep.v1.wg.if.{name}.delete",
    interfaceStatus: "ep.v1.wg.if.{name}.status",
    peersList: "ep.v1.wg.if.{name}.peers.list",
    peersCreate: "ep.v1.wg.if.{name}.peers.create",
    peerGet: "ep.v1.wg.if.{name}.peer.get",
    peerUpdate: "ep.v1.wg.if.{name}.peer.update",
    peerDelete: "ep.v1.wg.if.{name}.peer.delete",
    peerEnable: "ep.v1.wg.if.{name}.peer.enable",
    peerDisable: "ep.v1.wg.if.{name}.peer.disable",
    peerConfig: "ep.v1.wg.if.{name}.peer.config",
    peerQr: "ep.v1.wg.if.{name}.peer.qr",
    peerLink: "ep.v1.wg.if.{name}.peer.link",
    peerStatus: "ep.v1.wg.if.{name}.peer.status",
    linkRedeem: "ep.v1.wg.links.redeem",
    compatStatus: "ep.v1.wg.compat.status",
    compatPeersList: "ep.v1.wg.compat.peers.list",
    compatPeersCreate: "ep.v1.wg.compat.peers.create",
    compatPeerGet: "ep.v1.wg.compat.peer.get",
    compatPeerPut: "ep.v1.wg.compat.peer.put",
    compatPeerDelete: "ep.v1.wg.compat.peer.delete",
    compatPeerQr: "ep.v1.wg.compat.peer.qr",
    /** A node answers once it has applied a desired-state revision (payload WgAppliedRequest). */
    nodeApplied: (node: string) => `ep.v1.wg.node.${subjectToken(node)}.applied`,
    /** A node's view of an interface (payload WgNodeStatusRequest). */
    nodeStatus: (node: string) => `ep.v1.wg.node.${subjectToken(node)}.status`,
    /** Peer-stats samples (WgStatsSample), plain publish. */
    samples: (iface: string, node: string) => `ep.v1.wg.samples.${subjectToken(iface)}.${subjectToken(node)}`,
  },
  /** Vendor adapters (stateless workers, queue group; no routing token: any worker serves any controller). */
  adapters: {
    vendors: "ep.v1.adapters.vendors.list",
    controllersList: "ep.v1.adapters.controllers.list",
    controllersCreate: "ep.v1.adapters.controllers.create",
    controllersGet: "ep.v1.adapters.controllers.get",
    controllersUpdate: "ep.v1.adapters.controllers.update",
    controllersDelete: "ep.v1.adapters.controllers.delete",
    controllersTest: "ep.v1.adapters.controllers.test",
    read: "ep.v1.adapters.controllers.read",
    changesStage: "ep.v1.adapters.changes.stage",
    changesList: "ep.v1.adapters.changes.list",
    changesGet: "ep.v1.adapters.changes.get",
    changesApply: "ep.v1.adapters.changes.apply",
    changesConfirm: "ep.v1.adapters.changes.confirm",
    changesDiscard: "ep.v1.adapters.changes.discard",
  },
  /**
   * Stats. Samples (plain publish, every stats instance subscribes): HAProxy `HaproxySample`
   * on `ep.v1.stats.samples.haproxy.<cluster>.<node>`. `show sess` of one node
   * (`HaproxySessionsRequest` → `HaproxySessionsReply`), answered by that node's agent:
   * `ep.v1.haproxy.<cluster>.node.<node>.sessions`. API: `ep.v1.stats.<cluster>.<what>`,
   * queue group over every stats instance.
   */
  stats: {
    haproxySamples: (cluster: string, node: string) =>
      `ep.v1.stats.samples.haproxy.${subjectToken(cluster)}.${subjectToken(node)}`,
    /** Subscription pattern of every HAProxy sample. */
    haproxySamplesAll: "ep.v1.stats.samples.haproxy.>",
    haproxySessions: (cluster: string, node: string) =>
      `ep.v1.haproxy.${subjectToken(cluster)}.node.${subjectToken(node)}.sessions`,
  },
  /** Audit events for one category/action (both are catalogue names, never user input). */
  audit: (category: string, action: string) =>
    `ep.v1.audit.${subjectToken(category)}.${subjectToken(action)}`,
  /** Domain events for one resource. */
  event: (domain: string, resource: string, type: string) =>
    `ep.v1.evt.${subjectToken(domain)}.${subjectToken(resource)}.${subjectToken(type)}`,
  bcast: {
    /** Drop cached credential verifications (payload: `{key_id?, user_id?}`; empty = all). */
    authInvalidate: "ep.v1.bcast.auth.invalidate",
  },
  /** NATS KV buckets of the auth service. */
  kv: {
    /** `jwks` (public JWT keys), `tv.<user_id>` (token versions bumped by logout-all), `audit.head`. */
    auth: "ep-auth",
  },
} as const;

/** JetStream streams of the mesh; created idempotently by whoever starts first. */
export const Streams = {
  AUDIT: {
    name: "AUDIT",
    subjects: ["ep.v1.audit.>"],
    description: "Audit events waiting to be appended to the hash-chained audit table.",
  },
  EVENTS: {
    name: "EVENTS",
    subjects: ["ep.v1.evt.>"],
    description: "Domain events for WebSocket clients and replay.",
  },
} as const;

/** Service names used for NATS service discovery (`$SRV.*`). */
export const ServiceName = {
  Gateway: "ep-gateway",
  Auth: "ep-auth",
  HaproxyAgent: "ep-haproxy-agent",
  WgAgent: "ep-wg-agent",
  Adapters: "ep-adapters",
  Stats: "ep-stats",
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

/** Services without which the mesh is not ready (readiness probe). */
export const REQUIRED_SERVICES: readonly ServiceName[] = Object.freeze([ServiceName.Auth]);
