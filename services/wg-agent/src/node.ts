/**
 * The node role: converge this node's WireGuard devices to the desired state.
 *
 * - Changes from the watch become per-peer deltas, batched: everything that arrived while
 *   the previous batch was being applied goes out in one UAPI write per interface.
 * - On start and on every NATS reconnect the desired state is rebuilt from a fresh watch,
 *   then every served device is diffed against it: missing peers added, unknown removed,
 *   drift fixed; peers already right are not touched (their sessions live on).
 * - A device is removed only when the desired state says so; NATS being away changes
 *   nothing on the node.
 * - `ep.v1.wg.node.<node>.applied` answers once a revision is applied (what mutations
 *   wait for); `…status` reports the node's view; peer stats are sampled and published;
 *   expiry is enforced locally to the millisecond and recorded once (deduplicated audit
 *   and `wireguard.peer.expired` event); handshakes seen while sampling become
 *   `wireguard.peer.handshake` events (rules at `HANDSHAKE_SILENCE_S`).
 */

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  base32,
  buildAuditEvent,
  type EpService,
  type Logger,
  publishAudit,
  publishEvent,
  Subjects,
  WgAppliedRequest,
  type WgInterfaceRecord,
  type WgNodeAck,
  type WgNodeStatus,
  WgNodeStatusRequest,
  type WgPeerRecord,
  type WgPeerRuntime,
  type WgStatsSample,
  wgNet,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { peerEventData } from "./api.ts";
import { configureLink, type DeviceHost, ensureDevice, removeDevice } from "./device.ts";
import { generateKeyPair, publicKeyOf } from "./keys.ts";
import { computeDeltas, type DeviceModel, desiredDevicePeers, isActive } from "./reconcile.ts";
import { type Change, type DesiredState, Keys, type WgKv } from "./store.ts";
import { uapiGet, uapiSet } from "./uapi.ts";

export type NodeMode = "wireguard-go" | "render-only";

export interface NodeOptions {
  node: string;
  mode: NodeMode;
  modeReason: string | null;
  host: DeviceHost;
  devicePrefix: string;
  stateDir: string;
  endpointHost: string | undefined;
  statsIntervalMs: number;
  nc: NatsConnection;
  js: JetStreamClient;
  kv: WgKv;
  state: DesiredState;
  svc: EpService;
  log: Logger;
}

interface IfaceRuntime {
  name: string;
  device: string;
  spec: WgInterfaceRecord;
  privateKey: string;
  publicKey: string;
  up: boolean;
  /** What the device holds; undefined = unknown (read it before the next delta). */
  model: DeviceModel | undefined;
  lastError: string | null;
  lastAppliedAt: string | null;
}

type Dirty = Map<string, Set<string> | "all">;

/**
 * `wireguard.peer.handshake` rules (per node, per peer, from the stats samples):
 *  - first contact: the peer had no handshake (or was not on the device) at the previous
 *    sample and has one now;
 *  - after a silence: the new handshake is more than `HANDSHAKE_SILENCE_S` after the
 *    previous one. WireGuard re-handshakes every 120 s while traffic flows and drops a
 *    session after 180 s (REJECT_AFTER_TIME), so a longer gap means the session had lapsed;
 *  - roaming: the endpoint changed along with a new handshake.
 * Rate limits: at most one event per peer per node per `HANDSHAKE_MIN_GAP_MS` (also across
 * the peer leaving and rejoining the device), and at most `HANDSHAKE_MAX_PER_PASS` events
 * per sample pass (a node whose clients all reconnect at once drains its events over the
 * next samples instead of flooding the stream). The first sample
 * of a device this agent adopted (it ran before the agent started) is a baseline: a restart
 * does not replay every peer's handshake.
 */
const HANDSHAKE_SILENCE_S = 180;
const HANDSHAKE_MIN_GAP_MS = 60_000;
const HANDSHAKE_MAX_PER_PASS = 100;
/**
 * An expiry is published by every node that sees it happen (within this long after
 * `expires_at`) under one id derived from the peer and its expiry: JetStream's duplicate
 * window (2 min) stores it once. A node that only learns of it later (restarted) does not
 * publish, so a restart does not repeat old expiries.
 */
const EXPIRY_EVENT_WITHIN_MS = 90_000;

