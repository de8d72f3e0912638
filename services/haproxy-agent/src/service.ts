/**
 * The haproxy-agent: one per HAProxy node. It answers its cluster's domain requests
 * (queue group per cluster: validate, commit with compare-and-set, snapshots, import,
 * fan-out control) and its node's own requests, and converges the local haproxy to the
 * cluster's latest revision (`node.ts`). It needs only NATS and the local haproxy.
 */

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  buildAuditEvent,
  type ControlResult,
  call,
  crossCheck,
  EpError,
  Errors,
  type FieldIssue,
  type HandlerContext,
  HaproxyStores,
  HaproxySubjects,
  haproxyCfgRoute,
  haproxyControlStrategyRoute,
  haproxyImportRoute,
  haproxyNodeCfgRoute,
  haproxyNodesRoute,
  haproxyReloadRoute,
  haproxySnapshotDiffRoute,
  haproxySnapshotGetRoute,
  haproxySnapshotRestoreRoute,
  haproxySnapshotsRoute,
  haproxySslCapabilitiesRoute,
  haproxyStartRoute,
  haproxyStateGetRoute,
  haproxyStatePutRoute,
  haproxyStateValidateRoute,
  haproxyStopRoute,
  kvToken,
  type NodeResult,
  type NodeStatus,
  Perm,
  publishAudit,
  publishEvent,
  type RouteSpec,
  type RunServiceOptions,
  ServiceName,
  StateDocument,
  validationError,
  withMeta,
} from "@edgeplane/proto";
import { z } from "zod";
import { AcmeAccount } from "./acme.ts";
import { CertStore, NodeCerts, registerCertApi } from "./certs.ts";
import { type ValidationHooks, validateDocument } from "./check.ts";
import { publishAbandon, publishCandidate, RemotePrepare } from "./cluster-prepare.ts";
import { HaproxyAgentEnv, nodeNameFrom } from "./config.ts";
import { structuralDiff, unifiedDiff } from "./diff.ts";
import { findExecutable, haproxyVersion, run } from "./haproxy.ts";
import { importConfig } from "./import.ts";
import { NodeAgent } from "./node.ts";
import { Phases } from "./phases.ts";
import { type Rendered, render } from "./render.ts";
import type { CommitOptions } from "./runtime-api.ts";
import { startIssue7 } from "./runtime-setup.ts";
import { ClusterStore, isOnline, type StoredState, staleError } from "./store.ts";
import { stateSchemaFingerprint } from "./stored-codec.ts";

export const VERSION = "0.1.0";

type NodeResultT = z.infer<typeof NodeResult>;

/** Canonical JSON (sorted keys) for equality checks. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}
const body = (doc: StateDocument) => canonical({ ...doc, meta: undefined });
const advancedOf = (doc: StateDocument | undefined) => {
  const a = doc?.advanced;
  if (!a) return "null";
  const empty =
    a.global.length === 0 &&
    a.sections.length === 0 &&
    [a.defaults, a.frontends, a.backends, a.listens].every((r) => Object.keys(r).length === 0);
  return empty ? "null" : canonical(a);
};

/** `If-Match: "12"`, `W/"12"` or `12` → 12. */
export function parseIfMatch(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(v);
  if (!m)
    throw validationError([
      { field: "if-match", message: 'expected a revision number, e.g. "12"', type: "invalid_format" },
    ]);
  return Number(m[1]);
}

