/**
 * Runtime intents on one node. The cluster's intents live in KV (`ep_haproxy_runtime`,
 * key `<cluster>.intents`, compare-and-set); every agent reconciles its haproxy to the
 * whole list — on every change of the key, after every converge/reload, and at start — so
 * an intent survives reloads, agent restarts and reaches nodes that join late. Intents
 * that disappeared since the last pass are reverted. Every command is built here from
 * validated identifiers; nothing user-supplied is passed through as text.
 *
 * Reconcile passes run on the agent's convergence chain (`NodeAgent.exclusive`), so they
 * never race a reload; the post-converge hook runs inside that chain already.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  IntentSet,
  kvToken,
  type Logger,
  type RuntimeIntent,
  type RuntimeOp,
  StateDocument,
} from "@edgeplane/proto";
import { type KV, Kvm, type KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { writeAtomic } from "./durable-fs.ts";
import type { NodeAgent } from "./node.ts";
import { isWrongLastSequence } from "./store.ts";

export const RUNTIME_BUCKET = "ep_haproxy_runtime";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Stable id of an intent from what it targets (setting the same target replaces it). */
export function intentId(kind: RuntimeIntent["kind"], target: string): string {
  return `int_${createHash("sha256").update(`${kind}:${target}`).digest("hex").slice(0, 16)}`;
}

export function intentTarget(i: RuntimeIntent): string {
  switch (i.kind) {
    case "server_state":
    case "server_weight":
      return `${i.backend}/${i.server}`;
    case "frontend_state":
    case "frontend_maxconn":
      return i.frontend;
    case "global_maxconn":
      return "global";
  }
}

/** The intents of every cluster (one KV key each). */
export class IntentStore {
  readonly kv: KV;
  constructor(kv: KV) {
    this.kv = kv;
  }
  static async open(nc: NatsConnection, replicas: number): Promise<IntentStore> {
    const kv = await new Kvm(nc).create(RUNTIME_BUCKET, {
      history: 5,
      replicas,
      description: "HAProxy runtime intents, key <cluster>.intents",
    } as never);
    return new IntentStore(kv);
  }
  key(cluster: string): string {
    return `${kvToken(cluster)}.intents`;
  }
  async get(cluster: string): Promise<{ revision: number; items: RuntimeIntent[] }> {
    const e = await this.kv.get(this.key(cluster));
    if (e?.operation !== "PUT" || e.value.length === 0) return { revision: e?.revision ?? 0, items: [] };
    return { revision: e.revision, items: IntentSet.parse(JSON.parse(dec.decode(e.value))).items };
  }
  /** Read-modify-write with compare-and-set, retried on concurrent writers. */
  async update(
    cluster: string,
    fn: (items: RuntimeIntent[]) => RuntimeIntent[],
  ): Promise<{ revision: number; items: RuntimeIntent[] }> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.get(cluster);
      const items = fn(cur.items);
      const data = enc.encode(JSON.stringify({ items }));
      try {
        const revision =
          cur.revision === 0
            ? await this.kv.create(this.key(cluster), data)
            : await this.kv.update(this.key(cluster), data, cur.revision);
        return { revision, items };
      } catch (err) {
        if (attempt < 20 && (isWrongLastSequence(err) || /exists/i.test(String(err)))) continue;
        throw err;
      }
    }
  }
}

export interface OpResult {
  ok: boolean;
  message: string;
}

/** HAProxy's CLI answers nothing on success; "already …" is success too. */
export function cliOk(out: string): OpResult {
  const t = out.trim();
  if (t === "" || /already|^done\.?$/i.test(t)) return { ok: true, message: t || "ok" };
  return { ok: false, message: t.slice(0, 500) };
}

interface Persisted {
  applied: RuntimeIntent[];
  baseline: Record<string, number>;
  revision: number;
}

/** One node's side: reconcile the local haproxy to the cluster's intents; run one-off ops. */
export class RuntimeNode {
  readonly agent: NodeAgent;
  readonly store: IntentStore;
  readonly cluster: string;
  readonly node: string;
  readonly log: Logger;
  private readonly file: string;
  private applied = new Map<string, RuntimeIntent>();
  /** Configured values seen before an intent changed them (maxconn), by target key. */
  private baseline: Record<string, number> = {};
  /** Intent-set revision of the last completed pass. */
  revision = 0;
  /** Outcome of the last pass, per intent id (applied or reverted). */
  readonly results = new Map<string, OpResult>();
  private stopWatch: (() => void) | undefined;

  constructor(o: { agent: NodeAgent; store: IntentStore; cluster: string; node: string; log: Logger }) {
    this.agent = o.agent;
    this.store = o.store;
    this.cluster = o.cluster;
    this.node = o.node;
    this.log = o.log;
    this.file = join(o.agent.o.dir, "runtime-intents.json");
  }