interface HandshakeSeen {
  handshake: number;
  endpoint: string | null;
  eventAt: number;
}

/** A deterministic event id (`evt_` + 26 base32 chars of a SHA-256). */
const derivedEventId = (what: string) =>
  `evt_${base32(createHash("sha256").update(what).digest()).slice(0, 26)}`;

const deviceSpec = (s: WgInterfaceRecord) =>
  JSON.stringify([s.listen_port, s.address_v4, s.address_v6, s.mtu, s.endpoint_host]);

export class NodeAgent {
  private readonly o: NodeOptions;
  private readonly rts = new Map<string, IfaceRuntime>();
  private dirty: Dirty = new Map();
  private target = 0;
  /** Highest revision whose changes are on the devices. */
  applied = 0;
  private running = false;
  private waiters = new Set<{ rev: number; iface: string; done: (a: WgNodeAck) => void }>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private expiredRecorded = new Set<string>();
  /** interface → public key → last handshake seen (for `wireguard.peer.handshake`). */
  private handshakes = new Map<string, Map<string, HandshakeSeen>>();
  /** Interfaces whose device this agent adopted: their first sample is a baseline. */
  private adopted = new Set<string>();
  private stopped = false;

  constructor(o: NodeOptions) {
    this.o = o;
  }

  get mode(): NodeMode {
    return this.o.mode;
  }

  async start(): Promise<void> {
    const o = this.o;
    await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
    o.state.listen({
      changes: (changes, rev) => this.onChanges(changes, rev),
      resynced: (rev) => this.onResynced(rev),
    });
    o.svc.endpoint("wg_node_applied", { subject: Subjects.wg.nodeApplied(o.node) }, WgAppliedRequest, (req) =>
      this.waitApplied(req.interface, req.revision, req.timeout_ms),
    );
    o.svc.endpoint(
      "wg_node_status",
      { subject: Subjects.wg.nodeStatus(o.node) },
      WgNodeStatusRequest,
      (req) => this.status(req.interface, req.public_key),
    );
    if (o.statsIntervalMs > 0) {
      this.statsTimer = setInterval(() => void this.sample(), o.statsIntervalMs);
      this.statsTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.statsTimer);
    for (const w of this.waiters) w.done(this.ack(w.iface, w.rev, "agent stopping"));
  }

  // --- change intake ----------------------------------------------------------------------

  private mark(iface: string, keys: Iterable<string> | "all"): void {
    const cur = this.dirty.get(iface);
    if (keys === "all" || cur === "all") {
      this.dirty.set(iface, "all");
      return;
    }
    const set = cur ?? new Set<string>();
    for (const k of keys) set.add(k);
    this.dirty.set(iface, set);
  }

  private onChanges(changes: Change[], rev: number): void {
    for (const c of changes) {
      if (c.kind === "iface") this.mark(c.name, "all");
      else {
        const keys = [c.prev?.public_key, c.next?.public_key].filter((k): k is string => !!k);
        this.mark(c.iface, keys);
      }
    }
    this.target = Math.max(this.target, rev);
    void this.kick();
  }

  private async onResynced(rev: number): Promise<void> {
    // Full reconcile: every desired interface, every runtime we hold, every key file we left.
    for (const name of this.o.state.interfaces.keys()) this.mark(name, "all");
    for (const name of this.rts.keys()) this.mark(name, "all");
    for (const name of await this.keyFiles()) this.mark(name, "all");
    this.target = Math.max(this.target, rev);
    void this.kick();
  }

