/**
 * Certificate files of a cluster: BYO certificates, trusted CA bundles, CRLs.
 *
 * - Stored once per cluster in the NATS object store `ep_haproxy_certs`, objects
 *   `<cluster>/<crt|ca|crl>/<name>` (the chain + key as haproxy's `crt` loads it, the CA
 *   bundle, the CRL), validated before they are stored (`pki.ts`).
 * - Every node writes the files its document references into its certificate directory
 *   before it renders (`NodeAgent.onBeforeApply`): `<certDir>/<name>.pem`,
 *   `<certDir>/ca/<id>.pem`, `<certDir>/crl/<id>.pem` — temp file + fsync + rename, keys
 *   0600, directories 0700. The committing agent writes them too before its `haproxy -c`.
 * - An upload/delete asks every online node to sync that one file: a file the running
 *   haproxy already uses is replaced with `set ssl cert|ca-file|crl-file` + `commit …`
 *   (no reload); if haproxy refuses, the node reloads.
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  ByoCertBody,
  base32,
  buildAuditEvent,
  call,
  certReferenceIssues,
  certReferences,
  EpError,
  Errors,
  type HandlerContext,
  HaproxySubjects,
  haproxyByoCertsDeleteRoute,
  haproxyByoCertsListRoute,
  haproxyByoCertsUploadRoute,
  haproxyByoCertsValidateRoute,
  haproxyCertRenewAllRoute,
  haproxyCertRenewRoute,
  haproxyCertStatusRoute,
  haproxyTrustedCaRoutes,
  haproxyTrustedCrlRoutes,
  type Logger,
  NodeCertSyncRequest,
  type NodeStatus,
  publishAudit,
  publishEvent,
  type RouteSpec,
  type StateDocument,
  validationError,
} from "@edgeplane/proto";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import type { AcmeAccount, AcmeCertDef } from "./acme.ts";
import type { NodeAgent } from "./node.ts";
import { daysLeft, pemBlocks, sans, summary, validateByo, validateCa, validateCrl } from "./pki.ts";
import { type ClusterStore, isOnline } from "./store.ts";

export const CERT_BUCKET = "ep_haproxy_certs";
export type CertKind = "crt" | "ca" | "crl";
const KINDS: readonly CertKind[] = ["crt", "ca", "crl"];
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The cluster's certificate objects. */
export class CertStore {
  readonly os: ObjectStore;
  readonly cluster: string;
  constructor(os: ObjectStore, cluster: string) {
    this.os = os;
    this.cluster = cluster;
  }
  static async open(nc: NatsConnection, cluster: string, replicas: number): Promise<CertStore> {
    const os = await new Objm(nc).create(CERT_BUCKET, {
      replicas,
      description: "HAProxy certificate files (BYO certificates, CA bundles, CRLs), <cluster>/<kind>/<name>",
    });
    return new CertStore(os, cluster);
  }
  key(kind: CertKind, name: string): string {
    return `${this.cluster}/${kind}/${name}`;
  }
  async get(kind: CertKind, name: string): Promise<string | null> {
    const b = await this.os.getBlob(this.key(kind, name));
    return b ? dec.decode(b) : null;
  }
  async exists(kind: CertKind, name: string): Promise<boolean> {
    const i = await this.os.info(this.key(kind, name));
    return i !== null && !i.deleted;
  }
  async put(kind: CertKind, name: string, pem: string): Promise<void> {
    await this.os.putBlob({ name: this.key(kind, name) }, enc.encode(pem));
  }
  async delete(kind: CertKind, name: string): Promise<boolean> {
    if (!(await this.exists(kind, name))) return false;
    await this.os.delete(this.key(kind, name));
    return true;
  }
  /** Names per kind, with their store time. */
  async list(): Promise<Record<CertKind, Map<string, string>>> {
    const out: Record<CertKind, Map<string, string>> = { crt: new Map(), ca: new Map(), crl: new Map() };
    const prefix = `${this.cluster}/`;
    for (const i of await this.os.list()) {
      if (i.deleted || !i.name.startsWith(prefix)) continue;
      const [kind, name] = i.name.slice(prefix.length).split("/");
      if (kind && name && (KINDS as readonly string[]).includes(kind))
        out[kind as CertKind].set(name, new Date(i.mtime).toISOString());
    }
    return out;
  }
  /** 422 issues for a document's references to files this cluster does not have. */
  async referenceIssues(doc: StateDocument) {
    if (certReferences(doc).length === 0) return [];
    const l = await this.list();
    return certReferenceIssues(doc, {
      crt: new Set(l.crt.keys()),
      ca: new Set(l.ca.keys()),
      crl: new Set(l.crl.keys()),
    });
  }
}