  async start(): Promise<void> {
    const saved = await readFile(this.file, "utf8").then(
      (t) => JSON.parse(t) as Persisted,
      () => null,
    );
    if (saved) {
      for (const i of saved.applied) this.applied.set(i.id, i);
      this.baseline = saved.baseline ?? {};
    }
    // Re-apply after every converge (a reload resets frontends; a late node catches up).
    this.agent.onApplied = (reloaded) => this.afterConverge(reloaded);
    const w = await this.store.kv.watch({ key: this.store.key(this.cluster) });
    this.stopWatch = () => w.stop();
    void (async () => {
      for await (const e of w as AsyncIterable<KvWatchEntry>) {
        if (e.revision <= this.revision) continue;
        void this.reconcile(e.revision).catch((err) => this.log.warn({ err }, "runtime reconcile failed"));
      }
    })();
  }

  stop(): void {
    this.stopWatch?.();
    this.agent.onApplied = undefined;
  }

  /** Reconcile between convergence passes; resolves once a pass at ≥ `minRevision` ran. */
  reconcile(minRevision = 0): Promise<void> {
    return this.agent.exclusive(async () => {
      if (this.revision >= minRevision && minRevision > 0) return;
      await this.pass();
    });
  }

  private async afterConverge(reloaded: boolean): Promise<void> {
    // A reload loaded the configuration afresh: configured maxconn values are current again.
    if (reloaded) this.baseline = {};
    await this.pass().catch((err) => this.log.warn({ err }, "runtime re-apply after converge failed"));
  }

  private async running(): Promise<boolean> {
    return this.agent.installed && (await this.agent.proc.showProc(300)) !== null;
  }

  /** One pass: revert what disappeared, (re)apply what is in force, persist, dump server state. */
  private async pass(): Promise<void> {
    const { revision, items } = await this.store.get(this.cluster);
    this.results.clear();
    if (!(await this.running())) {
      for (const i of items)
        this.results.set(i.id, { ok: false, message: "haproxy is not running on this node" });
      return;
    }
    const want = new Map(items.map((i) => [i.id, i]));
    for (const [id, old] of this.applied) {
      if (want.has(id)) continue;
      const r = await this.revert(old);
      this.results.set(id, r);
      if (r.ok) this.applied.delete(id);
      else this.log.warn({ intent: old, error: r.message }, "could not revert runtime intent");
    }
    for (const i of items) {
      const r = await this.apply(i);
      this.results.set(i.id, r);
      if (r.ok) this.applied.set(i.id, i);
      else this.log.warn({ intent: i, error: r.message }, "could not apply runtime intent");
    }
    this.revision = Math.max(this.revision, revision);
    await writeAtomic(
      this.file,
      JSON.stringify({
        applied: [...this.applied.values()],
        baseline: this.baseline,
        revision: this.revision,
      }),
      0o600,
    ).catch((err) => this.log.warn({ err }, "could not persist runtime intents"));
    // The server-state file is what the next worker starts from: keep it in step with the
    // runtime, so a cleared drain is not brought back by a later start.
    await this.agent.dumpServerState();
  }

  private cli(cmd: string): Promise<OpResult> {
    return this.agent.proc.admin(cmd).then(cliOk, (err: unknown) => ({
      ok: false,
      message: err instanceof Error ? err.message : String(err),
    }));
  }

