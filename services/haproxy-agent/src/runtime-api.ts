/**
 * The runtime-control and live-stats API of a cluster. Cluster routes are answered by any
 * agent of the cluster (queue group): lasting changes update the intent set in KV
 * (compare-and-set), then every online node is asked to reconcile to that revision and
 * answers with its own result; one-off operations (counters, sessions, map/ACL entries)
 * are fanned out as typed operations. Map/ACL entries are also committed into the state
 * document through the normal commit path, so a reload keeps them. Node endpoints answer
 * for the local haproxy only.
 */
import {
  type AclEntryBody,
  buildAuditEvent,
  call,
  EpError,
  Errors,
  HAPROXY_COL,
  type HandlerContext,
  type HaproxySample,
  HaproxySessionsRequest,
  HaproxySubjects,
  haproxyAclEntryAddRoute,
  haproxyAclEntryDeleteRoute,
  haproxyCountersClearRoute,
  haproxyFrontendDisableRoute,
  haproxyFrontendEnableRoute,
  haproxyFrontendMaxconnRoute,
  haproxyGlobalMaxconnRoute,
  haproxyIntentClearRoute,
  haproxyIntentsListRoute,
  haproxyMapEntryAddRoute,
  haproxyMapEntryDeleteRoute,
  haproxyRuntimeShowRoute,
  haproxyServerStateRoute,
  haproxyServerWeightRoute,
  haproxySessionShutdownRoute,
  haproxyStatsRoute,
  type Logger,
  NodeExecRequest,
  NodeReconcileRequest,
  type NodeRuntimeResult,
  NodeShowRequest,
  type NodeStatus,
  parseShowSess,
  publishAudit,
  publishEvent,
  type RouteSpec,
  type RuntimeIntent,
  type RuntimeOp,
  type StateDocument,
  StateDocument as StateDocumentSchema,
  Subjects,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { NodeAgent } from "./node.ts";
import { type IntentStore, intentId, type RuntimeNode } from "./runtime.ts";
import type { Sampler } from "./sampler.ts";
import { type ClusterStore, isOnline } from "./store.ts";

type Serve = <R extends RouteSpec>(
  route: R,
  // biome-ignore lint/suspicious/noExplicitAny: params are loosened for the aliases (see service.ts)
  handler: (req: any, ctx: HandlerContext) => Promise<unknown>,
) => void;

export interface CommitResult {
  revision: number;
  unchanged: boolean;
}
export interface CommitOptions {
  expected: number | undefined;
  wait: boolean;
  timeoutMs: number;
  comment: string | null;
  restoredFrom: number | null;
  action: string;
}
export type Commit = (doc: StateDocument, ctx: HandlerContext, o: CommitOptions) => Promise<CommitResult>;

export interface RuntimeApiDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  svc: {
    endpoint: (
      name: string,
      opts: { subject: string; queue?: string },
      schema: z.ZodType,
      handler: (req: never, ctx: HandlerContext) => Promise<unknown>,
    ) => void;
  };
  log: Logger;
  cluster: string;
  node: string;
  agent: NodeAgent;
  store: ClusterStore;
  intents: IntentStore;
  runtime: RuntimeNode;
  sampler: Sampler;
  heartbeatMs: number;
  applyWaitMs: number;
  serve: Serve;
  commit: Commit;
}

const NODE_TIMEOUT_MS = 15_000;

