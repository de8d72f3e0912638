/**
 * haproxy certificates — two agents, two real haproxies, certificates minted with openssl:
 * a BYO certificate uploaded through the API is served by both nodes (verified against the
 * root, like `curl --cacert`), a mismatched key and a bad chain are refused naming the
 * problem, a bind referencing a missing certificate is a 422, a re-upload reaches the
 * running haproxies without a reload; mTLS with an uploaded client CA accepts the client
 * certificate it signed and refuses others, and an uploaded CRL revoking it refuses it;
 * live status per node. PatchPanel aliases on the default cluster.
 */
import { X509Certificate } from "node:crypto";
import { stat } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketCommand } from "../../../services/haproxy-agent/src/haproxy.ts";
import { tmpDir, waitFor } from "../../harness/mod.ts";
import { backend, type Cluster, startCluster } from "../haproxy/cluster.ts";
import { type Pair, Pki } from "./mint.ts";

let c: Cluster;
let pkiDir: Awaited<ReturnType<typeof tmpDir>>;
let pki: Pki;
let be: Awaited<ReturnType<typeof backend>>;
const P = "/api/v1/haproxy/clusters/default";
const x: Record<string, Pair> = {};

type Tls = { certificates: string[]; client_ca?: string; client_crl?: string; verify?: string };
function doc(tls?: Tls) {
  return {
    defaults: [{ mode: "http", timeouts: { connect: "2s", client: "10s", server: "10s" } }],
    frontends: [
      {
        name: "web",
        binds: [{ address: "127.0.0.1", port: c.port, ...(tls ? { tls } : {}) }],
        default_backend: "app",
      },
    ],
    backends: [{ name: "app", servers: [{ name: "s1", address: "127.0.0.1", port: be.port }] }],
  };
}
const getState = async () =>
  (await (await c.api("GET", `${P}/state`)).json()) as { meta: { revision: number } };
async function put(d: unknown): Promise<Response> {
  const cur = await getState();
  return c.api("PUT", `${P}/state`, d, { "if-match": `"${cur.meta.revision}"` });
}
async function json<T = Record<string, unknown>>(r: Response, status = 200): Promise<T> {
  const b = (await r.json()) as T;
  expect(r.status, JSON.stringify(b)).toBe(status);
  return b;
}

/** GET / over TLS on node i (SNI localhost), trusting only `ca`; optional client certificate. */
function tlsGet(
  i: number,
  o: { ca: string; client?: Pair },
): Promise<{ status: number; body: string; fp: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: c.port + (c.agents[i]?.offset ?? 0),
        path: "/",
        servername: "localhost",
        ca: o.ca,
        ...(o.client ? { cert: o.client.cert, key: o.client.key } : {}),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const fp = (
          res.socket as unknown as { getPeerCertificate(): { fingerprint256: string } }
        ).getPeerCertificate().fingerprint256;
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, fp }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
/** The worker pids of node i (a reload starts new workers). */
/** No reload since `before`: no worker that was not there (an old one may have finished). */
async function noNewWorkers(before: string[][]): Promise<void> {
  const after = await Promise.all([workers(0), workers(1)]);
  after.forEach((w, i) => {
    expect(w.length).toBeGreaterThan(0);
    expect(w.filter((pid) => !before[i]?.includes(pid))).toEqual([]);
  });
}
const workers = async (i: number) => {
  const out = await socketCommand(join(c.agents[i]?.dir as string, "master.sock"), "show proc");
  return [...out.matchAll(/^(\d+)\s+worker/gm)].map((m) => m[1]);
};
/** PUT that must be applied on both nodes. */
async function apply(d: unknown): Promise<void> {
  const b = await json<{ results: Array<{ node: string; result: string; error: string | null }> }>(
    await put(d),
  );
  expect(b.results.map((r) => [r.node, r.result, r.error])).toEqual([
    ["node-a", "applied", null],
    ["node-b", "applied", null],
  ]);
}

