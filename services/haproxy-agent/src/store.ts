/**
 * Cluster data in NATS: desired state (KV `ep_haproxy_state`, key = cluster, the KV
 * revision is the document revision, compare-and-set for optimistic concurrency), node
 * status (KV `ep_haproxy_nodes`), and snapshots of every committed revision (stream
 * `EP_HAPROXY_SNAPSHOTS`, subject `ep.v1.snap.haproxy.<cluster>.<revision>`, pruned to the
 * newest N per cluster and by age).
 */

import {
  Errors,
  HaproxyStores,
  HaproxySubjects,
  kvToken,
  type NodeStatus,
  type StateDocument,
  subjectToken,
} from "@edgeplane/proto";
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { decodeStoredJson, encodeStoredJson, storedDocument } from "./stored-codec.ts";

/** What is stored per revision (KV value and snapshot payload). */
export interface StoredState {
  state: StateDocument;
  committed_at: string;
  committed_by: string | null;
  comment: string | null;
  restored_from: number | null;
  request_id: string | null;
  /**
   * `neutralHash` of the rendering that passed `haproxy -c` on the committing agent: a node
   * whose own rendering has the same neutral hash skips its `haproxy -c` (absent in
   * revisions committed before it existed: those are checked on every node).
   */
  validated_hash?: string | null;
  /** SHA-256 of `JSON.stringify(state)`: "is this the same document" without parsing it. */
  doc_hash?: string | null;
  /** `stateSchemaFingerprint()` of the agent that wrote it: readers with the same schema skip the parse. */
  schema_fingerprint?: string | null;
}

export interface Current {
  revision: number;
  stored: StoredState | null;
}

const DAY_NS = 24 * 3600 * 1e9;
const dec = new TextDecoder();

export function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === 10071;
}

export class ClusterStore {
  readonly state: KV;
  readonly nodes: KV;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
  readonly keep: number;
  constructor(state: KV, nodes: KV, jsm: JetStreamManager, js: JetStreamClient, keep: number) {
    this.state = state;
    this.nodes = nodes;
    this.jsm = jsm;
    this.js = js;
    this.keep = keep;
  }

  static async open(
    nc: NatsConnection,
    js: JetStreamClient,
    opts: { replicas: number; keep: number; maxAgeDays: number },
  ): Promise<ClusterStore> {
    const kvm = new Kvm(nc);
    const state = await kvm.create(HaproxyStores.stateBucket, {
      history: 5,
      replicas: opts.replicas,
      description: "HAProxy desired state, one key per cluster",
    } as never);
    const nodes = await kvm.create(HaproxyStores.nodesBucket, {
      history: 1,
      replicas: opts.replicas,
      description: "HAProxy node status, key <cluster>.<node>",
    } as never);
    const jsm = await jetstreamManager(nc);
    const cfg = {
      name: HaproxyStores.snapshotStream,
      subjects: [...HaproxyStores.snapshotSubjects],
      description: "Every committed HAProxy state revision, per cluster",
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: opts.maxAgeDays * DAY_NS,
      allow_direct: true,
      num_replicas: opts.replicas,
      duplicate_window: 120 * 1e9,
    };
    try {
      await jsm.streams.info(cfg.name);
    } catch {
      await jsm.streams.add(cfg).catch(async (err) => {
        await jsm.streams.info(cfg.name).catch(() => {
          throw err;
        });
      });
    }
    return new ClusterStore(state, nodes, jsm, js, opts.keep);
  }

  /**
   * The newest revision this process decoded (its node agent decodes every revision it
   * watches): reading the current state again then costs a KV get, not a gunzip and a
   * parse of the whole document (~30 ms at 10k backends). Values are never mutated.
   */
  private decoded: { cluster: string; revision: number; stored: StoredState } | undefined;

  remember(cluster: string, revision: number, stored: StoredState): void {
    if (!this.decoded || this.decoded.cluster !== cluster || this.decoded.revision <= revision)
      this.decoded = { cluster, revision, stored };
  }

  private known(cluster: string, revision: number): StoredState | undefined {
    const d = this.decoded;
    return d && d.cluster === cluster && d.revision === revision ? d.stored : undefined;
  }

  async current(cluster: string): Promise<Current> {
    const e = await this.state.get(cluster);
    if (e?.operation !== "PUT" || e.value.length === 0) return { revision: e?.revision ?? 0, stored: null };
    const known = this.known(cluster, e.revision);
    if (known) return { revision: e.revision, stored: known };
    const stored = await decodeStored(e.value);
    this.remember(cluster, e.revision, stored);
    return { revision: e.revision, stored };
  }

  /**
   * The current value as stored, JSON-parsed but not schema-parsed (it was validated when it
   * was committed): the commit path only compares hashes and the `advanced` section, and a
   * 10k-backend document costs ~100 ms to schema-parse.
   */
  async currentRaw(cluster: string): Promise<Current> {
    const e = await this.state.get(cluster);
    if (e?.operation !== "PUT" || e.value.length === 0) return { revision: e?.revision ?? 0, stored: null };
    const stored = this.known(cluster, e.revision) ?? (await decodeStoredJson<StoredState>(e.value));
    return { revision: e.revision, stored };
  }