export function certPath(certDir: string, kind: CertKind, name: string): string {
  return kind === "crt" ? join(certDir, `${name}.pem`) : join(certDir, kind, `${name}.pem`);
}

/** Write if different; keys (crt) 0600. Returns whether the file changed. */
async function writeIfChanged(path: string, data: string, mode: number): Promise<boolean> {
  const cur = await readFile(path, "utf8").catch(() => null);
  if (cur === data) return false;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Unique: two syncs of the same file may overlap (the last rename wins, both complete).
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  const fh = await open(tmp, "w", mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  return true;
}

/** One node's files: written before every render, synced on upload/delete. */
export class NodeCerts {
  readonly store: CertStore;
  readonly certDir: string;
  readonly log: Logger;
  constructor(store: CertStore, certDir: string, log: Logger) {
    this.store = store;
    this.certDir = certDir;
    this.log = log;
  }

  /** Write every file the document references (the `onBeforeApply` hook). */
  async materialize(doc: StateDocument): Promise<void> {
    const refs = new Map<string, { kind: CertKind; name: string }>();
    for (const r of certReferences(doc)) refs.set(`${r.kind}/${r.name}`, r);
    await Promise.all(
      [...refs.values()].map(async (r) => {
        const pem = await this.store.get(r.kind, r.name);
        if (pem === null) {
          this.log.warn({ kind: r.kind, name: r.name }, "referenced certificate file is not in the store");
          return;
        }
        await writeIfChanged(certPath(this.certDir, r.kind, r.name), pem, r.kind === "crt" ? 0o600 : 0o644);
      }),
    );
  }

  /**
   * One file changed in the store: write (or remove) it, and hand it to the running haproxy
   * when its configuration uses it.
   */
  async sync(
    agent: NodeAgent,
    kind: CertKind,
    name: string,
  ): Promise<{ applied: "none" | "runtime" | "reload"; message: string }> {
    const path = certPath(this.certDir, kind, name);
    const pem = await this.store.get(kind, name);
    const doc = agent.desired.stored?.state;
    const used = doc ? certReferences(doc).some((r) => r.kind === kind && r.name === name) : false;
    if (pem === null) {
      if (used) return { applied: "none", message: "deleted from the store but still referenced: file kept" };
      await rm(path, { force: true });
      return { applied: "none", message: "removed" };
    }
    const changed = await writeIfChanged(path, pem, kind === "crt" ? 0o600 : 0o644);
    if (!changed) return { applied: "none", message: "unchanged" };
    if (!used || !agent.installed || !(await agent.proc.showProc(300)))
      return { applied: "none", message: "written" };
    const what = kind === "crt" ? "cert" : kind === "ca" ? "ca-file" : "crl-file";
    try {
      await agent.exclusive(async () => {
        const set = await agent.proc.admin(`set ssl ${what} ${path} <<\n${pem.trim()}\n`);
        if (!/Transaction created|Transaction updated|updated/i.test(set)) throw new Error(set.trim());
        const commit = await agent.proc.admin(`commit ssl ${what} ${path}`);
        if (!/Success!/i.test(commit)) {
          await agent.proc.admin(`abort ssl ${what} ${path}`).catch(() => "");
          throw new Error(commit.trim());
        }
      });
      return { applied: "runtime", message: `set ssl ${what} + commit ssl ${what}` };
    } catch (err) {
      this.log.warn({ err, kind, name }, "runtime certificate update refused; reloading");
      await agent.reload();
      return { applied: "reload", message: `reloaded (${(err as Error).message.slice(0, 200)})` };
    }
  }

  /** Live status of the files the running configuration references. */
  async status(agent: NodeAgent, node: string, days: number) {
    const doc = agent.desired.stored?.state;
    const refs = new Map<string, { kind: CertKind; name: string }>();
    for (const r of doc ? certReferences(doc) : []) refs.set(`${r.kind}/${r.name}`, r);
    const loaded = new Set<string>();
    if (agent.installed && (await agent.proc.showProc(300))) {
      for (const cmd of ["show ssl cert", "show ssl ca-file", "show ssl crl-file"]) {
        const out = await agent.proc.admin(cmd).catch(() => "");
        for (const l of out.split("\n")) {
          const p = /^(\/\S+?)(?:\s|:|$)/.exec(l.trim().replace(/^\*/, ""))?.[1];
          if (p) loaded.add(p);
        }
      }
    }
    const now = Date.now();
    const items = await Promise.all(
      [...refs.values()].map(async (r) => {
        const path = certPath(this.certDir, r.kind, r.name);
        const base = { node, kind: r.kind, name: r.name, loaded: loaded.has(path) };
        const pem = await readFile(path, "utf8").catch(() => null);
        if (pem === null)
          return {
            ...base,
            status: "missing" as const,
            not_after: null,
            days_left: null,
            fingerprint_sha256: null,
            error: `no file ${path}`,
          };
        let notAfter: string | null = null;
        let fp: string | null = null;
        let error: string | null = null;
        if (r.kind === "crl") {
          const v = validateCrl(pem, now);
          notAfter = v.parsed?.next_update ?? null;
          fp = v.parsed?.fingerprint_sha256 ?? null;
          error = v.issues[0]?.message ?? null;
        } else if (r.kind === "ca") {
          const v = validateCa(pem, now);
          notAfter = v.certificates.map((c) => c.not_after).sort()[0] ?? null;
          fp = v.certificates[0]?.fingerprint_sha256 ?? null;
          error = v.issues[0]?.message ?? null;
        } else {
          const chain = pemBlocks(pem, "CERTIFICATE").join("");
          const key = pemBlocks(pem, "[A-Z ]*PRIVATE KEY").join("");
          // Expiry is reported as a status, not as unloadable.
          const v = validateByo(chain, key, now);
          const leaf = pemBlocks(pem, "CERTIFICATE")[0];
          const x509 = leaf ? new X509Certificate(leaf) : null;
          notAfter = x509 ? new Date(x509.validTo).toISOString() : null;
          fp = x509?.fingerprint256 ?? null;
          error = v.issues.find((i) => i.type !== "expired" && i.type !== "not_yet_valid")?.message ?? null;
        }
        const left = notAfter ? daysLeft(notAfter, now) : null;
        const status = error
          ? ("unloadable" as const)
          : left !== null && Date.parse(notAfter as string) <= now
            ? ("expired" as const)
            : left !== null && left < days
              ? ("expiring" as const)
              : ("ok" as const);
        return { ...base, status, not_after: notAfter, days_left: left, fingerprint_sha256: fp, error };
      }),
    );
    return items.sort((a, b) => (a.kind + a.name < b.kind + b.name ? -1 : 1));
  }
}

// ---------------------------------------------------------------- API

type Serve = <R extends RouteSpec>(
  route: R,
  // biome-ignore lint/suspicious/noExplicitAny: params are loosened for the aliases (see service.ts)
  handler: (req: any, ctx: HandlerContext) => Promise<unknown>,
) => void;

export interface CertApiDeps {
  nc: NatsConnection;
  js: Parameters<typeof publishAudit>[0];
  // biome-ignore lint/suspicious/noExplicitAny: the service's endpoint helper
  svc: { endpoint: (...a: any[]) => unknown };
  log: Logger;
  cluster: string;
  node: string;
  agent: NodeAgent;
  store: ClusterStore;
  certs: CertStore;
  files: NodeCerts;
  heartbeatMs: number;
  /** Expiry check period (0 = off) and threshold. */
  checkMs: number;
  expiringDays: number;
  /** The cluster's ACME account (null: ACME is not configured on this agent). */
  acme: AcmeAccount | null;
  serve: Serve;
}

const NODE_TIMEOUT_MS = 20_000;
type SyncResult = { node: string; ok: boolean; applied: "none" | "runtime" | "reload"; message: string };

function byoInfo(name: string, pem: string, uploadedAt?: string) {
  const chain = pemBlocks(pem, "CERTIFICATE").join("");
  const key = pemBlocks(pem, "[A-Z ]*PRIVATE KEY").join("");
  const v = validateByo(chain, key, Date.now());
  if (v.parsed) {
    const { pem: _p, ...rest } = v.parsed;
    return { name, ...rest, ...(uploadedAt ? { uploaded_at: uploadedAt } : {}) };
  }
  // Stored while valid, now expired (or otherwise off): still listed, with the problem.
  const leafPem = pemBlocks(pem, "CERTIFICATE");
  const certs = leafPem.map((b) => new X509Certificate(b));
  const leaf = certs[0];
  return {
    name,
    domains: leaf ? sans(leaf) : [],
    not_after: leaf ? new Date(leaf.validTo).toISOString() : new Date(0).toISOString(),
    days_left: leaf ? daysLeft(leaf.validTo) : 0,
    fingerprint_sha256: leaf?.fingerprint256 ?? "",
    key_type: "unknown",
    chain: certs.map(summary),
    warnings: v.issues.map((i) => i.message),
    ...(uploadedAt ? { uploaded_at: uploadedAt } : {}),
  };
}
/** Registers the routes and node endpoints; returns a stop function (the expiry timer). */
export function registerCertApi(d: CertApiDeps): () => void {
  const { cluster, node, nc, js, agent, certs, files, serve } = d;

  // ---- node endpoints
  d.svc.endpoint(
    "node_certs_sync",
    { subject: HaproxySubjects.node(cluster, node, "certs.sync") },
    NodeCertSyncRequest,
    (async (req: z.infer<typeof NodeCertSyncRequest>) => {
      try {
        return { node, ok: true, ...(await files.sync(agent, req.kind, req.name)) };
      } catch (err) {
        return { node, ok: false, applied: "none", message: (err as Error).message };
      }
    }) as never,
  );
  const StatusReq = z.object({ days: z.number().int().min(1).max(3650) });
  d.svc.endpoint(
    "node_certs_status",
    { subject: HaproxySubjects.node(cluster, node, "certs.status") },
    StatusReq,
    (async (req: z.infer<typeof StatusReq>) => ({
      node,
      items: await files.status(agent, node, req.days),
    })) as never,
  );

  // ---- helpers
  const onlineNodes = async (only?: string): Promise<NodeStatus[]> => {
    const all = (await d.store.listNodes(cluster)).filter((s) => isOnline(s, d.heartbeatMs));
    return only ? all.filter((s) => s.node === only) : all;
  };
  const syncAll = async (kind: CertKind, name: string, ctx: HandlerContext): Promise<SyncResult[]> =>
    Promise.all(
      (await onlineNodes()).map((s) =>
        call<SyncResult>(
          nc,
          HaproxySubjects.node(cluster, s.node, "certs.sync"),
          { kind, name },
          { timeoutMs: NODE_TIMEOUT_MS, principal: ctx.principal, requestId: ctx.requestId },
        ).catch((err: unknown) => ({
          node: s.node,
          ok: false,
          applied: "none" as const,
          message: err instanceof EpError ? err.message : String(err),
        })),
      ),
    );
  const audit = (ctx: HandlerContext, action: string, summaryData: Record<string, unknown>) =>
    publishAudit(
      js,
      buildAuditEvent(
        {
          action,
          category: "cert",
          result: "success",
          target_type: "haproxy_cluster",
          target_id: cluster,
          summary: summaryData,
        },
        ctx,
      ),
    );
  const event = (ctx: HandlerContext, type: string, data: Record<string, unknown>) =>
    publishEvent(
      js as never,
      { type, resource: { kind: "cluster", name: cluster }, data } as never,
      ctx,
    ).catch((err) => d.log.warn({ err, type }, "could not publish certificate event"));
  /** 409 while the current document references it. */
  const refusedWhileUsed = async (kind: CertKind, name: string) => {
    const cur = await d.store.current(cluster);
    const ref = cur.stored
      ? certReferences(cur.stored.state).find((r) => r.kind === kind && r.name === name)
      : undefined;
    if (ref)
      throw Errors.Conflict.withMessage(
        `'${name}' is referenced by ${ref.field} in revision ${cur.revision}: remove the reference first`,
        { field: ref.field, revision: cur.revision },
      );
  };

  // ---- BYO certificates
  const byoBody = (b: ByoCertBody) => {
    const fullchain = b.fullchain_pem ?? b.fullchainPem;
    const privkey = b.privkey_pem ?? b.privkeyPem;
    const missing = [
      ...(fullchain ? [] : [{ field: "fullchain_pem", message: "required", type: "invalid_type" }]),
      ...(privkey ? [] : [{ field: "privkey_pem", message: "required", type: "invalid_type" }]),
    ];
    if (missing.length > 0) throw validationError(missing);
    const v = validateByo(fullchain as string, privkey as string);
    if (!v.parsed) throw validationError(v.issues);
    return v.parsed;
  };
  serve(haproxyByoCertsListRoute, async () => {
    const l = await certs.list();
    const items = [];
    for (const [name, at] of [...l.crt].sort()) {
      const pem = await certs.get("crt", name);
      if (pem) items.push(byoInfo(name, pem, at));
    }
    return { items };
  });
  serve(haproxyByoCertsValidateRoute, async (req) => {
    const b = ByoCertBody.parse(req.body);
    const { pem: _p, ...rest } = byoBody(b);
    return { name: b.name, ...rest };
  });
  serve(haproxyByoCertsUploadRoute, async (req, ctx) => {
    const b = ByoCertBody.parse(req.body);
    const parsed = byoBody(b);
    const existed = await certs.exists("crt", b.name);
    await certs.put("crt", b.name, parsed.pem);
    const nodes = await syncAll("crt", b.name, ctx);
    const { pem: _p, ...rest } = parsed;
    await audit(ctx, existed ? "cert.byo.replace" : "cert.byo.upload", {
      name: b.name,
      fingerprint_sha256: parsed.fingerprint_sha256,
      not_after: parsed.not_after,
      domains: parsed.domains,
      nodes: nodes.map((n) => ({ node: n.node, ok: n.ok, applied: n.applied })),
    });
    await event(ctx, existed ? "haproxy.cert.updated" : "haproxy.cert.created", {
      name: b.name,
      domains: parsed.domains.slice(0, 100),
      not_after: parsed.not_after,
      fingerprint_sha256: parsed.fingerprint_sha256,
    });
    return { name: b.name, ...rest, nodes };
  });
  serve(haproxyByoCertsDeleteRoute, async (req, ctx) => {
    const name = req.params.name as string;
    await refusedWhileUsed("crt", name);
    const deleted = await certs.delete("crt", name);
    if (!deleted) throw Errors.NotFound.withMessage(`no certificate '${name}' in ${cluster}`);
    await syncAll("crt", name, ctx);
    await audit(ctx, "cert.byo.delete", { name });
    await event(ctx, "haproxy.cert.deleted", { name });
    return { deleted, name };
  });

  // ---- trusted CAs and CRLs
  const caInfo = (id: string, pem: string, uploadedAt?: string) => {
    const v = validateCa(pem);
    return {
      id,
      fingerprint_sha256: v.certificates[0]?.fingerprint_sha256 ?? "",
      certificates: v.certificates,
      warnings: [...v.warnings, ...v.issues.map((i) => i.message)],
      ...(uploadedAt ? { uploaded_at: uploadedAt } : {}),
    };
  };
  const crlInfo = (id: string, pem: string, uploadedAt?: string) => {
    const v = validateCrl(pem);
    if (!v.parsed) throw validationError(v.issues);
    const { pem: _p, ...rest } = v.parsed;
    return { id, ...rest, ...(uploadedAt ? { uploaded_at: uploadedAt } : {}) };
  };
  for (const kind of ["ca", "crl"] as const) {
    const routes = kind === "ca" ? haproxyTrustedCaRoutes : haproxyTrustedCrlRoutes;
    const what = kind === "ca" ? "CA bundle" : "CRL";
    const check = (pem: string) => {
      if (kind === "ca") {
        const v = validateCa(pem);
        if (v.issues.length > 0) throw validationError(v.issues);
        return v.pem;
      }
      const v = validateCrl(pem);
      if (!v.parsed) throw validationError(v.issues);
      return v.parsed.pem;
    };
    const info = (id: string, pem: string, at?: string) =>
      kind === "ca" ? caInfo(id, pem, at) : crlInfo(id, pem, at);
    serve(routes.list, async () => {
      const l = await certs.list();
      const items = [];
      for (const [id, at] of [...l[kind]].sort()) {
        const pem = await certs.get(kind, id);
        if (pem) items.push(info(id, pem, at));
      }
      return { items };
    });
    serve(routes.validate, async (req) => {
      const b = req.body as { id: string; pem: string };
      return info(b.id, check(b.pem));
    });
    serve(routes.upload, async (req, ctx) => {
      const b = req.body as { id: string; pem: string };
      const pem = check(b.pem);
      const existed = await certs.exists(kind, b.id);
      await certs.put(kind, b.id, pem);
      const nodes = await syncAll(kind, b.id, ctx);
      const i = info(b.id, pem);
      await audit(ctx, `cert.${kind}.${existed ? "replace" : "upload"}`, {
        id: b.id,
        fingerprint_sha256: i.fingerprint_sha256,
        nodes: nodes.map((n) => ({ node: n.node, ok: n.ok, applied: n.applied })),
      });
      return { ...i, nodes };
    });
    serve(routes.delete, async (req, ctx) => {
      const id = req.params.id as string;
      await refusedWhileUsed(kind, id);
      const deleted = await certs.delete(kind, id);
      if (!deleted) throw Errors.NotFound.withMessage(`no ${what} '${id}' in ${cluster}`);
      await syncAll(kind, id, ctx);
      await audit(ctx, `cert.${kind}.delete`, { id });
      return { deleted, name: id };
    });
  }

  // ---- live status
  serve(haproxyCertStatusRoute, async (req) => {
    const days = (req.query?.days as number | undefined) ?? 30;
    const nodes = await onlineNodes(req.query?.node as string | undefined);
    if (nodes.length === 0)
      throw Errors.HaproxyUnavailable.create(undefined, { node: `any node of ${cluster}` });
    const answers = await Promise.all(
      nodes.map((s) =>
        call<{ node: string; items: unknown[] }>(
          nc,
          HaproxySubjects.node(cluster, s.node, "certs.status"),
          { days },
          { timeoutMs: NODE_TIMEOUT_MS },
        ).then(
          (r) => ({ node: s.node, ok: true, error: null, items: r.items }),
          (err: unknown) => ({ node: s.node, ok: false, error: (err as Error).message, items: [] }),
        ),
      ),
    );
    return {
      days,
      items: answers.flatMap((a) => a.items),
      nodes: answers.map(({ node: n, ok, error }) => ({ node: n, ok, error })),
    };
  });

  // ---- ACME: issue / renew (serialised per agent), scheduled with the expiry check
  let acmeChain: Promise<unknown> = Promise.resolve();
  const system = {
    principal: undefined,
    requestId: undefined,
    sourceIp: undefined,
  } as unknown as HandlerContext;
  const sameNames = (a: string[], b: string[]) => [...a].sort().join(",") === [...b].sort().join(",");
  async function renewOne(def: AcmeCertDef, force: boolean, ctx: HandlerContext) {
    const acme = d.acme as AcmeAccount;
    const cur = await certs.get("crt", def.id);
    const before = cur ? byoInfo(def.id, cur) : null;
    const base = { id: def.id, domains: def.domains };
    if (!force && before && sameNames(before.domains, def.domains) && before.days_left >= d.expiringDays)
      return {
        ...base,
        result: "skipped" as const,
        not_after: before.not_after,
        fingerprint_sha256: before.fingerprint_sha256,
        error: null,
        nodes: [],
      };
    const at = new Date().toISOString();
    let parsed: Awaited<ReturnType<AcmeAccount["issue"]>>;
    try {
      parsed = await acme.issue(def.domains);
    } catch (err) {
      const message = (err instanceof Error ? err.message : String(err)).slice(0, 2000);
      await acme.putDef({ ...def, last_attempt_at: at, last_error: message });
      await publishAudit(
        js,
        buildAuditEvent(
          {
            action: "cert.acme.renew",
            category: "cert",
            result: "failure",
            target_type: "haproxy_cluster",
            target_id: cluster,
            summary: { id: def.id, domains: def.domains, error: message },
          },
          ctx,
        ),
      );
      await event(ctx, "haproxy.cert.renewal_failed", {
        name: def.id,
        domains: def.domains,
        ...(before ? { not_after: before.not_after, fingerprint_sha256: before.fingerprint_sha256 } : {}),
        error: { code: "acme_failed", message },
      });
      return {
        ...base,
        result: "failed" as const,
        not_after: before?.not_after ?? null,
        fingerprint_sha256: before?.fingerprint_sha256 ?? null,
        error: message,
        nodes: [],
      };
    }
    await certs.put("crt", def.id, parsed.pem);
    await acme.putDef({ ...def, last_attempt_at: at, last_error: null });
    const nodes = await syncAll("crt", def.id, ctx);
    await audit(ctx, before ? "cert.acme.renew" : "cert.acme.issue", {
      id: def.id,
      domains: def.domains,
      fingerprint_sha256: parsed.fingerprint_sha256,
      not_after: parsed.not_after,
      nodes: nodes.map((n) => ({ node: n.node, ok: n.ok, applied: n.applied })),
    });
    await event(ctx, before ? "haproxy.cert.updated" : "haproxy.cert.created", {
      name: def.id,
      domains: parsed.domains.slice(0, 100),
      not_after: parsed.not_after,
      fingerprint_sha256: parsed.fingerprint_sha256,
    });
    return {
      ...base,
      result: before ? ("renewed" as const) : ("issued" as const),
      not_after: parsed.not_after,
      fingerprint_sha256: parsed.fingerprint_sha256,
      error: null,
      nodes,
    };
  }
  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const r = acmeChain.then(fn);
    acmeChain = r.catch(() => undefined);
    return r;
  };
  const needAcme = () => {
    if (!d.acme)
      throw Errors.ServiceUnavailable.withMessage(
        "ACME is not configured on this cluster's agents (EP_HAPROXY_ACME_DIRECTORY)",
      );
    return d.acme;
  };
  serve(haproxyCertRenewAllRoute, async (req, ctx) => {
    const acme = needAcme();
    const force = req.body?.force === true;
    return serialised(async () => {
      const items = [];
      for (const def of await acme.listDefs()) items.push(await renewOne(def, force, ctx));
      return { items };
    });
  });
  serve(haproxyCertRenewRoute, async (req, ctx) => {
    const acme = needAcme();
    const id = req.params.id as string;
    const body = (req.body ?? {}) as { force?: boolean; domains?: string[] };
    return serialised(async () => {
      let def = await acme.getDef(id);
      if (!def && !body.domains) {
        if (await certs.exists("crt", id))
          throw Errors.Conflict.withMessage(`'${id}' is a BYO certificate: upload a new one to replace it`);
        throw Errors.NotFound.withMessage(
          `no ACME certificate '${id}' in ${cluster}: name its domains to issue it`,
        );
      }
      if (!def && (await certs.exists("crt", id)))
        throw Errors.Conflict.withMessage(`'${id}' is a BYO certificate: choose another id for an ACME one`);
      const domains = body.domains ?? def?.domains ?? [];
      const changed = !def || !sameNames(def.domains, domains);
      def = def
        ? { ...def, domains }
        : { id, domains, created_at: new Date().toISOString(), last_attempt_at: null, last_error: null };
      if (changed) await acme.putDef(def);
      return { items: [await renewOne(def, body.force === true || changed, ctx)] };
    });
  });

  // ---- expiry: `haproxy.cert.expiring`, published by the first online node of the cluster
  /**
   * The event id is derived from cluster/name/fingerprint/day: a check repeated by another
   * agent (or after a restart) within JetStream's duplicate window is stored once.
   */
  async function checkExpiring(): Promise<void> {
    const first = (await onlineNodes()).map((s) => s.node).sort()[0];
    if (first !== node) return;
    // Scheduled ACME renewals (due = expiring within the threshold), on the same node.
    if (d.acme) {
      const acme = d.acme;
      await serialised(async () => {
        for (const def of await acme.listDefs()) await renewOne(def, false, system);
      });
    }
    const day = new Date().toISOString().slice(0, 10);
    for (const [name] of (await certs.list()).crt) {
      const pem = await certs.get("crt", name);
      if (!pem) continue;
      const i = byoInfo(name, pem);
      if (i.days_left >= d.expiringDays) continue;
      const id = `evt_${base32(createHash("sha256").update(`${cluster}/${name}/${i.fingerprint_sha256}/${day}/expiring`).digest()).slice(0, 26)}`;
      await publishEvent(
        js as never,
        {
          id,
          type: "haproxy.cert.expiring",
          resource: { kind: "cluster", name: cluster },
          data: {
            name,
            domains: i.domains.slice(0, 100),
            not_after: i.not_after,
            fingerprint_sha256: i.fingerprint_sha256,
            days_left: i.days_left,
          },
        },
        { system: `haproxy-agent/${node}` },
      ).catch((err) => d.log.warn({ err, name }, "could not publish haproxy.cert.expiring"));
    }
  }
  let timer: NodeJS.Timeout | undefined;
  if (d.checkMs > 0) {
    const tick = () => {
      checkExpiring()
        .catch((err) => d.log.warn({ err }, "certificate expiry check failed"))
        .finally(() => {
          timer = setTimeout(tick, d.checkMs);
          timer.unref();
        });
    };
    timer = setTimeout(tick, Math.min(d.checkMs, 30_000));
    timer.unref();
  }
  return () => clearTimeout(timer);
}
