/**
 * Where WireGuard state lives in NATS KV, and the in-memory mirror of the desired state.
 *
 * Buckets (history 1):
 *   wg          desired state: `if.<interface>` → WgInterfaceRecord, `peer.<interface>.<id>` → WgPeerRecord
 *   wg-alloc    uniqueness claims, taken with KV create: `ip.<interface>.<hex address>`,
 *               `name.<interface>.<peer name>`, `pub.<interface>.<hex public key>` → peer id
 *   wg-nodes    `<interface>.<node>` → the node's public key and endpoint (published by the agent)
 *   wg-secrets  `key.<interface>.<peer id>` → sealed private key (only with store_private_key)
 *   wg-links    `<sha256(token)>` → one-time download link (bucket TTL = link lifetime)
 *
 * The revision of an entry is the `wg` stream sequence: an agent that has processed the
 * watch up to N has applied every change ≤ N — that is what mutations wait for.
 */

import {
  type Logger,
  WgInterfaceRecord,
  type WgInterfaceRecord as WgInterfaceRecordT,
  WgPeerRecord,
  type WgPeerRecord as WgPeerRecordT,
  wgNet,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";

export const Buckets = {
  desired: "wg",
  alloc: "wg-alloc",
  nodes: "wg-nodes",
  secrets: "wg-secrets",
  links: "wg-links",
} as const;

export interface WgKv {
  desired: KV;
  alloc: KV;
  nodes: KV;
  secrets: KV;
  links: KV;
}

export async function openBuckets(js: JetStreamClient, replicas: number, linkTtlMs: number): Promise<WgKv> {
  const kvm = new Kvm(js);
  const opts = { history: 1, replicas };
  const [desired, alloc, nodes, secrets, links] = await Promise.all([
    kvm.create(Buckets.desired, opts),
    kvm.create(Buckets.alloc, opts),
    kvm.create(Buckets.nodes, opts),
    kvm.create(Buckets.secrets, opts),
    kvm.create(Buckets.links, { ...opts, ttl: linkTtlMs }),
  ]);
  return { desired, alloc, nodes, secrets, links };
}

export const Keys = {
  iface: (name: string) => `if.${name}`,
  peer: (iface: string, id: string) => `peer.${iface}.${id}`,
  ip: (iface: string, addr: string) => {
    const ip = wgNet.parseIp(addr.split("/")[0] as string);
    if (!ip) throw new Error("not an address");
    return `ip.${iface}.${ip.value.toString(16).padStart(ip.family === 4 ? 8 : 32, "0")}`;
  },
  name: (iface: string, name: string) => `name.${iface}.${name}`,
  pub: (iface: string, publicKey: string) => `pub.${iface}.${wgNet.keyToHex(publicKey)}`,
  node: (iface: string, node: string) => `${iface}.${node}`,
  secret: (iface: string, id: string) => `key.${iface}.${id}`,
};

/** JetStream "wrong last sequence": a KV create on an existing key, or a stale update. */
export function isWrongLastSeq(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string } | undefined;
  if (!e) return false;
  if (e.api_error?.err_code === 10071) return true;
  return typeof e.message === "string" && /wrong last sequence|key exists/i.test(e.message);
}

export interface Versioned<T> {
  rec: T;
  revision: number;
}

/** One change seen on the watch. */
export type Change =
  | { kind: "iface"; name: string; prev?: WgInterfaceRecordT; next?: WgInterfaceRecordT }
  | { kind: "peer"; iface: string; id: string; prev?: WgPeerRecordT; next?: WgPeerRecordT };

export interface StateListener {
  /** Incremental changes, in order, up to `revision`. */
  changes(changes: Change[], revision: number): void;
  /** The whole state was rebuilt from a fresh watch (start, reconnect). */
  resynced(revision: number): void;
}

interface Maps {
  interfaces: Map<string, Versioned<WgInterfaceRecordT>>;
  peers: Map<string, Map<string, Versioned<WgPeerRecordT>>>;
  names: Map<string, Map<string, string>>;
  /** interface → public key → peer ids (normally one). */
  byKey: Map<string, Map<string, Set<string>>>;
  /** interface → allocated addresses (`10.8.0.2/32`). */
  addrs: Map<string, Set<string>>;
  /** interface → ids of peers with an expiry. */
  expiring: Map<string, Set<string>>;
  /** `<interface>/<family>` → every host below this value is known to be allocated. */
  lowWater: Map<string, bigint>;
}
const emptyMaps = (): Maps => ({
  interfaces: new Map(),
  peers: new Map(),
  names: new Map(),
  byKey: new Map(),
  addrs: new Map(),
  expiring: new Map(),
  lowWater: new Map(),
});

