/**
 * The wg-agent service: one process per WireGuard gateway node. Two roles, both on by
 * default: the node role (converge this node's devices to the desired state in KV) and
 * the API role (answer the WireGuard routes, queue group over every agent). It needs only
 * NATS and the local WireGuard; it must not take a device down because NATS is away.
 */
import {
  isName,
  type RunServiceOptions,
  ServiceName,
  WgHost,
  wgCompatPeerCreateRoute,
  wgCompatPeerDeleteRoute,
  wgCompatPeerGetRoute,
  wgCompatPeerPutRoute,
  wgCompatPeerQrRoute,
  wgCompatPeersListRoute,
  wgCompatStatusRoute,
  wgInterfaceCreateRoute,
  wgInterfaceDeleteRoute,
  wgInterfaceGetRoute,
  wgInterfaceStatusRoute,
  wgInterfacesListRoute,
  wgInterfaceUpdateRoute,
  wgLinkRedeemRoute,
  wgPeerConfigRoute,
  wgPeerCreateRoute,
  wgPeerDeleteRoute,
  wgPeerDisableRoute,
  wgPeerEnableRoute,
  wgPeerGetRoute,
  wgPeerLinkRoute,
  wgPeerQrRoute,
  wgPeerStatusRoute,
  wgPeersListRoute,
  wgPeerUpdateRoute,
} from "@edgeplane/proto";
import { WgApi } from "./api.ts";
import { stateDirOf, WgAgentEnv } from "./config.ts";
import { wireguardGoUsable } from "./device.ts";
import { NodeAgent, type NodeMode } from "./node.ts";
import { createSealer } from "./seal.ts";
import { DesiredState, openBuckets } from "./store.ts";

export const VERSION = "0.1.0";

