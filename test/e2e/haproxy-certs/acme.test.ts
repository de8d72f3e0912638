/**
 * haproxy ACME — two agents, two real haproxies and a real ACME server (Debian's pebble,
 * with pebble-challtestsrv as its DNS: every name resolves to 127.0.0.1). HTTP-01 is
 * answered by haproxy itself (stateless `<token>.<thumbprint>` on every HTTP frontend);
 * the issued certificate is served by both nodes; a forced renewal changes the served
 * certificate through `set ssl cert` + `commit ssl cert`, without a reload.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { get, request } from "node:https";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketCommand } from "../../../services/haproxy-agent/src/haproxy.ts";
import { freePort, tmpDir, waitFor } from "../../harness/mod.ts";
import { backend, type Cluster, startCluster } from "../haproxy/cluster.ts";
import { Pki } from "./mint.ts";

let c: Cluster;
let dir: Awaited<ReturnType<typeof tmpDir>>;
let be: Awaited<ReturnType<typeof backend>>;
const procs: ChildProcess[] = [];
let pebbleRoot = "";
let pebbleTls = "";
let tlsPort = 0;
let dnsMgmt = 0;
const P = "/api/v1/haproxy/clusters/default";
const NAME = "shop.example.test";

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
/** A port free at every node's offset. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    const ok = await Promise.all(c.agents.map((a) => portFree(p + a.offset)));
    if (ok.every(Boolean)) return p;
  }
}
function httpsGet(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca, agent: false }, (res) => {
      let b = "";
      res.on("data", (d) => {
        b += d;
      });
      res.on("end", () => resolve(b));
    }).on("error", reject);
  });
}
/** The certificate node i serves for NAME, verified against pebble's root. */
function served(i: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: tlsPort + (c.agents[i]?.offset ?? 0),
        servername: NAME,
        ca: pebbleRoot,
        agent: false,
        headers: { host: NAME },
      },
      (res) => {
        const fp = (
          res.socket as unknown as { getPeerCertificate(): { fingerprint256: string } }
        ).getPeerCertificate().fingerprint256;
        res.resume();
        res.on("end", () => resolve(fp));
      },
    );
    req.on("error", reject);
    req.end();
  });
}
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
function doc(tls: boolean) {
  return {
    defaults: [{ mode: "http", timeouts: { connect: "2s", client: "10s", server: "10s" } }],
    frontends: [
      { name: "http", binds: [{ address: "127.0.0.1", port: c.port }], default_backend: "app" },
      ...(tls
        ? [
            {
              name: "https",
              binds: [{ address: "127.0.0.1", port: tlsPort, tls: { certificates: ["shop"] } }],
              default_backend: "app",
            },
          ]
        : []),
    ],
    backends: [{ name: "app", servers: [{ name: "s1", address: "127.0.0.1", port: be.port }] }],
  };
}
async function apply(d: unknown): Promise<void> {
  const cur = (await (await c.api("GET", `${P}/state`)).json()) as { meta: { revision: number } };
  const r = await c.api("PUT", `${P}/state`, d, { "if-match": `"${cur.meta.revision}"` });
  const b = (await r.json()) as { results: Array<{ node: string; result: string }> };
  expect(r.status, JSON.stringify(b)).toBe(200);
  expect(b.results.map((x) => x.result)).toEqual(["applied", "applied"]);
}
type Renew = {
  items: Array<{
    id: string;
    result: string;
    error: string | null;
    fingerprint_sha256: string;
    nodes: Array<{ applied: string }>;
  }>;
};
async function renew(path: string, body: unknown): Promise<Renew> {
  const r = await c.api("POST", path, body);
  const b = (await r.json()) as Renew;
  expect(r.status, JSON.stringify(b)).toBe(200);
  return b;
}

