/**
 * The API role: answers the WireGuard routes (queue group over every agent). It writes the
 * desired state to KV — uniqueness (names, public keys, addresses) taken with atomic KV
 * creates — audits every mutation, then waits until every serving node confirms the new
 * revision is installed (or the timeout, naming the nodes that did not).
 */
import { createHash, randomBytes } from "node:crypto";
import {
  type AuditInput,
  buildAuditEvent,
  call,
  EpError,
  Errors,
  type EventInput,
  type HandlerContext,
  type Logger,
  newId,
  paginate,
  publishAudit,
  publishEvent,
  Subjects,
  type WgApplyReport,
  type WgInterface,
  type WgInterfaceCreate,
  type WgInterfaceRecord,
  type WgInterfaceUpdate,
  type WgNodeAck,
  type WgNodeStatus,
  WgNodeStatusReply,
  type WgPeer,
  type WgPeerCreate,
  type WgPeerRecord,
  type WgPeerRuntime,
  type WgPeerUpdate,
  wgNet,
  withMeta,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import QRCode from "qrcode";
import { generateKeyPair } from "./keys.ts";
import { RenderError, renderClientConfig } from "./render.ts";
import type { Sealer } from "./seal.ts";
import { type DesiredState, isWrongLastSeq, Keys, type Versioned, type WgKv } from "./store.ts";

export interface ApiOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  kv: WgKv;
  state: DesiredState;
  sealer: Sealer | undefined;
  confirmTimeoutMs: number;
  linkTtlMs: number;
  log: Logger;
}

export interface PeerListQuery {
  page: number;
  per_page: number;
  sort?: string | undefined;
  order: "asc" | "desc";
  tag?: string | undefined;
  enabled?: boolean | undefined;
  q?: string | undefined;
}

const enc = (v: unknown) => JSON.stringify(v);
const now = () => new Date().toISOString();
const who = (ctx: HandlerContext) => ctx.principal?.username ?? null;

/** The gateway address of an interface prefix: the host part if set, else the first host. */
export function gatewayOf(cidr: string): { address: string; prefix: number } {
  const c = wgNet.parseCidr(cidr);
  if (!c)
    throw Errors.ValidationFailed.create([{ field: "address", message: "invalid prefix", type: "custom" }]);
  const v = c.ip.value === c.network.value ? c.network.value + 1n : c.ip.value;
  return { address: wgNet.formatIp(c.ip.family, v), prefix: c.prefix };
}

/** The catalogue's peer payload: ids, name, public key and the prefixes routed to the peer (never a key secret). */
export function peerEventData(rec: WgPeerRecord) {
  return {
    peer_id: rec.id,
    name: rec.name,
    public_key: rec.public_key,
    allowed_ips: [...rec.addresses, ...rec.allowed_ips].slice(0, 256),
  };
}

/** What a node publishes in the nodes bucket for an interface it serves. */
interface NodeInfo {
  public_key: string;
  endpoint_host: string | null;
}

/** How long a read waits for the nodes bucket before serving the last known node info. */
const NODE_INFO_ASK_MS = 1000;

export class WgApi {
  private readonly o: ApiOptions;
  /** Addresses being claimed by in-flight creates of this process, per interface. */
  private readonly pendingIps = new Map<string, Set<string>>();
  /** Last node info read per nodes-bucket key (null: the node published none). */
  private readonly nodeInfos = new Map<string, NodeInfo | null>();

  constructor(o: ApiOptions) {
    this.o = o;
  }

  // --- helpers ------------------------------------------------------------------------------

  private async audit(ctx: HandlerContext, input: Omit<AuditInput, "category">): Promise<void> {
    await publishAudit(this.o.js, buildAuditEvent({ ...input, category: "wireguard" }, ctx));
  }

  /** Publish a domain event after the KV commit and its audit event; a failure is logged, never fatal. */
  private async event(ctx: HandlerContext, input: EventInput): Promise<void> {
    try {
      await publishEvent(this.o.js, input, ctx);
    } catch (err) {
      this.o.log.warn({ err, type: input.type }, "could not publish event");
    }
  }

  /** Resource scope for routes the gateway cannot scope (compat aliases, lists). */
  checkScope(ctx: HandlerContext, iface: string): void {
    const allowed = ctx.principal?.resources?.wg_interfaces;
    if (allowed && !allowed.includes(iface)) throw Errors.NotFound.create();
  }

  private async ifaceEntry(name: string): Promise<Versioned<WgInterfaceRecord>> {
    const e = await this.o.kv.desired.get(Keys.iface(name));
    if (e?.operation !== "PUT")
      throw Errors.NotFound.withMessage(`interface ${name} does not exist`, { interface: name });
    return { rec: e.json<WgInterfaceRecord>(), revision: e.revision };
  }