  private async kick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      while (!this.stopped && (this.dirty.size > 0 || this.target > this.applied)) {
        const work = this.dirty;
        const rev = this.target;
        this.dirty = new Map();
        await this.applyWork(work);
        this.applied = Math.max(this.applied, rev);
        this.wake();
      }
    } finally {
      this.running = false;
    }
    this.scheduleExpiry();
  }

  // --- applying ---------------------------------------------------------------------------

  private async applyWork(work: Dirty): Promise<void> {
    for (const [name, keys] of work) {
      const spec = this.o.state.interfaces.get(name)?.rec;
      const serves = spec?.nodes.includes(this.o.node) ?? false;
      let rt = this.rts.get(name);
      try {
        if (!spec || !serves) {
          if (rt || (await this.hasKeyFile(name))) await this.teardown(name);
          continue;
        }
        if (!rt || keys === "all" || deviceSpec(rt.spec) !== deviceSpec(spec)) {
          rt = await this.ensureInterface(spec, rt);
        }
        rt.spec = spec;
        await this.syncPeers(rt, keys === "all" ? undefined : keys);
        rt.lastError = null;
        rt.lastAppliedAt = new Date().toISOString();
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        this.o.log.error({ err: msg, interface: name }, "apply failed; retrying with a full resync");
        const cur = this.rts.get(name);
        if (cur) {
          cur.lastError = msg;
          cur.model = undefined;
        }
        this.scheduleRetry(name);
      }
    }
  }

  private scheduleRetry(name: string): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.mark(name, "all");
      void this.kick();
    }, 1000);
  }

  private deviceName(iface: string): string {
    const d = `${this.o.devicePrefix}${iface}`;
    if (d.length > 15)
      throw new Error(`device name ${d} is longer than 15 characters: shorten EP_WG_DEVICE_PREFIX`);
    return d;
  }

  private keyFile = (iface: string) => join(this.o.stateDir, `${iface}.key`);

  private async hasKeyFile(iface: string): Promise<boolean> {
    return (await this.keyFiles()).includes(iface);
  }
  private async keyFiles(): Promise<string[]> {
    try {
      return (await readdir(this.o.stateDir))
        .filter((f) => f.endsWith(".key"))
        .map((f) => f.slice(0, -4))
        .filter((n) => /^[a-z0-9][a-z0-9_-]{0,14}$/.test(n));
    } catch {
      return [];
    }
  }

  /** The node's private key for an interface: kept in the state dir, generated once. */
  private async privateKey(iface: string): Promise<string> {
    try {
      const k = (await readFile(this.keyFile(iface), "utf8")).trim();
      if (wgNet.WG_KEY_RE.test(k)) return k;
    } catch {}
    const { privateKey } = generateKeyPair();
    await writeFile(this.keyFile(iface), `${privateKey}\n`, { mode: 0o600 });
    return privateKey;
  }

  private async ensureInterface(
    spec: WgInterfaceRecord,
    prev: IfaceRuntime | undefined,
  ): Promise<IfaceRuntime> {
    const o = this.o;
    const privateKey = prev?.privateKey ?? (await this.privateKey(spec.name));
    const rt: IfaceRuntime = prev ?? {
      name: spec.name,
      device: this.deviceName(spec.name),
      spec,
      privateKey,
      publicKey: publicKeyOf(privateKey),
      up: false,
      model: undefined,
      lastError: null,
      lastAppliedAt: null,
    };
    rt.spec = spec;
    this.rts.set(spec.name, rt);
    if (o.mode === "wireguard-go") {
      const started = await ensureDevice(o.host, rt.device);
      if (!prev && !started) this.adopted.add(spec.name);
      const dev = await uapiGet(rt.device);
      const lines: string[] = [];
      if (dev.privateKey !== rt.privateKey) lines.push(`private_key=${wgNet.keyToHex(rt.privateKey)}`);
      if (dev.listenPort !== spec.listen_port) lines.push(`listen_port=${spec.listen_port}`);
      await uapiSet(rt.device, lines);
      const addrs = [spec.address_v4, spec.address_v6].filter((a): a is string => a !== null);
      await configureLink(o.host, rt.device, addrs, spec.mtu);
      rt.up = true;
      rt.model = undefined; // read the device before the next delta
      o.log.info(
        { interface: spec.name, device: rt.device, started },
        started ? "device started" : "device adopted",
      );
    }
    await this.publishNodeInfo(rt);
    return rt;
  }

  private async publishNodeInfo(rt: IfaceRuntime): Promise<void> {
    const o = this.o;
    const info = {
      node: o.node,
      interface: rt.name,
      public_key: rt.publicKey,
      endpoint_host: o.endpointHost ?? null,
      listen_port: rt.spec.listen_port,
      mode: o.mode,
    };
    const key = Keys.node(rt.name, o.node);
    const cur = await o.kv.nodes.get(key);
    if (cur?.operation === "PUT") {
      const { updated_at: _u, ...was } = cur.json<Record<string, unknown>>();
      if (JSON.stringify(was) === JSON.stringify(info)) return;
    }
    await o.kv.nodes.put(key, JSON.stringify({ ...info, updated_at: new Date().toISOString() }));
  }

  private async syncPeers(rt: IfaceRuntime, only: Set<string> | undefined): Promise<void> {
    if (this.o.mode !== "wireguard-go") return;
    const now = Date.now();
    let keys: Iterable<string> | undefined = only;
    if (!rt.model) keys = undefined;
    // A delta looks only at the peers holding the changed keys; a full resync at all of them.
    const desired =
      keys === undefined
        ? desiredDevicePeers(
            [...this.o.state.peersOf(rt.name).values()].map((v) => v.rec),
            now,
          )
        : desiredDevicePeers(
            [...keys].flatMap((k) => this.o.state.peersByKey(rt.name, k)),
            now,
          );
    if (!rt.model) {
      const dev = await uapiGet(rt.device);
      rt.model = new Map(
        [...dev.peers.values()].map((p) => [
          p.publicKey,
          { allowedIps: p.allowedIps, presharedKey: p.presharedKey },
        ]),
      );
      keys = undefined;
    }
    const full = keys === undefined;
    const { lines, next, changed, added, removed } = computeDeltas(desired, rt.model, keys);
    const summary = {
      interface: rt.name,
      full,
      added,
      removed,
      updated: changed - added - removed,
      unchanged: 0,
    };
    if (full)
      summary.unchanged = [...desired.keys()].filter((k) => rt.model?.has(k)).length - summary.updated;
    if (lines.length > 0) {
      const t0 = performance.now();
      await uapiSet(rt.device, lines);
      this.o.log.debug({ ...summary, ms: Math.round(performance.now() - t0) }, "peers applied");
    }
    rt.model = next;
    if (full) this.o.log.info(summary, "peers resynced");
  }

  private async teardown(name: string): Promise<void> {
    const o = this.o;
    const rt = this.rts.get(name);
    const device = rt?.device ?? this.deviceName(name);
    if (o.mode === "wireguard-go") await removeDevice(o.host, device);
    this.rts.delete(name);
    await o.kv.nodes.delete(Keys.node(name, o.node)).catch(() => undefined);
    await rm(this.keyFile(name), { force: true });
    o.log.info({ interface: name, device }, "device removed (no longer desired on this node)");
  }

  // --- confirmations and status ---------------------------------------------------------

  private ack(iface: string, rev: number, timeoutReason?: string): WgNodeAck {
    const node = this.o.node;
    const base = { node, applied_revision: this.applied };
    if (this.applied < rev) return { ...base, installed: false, reason: timeoutReason ?? "not applied yet" };
    if (this.o.mode !== "wireguard-go")
      return { ...base, installed: false, reason: `render-only: ${this.o.modeReason ?? "configured"}` };
    const rt = this.rts.get(iface);
    if (rt?.lastError) return { ...base, installed: false, reason: rt.lastError };
    return { ...base, installed: true, reason: null };
  }

  private wake(): void {
    for (const w of this.waiters) {
      if (w.rev <= this.applied) {
        this.waiters.delete(w);
        w.done(this.ack(w.iface, w.rev));
      }
    }
  }

  waitApplied(iface: string, rev: number, timeoutMs: number): Promise<WgNodeAck> {
    if (this.applied >= rev) return Promise.resolve(this.ack(iface, rev));
    return new Promise((resolve) => {
      const w = {
        rev,
        iface,
        done: (a: WgNodeAck) => {
          clearTimeout(t);
          resolve(a);
        },
      };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        resolve(this.ack(iface, rev, `not applied within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  async status(
    iface: string,
    publicKey?: string,
  ): Promise<{ status: WgNodeStatus; peer?: WgPeerRuntime | null }> {
    const rt = this.rts.get(iface);
    const o = this.o;
    const status: WgNodeStatus = {
      node: o.node,
      reachable: true,
      mode: o.mode,
      reason: o.modeReason,
      device: rt?.device ?? null,
      interface_up: false,
      listen_port: null,
      public_key: rt?.publicKey ?? null,
      peer_count: 0,
      applied_revision: this.applied,
      last_applied_at: rt?.lastAppliedAt ?? null,
      last_error: rt?.lastError ?? null,
    };
    let peer: WgPeerRuntime | null = null;
    if (rt && o.mode === "wireguard-go") {
      try {
        const dev = await uapiGet(rt.device);
        status.interface_up = true;
        status.listen_port = dev.listenPort;
        status.peer_count = dev.peers.size;
        if (publicKey) {
          const p = dev.peers.get(publicKey);
          peer = {
            node: o.node,
            reachable: true,
            installed: !!p,
            endpoint: p?.endpoint ?? null,
            latest_handshake: p?.lastHandshakeSec ? new Date(p.lastHandshakeSec * 1000).toISOString() : null,
            rx_bytes: p?.rxBytes ?? 0,
            tx_bytes: p?.txBytes ?? 0,
          };
        }
      } catch (err) {
        status.last_error ??= err instanceof Error ? err.message : String(err);
      }
    } else if (rt) {
      status.listen_port = rt.spec.listen_port;
    }
    return publicKey ? { status, peer } : { status };
  }

  // --- stats and expiry -------------------------------------------------------------------

  private async sample(): Promise<void> {
    const o = this.o;
    if (o.mode !== "wireguard-go" || o.nc.isClosed()) return;
    for (const rt of this.rts.values()) {
      try {
        const dev = await uapiGet(rt.device);
        const byKey = new Map<string, string>();
        for (const { rec } of o.state.peersOf(rt.name).values()) byKey.set(rec.public_key, rec.id);
        const peers = [...dev.peers.values()].map((p) => ({
          peer_id: byKey.get(p.publicKey) ?? null,
          public_key: p.publicKey,
          endpoint: p.endpoint,
          latest_handshake: p.lastHandshakeSec,
          rx_bytes: p.rxBytes,
          tx_bytes: p.txBytes,
        }));
        this.handshakeEvents(rt.name, dev.peers.values(), byKey);
        const at = new Date().toISOString();
        const CHUNK = 1000;
        const parts = Math.max(1, Math.ceil(peers.length / CHUNK));
        for (let i = 0; i < parts; i++) {
          const s: WgStatsSample = {
            interface: rt.name,
            node: o.node,
            at,
            part: i,
            parts,
            peers: peers.slice(i * CHUNK, (i + 1) * CHUNK),
          };
          o.nc.publish(Subjects.wg.samples(rt.name, o.node), JSON.stringify(s));
        }
      } catch (err) {
        o.log.warn(
          { err: err instanceof Error ? err.message : String(err), interface: rt.name },
          "sampling failed",
        );
      }
    }
  }

  /** Publish `wireguard.peer.handshake` events by the rules at `HANDSHAKE_SILENCE_S`. */
  private handshakeEvents(
    iface: string,
    peers: Iterable<{ publicKey: string; endpoint: string | null; lastHandshakeSec: number }>,
    idByKey: Map<string, string>,
  ): void {
    for (const name of this.handshakes.keys()) if (!this.rts.has(name)) this.handshakes.delete(name);
    let seen = this.handshakes.get(iface);
    const baseline = !seen && this.adopted.delete(iface);
    if (!seen) {
      seen = new Map();
      this.handshakes.set(iface, seen);
    }
    const now = Date.now();
    const present = new Set<string>();
    let published = 0;
    let deferred = 0;
    for (const p of peers) {
      present.add(p.publicKey);
      const prev = seen.get(p.publicKey);
      const hs = p.lastHandshakeSec;
      const cur: HandshakeSeen = { handshake: hs, endpoint: p.endpoint, eventAt: prev?.eventAt ?? 0 };
      seen.set(p.publicKey, cur);
      if (baseline || hs <= 0 || (prev && hs <= prev.handshake)) continue;
      const first = !prev || prev.handshake <= 0;
      const silence = !!prev && prev.handshake > 0 && hs - prev.handshake > HANDSHAKE_SILENCE_S;
      const roamed = !!prev && prev.endpoint !== null && p.endpoint !== prev.endpoint;
      if (!(first || silence || roamed) || now - cur.eventAt < HANDSHAKE_MIN_GAP_MS) continue;
      const id = idByKey.get(p.publicKey);
      const rec = id ? this.o.state.peersOf(iface).get(id)?.rec : undefined;
      if (!rec) continue; // not a peer of the desired state (about to be removed)
      if (published >= HANDSHAKE_MAX_PER_PASS) {
        // Deferred: the next sample sees the same change again.
        if (prev) seen.set(p.publicKey, prev);
        else seen.delete(p.publicKey);
        deferred++;
        continue;
      }
      published++;
      cur.eventAt = now;
      publishEvent(
        this.o.js,
        {
          id: derivedEventId(`handshake:${iface}:${rec.id}:${this.o.node}:${hs}`),
          type: "wireguard.peer.handshake",
          resource: { kind: "interface", name: iface },
          data: {
            ...peerEventData(rec),
            node: this.o.node,
            latest_handshake: new Date(hs * 1000).toISOString(),
            endpoint: p.endpoint,
          },
        },
        { system: `wg-agent/${this.o.node}` },
      ).catch((err: unknown) =>
        this.o.log.warn({ err, interface: iface, peer: rec.id }, "could not publish a handshake event"),
      );
    }
    // A peer gone from the device (disabled, expired, removed) had no handshake; its rate
    // limit outlives the absence (a flapping peer gets no extra events), then it is forgotten.
    for (const [k, v] of seen) {
      if (present.has(k)) continue;
      if (now - v.eventAt >= HANDSHAKE_MIN_GAP_MS) seen.delete(k);
      else v.handshake = 0;
    }
    if (deferred > 0)
      this.o.log.info({ interface: iface, published, deferred }, "handshake events over the per-pass cap");
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    if (this.stopped) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const rt of this.rts.values()) {
      for (const rec of this.o.state.expiringOf(rt.name)) {
        if (!rec.enabled || rec.expires_at === null) continue;
        const t = Date.parse(rec.expires_at);
        if (t > now && t < next) next = t;
        else if (t <= now) void this.recordExpiry(rec);
      }
    }
    if (next === Number.POSITIVE_INFINITY) return;
    this.expiryTimer = setTimeout(
      () => {
        for (const rt of this.rts.values()) {
          const keys: string[] = [];
          for (const rec of this.o.state.expiringOf(rt.name)) {
            if (rec.expires_at !== null && rec.enabled && !isActive(rec, Date.now()))
              keys.push(rec.public_key);
          }
          if (keys.length > 0) this.mark(rt.name, keys);
        }
        void this.kick();
      },
      Math.min(next - now + 1, 2 ** 31 - 1),
    );
    this.expiryTimer.unref();
  }

  /** Record an expiry once across every node: the audit event id is derived from the peer. */
  private async recordExpiry(rec: WgPeerRecord): Promise<void> {
    const tag = `${rec.id}:${rec.expires_at}`;
    if (this.expiredRecorded.has(tag)) return;
    this.expiredRecorded.add(tag);
    const ev = buildAuditEvent(
      {
        action: "wireguard.peer.expired",
        category: "wireguard",
        result: "success",
        target_type: "wg_peer",
        target_id: rec.id,
        summary: { interface: rec.interface, name: rec.name, expires_at: rec.expires_at },
        actor: { actor_type: "system", actor_id: null, actor_name: `wg-agent/${this.o.node}` },
      },
      { principal: undefined, requestId: undefined, sourceIp: undefined },
    );
    ev.id = `evt_${base32(createHash("sha256").update(tag).digest()).slice(0, 16)}`;
    try {
      await publishAudit(this.o.js, ev);
      this.o.log.info({ interface: rec.interface, peer: rec.id }, "peer expired: removed from the device");
      if (rec.expires_at !== null && Date.now() - Date.parse(rec.expires_at) <= EXPIRY_EVENT_WITHIN_MS)
        await publishEvent(
          this.o.js,
          {
            id: derivedEventId(`expired:${tag}`),
            type: "wireguard.peer.expired",
            resource: { kind: "interface", name: rec.interface },
            data: { ...peerEventData(rec), expired_at: rec.expires_at },
          },
          { system: `wg-agent/${this.o.node}` },
        ).catch((err: unknown) =>
          this.o.log.warn({ err, peer: rec.id }, "could not publish the expiry event"),
        );
    } catch (err) {
      this.expiredRecorded.delete(tag);
      this.o.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "could not record an expiry",
      );
    }
  }
}