export const service: RunServiceOptions<typeof HaproxyAgentEnv> = {
  name: ServiceName.HaproxyAgent,
  version: VERSION,
  description: "HAProxy node agent",
  env: HaproxyAgentEnv,
  async setup(rt) {
    const { config, svc, js, nc, log } = rt;
    const cluster = config.EP_HAPROXY_CLUSTER;
    const node = config.EP_HAPROXY_NODE ?? nodeNameFrom(config.EP_NODE_NAME || hostname());
    const dir = config.EP_HAPROXY_DIR ?? resolve(config.EP_DATA_DIR, "haproxy", cluster);
    const certDir = config.EP_HAPROXY_CERT_DIR ?? join(dir, "certs");
    const masterSocket = config.EP_HAPROXY_MASTER_SOCKET ?? join(dir, "master.sock");
    const bin = findExecutable(config.EP_HAPROXY_BIN);
    const version = bin ? await haproxyVersion(bin) : null;
    const detected = await detectStrategies(bin, masterSocket, config.EP_HAPROXY_PID_FILE);
    const strategy =
      config.EP_HAPROXY_CONTROL === "auto" ? (bin ? "child" : "none") : config.EP_HAPROXY_CONTROL;
    const store = await ClusterStore.open(nc, js, {
      replicas: config.EP_STREAM_REPLICAS,
      keep: config.EP_HAPROXY_SNAPSHOT_KEEP,
      maxAgeDays: config.EP_HAPROXY_SNAPSHOT_MAX_AGE_DAYS,
    });
    const instance = config.EP_SERVICE_INSTANCE ?? `${hostname()}-${process.pid}`;
    // Issue 7: the log listener must exist before the first render (its port is in the cfg).
    const issue7 = await startIssue7.beforeAgent({ config, nc, cluster, node, dir, log });
    rt.onStop(() => issue7.close());
    const agent = new NodeAgent({
      cluster,
      node,
      instance,
      dir,
      bin: version ? bin : null,
      version,
      strategy,
      masterSocket,
      ...(config.EP_HAPROXY_PID_FILE ? { pidFile: config.EP_HAPROXY_PID_FILE } : {}),
      ...(config.EP_HAPROXY_CONFIG_FILE ? { cfgFile: config.EP_HAPROXY_CONFIG_FILE } : {}),
      certDir,
      portOffset: config.EP_HAPROXY_PORT_OFFSET,
      noreuseport: config.EP_HAPROXY_NOREUSEPORT,
      reloadTimeoutMs: config.EP_HAPROXY_RELOAD_TIMEOUT_MS,
      heartbeatMs: config.EP_HAPROXY_HEARTBEAT_MS,
      onExit: config.EP_HAPROXY_ON_EXIT,
      ...issue7.agentOptions,
      store,
      js,
      log,
    });
    // Issue 7 certificates: the files a revision references are written before it renders.
    const certs = await CertStore.open(nc, cluster, config.EP_STREAM_REPLICAS);
    const certFiles = new NodeCerts(certs, certDir, log);
    agent.onBeforeApply = (stored) => certFiles.materialize(stored.state);
    // ACME: one account per cluster; its thumbprint answers HTTP-01 in the rendered frontends.
    const acmeAccount = config.EP_HAPROXY_ACME_DIRECTORY
      ? await AcmeAccount.open({
          nc,
          cluster,
          replicas: config.EP_STREAM_REPLICAS,
          directoryUrl: config.EP_HAPROXY_ACME_DIRECTORY,
          email: config.EP_HAPROXY_ACME_EMAIL ?? null,
          log,
        })
      : null;
    if (acmeAccount) agent.renderOpts.acmeThumbprint = acmeAccount.thumbprint;
    // Other agents' candidates, rendered and prepared here while they are checked.
    const remote = new RemotePrepare(
      nc,
      cluster,
      instance,
      (state) => {
        const r = render(state, agent.renderOpts);
        agent.prepare(r);
        return r;
      },
      (r) => agent.discard(r),
      (err) => log.warn({ err }, "could not prepare another agent's candidate"),
    );
    agent.fastPath = (value) => remote.match(value);
    rt.onStop(() => remote.stop());
    await agent.start();
    rt.onStop(() => agent.close());
    log.info(
      { cluster, node, dir, haproxy: version ?? "not installed", strategy },
      "haproxy node agent ready",
    );

    const queue = `haproxy-${cluster}`;
    /** Cluster-scoped route: this cluster only, any agent of it (params are optional so the PatchPanel aliases match). */
    const serve = <R extends RouteSpec>(
      route: R,
      // biome-ignore lint/suspicious/noExplicitAny: params are loosened for the aliases; the route's schemas type the rest
      handler: (req: any, ctx: HandlerContext) => Promise<unknown>,
    ) => {
      const params = route.params ? (route.params as z.ZodObject).partial() : undefined;
      svc.route({ ...route, params } as R, handler as never, { fixed: { cluster }, queue });
    };
    const audit = (
      ctx: HandlerContext,
      action: string,
      result: "success" | "failure" | "denied",
      summary: Record<string, unknown>,
    ) =>
      publishAudit(
        js,
        buildAuditEvent(
          {
            action,
            category: "haproxy",
            result,
            target_type: "haproxy_cluster",
            target_id: cluster,
            summary,
          },
          ctx,
        ),
      );
    const renderOpts = () => agent.renderOpts;

    // ---- state

    const withRevMeta = (revision: number, stored: StoredState | null): StateDocument => {
      const doc = stored?.state ?? StateDocument.parse({});
      return {
        ...doc,
        meta: {
          revision,
          ...(stored ? { committed_at: stored.committed_at, committed_by: stored.committed_by } : {}),
          ...(stored?.comment ? { comment: stored.comment } : {}),
        },
      };
    };

    serve(haproxyStateGetRoute, async () => {
      const cur = await store.current(cluster);
      const rev = cur.stored ? cur.revision : 0;
      return withMeta(withRevMeta(rev, cur.stored), { headers: { etag: `"${rev}"` } });
    });

    /** The stored form of a document: its JSON without `meta`, and that JSON's hash. */
    function serialiseDocument(doc: StateDocument) {
      const state = { ...doc, meta: undefined };
      delete (state as { meta?: unknown }).meta;
      const docJson = JSON.stringify(state);
      return {
        state: state as StateDocument,
        docJson,
        docHash: createHash("sha256").update(docJson).digest("hex"),
      };
    }

    /**
     * The document's reference checks and `haproxy -c` on its rendering. `crossCheck` (2–7 ms
     * at 1,000–10,000 backends) runs while haproxy -c does: it does not change what is
     * rendered, only whether it may be committed. A document failing it is refused with its
     * issues whatever the check says (also when it cannot be rendered), and the caller's
     * `onChecking` (which publishes the candidate) does not run for it.
     */
    async function checkOrThrow(doc: StateDocument, hooks: ValidationHooks = {}) {
      let refs: FieldIssue[] | undefined;
      const refIssues = () => {
        refs ??= crossCheck(doc);
        return refs;
      };
      const certIssues = await certs.referenceIssues(doc);
      if (certIssues.length > 0) throw validationError([...refIssues(), ...certIssues]);
      // haproxy -c opens the certificate files: this node writes them first.
      await certFiles.materialize(doc);
      let v: Awaited<ReturnType<typeof validateDocument>>;
      try {
        v = await validateDocument(bin ?? "haproxy", doc, renderOpts(), undefined, {
          ...(hooks.onRendered ? { onRendered: hooks.onRendered } : {}),
          onChecking: () => {
            if (refIssues().length === 0) hooks.onChecking?.();
          },
        });
      } catch (err) {
        if (refIssues().length > 0) throw validationError(refIssues());
        throw validationError([
          { field: "body", message: err instanceof Error ? err.message : String(err), type: "render" },
        ]);
      }
      if (refIssues().length > 0) throw validationError(refIssues());
      return v;
    }

    /**
     * validate → compare-and-set → (snapshot ∥ audit ∥ wait for the nodes). The node-result
     * subscription and the current revision are read while `haproxy -c` runs; snapshot and
     * audit are published while the nodes converge, and both are done before the reply.
     */
    async function commit(doc: StateDocument, ctx: HandlerContext, o: CommitOptions) {
      // From the request's arrival: `request` is its decoding and schema parse.
      const ph = new Phases(ctx.receivedAt);
      ph.mark("request");
      // Until this node applied the revision (its convergence holds from there) or the
      // commit ended without one: no stats sample meanwhile.
      const release = agent.hold();
      // Subscribed before the commit so no node result is missed.
      const watcherP = o.wait ? startResultWatch() : Promise.resolve(undefined);
      watcherP.catch(() => undefined);
      // haproxy -c (the long part) starts with the read of the current revision: a stale,
      // unauthorised or precondition-less PUT still gets its 409/403/428, the check's
      // result is just not used. While it runs, this node prepares (`NodeAgent.prepare`:
      // candidate file, state dump), the document is serialised and hashed for the store
      // (~11 ms at 10k backends) and published to the other nodes, which prepare too.
      let serialised: ReturnType<typeof serialiseDocument> | undefined;
      let prepared: Rendered | undefined;
      let announced: Promise<boolean> | undefined;
      let committed = false;
      const checked = checkOrThrow(doc, {
        onRendered: (r) => {
          prepared = r;
          agent.prepare(r);
        },
        onChecking: () => {
          serialised = serialiseDocument(doc);
          // The other nodes prepare too (cluster-prepare.ts), if there are any.
          const others = [...members.values()].some(
            (m) => m.node !== node && isOnline(m, config.EP_HAPROXY_HEARTBEAT_MS),
          );
          if (others)
            announced = publishCandidate(nc, cluster, instance, serialised.docJson).then(
              () => true,
              (err: unknown) => {
                log.warn({ err }, "could not publish the candidate");
                return false;
              },
            );
        },
      });
      checked.catch(() => undefined);
      try {
        const cur = await store.currentRaw(cluster);
        ph.mark("read_current");
        const currentRev = cur.stored ? cur.revision : 0;
        if (o.expected === undefined && cur.stored) {
          throw Errors.PreconditionRequired.withMessage(
            `this cluster has state: send the revision you read (If-Match or meta.revision; current is ${currentRev})`,
            { current_revision: currentRev },
          );
        }
        const expected = o.expected ?? 0;
        if (expected !== currentRev) throw staleError(currentRev);
        if (
          advancedOf(doc) !== advancedOf(cur.stored?.state) &&
          !ctx.principal?.permissions.includes(Perm.HaproxyRaw)
        ) {
          await audit(ctx, o.action, "denied", { reason: "advanced requires haproxy:raw" });
          throw Errors.Forbidden.create({ required: Perm.HaproxyRaw }, { permission: Perm.HaproxyRaw });
        }
        const v = await checked;
        ph.mark("validate");
        ph.ms.validate_check = Math.round(v.checkMs * 10) / 10;
        if (!v.valid) {
          await audit(ctx, o.action, "failure", {
            reason: "haproxy_config_invalid",
            expected_revision: expected,
          });
          throw Errors.HaproxyConfigInvalid.create({ output: v.output, hints: v.hints });
        }
        const { state, docJson, docHash } = serialised ?? serialiseDocument(doc);
        const same = cur.stored?.doc_hash
          ? cur.stored.doc_hash === docHash
          : cur.stored !== null && body(cur.stored.state) === body(doc);
        if (same) {
          return {
            ok: true as const,
            revision: currentRev,
            previous_revision: currentRev,
            unchanged: true,
            hash: v.rendered.hash,
            results: [],
          };
        }
        const stored: StoredState = {
          state,
          committed_at: new Date().toISOString(),
          committed_by: ctx.principal?.username ?? null,
          comment: o.comment,
          restored_from: o.restoredFrom,
          request_id: ctx.requestId ?? null,
          validated_hash: v.rendered.neutralHash,
          doc_hash: docHash,
          schema_fingerprint: stateSchemaFingerprint(),
        };
        // The stored JSON with the document serialised once (it is the bulk of the bytes).
        const { state: _s, ...rest } = stored;
        const json = `{"state":${docJson},${JSON.stringify(rest).slice(1)}`;
        ph.mark("compare");
        const watcher = await watcherP;
        ph.mark("watch_start");
        let revision: number;
        let encoded: Uint8Array;
        try {
          ({ revision, data: encoded } = await store.commit(cluster, stored, expected, json));
          ph.mark("kv_cas");
          committed = true;
          agent.offer(revision, stored, v.rendered);
        } catch (err) {
          if (Errors.StaleRevision.is(err))
            await audit(ctx, o.action, "failure", { reason: "stale_revision", expected_revision: expected });
          throw err;
        }
        const side = Promise.all([
          store
            .putSnapshot(cluster, revision, stored, encoded)
            .catch((err) => log.error({ err, revision }, "snapshot not stored")),
          audit(ctx, o.action, "success", {
            revision,
            previous_revision: currentRev,
            frontends: doc.frontends.length,
            backends: doc.backends.length,
            listens: doc.listens.length,
            restored_from: o.restoredFrom,
            comment: o.comment,
          }).then(() =>
            // The event follows the audit event; a failed publish is logged, not a failed commit.
            publishEvent(
              js,
              {
                type: "haproxy.state.committed",
                resource: { kind: "cluster", name: cluster },
                data: {
                  revision,
                  previous_revision: currentRev > 0 ? currentRev : null,
                  // A listen is both a frontend and a backend.
                  counts: {
                    frontends: doc.frontends.length + doc.listens.length,
                    backends: doc.backends.length + doc.listens.length,
                    servers: [...doc.backends, ...doc.listens].reduce((n, b) => n + b.servers.length, 0),
                  },
                },
              },
              ctx,
            ).catch((err) => log.warn({ err, revision }, "could not publish haproxy.state.committed")),
          ),
        ]).then(
          () => null,
          (err: unknown) => ({ err }),
        );
        const results = watcher ? await watcher.wait(revision, o.timeoutMs) : [];
        ph.mark("wait_nodes");
        const sideErr = await side;
        ph.mark("snapshot_audit");
        if (sideErr) throw sideErr.err;
        log.info({ revision, ms: ph.total(), phases: ph.ms }, "committed");
        return {
          ok: true as const,
          revision,
          previous_revision: currentRev,
          unchanged: false,
          hash: v.rendered.hash,
          results,
        };
      } finally {
        release();
        await watcherP.then(
          (w) => w?.stop(),
          () => undefined,
        );
        // Not committed (rejected, unchanged, stale, refused, failed): this node's candidate
        // goes — once the check that prepares it is over, it may still be running.
        if (!committed) {
          void checked.then(
            () => prepared && agent.discard(prepared),
            () => prepared && agent.discard(prepared),
          );
          // …and so do the other nodes' (after the candidate itself, on the same subject).
          void checked
            .catch(() => undefined)
            .then(() => announced)
            .then((sent) => {
              if (sent) publishAbandon(nc, cluster, instance);
            });
        }
      }
    }

    /**
     * Node results pushed to the waiting PUT: a plain subscription to the node-status KV
     * subjects of this cluster (every status put is a message there), set up with one SUB.
     */
    /** Node status of this cluster's members, kept current by their status puts. */
    const members = new Map<string, NodeStatus>();
    const nodeSubjects = `$KV.${HaproxyStores.nodesBucket}.${kvToken(cluster)}.*`;
    const memberSub = nc.subscribe(nodeSubjects, {
      callback: (err, m) => {
        if (err) return;
        if (m.data.length === 0) {
          // A deleted/purged member.
          for (const [n] of members)
            if (m.subject.endsWith(`.${store.nodeKey(cluster, n)}`)) members.delete(n);
          return;
        }
        try {
          const s = JSON.parse(new TextDecoder().decode(m.data)) as NodeStatus;
          members.set(s.node, s);
        } catch {}
      },
    });
    rt.onStop(() => memberSub.unsubscribe());
    const membersListed = store.listNodes(cluster).then(
      (list) => {
        for (const s of list) if (!members.has(s.node)) members.set(s.node, s);
      },
      (err) => log.warn({ err }, "could not list the cluster's nodes"),
    );

    async function startResultWatch() {
      const seen = new Map<string, NodeStatus>();
      let notify: (() => void) | undefined;
      // Every node's status puts arrive on the KV subjects; this process's own node is also
      // heard directly, before its put makes the round trip. Whichever copy comes later is
      // not older (updated_at) than what is already seen.
      const see = (s: NodeStatus) => {
        const had = seen.get(s.node);
        if (had && had.updated_at > s.updated_at) return;
        seen.set(s.node, s);
        notify?.();
      };
      agent.statusListeners.add(see);
      const sub = nc.subscribe(nodeSubjects, {
        callback: (err, m) => {
          if (err) return;
          try {
            see(JSON.parse(new TextDecoder().decode(m.data)) as NodeStatus);
          } catch {}
        },
      });
      await nc.flush().catch((err: unknown) => {
        sub.unsubscribe();
        agent.statusListeners.delete(see);
        throw err;
      });
      // The members this agent knows (no KV listing on the PUT path): complete once every
      // node has sent one heartbeat since this agent started; the listing at start fills in
      // before that (awaited briefly).
      await Promise.race([membersListed, sleep(2000)]);
      const initial = [...members.values()].sort((a, b) => (a.node < b.node ? -1 : 1));
      for (const s of initial) if (!seen.has(s.node)) seen.set(s.node, s);
      const expectedNodes = initial
        .filter((s) => isOnline(s, config.EP_HAPROXY_HEARTBEAT_MS))
        .map((s) => s.node);
      const offline = initial.filter((s) => !expectedNodes.includes(s.node)).map((s) => s.node);
      return {
        stop: () => {
          sub.unsubscribe();
          agent.statusListeners.delete(see);
        },
        async wait(revision: number, timeoutMs: number): Promise<NodeResultT[]> {
          const outcome = (n: string): NodeResultT | undefined => {
            const s = seen.get(n);
            if (!s) return undefined;
            if (s.revision >= revision && s.state !== "failed")
              return { node: n, result: "applied", revision: s.revision, error: null };
            if (s.failed_revision !== null && s.failed_revision >= revision)
              return { node: n, result: "failed", revision: s.revision, error: s.last_error };
            if (s.state === "not_installed")
              return { node: n, result: "failed", revision: s.revision, error: s.last_error };
            if (!s.online) return { node: n, result: "offline", revision: s.revision, error: null };
            return undefined;
          };
          const deadline = Date.now() + timeoutMs;
          try {
            for (;;) {
              if (expectedNodes.every((n) => outcome(n))) break;
              const left = deadline - Date.now();
              if (left <= 0) break;
              await new Promise<void>((r) => {
                const t = setTimeout(r, left);
                notify = () => {
                  clearTimeout(t);
                  r();
                };
              });
            }
          } finally {
            sub.unsubscribe();
            agent.statusListeners.delete(see);
          }
          const res = expectedNodes.map(
            (n) =>
              outcome(n) ?? {
                node: n,
                result: "timeout" as const,
                revision: seen.get(n)?.revision ?? null,
                error: null,
              },
          );
          for (const n of offline)
            res.push({ node: n, result: "offline", revision: seen.get(n)?.revision ?? null, error: null });
          return res.sort((a, b) => (a.node < b.node ? -1 : 1));
        },
      };
    }

    const waitMs = (q: { timeout_ms?: number | undefined }) =>
      q.timeout_ms ?? config.EP_HAPROXY_APPLY_WAIT_MS;
    const reply = (r: Awaited<ReturnType<typeof commit>>, wait: boolean) =>
      withMeta(r, { status: wait || r.unchanged ? 200 : 202, headers: { etag: `"${r.revision}"` } });

    serve(haproxyStatePutRoute, async (req, ctx) => {
      const doc = req.body as StateDocument;
      const expected = parseIfMatch(req.headers["if-match"]) ?? doc.meta?.revision;
      const wait = req.query.wait !== "false";
      const r = await commit(doc, ctx, {
        expected,
        wait,
        timeoutMs: waitMs(req.query),
        comment: doc.meta?.comment ?? null,
        restoredFrom: null,
        action: "state.put",
      });
      return reply(r, wait);
    });

    serve(haproxyStateValidateRoute, async (req) => {
      const doc = req.body as StateDocument;
      const v = await checkOrThrow(doc);
      const shown = render(doc, renderOpts());
      return { valid: v.valid, cfg: shown.cfg, hash: shown.hash, output: v.output, hints: v.hints, node };
    });

    // ---- nodes

    serve(haproxyNodesRoute, async () => {
      const items = await store.listNodes(cluster);
      return { items: items.map((s) => ({ ...s, online: isOnline(s, config.EP_HAPROXY_HEARTBEAT_MS) })) };
    });

    // ---- snapshots

    const summary = (s: StoredState & { revision: number }) => ({
      revision: s.revision,
      committed_at: s.committed_at,
      committed_by: s.committed_by,
      comment: s.comment,
      restored_from: s.restored_from,
      frontends: s.state.frontends?.length ?? 0,
      backends: s.state.backends?.length ?? 0,
      servers: [...(s.state.backends ?? []), ...(s.state.listens ?? [])].reduce(
        (n, b) => n + (b.servers?.length ?? 0),
        0,
      ),
    });
    async function snapshotOf(revision: number) {
      const s = await store.getSnapshot(cluster, revision);
      if (!s) throw Errors.HaproxyRevisionNotFound.create({ revision }, { revision });
      return s;
    }
    /** A cluster committed before its snapshot could be stored (agent died in between) gets it now. */
    async function repairSnapshot() {
      const cur = await store.current(cluster);
      if (cur.stored && (await store.latestSnapshotRevision(cluster)) < cur.revision)
        await store.putSnapshot(cluster, cur.revision, cur.stored);
    }

    serve(haproxySnapshotsRoute, async () => {
      await repairSnapshot().catch(() => undefined);
      const all = await store.listSnapshots(cluster);
      return { items: all.reverse().map(summary) };
    });
    serve(haproxySnapshotGetRoute, async (req) => {
      const s = await snapshotOf(req.params.revision);
      return { ...summary(s), state: s.state };
    });
    serve(haproxySnapshotDiffRoute, async (req) => {
      const a = req.params.a === 0 ? null : await snapshotOf(req.params.a);
      const b = await snapshotOf(req.params.b);
      const da = a?.state ?? StateDocument.parse({});
      const opts = renderOpts();
      return {
        from: req.params.a,
        to: req.params.b,
        changes: structuralDiff(da, b.state),
        unified: unifiedDiff(
          `haproxy.cfg@${req.params.a}`,
          render(da, opts).cfg,
          `haproxy.cfg@${req.params.b}`,
          render(b.state, opts).cfg,
        ),
      };
    });
    serve(haproxySnapshotRestoreRoute, async (req, ctx) => {
      const s = await snapshotOf(req.params.revision);
      const expected = req.body?.revision ?? (await store.current(cluster)).revision;
      const r = await commit(s.state, ctx, {
        expected,
        wait: true,
        timeoutMs: config.EP_HAPROXY_APPLY_WAIT_MS,
        comment: req.body?.comment ?? `restore of revision ${req.params.revision}`,
        restoredFrom: req.params.revision,
        action: "state.restore",
      });
      return reply(r, true);
    });

    // ---- cfg

    const cfgOf = async (source: "disk" | "state") => {
      if (source === "state") {
        const cur = await store.current(cluster);
        return render(cur.stored?.state ?? StateDocument.parse({}), renderOpts()).cfg;
      }
      try {
        return await readFile(agent.cfgPath, "utf8");
      } catch {
        throw Errors.NotFound.withMessage(`node ${node} has no haproxy.cfg yet`);
      }
    };
    serve(haproxyCfgRoute, async (req) =>
      withMeta(await cfgOf(req.query.source), { headers: { "x-ep-node": node } }),
    );
    svc.route(
      { ...haproxyNodeCfgRoute },
      async (req) => withMeta(await cfgOf(req.query.source), { headers: { "x-ep-node": node } }),
      { fixed: { cluster, node } },
    );

    // ---- control: node endpoints, and cluster routes fanning out to every online node

    type Verb = "reload" | "start" | "stop";
    const procResult = async (ok: boolean, message: string) => {
      const p = await agent.proc.showProc(200);
      return { node, ok, message, master_pid: p?.masterPid ?? null, worker_pids: p?.workers ?? [] };
    };
    /** `haproxy.reload` of a manual reload on this node (a failed publish is only logged). */
    const reloadEvent = (ctx: HandlerContext | undefined, ms: number, pid?: number, err?: unknown) =>
      publishEvent(
        js,
        {
          type: "haproxy.reload",
          resource: { kind: "cluster", name: cluster },
          data: {
            node,
            result: err === undefined ? "success" : "failure",
            reason: "manual",
            duration_ms: Math.round(ms * 10) / 10,
            ...(pid ? { worker_pid: pid } : {}),
            ...(err !== undefined
              ? {
                  error: {
                    code: "haproxy_reload_failed",
                    message: (err instanceof Error ? err.message : String(err)).slice(0, 4000),
                  },
                }
              : {}),
          },
        },
        ctx ?? { system: `haproxy-agent/${node}` },
      ).catch((e) => log.warn({ err: e }, "could not publish haproxy.reload"));
    const doLocal = async (verb: Verb, ctx?: HandlerContext) => {
      const t0 = performance.now();
      try {
        if (verb === "reload") {
          const p = await agent.reload().catch(async (err: unknown) => {
            await reloadEvent(ctx, performance.now() - t0, undefined, err);
            throw err;
          });
          await reloadEvent(ctx, performance.now() - t0, p.workers[0]);
          return procResult(true, `reloaded (reload #${p.reloads}, workers ${p.workers.join(",")})`);
        }
        if (verb === "start") {
          const p = await agent.startHaproxy();
          return procResult(true, `running (master ${p.masterPid})`);
        }
        await agent.stopHaproxy();
        return procResult(true, "stopped");
      } catch (err) {
        return procResult(false, err instanceof Error ? err.message : String(err));
      }
    };
    for (const verb of ["reload", "start", "stop"] as const) {
      svc.endpoint(
        `node_control_${verb}`,
        { subject: HaproxySubjects.node(cluster, node, `control.${verb}`) },
        z.object({}).passthrough(),
        (_req, ctx) => doLocal(verb, ctx),
      );
    }
    const fanOut = async (verb: Verb, ctx: HandlerContext) => {
      const nodes = (await store.listNodes(cluster)).filter((s) =>
        isOnline(s, config.EP_HAPROXY_HEARTBEAT_MS),
      );
      const results = await Promise.all(
        nodes.map((s) =>
          call<z.infer<typeof ControlResult>>(
            nc,
            HaproxySubjects.node(cluster, s.node, `control.${verb}`),
            {},
            {
              timeoutMs: config.EP_HAPROXY_RELOAD_TIMEOUT_MS + 5000,
              principal: ctx.principal,
              requestId: ctx.requestId,
            },
          ).catch((err: unknown) => ({
            node: s.node,
            ok: false,
            message: err instanceof EpError ? err.message : String(err),
            master_pid: null,
            worker_pids: [],
          })),
        ),
      );
      const ok = results.length > 0 && results.every((r) => r.ok);
      await audit(ctx, `haproxy.${verb}`, ok ? "success" : "failure", {
        nodes: results.map((r) => ({ node: r.node, ok: r.ok })),
      });
      if (results.length === 0)
        throw Errors.HaproxyUnavailable.create(undefined, { node: `any node of ${cluster}` });
      return { ok, results };
    };
    serve(haproxyReloadRoute, (_req, ctx) => fanOut("reload", ctx));
    serve(haproxyStartRoute, (_req, ctx) => fanOut("start", ctx));
    serve(haproxyStopRoute, (_req, ctx) => fanOut("stop", ctx));

    serve(haproxyControlStrategyRoute, async () => ({
      node,
      strategy,
      configured: config.EP_HAPROXY_CONTROL,
      detected: await detectStrategies(bin, masterSocket, agent.proc.paths.pidFile),
      haproxy_bin: bin ?? config.EP_HAPROXY_BIN,
      installed: version !== null,
      version,
      running: (await agent.proc.showProc(200)) !== null,
      master_socket: masterSocket,
      config_file: agent.cfgPath,
    }));
    void detected;

    let sslCaps: Promise<unknown> | undefined;
    serve(haproxySslCapabilitiesRoute, async () => {
      sslCaps ??= sslCapabilities(bin, version, node);
      return sslCaps;
    });

    // ---- import

    serve(haproxyImportRoute, async (req, ctx) => {
      const imported = importConfig(req.body as string);
      if (imported.issues.length > 0) throw validationError(imported.issues);
      let committed = null;
      if (req.query.commit === "true") {
        if (!ctx.principal?.permissions.includes(Perm.HaproxyStateWrite))
          throw Errors.Forbidden.create(
            { required: Perm.HaproxyStateWrite },
            { permission: Perm.HaproxyStateWrite },
          );
        committed = await commit(imported.state, ctx, {
          expected: parseIfMatch(req.headers["if-match"]) ?? (await store.current(cluster)).revision,
          wait: true,
          timeoutMs: config.EP_HAPROXY_APPLY_WAIT_MS,
          comment: "import",
          restoredFrom: null,
          action: "state.import",
        });
      }
      return { state: imported.state, raw_lines: imported.rawLines, dropped: imported.dropped, committed };
    });

    // Issue 7: runtime control, intents, certificates, stats feed (runtime-setup.ts).
    await issue7.afterAgent({ rt, agent, store, serve, commit });
    const stopCerts = registerCertApi({
      nc,
      js,
      svc: svc as never,
      log,
      cluster,
      node,
      agent,
      store,
      certs,
      files: certFiles,
      heartbeatMs: config.EP_HAPROXY_HEARTBEAT_MS,
      checkMs: config.EP_HAPROXY_CERT_CHECK_MS,
      expiringDays: config.EP_HAPROXY_CERT_EXPIRING_DAYS,
      acme: acmeAccount,
      serve,
    });
    rt.onStop(stopCerts);
  },
};