  /**
   * Compare-and-set: `expected` is the revision the caller read (0 = none yet). A stale
   * revision throws `stale_revision` (409) carrying the current one. `json` is
   * `JSON.stringify(stored)` when the caller already has it.
   */
  async commit(
    cluster: string,
    stored: StoredState,
    expected: number,
    json = JSON.stringify(stored),
  ): Promise<{ revision: number; data: Uint8Array }> {
    const data = await encodeStoredJson(json);
    try {
      if (expected === 0) {
        const cur = await this.state.get(cluster);
        if (cur && cur.operation === "PUT") throw staleError(cur.revision);
        const revision = cur
          ? await this.state.update(cluster, data, cur.revision)
          : await this.state.create(cluster, data);
        return { revision, data };
      }
      return { revision: await this.state.update(cluster, data, expected), data };
    } catch (err) {
      if (isWrongLastSequence(err)) throw staleError((await this.current(cluster)).revision);
      throw err;
    }
  }

  // ---- snapshots

  /**
   * Keep revision `revision` as a snapshot. `encoded`: the bytes that revision's KV value
   * holds (the stored JSON, compressed when large), published as they are — the revision
   * is the subject's last token, so one encoding serves both (snapshots of an older
   * agent also carry it in the JSON).
   */
  async putSnapshot(
    cluster: string,
    revision: number,
    stored: StoredState,
    encoded?: Uint8Array,
  ): Promise<void> {
    const subject = `${HaproxySubjects.snapshot(cluster)}.${revision}`;
    const data = encoded ?? (await encodeStoredJson(JSON.stringify(stored)));
    await this.js.publish(subject, data, {
      msgID: `haproxy-${subjectToken(cluster)}-${revision}`,
    });
    await this.jsm.streams
      .purge(HaproxyStores.snapshotStream, {
        filter: `${HaproxySubjects.snapshot(cluster)}.*`,
        keep: this.keep,
      })
      .catch(() => undefined);
  }

  async getSnapshot(cluster: string, revision: number): Promise<(StoredState & { revision: number }) | null> {
    const m = await this.jsm.direct
      .getMessage(HaproxyStores.snapshotStream, {
        last_by_subj: `${HaproxySubjects.snapshot(cluster)}.${revision}`,
      })
      .catch(() => null);
    if (!m) return null;
    const v = await decodeStoredJson<StoredState & { revision?: number }>(m.data);
    return { ...v, revision: v.revision ?? revision, state: storedDocument(v.state, v.schema_fingerprint) };
  }

  async latestSnapshotRevision(cluster: string): Promise<number> {
    const m = await this.jsm.direct
      .getMessage(HaproxyStores.snapshotStream, { last_by_subj: `${HaproxySubjects.snapshot(cluster)}.*` })
      .catch(() => null);
    return m ? Number(m.subject.split(".").pop()) : 0;
  }

  /** Every kept snapshot of a cluster, oldest first. */
  async listSnapshots(cluster: string): Promise<Array<StoredState & { revision: number }>> {
    const out: Array<StoredState & { revision: number }> = [];
    const filter = `${HaproxySubjects.snapshot(cluster)}.*`;
    let seq = 1;
    for (let i = 0; i < 100_000; i++) {
      const m = await this.jsm.direct
        .getMessage(HaproxyStores.snapshotStream, { seq, next_by_subj: filter })
        .catch(() => null);
      if (!m) break;
      const v = await decodeStoredJson<StoredState & { revision?: number }>(m.data);
      out.push({ ...v, revision: v.revision ?? Number(m.subject.slice(m.subject.lastIndexOf(".") + 1)) });
      seq = m.seq + 1;
    }
    return out;
  }

  // ---- node status

  nodeKey(cluster: string, node: string): string {
    return `${kvToken(cluster)}.${kvToken(node)}`;
  }
  async putNode(s: NodeStatus): Promise<void> {
    await this.nodes.put(this.nodeKey(s.cluster, s.node), JSON.stringify(s));
  }
  async listNodes(cluster: string): Promise<NodeStatus[]> {
    const out: NodeStatus[] = [];
    const keys = await this.nodes.keys(`${kvToken(cluster)}.*`);
    const names: string[] = [];
    for await (const k of keys) names.push(k);
    // A key put while listing can be delivered twice: each node once.
    for (const k of [...new Set(names)].sort()) {
      const e = await this.nodes.get(k);
      if (e && e.operation === "PUT" && e.value.length > 0)
        out.push(JSON.parse(dec.decode(e.value)) as NodeStatus);
    }
    return out;
  }
}

export function staleError(current: number) {
  return Errors.StaleRevision.create({ current_revision: current }, { revision: current });
}

export async function decodeStored(b: Uint8Array): Promise<StoredState> {
  const v = await decodeStoredJson<StoredState>(b);
  return { ...v, state: storedDocument(v.state, v.schema_fingerprint) };
}

/** A node is online when its agent has not signed off and was seen in the last 3 heartbeats (≥ 30 s). */
export function isOnline(s: NodeStatus, heartbeatMs: number, now = Date.now()): boolean {
  return s.online && now - Date.parse(s.seen_at) < Math.max(30_000, 3 * heartbeatMs);
}