function sub<K, V>(m: Map<string, Map<K, V>>, k: string): Map<K, V> {
  let v = m.get(k);
  if (!v) {
    v = new Map();
    m.set(k, v);
  }
  return v;
}
function subSet<V>(m: Map<string, Set<V>>, k: string): Set<V> {
  let v = m.get(k);
  if (!v) {
    v = new Set();
    m.set(k, v);
  }
  return v;
}

/** Index a peer in (add) or out of (remove) the secondary maps. */
function index(m: Maps, iface: string, p: WgPeerRecordT, add: boolean): void {
  const ids = sub(m.byKey, iface);
  let set = ids.get(p.public_key);
  if (add) {
    if (!set) {
      set = new Set();
      ids.set(p.public_key, set);
    }
    set.add(p.id);
  } else if (set) {
    set.delete(p.id);
    if (set.size === 0) ids.delete(p.public_key);
  }
  const addrs = subSet(m.addrs, iface);
  for (const a of p.addresses) {
    if (add) addrs.add(a);
    else {
      addrs.delete(a);
      const ip = wgNet.parseIp(a.split("/")[0] as string);
      const k = `${iface}/${ip?.family}`;
      const low = m.lowWater.get(k);
      if (ip && low !== undefined && ip.value < low) m.lowWater.set(k, ip.value);
    }
  }
  const exp = subSet(m.expiring, iface);
  if (add && p.expires_at !== null) exp.add(p.id);
  else exp.delete(p.id);
}

/**
 * The desired state mirrored from the `wg` bucket by a KV watch. `resync()` rebuilds it
 * from a fresh watch and swaps it in atomically once caught up; meanwhile the old mirror
 * keeps serving.
 */
export class DesiredState {
  private maps: Maps = emptyMaps();
  private live: { stop(): void } | undefined;
  private waiters = new Set<{ rev: number; done: (ok: boolean) => void }>();
  private listeners: StateListener[] = [];
  private liveGen = 0;
  private gens = 0;
  /** Highest stream sequence processed. */
  revision = 0;
  /** True once the first watch caught up with the bucket. */
  ready = false;
  private readonly kv: KV;
  private readonly log: Logger;

  constructor(kv: KV, log: Logger) {
    this.kv = kv;
    this.log = log;
  }

  listen(l: StateListener): void {
    this.listeners.push(l);
  }

  get interfaces(): ReadonlyMap<string, Versioned<WgInterfaceRecordT>> {
    return this.maps.interfaces;
  }
  peersOf(iface: string): ReadonlyMap<string, Versioned<WgPeerRecordT>> {
    return this.maps.peers.get(iface) ?? new Map();
  }
  peerIdByName(iface: string, name: string): string | undefined {
    return this.maps.names.get(iface)?.get(name);
  }
  /** Peers of an interface holding this public key. */
  peersByKey(iface: string, publicKey: string): WgPeerRecordT[] {
    const ids = this.maps.byKey.get(iface)?.get(publicKey);
    if (!ids) return [];
    const peers = this.maps.peers.get(iface);
    return [...ids].map((id) => peers?.get(id)?.rec).filter((p): p is WgPeerRecordT => p !== undefined);
  }
  /** Addresses allocated on an interface (as mirrored). */
  addressesOf(iface: string): ReadonlySet<string> {
    return this.maps.addrs.get(iface) ?? new Set();
  }
  /** Peers of an interface that have an expiry. */
  expiringOf(iface: string): WgPeerRecordT[] {
    const peers = this.maps.peers.get(iface);
    return [...(this.maps.expiring.get(iface) ?? [])]
      .map((id) => peers?.get(id)?.rec)
      .filter((p): p is WgPeerRecordT => p !== undefined);
  }
  /** Allocation hint: hosts below it are all taken (lowered whenever an address is freed). */
  lowWater(iface: string, family: 4 | 6): bigint | undefined {
    return this.maps.lowWater.get(`${iface}/${family}`);
  }
  setLowWater(iface: string, family: 4 | 6, v: bigint): void {
    this.maps.lowWater.set(`${iface}/${family}`, v);
  }