  /**
   * A node's published info (public key, endpoint host), remembered per key. While the nodes
   * bucket has no leader (a NATS node died; the election takes ~5 s) a read that gets no
   * answer within `NODE_INFO_ASK_MS` serves the last value seen instead of stalling into a
   * timeout; a key never seen waits for the bucket.
   */
  private async nodeInfo(key: string): Promise<NodeInfo | null> {
    const read = this.o.kv.nodes.get(key).then((e) => {
      const info = e?.operation === "PUT" ? e.json<NodeInfo>() : null;
      this.nodeInfos.set(key, info);
      return info;
    });
    if (!this.nodeInfos.has(key)) return read;
    const readOrKnown = read.catch(() => this.nodeInfos.get(key) ?? null);
    let timer: NodeJS.Timeout | undefined;
    const known = new Promise<NodeInfo | null>((resolve) => {
      timer = setTimeout(() => resolve(this.nodeInfos.get(key) ?? null), NODE_INFO_ASK_MS);
    });
    return Promise.race([readOrKnown, known]).finally(() => clearTimeout(timer));
  }

  private async servers(rec: WgInterfaceRecord) {
    return Promise.all(
      rec.nodes.map(async (node) => {
        const info = await this.nodeInfo(Keys.node(rec.name, node));
        const host = info?.endpoint_host ?? rec.endpoint_host;
        const h = wgNet.parseIp(host)?.family === 6 ? `[${host}]` : host;
        return { node, public_key: info?.public_key ?? null, endpoint: `${h}:${rec.listen_port}` };
      }),
    );
  }

  private async ifaceView(v: Versioned<WgInterfaceRecord>): Promise<WgInterface> {
    const r = v.rec;
    return {
      ...r,
      gateway_address: r.address_v4 ? (r.address_v4.split("/")[0] as string) : null,
      gateway_address_v6: r.address_v6 ? (r.address_v6.split("/")[0] as string) : null,
      servers: await this.servers(r),
      peer_count: this.o.state.peersOf(r.name).size,
      revision: v.revision,
    };
  }

  peerView(v: Versioned<WgPeerRecord>): WgPeer {
    const { preshared_key, ...rest } = v.rec;
    return {
      ...rest,
      has_preshared_key: preshared_key !== null,
      expired: v.rec.expires_at !== null && Date.parse(v.rec.expires_at) <= Date.now(),
      revision: v.revision,
    };
  }

  /** A peer by id or name, read straight from KV (never stale). */
  private async peerEntry(iface: string, ref: string): Promise<Versioned<WgPeerRecord>> {
    let id: string | undefined = ref;
    if (!ref.startsWith("peer_")) {
      const n = await this.o.kv.alloc.get(Keys.name(iface, ref));
      id = n?.operation === "PUT" ? n.string() : undefined;
    }
    const e = id ? await this.o.kv.desired.get(Keys.peer(iface, id)) : null;
    if (e?.operation !== "PUT")
      throw Errors.NotFound.withMessage(`peer ${ref} does not exist on ${iface}`, {
        interface: iface,
        peer: ref,
      });
    return { rec: e.json<WgPeerRecord>(), revision: e.revision };
  }

  /** Wait for every node to confirm `revision` (they answer when applied, or at the timeout). */
  async confirm(iface: string, nodes: readonly string[], revision: number): Promise<WgApplyReport> {
    const t = this.o.confirmTimeoutMs;
    const acks = await Promise.all(
      nodes.map(async (node): Promise<WgNodeAck> => {
        try {
          return await call<WgNodeAck>(
            this.o.nc,
            Subjects.wg.nodeApplied(node),
            { interface: iface, revision, timeout_ms: t },
            { timeoutMs: t + 1000, noRespondersBudgetMs: Math.min(t, 500) },
          );
        } catch (err) {
          const why =
            err instanceof EpError && err.code === "service_unavailable" ? "agent not running" : "no answer";
          return { node, installed: false, applied_revision: 0, reason: why };
        }
      }),
    );
    return {
      revision,
      confirmed: acks.filter((a) => a.installed).map((a) => a.node),
      unconfirmed: acks
        .filter((a) => !a.installed)
        .map((a) => ({ node: a.node, reason: a.reason ?? "unknown" })),
    };
  }

  private static statusOf(apply: WgApplyReport, ok: number): number {
    return apply.unconfirmed.length === 0 ? ok : 202;
  }

  // --- interfaces -------------------------------------------------------------------------