beforeAll(async () => {
  be = await backend("app");
  pkiDir = await tmpDir("ep-pki-");
  pki = new Pki(pkiDir.path);
  const [cl] = await Promise.all([
    // Expiry checked every second (the leaf lives 10 days: expiring within the default 30).
    startCluster({ nodes: 2, agentEnv: { EP_HAPROXY_CERT_CHECK_MS: "1000" } }),
    (async () => {
      x.root = await pki.ca("root", "Test Root");
      x.inter = await pki.issue("inter", "root", { kind: "ca", cn: "Test Intermediate" });
      x.leaf = await pki.issue("leaf", "inter", { kind: "server", sans: ["DNS:localhost", "IP:127.0.0.1"] });
      x.leaf2 = await pki.issue("leaf2", "inter", { kind: "server", sans: ["DNS:localhost"] });
      x.clients = await pki.ca("clients", "Client CA");
      x.alice = await pki.issue("alice", "clients", { kind: "client" });
      x.evil = await pki.ca("evil", "Evil CA");
      x.mallory = await pki.issue("mallory", "evil", { kind: "client" });
    })(),
  ]);
  c = cl;
  await waitFor(async () => {
    const r = await c.api("GET", `${P}/nodes`);
    const b = (await r.json()) as { items: Array<{ state: string }> };
    return b.items.length === 2 && b.items.every((n) => n.state === "applied") ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  if (process.env.EP_TEST_DEBUG)
    for (const a of c?.agents ?? []) process.stderr.write(`--- ${a.node}\n${a.proc.output()}\n`);
  await c?.close();
  be?.server.close();
  await pkiDir?.[Symbol.asyncDispose]();
});

describe("haproxy certificates - BYO", () => {
  it("refuses a mismatched key at validate, naming the mismatch", async () => {
    const r = await c.api("POST", `${P}/byo-certs/validate`, {
      name: "site",
      fullchain_pem: (x.leaf as Pair).cert + (x.inter as Pair).cert,
      privkey_pem: (x.leaf2 as Pair).key,
    });
    const b = await json<{ error: { code: string; details: Array<{ field: string; message: string }> } }>(
      r,
      422,
    );
    expect(b.error.details).toEqual([
      expect.objectContaining({
        field: "privkey_pem",
        message: expect.stringMatching(/private key does not match the leaf/),
      }),
    ]);
    const order = await c.api("POST", `${P}/byo-certs/validate`, {
      name: "site",
      fullchain_pem: (x.inter as Pair).cert + (x.leaf as Pair).cert,
      privkey_pem: (x.leaf as Pair).key,
    });
    const ob = await json<{ error: { details: Array<{ field: string; message: string }> } }>(order, 422);
    expect(ob.error.details.map((d) => d.message).join("\n")).toMatch(/chain order/);
  });

  it("validates a good chain (dry run): SANs, expiry, chain", async () => {
    const b = await json<{ domains: string[]; chain: unknown[]; days_left: number }>(
      await c.api("POST", `${P}/byo-certs/validate`, {
        name: "site",
        fullchain_pem: (x.leaf as Pair).cert + (x.inter as Pair).cert,
        privkey_pem: (x.leaf as Pair).key,
      }),
    );
    expect(b.domains).toEqual(["localhost", "127.0.0.1"]);
    expect(b.chain).toHaveLength(2);
    expect(b.days_left).toBeGreaterThanOrEqual(8);
    expect(await json<{ items: unknown[] }>(await c.api("GET", `${P}/byo-certs`))).toEqual({ items: [] });
  });

  it("a bind referencing a missing certificate is a 422 naming the field", async () => {
    const r = await put(doc({ certificates: ["site"] }));
    const b = await json<{ error: { details: Array<{ field: string; message: string }> } }>(r, 422);
    expect(b.error.details).toEqual([
      expect.objectContaining({
        field: "frontends.0.binds.0.tls.certificates.0",
        message: expect.stringMatching(/'site' does not exist/),
      }),
    ]);
  });

  it("uploads (PatchPanel alias, camelCase) and both nodes serve it over TLS", async () => {
    const up = await json<{ name: string; nodes: Array<{ node: string; ok: boolean }> }>(
      await c.api("POST", "/api/byo-certs/upload", {
        name: "site",
        fullchainPem: (x.leaf as Pair).cert + (x.inter as Pair).cert,
        privkeyPem: (x.leaf as Pair).key,
      }),
    );
    expect(up.nodes.map((n) => [n.node, n.ok])).toEqual([
      ["node-a", true],
      ["node-b", true],
    ]);
    const list = await json<{ items: Array<{ name: string; domains: string[] }> }>(
      await c.api("GET", "/api/byo-certs"),
    );
    expect(list.items.map((i) => [i.name, i.domains])).toEqual([["site", ["localhost", "127.0.0.1"]]]);
    await apply(doc({ certificates: ["site"] }));
    for (const i of [0, 1]) {
      const res = await tlsGet(i, { ca: (x.root as Pair).cert });
      expect(res).toEqual({ status: 200, body: "app /", fp: fingerprint((x.leaf as Pair).cert) });
      const st = await stat(join(c.agents[i]?.dir as string, "certs", "site.pem"));
      expect(st.mode & 0o777).toBe(0o600);
    }
    // Not trusted without the root (curl without --cacert).
    await expect(tlsGet(0, { ca: (x.evil as Pair).cert })).rejects.toThrow();
  });

  it("a re-upload reaches the running haproxies with set/commit ssl cert, no reload", async () => {
    const before = await Promise.all([workers(0), workers(1)]);
    const up = await json<{ nodes: Array<{ node: string; applied: string }> }>(
      await c.api("POST", `${P}/byo-certs/upload`, {
        name: "site",
        fullchain_pem: (x.leaf2 as Pair).cert + (x.inter as Pair).cert,
        privkey_pem: (x.leaf2 as Pair).key,
      }),
    );
    expect(up.nodes.map((n) => n.applied)).toEqual(["runtime", "runtime"]);
    for (const i of [0, 1])
      expect((await tlsGet(i, { ca: (x.root as Pair).cert })).fp).toBe(fingerprint((x.leaf2 as Pair).cert));
    await noNewWorkers(before);
  });

  it("refuses to delete a referenced certificate", async () => {
    const r = await c.api("DELETE", "/api/byo-certs/site");
    const b = await json<{ error: { code: string; message: string } }>(r, 409);
    expect(b.error.message).toMatch(/frontends\.0\.binds\.0\.tls\.certificates\.0/);
  });
});

describe("haproxy certificates - mTLS with trusted CAs and CRLs", () => {
  it("accepts a client certificate the uploaded CA signed and refuses others", async () => {
    const ca = await json<{ id: string; fingerprint_sha256: string; nodes: Array<{ ok: boolean }> }>(
      await c.api("POST", "/api/trusted-cas/upload", { id: "clients", pem: (x.clients as Pair).cert }),
    );
    expect(ca.fingerprint_sha256).toBe(fingerprint((x.clients as Pair).cert));
    expect(ca.nodes.every((n) => n.ok)).toBe(true);
    const list = await json<{ items: Array<{ id: string }> }>(await c.api("GET", `${P}/trusted-cas`));
    expect(list.items.map((i) => i.id)).toEqual(["clients"]);
    await apply(doc({ certificates: ["site"], client_ca: "clients", verify: "required" }));
    for (const i of [0, 1]) {
      const ok = await tlsGet(i, { ca: (x.root as Pair).cert, client: x.alice as Pair });
      expect(ok.status).toBe(200);
      await expect(tlsGet(i, { ca: (x.root as Pair).cert, client: x.mallory as Pair })).rejects.toThrow();
      await expect(tlsGet(i, { ca: (x.root as Pair).cert })).rejects.toThrow();
    }
  });

  it("a CRL revoking the client certificate makes it refused", async () => {
    const bad = await c.api("POST", `${P}/trusted-crls/validate`, {
      id: "clients",
      pem: (x.clients as Pair).cert,
    });
    expect(
      (await json<{ error: { details: Array<{ field: string }> } }>(bad, 422)).error.details[0]?.field,
    ).toBe("pem");
    // An empty CRL first: alice still gets in.
    const empty = await json<{ revoked: number }>(
      await c.api("POST", "/api/trusted-crls/upload", { id: "clients", pem: await pki.crl("clients") }),
    );
    expect(empty.revoked).toBe(0);
    await apply(
      doc({ certificates: ["site"], client_ca: "clients", client_crl: "clients", verify: "required" }),
    );
    for (const i of [0, 1])
      expect((await tlsGet(i, { ca: (x.root as Pair).cert, client: x.alice as Pair })).status).toBe(200);
    // Revoked: the new CRL reaches the running haproxies (set/commit ssl crl-file), no reload.
    const before = await Promise.all([workers(0), workers(1)]);
    await pki.revoke("clients", "alice");
    const crl = await json<{ revoked: number; issuer: string; nodes: Array<{ applied: string }> }>(
      await c.api("POST", "/api/trusted-crls/upload", { id: "clients", pem: await pki.crl("clients") }),
    );
    expect(crl).toMatchObject({ revoked: 1, issuer: "CN=Client CA" });
    expect(crl.nodes.map((n) => n.applied)).toEqual(["runtime", "runtime"]);
    for (const i of [0, 1])
      await expect(tlsGet(i, { ca: (x.root as Pair).cert, client: x.alice as Pair })).rejects.toThrow();
    await noNewWorkers(before);
  });
});

describe("haproxy certificates - live status", () => {
  it("reports every referenced file per node: loaded, expiring within N days", async () => {
    type S = {
      items: Array<{
        node: string;
        kind: string;
        name: string;
        status: string;
        loaded: boolean;
        days_left: number;
      }>;
    };
    // The client CA lives 30 days, the CRL's nextUpdate is in 7 days, the leaf lives 10 days.
    const b = await json<S>(await c.api("GET", "/api/certificates?days=5"));
    expect(b.items.map((i) => [i.node, i.kind, i.name, i.status, i.loaded])).toEqual([
      ["node-a", "ca", "clients", "ok", true],
      ["node-a", "crl", "clients", "ok", true],
      ["node-a", "crt", "site", "ok", true],
      ["node-b", "ca", "clients", "ok", true],
      ["node-b", "crl", "clients", "ok", true],
      ["node-b", "crt", "site", "ok", true],
    ]);
    const soon = await json<S>(await c.api("GET", `${P}/certificates?days=365&node=node-b`));
    expect(soon.items.filter((i) => i.kind === "crt").map((i) => [i.node, i.status])).toEqual([
      ["node-b", "expiring"],
    ]);
  });
});

describe("haproxy certificates - events", () => {
  it("created, updated, deleted and expiring are in the event log", async () => {
    await json(
      await c.api("POST", `${P}/byo-certs/upload`, {
        name: "spare",
        fullchain_pem: (x.leaf as Pair).cert,
        privkey_pem: (x.leaf as Pair).key,
      }),
    );
    expect(await json(await c.api("DELETE", `${P}/byo-certs/spare`))).toEqual({
      deleted: true,
      name: "spare",
    });
    expect((await c.api("DELETE", `${P}/byo-certs/spare`)).status).toBe(404);
    type Ev = { type: string; data: { name: string; days_left?: number; fingerprint_sha256?: string } };
    const evs = await waitFor(async () => {
      const r = await c.api(
        "GET",
        "/api/v1/events?topics=haproxy.cert.*&resource_kind=cluster&resource=default&order=asc&limit=100",
      );
      const items = ((await r.json()) as { items: Array<{ event: Ev }> }).items.map((i) => i.event);
      return items.some((e) => e.type === "haproxy.cert.expiring") ? items : undefined;
    });
    const seen = evs.map((e) => `${e.type} ${e.data.name}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        "haproxy.cert.created site",
        "haproxy.cert.updated site",
        "haproxy.cert.created spare",
        "haproxy.cert.deleted spare",
        "haproxy.cert.expiring site",
      ]),
    );
    // The check runs every second: the first and the re-uploaded leaf may each be reported,
    // each once (per certificate and day), with their own fingerprint.
    const exp = evs.filter((e) => e.type === "haproxy.cert.expiring" && e.data.name === "site");
    const fps = exp.map((e) => e.data.fingerprint_sha256);
    expect(new Set(fps).size).toBe(fps.length);
    for (const e of exp) {
      expect(e.data.days_left).toBe(9);
      expect([fingerprint((x.leaf as Pair).cert), fingerprint((x.leaf2 as Pair).cert)]).toContain(
        e.data.fingerprint_sha256,
      );
    }
  });
});