  /** Start (or restart) the watch; resolves once caught up with the bucket. */
  async resync(): Promise<void> {
    const target = (await this.kv.status()).streamInfo.state.last_seq;
    const maps = emptyMaps();
    const gen = ++this.gens;
    let swapped = false;
    let pending: Change[] = [];
    let maxRev = 0;
    let flushScheduled = false;
    let caughtUp!: () => void;
    const caught = new Promise<void>((r) => {
      caughtUp = r;
    });
    const iter = await this.kv.watch({ key: ">" });
    const flush = () => {
      flushScheduled = false;
      if (!swapped) {
        if (maxRev >= target) {
          swapped = true;
          this.liveGen = gen;
          const old = this.live;
          this.maps = maps;
          this.live = { stop: () => iter.stop() };
          old?.stop();
          pending = [];
          this.advance(maxRev);
          this.ready = true;
          for (const l of this.listeners) l.resynced(this.revision);
          caughtUp();
        }
        return;
      }
      if (this.liveGen !== gen) return; // a newer watch replaced this one
      const batch = pending;
      pending = [];
      this.advance(maxRev);
      if (batch.length > 0) for (const l of this.listeners) l.changes(batch, this.revision);
    };
    if (target === 0) flush();
    void (async () => {
      try {
        for await (const e of iter) {
          const c = this.apply(maps, e);
          if (e.revision > maxRev) maxRev = e.revision;
          if (c && swapped) pending.push(c);
          if (!flushScheduled) {
            flushScheduled = true;
            setImmediate(flush);
          }
        }
      } catch (err) {
        this.log.warn({ err }, "desired-state watch ended");
      }
    })();
    await caught;
  }

  private advance(rev: number): void {
    if (rev <= this.revision) return;
    this.revision = rev;
    for (const w of this.waiters) {
      if (w.rev <= rev) {
        this.waiters.delete(w);
        w.done(true);
      }
    }
  }

  private apply(m: Maps, e: KvWatchEntry): Change | undefined {
    const parts = e.key.split(".");
    const deleted = e.operation !== "PUT";
    try {
      if (parts[0] === "if" && parts.length === 2) {
        const name = parts[1] as string;
        const prev = m.interfaces.get(name)?.rec;
        if (deleted) {
          m.interfaces.delete(name);
          return { kind: "iface", name, ...(prev ? { prev } : {}) };
        }
        const next = WgInterfaceRecord.parse(e.json());
        m.interfaces.set(name, { rec: next, revision: e.revision });
        return { kind: "iface", name, next, ...(prev ? { prev } : {}) };
      }
      if (parts[0] === "peer" && parts.length === 3) {
        const iface = parts[1] as string;
        const id = parts[2] as string;
        let peers = m.peers.get(iface);
        if (!peers) {
          peers = new Map();
          m.peers.set(iface, peers);
        }
        let names = m.names.get(iface);
        if (!names) {
          names = new Map();
          m.names.set(iface, names);
        }
        const prev = peers.get(id)?.rec;
        if (prev && names.get(prev.name) === id) names.delete(prev.name);
        if (prev) index(m, iface, prev, false);
        if (deleted) {
          peers.delete(id);
          return { kind: "peer", iface, id, ...(prev ? { prev } : {}) };
        }
        const next = WgPeerRecord.parse(e.json());
        peers.set(id, { rec: next, revision: e.revision });
        names.set(next.name, id);
        index(m, iface, next, true);
        return { kind: "peer", iface, id, next, ...(prev ? { prev } : {}) };
      }
    } catch (err) {
      this.log.error({ err, key: e.key, revision: e.revision }, "ignoring an invalid desired-state entry");
    }
    return undefined;
  }

  /** Resolves true once revision ≥ rev, false after the timeout. */
  waitFor(rev: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= rev) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        rev,
        done: (ok: boolean) => {
          clearTimeout(t);
          resolve(ok);
        },
      };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Read-your-writes: wait until everything stored so far is mirrored. */
  async barrier(timeoutMs = 2000): Promise<void> {
    const last = (await this.kv.status()).streamInfo.state.last_seq;
    await this.waitFor(last, timeoutMs);
  }

  /**
   * The barrier for reads. While the bucket's stream has no leader (a NATS node died: the
   * election takes ~5 s) nobody can write to it either, so the mirror already holds every
   * acknowledged write but those still in flight to it: a read that cannot ask the stream
   * within `askMs` answers from the mirror instead of stalling into a timeout. Writes keep
   * the strict `barrier` (their checks must see the latest state).
   */
  async readBarrier(askMs = 1000, timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), askMs);
    });
    const asked = this.kv.status().then(
      (st) => st.streamInfo.state.last_seq,
      () => null,
    );
    const last = await Promise.race([asked, gaveUp]).finally(() => clearTimeout(timer));
    if (last === null) {
      this.log.warn({ askMs }, "desired-state stream not answering: read served from the local mirror");
      return;
    }
    await this.waitFor(last, timeoutMs);
  }

  stop(): void {
    this.live?.stop();
    for (const w of this.waiters) w.done(false);
    this.waiters.clear();
  }
}