  async listInterfaces(q: { page: number; per_page: number; order: "asc" | "desc" }, ctx: HandlerContext) {
    await this.o.state.readBarrier();
    const allowed = ctx.principal?.resources?.wg_interfaces;
    let all = [...this.o.state.interfaces.values()].filter((v) => !allowed || allowed.includes(v.rec.name));
    all.sort((a, b) => a.rec.name.localeCompare(b.rec.name));
    if (q.order === "desc") all = all.reverse();
    const page = paginate(all, q);
    return { ...page, items: await Promise.all(page.items.map((v) => this.ifaceView(v))) };
  }

  async createInterface(body: WgInterfaceCreate, ctx: HandlerContext) {
    const o = this.o;
    this.checkScope(ctx, body.name);
    const norm = (c: string | undefined) => {
      if (c === undefined) return null;
      const g = gatewayOf(c);
      return `${g.address}/${g.prefix}`;
    };
    await o.state.barrier();
    for (const { rec } of o.state.interfaces.values()) {
      if (rec.listen_port === body.listen_port && rec.nodes.some((n) => body.nodes.includes(n))) {
        throw Errors.Conflict.withMessage(
          `listen_port ${body.listen_port} is already used by interface ${rec.name} on a shared node`,
          [{ field: "listen_port", message: `used by ${rec.name}`, type: "conflict" }],
        );
      }
    }
    const t = now();
    const rec: WgInterfaceRecord = {
      name: body.name,
      address_v4: norm(body.address_v4),
      address_v6: norm(body.address_v6),
      listen_port: body.listen_port,
      endpoint_host: body.endpoint_host,
      dns: body.dns,
      mtu: body.mtu ?? null,
      persistent_keepalive: body.persistent_keepalive,
      nodes: body.nodes,
      created_at: t,
      updated_at: t,
    };
    let revision: number;
    try {
      revision = await o.kv.desired.create(Keys.iface(body.name), enc(rec));
    } catch (err) {
      if (isWrongLastSeq(err))
        throw Errors.Conflict.withMessage(`interface ${body.name} already exists`, [
          { field: "name", message: "already exists", type: "conflict" },
        ]);
      throw err;
    }
    await this.audit(ctx, {
      action: "wireguard.interface.create",
      result: "success",
      target_type: "wg_interface",
      target_id: body.name,
      summary: { ...rec },
    });
    const apply = await this.confirm(rec.name, rec.nodes, revision);
    const view = await this.ifaceView({ rec, revision });
    return withMeta({ ...view, apply }, { status: WgApi.statusOf(apply, 201) });
  }

  async getInterface(name: string) {
    await this.o.state.readBarrier();
    return this.ifaceView(await this.ifaceEntry(name));
  }