export function registerRuntimeApi(d: RuntimeApiDeps): void {
  const { cluster, node, nc, js, runtime, sampler, agent } = d;

  // ---------------------------------------------------------------- node endpoints

  const nodeEndpoint = <S extends z.ZodType>(
    name: string,
    rest: string,
    schema: S,
    handler: (req: z.infer<S>) => Promise<unknown>,
  ) => d.svc.endpoint(name, { subject: HaproxySubjects.node(cluster, node, rest) }, schema, handler as never);

  nodeEndpoint("node_runtime_reconcile", "runtime.reconcile", NodeReconcileRequest, async (req) => {
    let extra: { ok: boolean; message: string } | undefined;
    await runtime.reconcile(req.revision);
    if (req.also) extra = await agent.exclusive(() => runtime.exec(req.also as RuntimeOp));
    const r = (req.target ? runtime.results.get(req.target) : undefined) ?? { ok: true, message: "ok" };
    const ok = r.ok && (extra?.ok ?? true);
    return { node, ok, message: extra && !extra.ok ? extra.message : r.message };
  });
  nodeEndpoint("node_runtime_exec", "runtime.exec", NodeExecRequest, async (req) => {
    const r = await agent.exclusive(() => runtime.exec(req.op));
    return { node, ...r };
  });
  nodeEndpoint("node_runtime_show", "runtime.show", NodeShowRequest, async (req) => show(req.what));
  nodeEndpoint("node_stats_current", "stats.current", z.object({}).passthrough(), async () => {
    if (!(await agent.proc.showProc(300))) throw Errors.HaproxyUnavailable.create(undefined, { node });
    // Fresh, not the periodic sample: a runtime change a moment ago must show.
    return sampler.sample();
  });
  d.svc.endpoint(
    "node_stats_sessions",
    { subject: Subjects.stats.haproxySessions(cluster, node) },
    HaproxySessionsRequest,
    (async (req: z.infer<typeof HaproxySessionsRequest>) => {
      const all = parseShowSess(await agent.proc.admin("show sess"));
      return {
        cluster,
        node,
        ts: Date.now(),
        total: all.length,
        truncated: all.length > req.limit,
        sessions: all.slice(0, req.limit),
      };
    }) as never,
  );

  async function show(what: z.infer<typeof NodeShowRequest>["what"]) {
    const cmd = {
      acls: "show acl",
      maps: "show map",
      tables: "show table",
      resolvers: "show resolvers",
      errors: "show errors",
      sessions: "show sess",
      servers: "show servers state",
    }[what];
    let output: string;
    try {
      output = await agent.proc.admin(cmd);
    } catch (err) {
      return { node, ok: false, output: err instanceof Error ? err.message : String(err), items: [] };
    }
    return { node, ok: true, output: output.slice(0, 512 * 1024), items: parseShow(what, output) };
  }

  // ---------------------------------------------------------------- fan-out

  async function onlineNodes(only?: string): Promise<NodeStatus[]> {
    const nodes = (await d.store.listNodes(cluster)).filter((s) => isOnline(s, d.heartbeatMs));
    if (only) {
      const one = nodes.filter((s) => s.node === only);
      if (one.length === 0)
        throw Errors.NotFound.withMessage(`node '${only}' is not an online node of ${cluster}`);
      return one;
    }
    if (nodes.length === 0)
      throw Errors.HaproxyUnavailable.create(undefined, { node: `any node of ${cluster}` });
    return nodes;
  }

  async function fanOut<T>(
    nodes: NodeStatus[],
    rest: string,
    payload: unknown,
    ctx: HandlerContext,
    failed: (node: string, message: string) => T,
  ): Promise<T[]> {
    return Promise.all(
      nodes.map((s) =>
        call<T>(nc, HaproxySubjects.node(cluster, s.node, rest), payload, {
          timeoutMs: NODE_TIMEOUT_MS,
          principal: ctx.principal,
          requestId: ctx.requestId,
        }).catch((err: unknown) => failed(s.node, err instanceof EpError ? err.message : String(err))),
      ),
    );
  }
  const failedResult = (n: string, message: string): NodeRuntimeResult => ({ node: n, ok: false, message });

  const audit = (ctx: HandlerContext, action: string, ok: boolean, summary: Record<string, unknown>) =>
    publishAudit(
      js,
      buildAuditEvent(
        {
          action,
          category: "haproxy",
          result: ok ? "success" : "failure",
          target_type: "haproxy_cluster",
          target_id: cluster,
          summary,
        },
        ctx,
      ),
    );
  const event = (
    ctx: HandlerContext,
    data: { backend: string; server: string | null; action: string; value?: string | number | null },
  ) =>
    publishEvent(
      js,
      { type: "haproxy.runtime.changed", resource: { kind: "cluster", name: cluster }, data } as never,
      ctx,
    ).catch((err) => d.log.warn({ err }, "could not publish runtime event"));

  async function currentDoc(): Promise<{ revision: number; doc: StateDocument }> {
    const cur = await d.store.current(cluster);
    return {
      revision: cur.stored ? cur.revision : 0,
      doc: cur.stored?.state ?? StateDocumentSchema.parse({}),
    };
  }
  const proxiesWithServers = (doc: StateDocument) => [...doc.backends, ...doc.listens];
  const frontendsOf = (doc: StateDocument) => [...doc.frontends, ...doc.listens];

  async function requireServer(backend: string, server: string) {
    const { doc } = await currentDoc();
    const b = proxiesWithServers(doc).find((p) => p.name === backend);
    if (!b) throw Errors.NotFound.withMessage(`backend '${backend}' is not in the state document`);
    if (!b.servers.some((s) => s.name === server))
      throw Errors.NotFound.withMessage(`server '${server}' is not in backend '${backend}'`);
  }
  async function requireFrontend(name: string) {
    const { doc } = await currentDoc();
    if (!frontendsOf(doc).some((f) => f.name === name))
      throw Errors.NotFound.withMessage(`frontend '${name}' is not in the state document`);
  }

  /**
   * Set (or clear) intents, then have every online node reconcile to the new revision.
   * `also` runs on each node after its pass (explicit ready/enable).
   */
  async function changeIntents(
    ctx: HandlerContext,
    o: {
      action: string;
      set: RuntimeIntent | null;
      clear: string[];
      also?: RuntimeOp;
      event: { backend: string; server: string | null; action: string; value?: string | number | null };
    },
  ) {
    const nodes = await onlineNodes();
    const cleared: string[] = [];
    const r = await d.intents.update(cluster, (items) => {
      const next = items.filter((i) => {
        const drop = o.clear.includes(i.id) || i.id === o.set?.id;
        if (drop && o.clear.includes(i.id)) cleared.push(i.id);
        return !drop;
      });
      return o.set ? [...next, o.set] : next;
    });
    const results = await fanOut<NodeRuntimeResult>(
      nodes,
      "runtime.reconcile",
      { revision: r.revision, target: o.set?.id ?? o.clear[0], ...(o.also ? { also: o.also } : {}) },
      ctx,
      failedResult,
    );
    const ok = results.every((x) => x.ok);
    await audit(ctx, o.action, ok, {
      intent: o.set,
      cleared,
      nodes: results.map((x) => ({ node: x.node, ok: x.ok })),
    });
    await event(ctx, o.event);
    return { ok, intent: o.set, cleared, revision: null, results: sortNodes(results) };
  }

  const stamp = (ctx: HandlerContext) => ({
    set_at: new Date().toISOString(),
    set_by: ctx.principal?.username ?? null,
    request_id: ctx.requestId ?? null,
  });

  // ---------------------------------------------------------------- intents

  d.serve(haproxyServerStateRoute, async (req, ctx) => {
    const { backend, server } = req.params as { backend: string; server: string };
    await requireServer(backend, server);
    const state = req.body.state as "ready" | "drain" | "maint";
    const id = intentId("server_state", `${backend}/${server}`);
    const set: RuntimeIntent | null =
      state === "ready" ? null : { kind: "server_state", id, backend, server, state, ...stamp(ctx) };
    return changeIntents(ctx, {
      action: `runtime.server.${state}`,
      set,
      clear: state === "ready" ? [id] : [],
      ...(state === "ready" ? { also: { op: "server_ready" as const, backend, server } } : {}),
      event: { backend, server, action: state },
    });
  });

  d.serve(haproxyServerWeightRoute, async (req, ctx) => {
    const { backend, server } = req.params as { backend: string; server: string };
    await requireServer(backend, server);
    const weight = req.body.weight as number;
    const id = intentId("server_weight", `${backend}/${server}`);
    return changeIntents(ctx, {
      action: "runtime.server.weight",
      set: { kind: "server_weight", id, backend, server, weight, ...stamp(ctx) },
      clear: [],
      event: { backend, server, action: "weight", value: weight },
    });
  });

  d.serve(haproxyFrontendDisableRoute, async (req, ctx) => {
    const name = req.params.name as string;
    await requireFrontend(name);
    const id = intentId("frontend_state", name);
    return changeIntents(ctx, {
      action: "runtime.frontend.disable",
      set: { kind: "frontend_state", id, frontend: name, state: "disabled", ...stamp(ctx) },
      clear: [],
      event: { backend: name, server: null, action: "disable" },
    });
  });
  d.serve(haproxyFrontendEnableRoute, async (req, ctx) => {
    const name = req.params.name as string;
    await requireFrontend(name);
    const id = intentId("frontend_state", name);
    return changeIntents(ctx, {
      action: "runtime.frontend.enable",
      set: null,
      clear: [id],
      also: { op: "frontend_enable", frontend: name },
      event: { backend: name, server: null, action: "enable" },
    });
  });

  d.serve(haproxyFrontendMaxconnRoute, async (req, ctx) => {
    const name = req.params.name as string;
    await requireFrontend(name);
    const max = req.body.max as number;
    return changeIntents(ctx, {
      action: "runtime.maxconn.frontend",
      set: {
        kind: "frontend_maxconn",
        id: intentId("frontend_maxconn", name),
        frontend: name,
        max,
        ...stamp(ctx),
      },
      clear: [],
      event: { backend: name, server: null, action: "maxconn", value: max },
    });
  });
  d.serve(haproxyGlobalMaxconnRoute, async (req, ctx) => {
    const max = req.body.max as number;
    if (max < 1)
      throw Errors.ValidationFailed.create([
        { field: "max", message: "must be at least 1", type: "too_small" },
      ]);
    return changeIntents(ctx, {
      action: "runtime.maxconn.global",
      set: { kind: "global_maxconn", id: intentId("global_maxconn", "global"), max, ...stamp(ctx) },
      clear: [],
      event: { backend: "global", server: null, action: "maxconn", value: max },
    });
  });

  d.serve(haproxyIntentsListRoute, async () => {
    const r = await d.intents.get(cluster);
    return { revision: r.revision, items: r.items };
  });
  d.serve(haproxyIntentClearRoute, async (req, ctx) => {
    const id = req.params.id as string;
    const cur = await d.intents.get(cluster);
    const it = cur.items.find((i) => i.id === id);
    if (!it) throw Errors.NotFound.withMessage(`no runtime intent '${id}' in force`);
    const target =
      it.kind === "server_state" || it.kind === "server_weight"
        ? { backend: it.backend, server: it.server }
        : { backend: it.kind === "global_maxconn" ? "global" : it.frontend, server: null };
    const action =
      it.kind === "server_state"
        ? "ready"
        : it.kind === "frontend_state"
          ? "enable"
          : it.kind.endsWith("maxconn")
            ? "maxconn"
            : "weight";
    return changeIntents(ctx, {
      action: "runtime.intent.clear",
      set: null,
      clear: [id],
      event: { ...target, action, value: null },
    });
  });

  // ---------------------------------------------------------------- one-off operations

  async function execAll(
    ctx: HandlerContext,
    op: RuntimeOp,
    nodes: NodeStatus[],
  ): Promise<NodeRuntimeResult[]> {
    return sortNodes(await fanOut<NodeRuntimeResult>(nodes, "runtime.exec", { op }, ctx, failedResult));
  }

  d.serve(haproxyCountersClearRoute, async (_req, ctx) => {
    const results = await execAll(ctx, { op: "clear_counters" }, await onlineNodes());
    const ok = results.every((r) => r.ok);
    await audit(ctx, "runtime.counters.clear", ok, {
      nodes: results.map((r) => ({ node: r.node, ok: r.ok })),
    });
    return { ok, intent: null, cleared: [], revision: null, results };
  });

  d.serve(haproxySessionShutdownRoute, async (req, ctx) => {
    const id = req.params.id as string;
    const results = await execAll(ctx, { op: "session_shutdown", id }, await onlineNodes(req.query.node));
    const ok = results.some((r) => r.ok);
    await audit(ctx, "runtime.session.shutdown", ok, { session: id, nodes: results.map((r) => r.node) });
    if (!ok) throw Errors.NotFound.withMessage(`no node holds session ${id}`, { results });
    return { ok, intent: null, cleared: [], revision: null, results };
  });

  d.serve(haproxyRuntimeShowRoute, async (req, ctx) => {
    const what = req.params.what as z.infer<typeof NodeShowRequest>["what"];
    const nodes = await onlineNodes(req.query.node);
    const out = await fanOut(nodes, "runtime.show", { what }, ctx, (n, message) => ({
      node: n,
      ok: false,
      output: message,
      items: [],
    }));
    return { what, nodes: sortNodes(out) };
  });

  /** Apply a document edit through the commit path, retrying on a concurrent writer. */
  async function commitEdit(
    ctx: HandlerContext,
    action: string,
    comment: string,
    edit: (doc: StateDocument) => StateDocument,
  ): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const { revision, doc } = await currentDoc();
      try {
        const r = await d.commit(edit(structuredClone(doc)), ctx, {
          expected: revision,
          wait: true,
          timeoutMs: d.applyWaitMs,
          comment,
          restoredFrom: null,
          action,
        });
        return r.revision;
      } catch (err) {
        if (Errors.StaleRevision.is(err) && attempt < 3) continue;
        throw err;
      }
    }
  }

  async function entryChange(
    ctx: HandlerContext,
    op: RuntimeOp,
    action: string,
    comment: string,
    edit: (doc: StateDocument) => StateDocument,
    ev: { backend: string; action: "map" | "acl"; value: string },
  ) {
    const results = await execAll(ctx, op, await onlineNodes());
    const revision = await commitEdit(ctx, action, comment, edit);
    const ok = results.every((r) => r.ok);
    await event(ctx, { backend: ev.backend, server: null, action: ev.action, value: ev.value });
    return { ok, intent: null, cleared: [], revision, results };
  }

  d.serve(haproxyMapEntryAddRoute, async (req, ctx) => {
    const name = req.params.name as string;
    const { key, value } = req.body as { key: string; value?: string };
    const { doc } = await currentDoc();
    if (!doc.maps.some((m) => m.name === name))
      throw Errors.NotFound.withMessage(`map '${name}' is not in the state document`);
    return entryChange(
      ctx,
      { op: "map_add", map: name, key, ...(value !== undefined ? { value } : {}) },
      "runtime.map.add",
      `map ${name}: set ${key}`,
      (d0) => {
        const m = d0.maps.find((x) => x.name === name);
        if (m) {
          const e = m.entries.find((x) => x.key === key);
          if (e) e.value = value ?? "";
          else m.entries.push({ key, value: value ?? "" });
        }
        return d0;
      },
      { backend: name, action: "map", value: key },
    );
  });
  d.serve(haproxyMapEntryDeleteRoute, async (req, ctx) => {
    const name = req.params.name as string;
    const key = req.query.key as string;
    const { doc } = await currentDoc();
    const m = doc.maps.find((x) => x.name === name);
    if (!m) throw Errors.NotFound.withMessage(`map '${name}' is not in the state document`);
    if (!m.entries.some((e) => e.key === key))
      throw Errors.NotFound.withMessage(`map '${name}' has no key '${key}'`);
    return entryChange(
      ctx,
      { op: "map_del", map: name, key },
      "runtime.map.delete",
      `map ${name}: delete ${key}`,
      (d0) => {
        const mm = d0.maps.find((x) => x.name === name);
        if (mm) mm.entries = mm.entries.filter((e) => e.key !== key);
        return d0;
      },
      { backend: name, action: "map", value: key },
    );
  });

  const findAcl = (doc: StateDocument, name: string, proxy: string | undefined) => {
    if (!proxy) return doc.acls.find((a) => a.name === name);
    const p = [...doc.frontends, ...doc.listens, ...doc.backends].find((x) => x.name === proxy);
    return p?.acls.find((a) => a.name === name);
  };
  const aclChange = async (
    req: {
      params: { name: string };
      query: { proxy?: string; value?: string };
      body?: z.infer<typeof AclEntryBody>;
    },
    ctx: HandlerContext,
    add: boolean,
  ) => {
    const name = req.params.name;
    const proxy = req.query.proxy;
    const value = (add ? req.body?.value : req.query.value) as string;
    const { doc } = await currentDoc();
    const acl = findAcl(doc, name, proxy);
    const label = proxy ? `${proxy}/${name}` : name;
    if (!acl) throw Errors.NotFound.withMessage(`ACL '${label}' is not in the state document`);
    if (!add && !acl.values.includes(value))
      throw Errors.NotFound.withMessage(`ACL '${label}' has no pattern '${value}'`);
    return entryChange(
      ctx,
      { op: add ? "acl_add" : "acl_del", acl: name, ...(proxy ? { proxy } : {}), value },
      add ? "runtime.acl.add" : "runtime.acl.delete",
      `acl ${label}: ${add ? "add" : "delete"} ${value}`,
      (d0) => {
        const a = findAcl(d0, name, proxy);
        if (a)
          a.values = add
            ? a.values.includes(value)
              ? a.values
              : [...a.values, value]
            : a.values.filter((v) => v !== value);
        return d0;
      },
      { backend: label, action: "acl", value },
    );
  };
  d.serve(haproxyAclEntryAddRoute, (req, ctx) => aclChange(req, ctx, true));
  d.serve(haproxyAclEntryDeleteRoute, (req, ctx) => aclChange(req, ctx, false));

  // ---------------------------------------------------------------- stats

  d.serve(haproxyStatsRoute, async (req, ctx) => {
    const nodes = await onlineNodes(req.query.node);
    const got = await Promise.all(
      nodes.map((s) =>
        call<HaproxySample[]>(
          nc,
          HaproxySubjects.node(cluster, s.node, "stats.current"),
          {},
          {
            timeoutMs: NODE_TIMEOUT_MS,
            principal: ctx.principal,
            requestId: ctx.requestId,
          },
        ).then(
          (parts) => ({ node: s.node, parts, error: null as string | null }),
          (err: unknown) => ({
            node: s.node,
            parts: null,
            error: err instanceof Error ? err.message : String(err),
          }),
        ),
      ),
    );
    return mergeStats(cluster, got);
  });
}