export const service: RunServiceOptions<typeof WgAgentEnv> = {
  name: ServiceName.WgAgent,
  version: VERSION,
  description: "WireGuard gateway agent",
  env: WgAgentEnv,
  async setup(rt) {
    const { config: c, nc, js, svc, log } = rt;
    if (c.EP_WG_ENDPOINT_HOST !== undefined && !WgHost.safeParse(c.EP_WG_ENDPOINT_HOST).success)
      throw new Error("EP_WG_ENDPOINT_HOST: not a hostname or IP address");
    const kv = await openBuckets(js, c.EP_STREAM_REPLICAS, c.EP_WG_LINK_TTL_S * 1000);
    const state = new DesiredState(kv.desired, log);

    let node: NodeAgent | undefined;
    if (c.EP_WG_NODE) {
      // A host name is the default node name: map it onto the node-name grammar.
      const nodeName = isName(c.EP_NODE_NAME)
        ? c.EP_NODE_NAME
        : c.EP_NODE_NAME.toLowerCase()
            .replace(/[^a-z0-9._-]/g, "-")
            .replace(/^[^a-z0-9]+/, "")
            .slice(0, 63);
      if (!isName(nodeName))
        throw new Error(`EP_NODE_NAME ${JSON.stringify(c.EP_NODE_NAME)} is not a usable node name`);
      if (nodeName !== c.EP_NODE_NAME)
        log.warn({ node: nodeName }, "EP_NODE_NAME mapped onto the node-name grammar");
      const host = { netns: c.EP_WG_NETNS, bin: c.EP_WG_BIN };
      let mode: NodeMode = "render-only";
      let reason: string | null = c.EP_WG_MODE === "render-only" ? "EP_WG_MODE=render-only" : null;
      if (c.EP_WG_MODE !== "render-only") {
        const usable = await wireguardGoUsable(host);
        if (usable.ok) mode = "wireguard-go";
        else if (c.EP_WG_MODE === "wireguard-go")
          throw new Error(`EP_WG_MODE=wireguard-go but WireGuard cannot be driven here: ${usable.reason}`);
        else reason = usable.reason;
      }
      if (mode === "render-only")
        log.warn(
          { reason },
          `RENDER-ONLY: WireGuard is not available on this node (${reason}); desired state and client configs work, nothing is installed`,
        );
      node = new NodeAgent({
        node: nodeName,
        mode,
        modeReason: reason,
        host,
        devicePrefix: c.EP_WG_DEVICE_PREFIX,
        stateDir: stateDirOf(c),
        endpointHost: c.EP_WG_ENDPOINT_HOST,
        statsIntervalMs: c.EP_WG_STATS_INTERVAL_MS,
        nc,
        js,
        kv,
        state,
        svc,
        log,
      });
      await node.start();
    }
    await state.resync();
    log.info({ revision: state.revision, interfaces: state.interfaces.size }, "desired state loaded");

    // After every reconnect: rebuild the mirror from a fresh watch, then the node diffs its
    // devices against it. While NATS is away nothing on the node changes.
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type !== "reconnect") continue;
        log.info("reconnected to NATS: resyncing the desired state");
        state.resync().catch((err: unknown) => log.error({ err }, "resync after reconnect failed"));
      }
    })();
    rt.onStop(() => {
      node?.stop();
      state.stop();
    });

    if (!c.EP_WG_API) return;
    const api = new WgApi({
      nc,
      js,
      kv,
      state,
      sealer: c.EP_SEALING_KEY ? createSealer(c.EP_SEALING_KEY) : undefined,
      confirmTimeoutMs: c.EP_WG_CONFIRM_TIMEOUT_MS,
      linkTtlMs: c.EP_WG_LINK_TTL_S * 1000,
      log,
    });
    const def = c.EP_WG_DEFAULT_INTERFACE;

    svc.route(wgInterfacesListRoute, (req, ctx) => api.listInterfaces(req.query, ctx));
    svc.route(wgInterfaceCreateRoute, (req, ctx) => api.createInterface(req.body, ctx));
    svc.route(wgInterfaceGetRoute, (req) => api.getInterface(req.params.name));
    svc.route(wgInterfaceUpdateRoute, (req, ctx) => api.updateInterface(req.params.name, req.body, ctx));
    svc.route(wgInterfaceDeleteRoute, (req, ctx) => api.deleteInterface(req.params.name, ctx));
    svc.route(wgInterfaceStatusRoute, (req) => api.interfaceStatus(req.params.name));
    svc.route(wgPeersListRoute, (req) => api.listPeers(req.params.name, req.query));
    svc.route(wgPeerCreateRoute, (req, ctx) => api.createPeer(req.params.name, req.body, ctx));
    svc.route(wgPeerGetRoute, (req) => api.getPeer(req.params.name, req.params.id));
    svc.route(wgPeerUpdateRoute, (req, ctx) => api.updatePeer(req.params.name, req.params.id, req.body, ctx));
    svc.route(wgPeerDeleteRoute, (req, ctx) => api.deletePeer(req.params.name, req.params.id, ctx));
    svc.route(wgPeerEnableRoute, (req, ctx) =>
      api.updatePeer(req.params.name, req.params.id, { enabled: true }, ctx, "enable"),
    );
    svc.route(wgPeerDisableRoute, (req, ctx) =>
      api.updatePeer(req.params.name, req.params.id, { enabled: false }, ctx, "disable"),
    );
    svc.route(wgPeerConfigRoute, (req, ctx) =>
      api.configReply(req.params.name, req.params.id, req.query.node, ctx),
    );
    svc.route(wgPeerQrRoute, (req, ctx) =>
      api.qr(req.params.name, req.params.id, req.query.format, req.query.node, ctx),
    );
    svc.route(wgPeerLinkRoute, (req, ctx) => api.createLink(req.params.name, req.params.id, ctx));
    svc.route(wgPeerStatusRoute, (req) => api.peerStatus(req.params.name, req.params.id));
    svc.route(wgLinkRedeemRoute, (req, ctx) => api.redeemLink(req.params.token, ctx));

    // PIC compatibility: the same operations on the default interface.
    svc.route(wgCompatStatusRoute, (_req, ctx) => {
      api.checkScope(ctx, def);
      return api.interfaceStatus(def);
    });
    svc.route(wgCompatPeersListRoute, (req, ctx) => {
      api.checkScope(ctx, def);
      return api.listPeers(def, req.query);
    });
    svc.route(wgCompatPeerCreateRoute, (req, ctx) => {
      api.checkScope(ctx, def);
      return api.createPeer(def, req.body, ctx);
    });
    svc.route(wgCompatPeerGetRoute, (req, ctx) => {
      api.checkScope(ctx, def);
      return api.getPeer(def, req.params.name);
    });
    svc.route(wgCompatPeerPutRoute, (req, ctx) => {
      api.checkScope(ctx, def);
      return api.updatePeer(def, req.params.name, req.body, ctx);
    });
    svc.route(wgCompatPeerDeleteRoute, (req, ctx) => {
      api.checkScope(ctx, def);
      return api.deletePeer(def, req.params.name, ctx);
    });
    svc.route(wgCompatPeerQrRoute, (req, ctx) => {
      api.checkScope(ctx, def);
      return api.qr(def, req.params.name, req.query.format, undefined, ctx);
    });
  },
};