  async updateInterface(name: string, body: WgInterfaceUpdate, ctx: HandlerContext) {
    const o = this.o;
    const cur = await this.ifaceEntry(name);
    if (body.listen_port !== undefined) {
      const nodes = body.nodes ?? cur.rec.nodes;
      for (const { rec } of o.state.interfaces.values()) {
        if (
          rec.name !== name &&
          rec.listen_port === body.listen_port &&
          rec.nodes.some((n) => nodes.includes(n))
        )
          throw Errors.Conflict.withMessage(`listen_port ${body.listen_port} is already used by ${rec.name}`);
      }
    }
    const next: WgInterfaceRecord = { ...cur.rec, updated_at: now() };
    for (const [k, v] of Object.entries(body)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
    let revision: number;
    try {
      revision = await o.kv.desired.update(Keys.iface(name), enc(next), cur.revision);
    } catch (err) {
      if (isWrongLastSeq(err)) throw Errors.StaleRevision.create(undefined, { revision: cur.revision });
      throw err;
    }
    await this.audit(ctx, {
      action: "wireguard.interface.update",
      result: "success",
      target_type: "wg_interface",
      target_id: name,
      summary: { changes: body },
    });
    const nodes = [...new Set([...cur.rec.nodes, ...next.nodes])];
    const apply = await this.confirm(name, nodes, revision);
    return withMeta(
      { ...(await this.ifaceView({ rec: next, revision })), apply },
      { status: WgApi.statusOf(apply, 200) },
    );
  }

  async deleteInterface(name: string, ctx: HandlerContext) {
    const o = this.o;
    const cur = await this.ifaceEntry(name);
    await o.state.barrier();
    const n = o.state.peersOf(name).size;
    if (n > 0)
      throw Errors.Conflict.withMessage(`interface ${name} still has ${n} peer(s); delete them first`);
    await o.kv.desired.delete(Keys.iface(name), { previousSeq: cur.revision }).catch((err: unknown) => {
      if (isWrongLastSeq(err)) throw Errors.StaleRevision.create(undefined, { revision: cur.revision });
      throw err;
    });
    const revision = (await o.kv.desired.get(Keys.iface(name)))?.revision ?? cur.revision + 1;
    await this.audit(ctx, {
      action: "wireguard.interface.delete",
      result: "success",
      target_type: "wg_interface",
      target_id: name,
    });
    const apply = await this.confirm(name, cur.rec.nodes, revision);
    return withMeta({ name, apply }, { status: WgApi.statusOf(apply, 200) });
  }

  async interfaceStatus(name: string) {
    const cur = await this.ifaceEntry(name);
    await this.o.state.readBarrier();
    const nodes = await Promise.all(cur.rec.nodes.map((n) => this.nodeStatus(n, name)));
    return {
      interface: name,
      running: nodes.length > 0 && nodes.every((n) => n.status.interface_up),
      peer_count: this.o.state.peersOf(name).size,
      nodes: nodes.map((n) => n.status),
    };
  }

  private async nodeStatus(
    node: string,
    iface: string,
    publicKey?: string,
  ): Promise<{ status: WgNodeStatus; peer?: WgPeerRuntime | null | undefined }> {
    try {
      const r = WgNodeStatusReply.parse(
        await call(
          this.o.nc,
          Subjects.wg.nodeStatus(node),
          publicKey ? { interface: iface, public_key: publicKey } : { interface: iface },
          { timeoutMs: 2000, noRespondersBudgetMs: 300 },
        ),
      );
      return r;
    } catch {
      return {
        status: {
          node,
          reachable: false,
          mode: "unknown",
          reason: null,
          device: null,
          interface_up: false,
          listen_port: null,
          public_key: null,
          peer_count: 0,
          applied_revision: 0,
          last_applied_at: null,
          last_error: "agent did not answer",
        },
        peer: null,
      };
    }
  }

  // --- peers ------------------------------------------------------------------------------

  async listPeers(iface: string, q: PeerListQuery) {
    await this.ifaceEntry(iface);
    await this.o.state.readBarrier();
    const needle = q.q?.toLowerCase();
    let all = [...this.o.state.peersOf(iface).values()].filter(({ rec }) => {
      if (q.tag !== undefined && !rec.tags.includes(q.tag)) return false;
      if (q.enabled !== undefined && rec.enabled !== q.enabled) return false;
      if (needle) {
        const hay = [rec.name, rec.id, rec.public_key, ...rec.tags, ...rec.addresses].join(" ").toLowerCase();
        if (!hay.includes(needle)) return false;
      }
      return true;
    });
    const key = q.sort ?? "name";
    const val = (r: WgPeerRecord): string => {
      const v = (r as unknown as Record<string, unknown>)[key];
      return typeof v === "string" ? v : String(v ?? "");
    };
    all.sort((a, b) => val(a.rec).localeCompare(val(b.rec)) || a.rec.id.localeCompare(b.rec.id));
    if (q.order === "desc") all = all.reverse();
    const page = paginate(all, q);
    return { ...page, items: page.items.map((v) => this.peerView(v)) };
  }

  async getPeer(iface: string, ref: string) {
    return this.peerView(await this.peerEntry(iface, ref));
  }

  /** Take a uniqueness claim; false when someone holds it. */
  private async claim(key: string, id: string): Promise<boolean> {
    try {
      await this.o.kv.alloc.create(key, id);
      return true;
    } catch (err) {
      if (isWrongLastSeq(err)) return false;
      throw err;
    }
  }
  private async release(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => this.o.kv.alloc.delete(k).catch(() => undefined)));
  }

  /** Allocate one address of `cidr` (the lowest free), or claim the requested static one. */
  private async allocate(iface: string, cidr: string, id: string, requested?: string): Promise<string> {
    const c = wgNet.cidrOf(cidr);
    const hostBits = c.ip.family === 4 ? 32 : 128;
    if (requested !== undefined) {
      const ip = wgNet.parseIp(requested) as wgNet.Ip;
      const { first, last } = wgNet.rangeOf(c);
      const bad =
        !wgNet.contains(c, ip) ||
        ip.value === c.ip.value ||
        ip.value === first ||
        (c.ip.family === 4 && ip.value === last);
      if (bad)
        throw Errors.ValidationFailed.create([
          {
            field: "address",
            message: `${requested} is not a usable host of ${c.text} (gateway ${c.ip.text})`,
            type: "custom",
          },
        ]);
      if (!(await this.claim(Keys.ip(iface, ip.text), id)))
        throw Errors.WgAddressInUse.create(
          [{ field: "address", message: "already allocated", type: "conflict" }],
          {
            address: ip.text,
          },
        );
      return `${ip.text}/${hostBits}`;
    }
    let pending = this.pendingIps.get(iface);
    if (!pending) {
      pending = new Set();
      this.pendingIps.set(iface, pending);
    }
    // Lowest free host: scan up from the low-water mark (every host below it is taken;
    // the mirror lowers it whenever an address is freed), skipping mirrored and in-flight claims.
    const fam = c.ip.family;
    const used = this.o.state.addressesOf(iface);
    const { first, last } = wgNet.rangeOf(c);
    const end = fam === 4 ? last - 1n : last;
    const low = this.o.state.lowWater(iface, fam) ?? first + 1n;
    let allTaken = true;
    for (let v = low > first ? low : first + 1n; v <= end; v++) {
      if (v === c.ip.value) continue;
      const full = `${wgNet.formatIp(fam, v)}/${hostBits}`;
      if (used.has(full) || pending.has(full)) continue;
      if (allTaken) this.o.state.setLowWater(iface, fam, v);
      allTaken = false;
      pending.add(full);
      if (await this.claim(Keys.ip(iface, full), id)) return full;
      pending.delete(full); // held by someone else (another instance, or a peer being deleted)
    }
    throw Errors.WgAddressExhausted.create(undefined, { subnet: c.text });
  }

  private releasePending(iface: string, addrs: readonly string[], revision?: number): void {
    const drop = () => {
      for (const a of addrs) this.pendingIps.get(iface)?.delete(a);
    };
    if (revision === undefined) {
      // The claim failed: its address is free again, lower the allocation hint.
      for (const a of addrs) {
        const ip = wgNet.parseIp(a.split("/")[0] as string);
        const low = ip ? this.o.state.lowWater(iface, ip.family) : undefined;
        if (ip && low !== undefined && ip.value < low) this.o.state.setLowWater(iface, ip.family, ip.value);
      }
    }
    // Keep the hint until the mirror shows the peer, so the next allocation skips it.
    if (revision === undefined) drop();
    else void this.o.state.waitFor(revision, 10_000).then(drop);
  }

  async createPeer(iface: string, body: WgPeerCreate, ctx: HandlerContext) {
    const o = this.o;
    // The mirror knows the interface unless it was created an instant ago.
    const ifc = this.o.state.interfaces.get(iface)?.rec ?? (await this.ifaceEntry(iface)).rec;
    if (body.store_private_key && !o.sealer) throw Errors.WgSealingUnavailable.create();
    const id = newId("peer");
    const pair = body.public_key ? undefined : generateKeyPair();
    const publicKey = body.public_key ?? (pair as { publicKey: string }).publicKey;
    const claims: string[] = [];
    const addresses: string[] = [];
    let committed = false;
    try {
      const fam = body.address ? (body.address.includes(":") ? 6 : 4) : undefined;
      if (fam === 4 && !ifc.address_v4) throw this.noFamily("address", 4, iface);
      if (fam === 6 && !ifc.address_v6) throw this.noFamily("address", 6, iface);
      this.checkAllowedIps(iface, body.allowed_ips, id);
      // Every uniqueness claim at once (one round trip); on any failure all are released.
      const nameKey = Keys.name(iface, body.name);
      const pubKey = Keys.pub(iface, publicKey);
      const jobs: Array<Promise<string>> = [
        this.claim(nameKey, id).then((ok) => {
          if (!ok)
            throw Errors.Conflict.withMessage(`peer ${body.name} already exists on ${iface}`, [
              { field: "name", message: "already exists", type: "conflict" },
            ]);
          return nameKey;
        }),
        this.claim(pubKey, id).then((ok) => {
          if (!ok)
            throw Errors.Conflict.withMessage(`another peer of ${iface} has this public key`, [
              { field: "public_key", message: "already used on this interface", type: "conflict" },
            ]);
          return pubKey;
        }),
      ];
      for (const [cidr, f] of [
        [ifc.address_v4, 4],
        [ifc.address_v6, 6],
      ] as const) {
        if (!cidr) continue;
        jobs.push(
          this.allocate(iface, cidr, id, fam === f ? body.address : undefined).then((a) => {
            addresses.push(a);
            return Keys.ip(iface, a);
          }),
        );
      }
      const settled = await Promise.allSettled(jobs);
      for (const r of settled) if (r.status === "fulfilled") claims.push(r.value);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      addresses.sort((a, b) => Number(a.includes(":")) - Number(b.includes(":")));
      this.checkAllowedIps(iface, body.allowed_ips, id);
      const t = now();
      const rec: WgPeerRecord = {
        id,
        name: body.name,
        interface: iface,
        public_key: publicKey,
        preshared_key: body.preshared_key ?? null,
        addresses,
        allowed_ips: body.allowed_ips,
        enabled: body.enabled,
        expires_at: body.expires_at ?? null,
        tags: [...new Set(body.tags)],
        key_origin: pair ? "server" : "client",
        private_key_stored: !!(pair && body.store_private_key),
        created_at: t,
        updated_at: t,
        created_by: who(ctx),
        updated_by: who(ctx),
      };
      if (pair && body.store_private_key && o.sealer) {
        await o.kv.secrets.put(Keys.secret(iface, id), o.sealer.seal(pair.privateKey, `wg:${iface}:${id}`));
      }
      const revision = await o.kv.desired.create(Keys.peer(iface, id), enc(rec));
      committed = true;
      this.releasePending(iface, addresses, revision);
      // The audit event is stored (awaited) before the reply; the nodes apply meanwhile.
      const [, apply] = await Promise.all([
        this.audit(ctx, {
          action: "wireguard.peer.create",
          result: "success",
          target_type: "wg_peer",
          target_id: id,
          summary: {
            interface: iface,
            name: rec.name,
            addresses,
            key_origin: rec.key_origin,
            private_key_stored: rec.private_key_stored,
          },
        }).then(() =>
          this.event(ctx, {
            type: "wireguard.peer.created",
            resource: { kind: "interface", name: iface },
            data: peerEventData(rec),
          }),
        ),
        this.confirm(iface, ifc.nodes, revision),
      ]);
      const out: WgPeer & { apply: WgApplyReport; private_key?: string; config?: string } = {
        ...this.peerView({ rec, revision }),
        apply,
      };
      if (pair) {
        out.private_key = pair.privateKey;
        const config = await this.renderFor(ifc, rec, pair.privateKey, undefined).catch(() => undefined);
        if (config !== undefined) out.config = config;
      }
      return withMeta(out, { status: WgApi.statusOf(apply, 201) });
    } catch (err) {
      if (!committed) {
        this.releasePending(iface, addresses);
        await this.release(claims);
      }
      throw err;
    }
  }

  private noFamily(field: string, fam: 4 | 6, iface: string): EpError {
    return Errors.ValidationFailed.create([
      { field, message: `interface ${iface} has no IPv${fam} subnet`, type: "custom" },
    ]);
  }

  /** Extra allowed IPs must not overlap the tunnel subnets or another peer's routes. */
  private checkAllowedIps(iface: string, allowed: readonly string[], id: string): void {
    const ifc = this.o.state.interfaces.get(iface)?.rec;
    const issues = [];
    for (const [i, a] of allowed.entries()) {
      const c = wgNet.cidrOf(a);
      for (const s of [ifc?.address_v4, ifc?.address_v6]) {
        if (s && wgNet.overlaps(c, wgNet.cidrOf(s)))
          issues.push({
            field: `allowed_ips.${i}`,
            message: `${a} overlaps the tunnel subnet ${s}`,
            type: "conflict",
          });
      }
      for (const { rec } of this.o.state.peersOf(iface).values()) {
        if (rec.id === id) continue;
        const hit = rec.allowed_ips.find((x) => wgNet.overlaps(c, wgNet.cidrOf(x)));
        if (hit)
          issues.push({
            field: `allowed_ips.${i}`,
            message: `${a} overlaps ${hit} of peer ${rec.name}`,
            type: "conflict",
          });
      }
    }
    if (issues.length > 0) throw Errors.Conflict.withMessage("allowed_ips overlap existing routes", issues);
  }

  async updatePeer(iface: string, ref: string, body: WgPeerUpdate, ctx: HandlerContext, action = "update") {
    const o = this.o;
    const ifc = (await this.ifaceEntry(iface)).rec;
    const cur = await this.peerEntry(iface, ref);
    const id = cur.rec.id;
    const next: WgPeerRecord = { ...cur.rec, updated_at: now(), updated_by: who(ctx) };
    const newClaims: string[] = [];
    const oldClaims: string[] = [];
    let dropSecret = false;
    try {
      if (body.name !== undefined && body.name !== cur.rec.name) {
        if (!(await this.claim(Keys.name(iface, body.name), id)))
          throw Errors.Conflict.withMessage(`peer ${body.name} already exists on ${iface}`, [
            { field: "name", message: "already exists", type: "conflict" },
          ]);
        newClaims.push(Keys.name(iface, body.name));
        oldClaims.push(Keys.name(iface, cur.rec.name));
        next.name = body.name;
      }
      if (body.public_key !== undefined && body.public_key !== cur.rec.public_key) {
        if (!(await this.claim(Keys.pub(iface, body.public_key), id)))
          throw Errors.Conflict.withMessage(`another peer of ${iface} has this public key`, [
            { field: "public_key", message: "already used on this interface", type: "conflict" },
          ]);
        newClaims.push(Keys.pub(iface, body.public_key));
        oldClaims.push(Keys.pub(iface, cur.rec.public_key));
        next.public_key = body.public_key;
        // The client rotated its key: a stored private key no longer belongs to this peer.
        next.key_origin = "client";
        dropSecret = cur.rec.private_key_stored;
        next.private_key_stored = false;
      }
      if (body.preshared_key !== undefined) next.preshared_key = body.preshared_key;
      if (body.allowed_ips !== undefined) {
        this.checkAllowedIps(iface, body.allowed_ips, id);
        next.allowed_ips = body.allowed_ips;
      }
      if (body.enabled !== undefined) next.enabled = body.enabled;
      if (body.expires_at !== undefined) next.expires_at = body.expires_at;
      if (body.tags !== undefined) next.tags = [...new Set(body.tags)];
      let revision: number;
      try {
        revision = await o.kv.desired.update(Keys.peer(iface, id), enc(next), cur.revision);
      } catch (err) {
        if (isWrongLastSeq(err)) throw Errors.StaleRevision.create(undefined, { revision: cur.revision });
        throw err;
      }
      await this.release(oldClaims);
      if (dropSecret) await o.kv.secrets.delete(Keys.secret(iface, id)).catch(() => undefined);
      await this.audit(ctx, {
        action: `wireguard.peer.${action}`,
        result: "success",
        target_type: "wg_peer",
        target_id: id,
        summary: { interface: iface, name: next.name, changes: { ...body } },
      });
      await this.event(ctx, {
        type: "wireguard.peer.updated",
        resource: { kind: "interface", name: iface },
        data: {
          ...peerEventData(next),
          changed: Object.keys(body).filter((k) => (body as Record<string, unknown>)[k] !== undefined),
        },
      });
      const apply = await this.confirm(iface, ifc.nodes, revision);
      return withMeta(
        { ...this.peerView({ rec: next, revision }), apply },
        { status: WgApi.statusOf(apply, 200) },
      );
    } catch (err) {
      await this.release(newClaims);
      throw err;
    }
  }

  async deletePeer(iface: string, ref: string, ctx: HandlerContext) {
    const o = this.o;
    const ifc = (await this.ifaceEntry(iface)).rec;
    const cur = await this.peerEntry(iface, ref);
    const r = cur.rec;
    try {
      await o.kv.desired.delete(Keys.peer(iface, r.id), { previousSeq: cur.revision });
    } catch (err) {
      if (isWrongLastSeq(err)) throw Errors.StaleRevision.create(undefined, { revision: cur.revision });
      throw err;
    }
    const revision = (await o.kv.desired.get(Keys.peer(iface, r.id)))?.revision ?? cur.revision + 1;
    await this.release([
      Keys.name(iface, r.name),
      Keys.pub(iface, r.public_key),
      ...r.addresses.map((a) => Keys.ip(iface, a)),
    ]);
    if (r.private_key_stored) await o.kv.secrets.delete(Keys.secret(iface, r.id)).catch(() => undefined);
    await this.audit(ctx, {
      action: "wireguard.peer.delete",
      result: "success",
      target_type: "wg_peer",
      target_id: r.id,
      summary: { interface: iface, name: r.name, addresses: r.addresses },
    });
    await this.event(ctx, {
      type: "wireguard.peer.deleted",
      resource: { kind: "interface", name: iface },
      data: peerEventData(r),
    });
    const apply = await this.confirm(iface, ifc.nodes, revision);
    return withMeta({ id: r.id, apply }, { status: WgApi.statusOf(apply, 200) });
  }

  // --- configs, QR codes, links -------------------------------------------------------------

  private async renderFor(
    ifc: WgInterfaceRecord,
    rec: WgPeerRecord,
    privateKey: string | null,
    node: string | undefined,
  ): Promise<string> {
    const servers = await this.servers(ifc);
    const server = node ? servers.find((s) => s.node === node) : servers.find((s) => s.public_key !== null);
    if (node && !server) throw Errors.NotFound.withMessage(`node ${node} does not serve ${ifc.name}`);
    if (!server?.public_key)
      throw Errors.Conflict.withMessage(`no node serving ${ifc.name} has published its public key yet`);
    const info = await this.nodeInfo(Keys.node(ifc.name, server.node));
    const host = info?.endpoint_host ?? ifc.endpoint_host;
    const subnets = [ifc.address_v4, ifc.address_v6]
      .filter((s): s is string => s !== null)
      .map((s) => wgNet.cidrOf(s).text);
    try {
      return renderClientConfig({
        privateKey,
        addresses: rec.addresses,
        dns: ifc.dns,
        mtu: ifc.mtu,
        serverPublicKey: server.public_key,
        presharedKey: rec.preshared_key,
        allowedIps: subnets,
        endpointHost: host,
        endpointPort: ifc.listen_port,
        persistentKeepalive: ifc.persistent_keepalive,
      });
    } catch (err) {
      if (err instanceof RenderError) {
        this.o.log.error({ err: err.message, peer: rec.id }, "refused to render a client config");
        throw Errors.Internal.create();
      }
      throw err;
    }
  }

  private async storedPrivateKey(rec: WgPeerRecord): Promise<string | null> {
    if (!rec.private_key_stored) return null;
    if (!this.o.sealer) throw Errors.WgSealingUnavailable.create();
    const e = await this.o.kv.secrets.get(Keys.secret(rec.interface, rec.id));
    if (e?.operation !== "PUT") return null;
    return this.o.sealer.open(e.string(), `wg:${rec.interface}:${rec.id}`);
  }

  /** The client config; audited when it discloses a stored private key. */
  async config(iface: string, ref: string, node: string | undefined, ctx: HandlerContext, via: string) {
    const ifc = (await this.ifaceEntry(iface)).rec;
    const { rec } = await this.peerEntry(iface, ref);
    const pk = await this.storedPrivateKey(rec);
    const text = await this.renderFor(ifc, rec, pk, node);
    if (pk)
      await this.audit(ctx, {
        action: `wireguard.peer.${via}`,
        result: "success",
        target_type: "wg_peer",
        target_id: rec.id,
        summary: { interface: iface, name: rec.name, discloses_private_key: true },
      });
    return { text, rec };
  }

  async configReply(iface: string, ref: string, node: string | undefined, ctx: HandlerContext) {
    const { text, rec } = await this.config(iface, ref, node, ctx, "config_download");
    return withMeta(text, {
      headers: {
        "content-disposition": `attachment; filename="${rec.name.replace(/[^a-z0-9._-]/g, "_")}.conf"`,
      },
    });
  }

  async qr(iface: string, ref: string, format: "png" | "svg", node: string | undefined, ctx: HandlerContext) {
    const { text } = await this.config(iface, ref, node, ctx, "qr_download");
    if (format === "svg") {
      const svg = await QRCode.toString(text, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
      return { content_type: "image/svg+xml", body_base64: Buffer.from(svg).toString("base64") };
    }
    const png = await QRCode.toBuffer(text, { type: "png", errorCorrectionLevel: "M", margin: 2, scale: 6 });
    return { content_type: "image/png", body_base64: png.toString("base64") };
  }

  async createLink(iface: string, ref: string, ctx: HandlerContext) {
    await this.ifaceEntry(iface);
    const { rec } = await this.peerEntry(iface, ref);
    const token = randomBytes(32).toString("base64url");
    const expires = new Date(Date.now() + this.o.linkTtlMs).toISOString();
    await this.o.kv.links.create(
      createHash("sha256").update(token).digest("hex"),
      enc({ interface: iface, peer_id: rec.id, expires_at: expires }),
    );
    await this.audit(ctx, {
      action: "wireguard.peer.link_create",
      result: "success",
      target_type: "wg_peer",
      target_id: rec.id,
      summary: { interface: iface, name: rec.name, expires_at: expires },
    });
    return { token, path: `/api/v1/wireguard/links/${token}`, expires_at: expires };
  }

  async redeemLink(token: string, ctx: HandlerContext) {
    const key = createHash("sha256").update(token).digest("hex");
    const e = await this.o.kv.links.get(key);
    const gone = () => Errors.NotFound.withMessage("this link does not exist, was used, or expired");
    if (e?.operation !== "PUT") throw gone();
    try {
      // Consume it atomically: only the first redeemer's delete matches the revision.
      await this.o.kv.links.delete(key, { previousSeq: e.revision });
    } catch {
      throw gone();
    }
    const link = e.json<{ interface: string; peer_id: string; expires_at: string }>();
    if (Date.parse(link.expires_at) <= Date.now()) throw gone();
    const { text, rec } = await this.config(link.interface, link.peer_id, undefined, ctx, "link_redeem");
    await this.audit(ctx, {
      action: "wireguard.peer.link_redeem",
      result: "success",
      target_type: "wg_peer",
      target_id: rec.id,
      summary: { interface: link.interface, name: rec.name },
    });
    return withMeta(text, {
      headers: {
        "content-disposition": `attachment; filename="${rec.name.replace(/[^a-z0-9._-]/g, "_")}.conf"`,
      },
    });
  }

  async peerStatus(iface: string, ref: string) {
    const ifc = (await this.ifaceEntry(iface)).rec;
    const { rec } = await this.peerEntry(iface, ref);
    const nodes = await Promise.all(
      ifc.nodes.map(async (n): Promise<WgPeerRuntime> => {
        const r = await this.nodeStatus(n, iface, rec.public_key);
        return (
          r.peer ?? {
            node: n,
            reachable: r.status.reachable,
            installed: false,
            endpoint: null,
            latest_handshake: null,
            rx_bytes: 0,
            tx_bytes: 0,
          }
        );
      }),
    );
    return { id: rec.id, nodes };
  }
}