function sortNodes<T extends { node: string }>(list: T[]): T[] {
  return [...list].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

const TYPES = ["frontend", "backend", "server"] as const;
const SUMMED = [
  "scur",
  "stot",
  "bin",
  "bout",
  "req_tot",
  "hrsp_2xx",
  "hrsp_4xx",
  "hrsp_5xx",
  "ereq",
  "econ",
  "eresp",
] as const;

/** Merge nodes' samples: counters summed, statuses per node, response time = max. */
export function mergeStats(
  cluster: string,
  got: Array<{ node: string; parts: HaproxySample[] | null; error: string | null }>,
) {
  type Row = {
    type: (typeof TYPES)[number];
    proxy: string;
    name: string;
    status: string;
    weight: number | null;
    rtime: number | null;
    per_node: Record<string, { status: string; weight: number | null; scur: number }>;
  } & Record<(typeof SUMMED)[number], number>;
  const rows = new Map<string, Row>();
  for (const g of [...got].sort((a, b) => (a.node < b.node ? -1 : 1))) {
    for (const part of g.parts ?? []) {
      for (const r of part.rows) {
        const key = `${r.t}|${r.px}|${r.sv}`;
        const col = (c: keyof typeof HAPROXY_COL) => r.c[HAPROXY_COL[c]] ?? null;
        let row = rows.get(key);
        if (!row) {
          row = {
            type: TYPES[r.t],
            proxy: r.px,
            name: r.sv,
            status: r.st,
            weight: col("weight"),
            rtime: null,
            per_node: {},
            ...(Object.fromEntries(SUMMED.map((k) => [k, 0])) as Record<(typeof SUMMED)[number], number>),
          };
          rows.set(key, row);
        }
        for (const k of SUMMED) row[k] += col(k) ?? 0;
        const rt = col("rtime");
        if (rt !== null) row.rtime = Math.max(row.rtime ?? 0, rt);
        row.per_node[g.node] = { status: r.st, weight: col("weight"), scur: col("scur") ?? 0 };
      }
    }
  }
  for (const row of rows.values()) {
    const st = Object.entries(row.per_node);
    if (new Set(st.map(([, v]) => v.status)).size > 1)
      row.status = st.map(([n, v]) => `${n}:${v.status}`).join(", ");
  }
  return {
    cluster,
    ts: Date.now(),
    nodes: got.map((g) => {
      const first = g.parts?.[0];
      return {
        node: g.node,
        ok: g.parts !== null,
        ts: first?.ts ?? null,
        info: first ? (first.info as Record<string, unknown>) : null,
        error: g.error,
      };
    }),
    rows: [...rows.values()],
  };
}

/** Parsed entries of a runtime read-out. */
export function parseShow(what: string, out: string): Array<Record<string, unknown>> {
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  if (what === "acls" || what === "maps") {
    return lines.flatMap((l) => {
      const m = /^(\d+) \(([^)]*)\) (.*)$/.exec(l);
      return m ? [{ id: Number(m[1]), file: m[2] || null, description: m[3] }] : [];
    });
  }
  if (what === "tables") {
    return lines.flatMap((l) => {
      const m = /^# table: ([^,]+), type: ([^,]+), size:(\d+), used:(\d+)/.exec(l);
      return m ? [{ name: m[1], type: m[2], size: Number(m[3]), used: Number(m[4]) }] : [];
    });
  }
  if (what === "sessions") return parseShowSess(out) as unknown as Array<Record<string, unknown>>;
  if (what === "servers") {
    const head = lines.find((l) => l.startsWith("# "));
    if (!head) return [];
    const cols = head.slice(2).split(" ");
    return lines
      .filter((l) => !l.startsWith("#") && l !== "1")
      .map((l) => Object.fromEntries(l.split(" ").map((v, i) => [cols[i] ?? `c${i}`, v])));
  }
  return [];
}