beforeAll(async () => {
  be = await backend("app");
  dir = await tmpDir("ep-acme-");
  const pki = new Pki(dir.path);
  const root = await pki.ca("root", "Pebble TLS Root");
  const srv = await pki.issue("pebble", "root", { kind: "server", sans: ["IP:127.0.0.1", "DNS:localhost"] });
  pebbleTls = root.cert;
  const [dirPort, mgmtPort, tlsAlpn, dnsPort, chMgmt] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  dnsMgmt = chMgmt;
  c = await startCluster({
    nodes: 2,
    agentEnv: {
      EP_HAPROXY_ACME_DIRECTORY: `https://127.0.0.1:${dirPort}/dir`,
      NODE_EXTRA_CA_CERTS: root.certPath,
      EP_HAPROXY_CERT_CHECK_MS: "0",
    },
  });
  tlsPort = await clusterPort();
  await writeFile(
    join(dir.path, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${dirPort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: srv.certPath,
        privateKey: srv.keyPath,
        // HTTP-01 validations go to node-a's http frontend.
        httpPort: c.port + (c.agents[0]?.offset ?? 0),
        tlsPort: tlsAlpn,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const start = (cmd: string, args: string[], env: Record<string, string> = {}) => {
    const p = spawn(cmd, args, { cwd: dir.path, env: { ...process.env, ...env }, stdio: "ignore" });
    procs.push(p);
  };
  start("pebble-challtestsrv", [
    "-dns01",
    `127.0.0.1:${dnsPort}`,
    "-http01",
    "",
    "-https01",
    "",
    "-tlsalpn01",
    "",
    "-management",
    `127.0.0.1:${chMgmt}`,
    "-defaultIPv4",
    "127.0.0.1",
    "-defaultIPv6",
    "",
  ]);
  start("pebble", ["-config", join(dir.path, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], {
    PEBBLE_VA_NOSLEEP: "1",
    PEBBLE_WFE_NONCEREJECT: "0",
    PEBBLE_AUTHZREUSE: "0",
  });
  pebbleRoot = await waitFor(
    () => httpsGet(`https://127.0.0.1:${mgmtPort}/roots/0`, pebbleTls).catch(() => undefined),
    {
      timeout: 15_000,
    },
  );
  await waitFor(async () => {
    const r = await c.api("GET", `${P}/nodes`);
    const b = (await r.json()) as { items: Array<{ state: string }> };
    return b.items.length === 2 && b.items.every((n) => n.state === "applied") ? true : undefined;
  });
  await apply(doc(false));
}, 120_000);

afterAll(async () => {
  if (process.env.EP_TEST_DEBUG)
    for (const a of c?.agents ?? []) process.stderr.write(`--- ${a.node}\n${a.proc.output()}\n`);
  for (const p of procs) p.kill("SIGTERM");
  await c?.close();
  be?.server.close();
  await dir?.[Symbol.asyncDispose]();
});

describe("haproxy ACME against pebble", () => {
  it("every node answers HTTP-01 itself from the account thumbprint", async () => {
    for (const a of c.agents) {
      const r = await fetch(`http://127.0.0.1:${c.port + a.offset}/.well-known/acme-challenge/tok_en-1`);
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/^tok_en-1\.[A-Za-z0-9_-]{43}$/);
    }
    // Anything else still reaches the backend.
    expect(await (await fetch(`http://127.0.0.1:${c.port}/.well-known/acme-challenge/../x`)).text()).toMatch(
      /^app /,
    );
  });

  it("issues a certificate; both nodes serve it", async () => {
    const b = await renew(`${P}/certificates/shop/renew`, { domains: [NAME] });
    expect(b.items.map((i) => [i.id, i.result, i.error])).toEqual([["shop", "issued", null]]);
    await apply(doc(true));
    const fp = b.items[0]?.fingerprint_sha256;
    for (const i of [0, 1]) expect(await served(i)).toBe(fp);
    const list = (await (await c.api("GET", `${P}/byo-certs`)).json()) as {
      items: Array<{ name: string; domains: string[] }>;
    };
    expect(list.items.map((i) => [i.name, i.domains])).toEqual([["shop", [NAME]]]);
  });

  it("renew all skips what is not due; a forced renewal changes the served certificate without a reload", async () => {
    const skip = await renew("/api/certificates/renew", {});
    expect(skip.items.map((i) => [i.id, i.result])).toEqual([["shop", "skipped"]]);
    const before = await Promise.all([workers(0), workers(1)]);
    const old = await served(0);
    const b = await renew("/api/certificates/shop/renew", { force: true });
    expect(
      b.items.map((i) => [i.result, i.nodes.map((n) => n.applied)]),
      JSON.stringify(b),
    ).toEqual([["renewed", ["runtime", "runtime"]]]);
    const fp = b.items[0]?.fingerprint_sha256;
    expect(fp).not.toBe(old);
    for (const i of [0, 1]) expect(await served(i)).toBe(fp);
    await noNewWorkers(before);
    const all = await renew(`${P}/certificates/renew`, { force: true });
    expect(all.items.map((i) => [i.id, i.result])).toEqual([["shop", "renewed"]]);
    expect(new X509Certificate(pebbleRoot).subject).toMatch(/Pebble Root CA/);
  });

  it("a failed order keeps the certificate and says why", async () => {
    const r = await c.api("POST", `${P}/certificates/nope/renew`, {});
    expect(r.status).toBe(404);
    // This name resolves to 127.0.0.2, where no haproxy listens: the validation fails.
    const dns = await fetch(`http://127.0.0.1:${dnsMgmt}/add-a`, {
      method: "POST",
      body: JSON.stringify({ host: "bad.example.test.", addresses: ["127.0.0.2"] }),
    });
    expect(dns.status).toBe(200);
    const b = await renew(`${P}/certificates/bad/renew`, { domains: ["bad.example.test"] });
    expect(b.items.map((i) => [i.id, i.result])).toEqual([["bad", "failed"]]);
    expect(b.items[0]?.error).toMatch(/bad\.example\.test|connection|refused|invalid/i);
    // Nothing stored for it; the issued certificate is untouched.
    const list = (await (await c.api("GET", `${P}/byo-certs`)).json()) as { items: Array<{ name: string }> };
    expect(list.items.map((i) => i.name)).toEqual(["shop"]);
    type Ev = { type: string; data: { name: string; error?: { code: string } } };
    const evs = await waitFor(async () => {
      const r = await c.api(
        "GET",
        "/api/v1/events?topics=haproxy.cert.*&resource_kind=cluster&resource=default&order=asc&limit=100",
      );
      const items = ((await r.json()) as { items: Array<{ event: Ev }> }).items.map((i) => i.event);
      return items.some((e) => e.type === "haproxy.cert.renewal_failed") ? items : undefined;
    });
    expect(evs.map((e) => `${e.type} ${e.data.name}`)).toEqual(
      expect.arrayContaining([
        "haproxy.cert.created shop",
        "haproxy.cert.updated shop",
        "haproxy.cert.renewal_failed bad",
      ]),
    );
  });
});