/** Strategies available here; `pid` = a live master named by the pidfile or answering on the socket. */
async function detectStrategies(bin: string | null, masterSocket: string, pidFile?: string) {
  const out: Array<"child" | "systemd" | "s6" | "pid" | "none"> = [];
  if (bin) out.push("child");
  if (existsSync("/run/systemd/system") && findExecutable("systemctl")) out.push("systemd");
  if (findExecutable("s6-svc")) out.push("s6");
  const pid = pidFile ? Number.parseInt(await readFile(pidFile, "utf8").catch(() => ""), 10) : 0;
  let alive = false;
  if (pid > 0) {
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {}
  }
  if (alive || existsSync(masterSocket)) out.push("pid");
  out.push("none");
  return out;
}

async function sslCapabilities(bin: string | null, version: string | null, node: string) {
  const vv = bin ? (await run(bin, ["-vv"])).out : "";
  const protocols = /OpenSSL library supports : (.*)/.exec(vv)?.[1]?.trim().split(/\s+/) ?? [];
  const openssl = /Running on OpenSSL version : (.*)/.exec(vv)?.[1]?.trim() ?? null;
  const ossl = findExecutable("openssl");
  const list = async (args: string[], split: RegExp) =>
    ossl
      ? (await run(ossl, args)).out
          .trim()
          .split(split)
          .map((s) => s.trim())
          .filter((s) => s.length > 0 && !/error|invalid/i.test(s))
      : [];
  const all = await list(["ciphers", "-s", "-tls1_2", "ALL:COMPLEMENTOFALL"], /:/);
  const suites = await list(["ciphers", "-s", "-tls1_3"], /:/);
  const curves = (await list(["ecparam", "-list_curves"], /\n/))
    .map((l) => l.split(":")[0]?.trim() ?? "")
    .filter(Boolean);
  const sigalgs = (await list(["list", "-signature-algorithms"], /\n/)).map((l) =>
    l.replace(/@.*$/, "").trim(),
  );
  return {
    node,
    haproxy_version: version,
    openssl,
    protocols,
    ciphers: all.filter((c) => !c.startsWith("TLS_")),
    ciphersuites: suites.filter((c) => c.startsWith("TLS_")),
    curves: [
      "X25519",
      "X448",
      ...curves.filter((c) => /^(prime256v1|secp384r1|secp521r1)$/.test(c)),
      "P-256",
      "P-384",
      "P-521",
    ].filter((c, i, a) => a.indexOf(c) === i),
    sigalgs: [...new Set(sigalgs)],
  };
}