  private async frontendLimit(frontend: string): Promise<number | null> {
    const csv = await this.agent.proc.admin("show stat");
    const head = csv.split("\n")[0]?.replace(/^# /, "").split(",") ?? [];
    const slim = head.indexOf("slim");
    const row = csv.split("\n").find((l) => l.startsWith(`${frontend},FRONTEND,`));
    const v = row?.split(",")[slim];
    return v ? Number(v) : null;
  }
  private async globalLimit(): Promise<number | null> {
    const m = /^Maxconn:\s*(\d+)/m.exec(await this.agent.proc.admin("show info"));
    return m ? Number(m[1]) : null;
  }

  private async apply(i: RuntimeIntent): Promise<OpResult> {
    switch (i.kind) {
      case "server_state":
        return this.cli(`set server ${i.backend}/${i.server} state ${i.state}`);
      case "server_weight":
        return this.cli(`set weight ${i.backend}/${i.server} ${i.weight}`);
      case "frontend_state":
        return this.cli(`disable frontend ${i.frontend}`);
      case "frontend_maxconn": {
        const key = `frontend:${i.frontend}`;
        if (this.baseline[key] === undefined && !this.applied.has(i.id)) {
          const v = await this.frontendLimit(i.frontend);
          if (v !== null) this.baseline[key] = v;
        }
        return this.cli(`set maxconn frontend ${i.frontend} ${i.max}`);
      }
      case "global_maxconn": {
        if (this.baseline.global === undefined && !this.applied.has(i.id)) {
          const v = await this.globalLimit();
          if (v !== null) this.baseline.global = v;
        }
        return this.cli(`set maxconn global ${i.max}`);
      }
    }
  }

  private async revert(i: RuntimeIntent): Promise<OpResult> {
    switch (i.kind) {
      case "server_state":
        return this.cli(`set server ${i.backend}/${i.server} state ready`);
      case "server_weight":
        // 100% of the initial (configured) weight.
        return this.cli(`set weight ${i.backend}/${i.server} 100%`);
      case "frontend_state":
        return this.cli(`enable frontend ${i.frontend}`);
      case "frontend_maxconn": {
        const v = this.baseline[`frontend:${i.frontend}`];
        if (v === undefined)
          return { ok: true, message: "configured limit unknown; left as is until the next reload" };
        delete this.baseline[`frontend:${i.frontend}`];
        return this.cli(`set maxconn frontend ${i.frontend} ${v}`);
      }
      case "global_maxconn": {
        const v = this.baseline.global;
        if (v === undefined)
          return { ok: true, message: "configured limit unknown; left as is until the next reload" };
        delete this.baseline.global;
        return this.cli(`set maxconn global ${v}`);
      }
    }
  }

  // ---- one-off operations

  /** The runtime id of a document map on this node (`show map` lists the files). */
  private async mapFile(name: string): Promise<string | null> {
    const out = await this.agent.proc.admin("show map");
    for (const l of out.split("\n")) {
      const m = /^\d+ \(([^)]*)\)/.exec(l);
      const file = m?.[1] ?? "";
      const base = file.split("/").pop() ?? "";
      if (base.startsWith(`${name}-`) && /^[0-9a-f]{12}\.map$/.test(base.slice(name.length + 1))) return file;
    }
    return null;
  }

  /** Runtime ids of a named ACL: found by the configuration lines the renderer attributed to it. */
  private async aclIds(acl: string, proxy: string | undefined): Promise<string[]> {
    const stored = this.agent.desired.stored;
    const doc = stored?.state ?? StateDocument.parse({});
    const rendered = this.agent.render({
      state: doc,
      committed_at: "",
      committed_by: null,
      comment: null,
      restored_from: null,
      request_id: null,
    });
    const name = proxy ? `${proxy}/${acl}` : acl;
    const lines = new Set<number>();
    rendered.entities.forEach((e, idx) => {
      if (e?.kind === "acl" && e.name === name) lines.add(idx + 1);
    });
    const out = await this.agent.proc.admin("show acl");
    const ids: string[] = [];
    for (const l of out.split("\n")) {
      const m = /^(\d+) \(\) acl '[^']*' file '([^']*)' line (\d+)\./.exec(l);
      if (m && lines.has(Number(m[3])) && (m[2] as string).endsWith("haproxy.cfg")) ids.push(m[1] as string);
    }
    return ids;
  }

  async exec(op: RuntimeOp): Promise<OpResult> {
    if (!(await this.running())) return { ok: false, message: "haproxy is not running on this node" };
    switch (op.op) {
      case "clear_counters":
        return this.cli("clear counters all");
      case "session_shutdown":
        return this.cli(`shutdown session ${op.id}`);
      case "server_ready":
        return this.cli(`set server ${op.backend}/${op.server} state ready`);
      case "frontend_enable":
        return this.cli(`enable frontend ${op.frontend}`);
      case "map_add":
      case "map_del": {
        const file = await this.mapFile(op.map);
        if (!file) return { ok: false, message: `map '${op.map}' is not loaded on this node` };
        if (op.op === "map_del") return this.cli(`del map ${file} ${op.key}`);
        const value = op.value ?? "";
        // `set map` replaces an existing key; `add map` adds a new one.
        const shown = await this.agent.proc.admin(`get map ${file} ${op.key}`);
        const exists = /match=yes/.test(shown) && new RegExp(`key="${escapeRe(op.key)}"`).test(shown);
        return this.cli(exists ? `set map ${file} ${op.key} ${value}` : `add map ${file} ${op.key} ${value}`);
      }
      case "acl_add":
      case "acl_del": {
        const ids = await this.aclIds(op.acl, op.proxy);
        if (ids.length === 0)
          return {
            ok: false,
            message: `ACL '${op.proxy ? `${op.proxy}/` : ""}${op.acl}' is not loaded on this node`,
          };
        const verb = op.op === "acl_add" ? "add" : "del";
        const rs = await Promise.all(ids.map((id) => this.cli(`${verb} acl #${id} ${op.value}`)));
        const bad = rs.find((r) => !r.ok);
        return bad ?? { ok: true, message: `${verb} on ${ids.length} ACL instance(s)` };
      }
    }
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
