/**
 * faults - many nodes on one machine: a 3-node NATS cluster (routes, JetStream R3), two
 * instances of every service, two gateways behind a real haproxy, under a steady bounded
 * load of mixed API requests (reads of every service that answers one, plus API-key
 * creation as the write). Three scenarios, each reported (requests, failures, p99):
 *
 *  1. rolling restart of every service, one instance at a time (SIGTERM → drain → start):
 *     no request fails, read or write;
 *  2. SIGKILL one instance of each service in turn: no idempotent request fails (the
 *     gateway retries reads that timed out, the front retries reads whose gateway died),
 *     and every acknowledged write is present afterwards;
 *  3. SIGKILL a NATS node (the AUDIT stream's leader): the mesh keeps serving, KV and the
 *     AUDIT stream stay readable and writable; restarted, the node rejoins and catches up.
 *
 * Run with `make test-faults` (its own vitest config: one file, nothing in parallel).
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { buildAuditEvent, publishAudit, type RouteSpec, routes } from "@edgeplane/proto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authDatabase,
  freePort,
  type NatsCluster,
  type ServiceDir,
  type ServiceProcess,
  spawnService,
  startNatsCluster,
  type TmpDir,
  tmpDir,
  waitFor,
} from "../harness/mod.ts";
import { type Front, startFront } from "./front.ts";
import { Load, type LoadReport, type Read, type Write } from "./load.ts";

/** Services run twice each (the gateway too, behind the front). */
const SERVICES: readonly ServiceDir[] = ["auth", "adapters", "stats", "haproxy-agent", "wg-agent"];
const INSTANCES = ["a", "b"] as const;
/** Reads per second across the workers; writes per second. Bounded: 2 cores run it all. */
const READ_RATE = 80;
const WRITE_RATE = 2;

const cleanup: Array<() => Promise<unknown>> = [];
const procs = new Map<string, ServiceProcess>();
const gatewayPorts: Record<string, number> = {};
const reports: Record<string, LoadReport & { notes?: string }> = {};
let cluster: NatsCluster;
let dir: TmpDir;
let front: Front;
let nc: NatsConnection;
let apiKey = "";
let ownerKeyId = "";
let reads: Read[] = [];
let write: Write | undefined;
let baseEnv: Record<string, string> = {};

function envFor(svc: ServiceDir, inst: string): Record<string, string> {
  const env: Record<string, string> = { ...baseEnv, EP_NODE_NAME: `node-${inst}` };
  if (svc === "gateway") {
    Object.assign(env, {
      EP_HTTP_PORT: String(gatewayPorts[inst]),
      EP_HTTP_HOST: "127.0.0.1",
      // A read held by a killed instance is retried once after this. Reads that wait on a
      // replicated KV bucket whose leader was on a killed NATS node stall for the election
      // (5.5–6.5 s measured here), so two attempts must outlast it: 2 × 5 s. (The default,
      // 10 s, outlasts it in one attempt; the suite uses less to keep kills quick.)
      EP_REQUEST_TIMEOUT_MS: "5000",
      EP_WRITE_TIMEOUT_MS: "12000",
      EP_RATE_LIMIT_RPM: "1000000",
      EP_RATE_BURST_RPS: "100000",
      EP_AUTH_RATE_RPM: "100000",
    });
  }
  if (svc === "auth" && inst === "a") env.EP_SETUP_TOKEN_FILE = `${dir.path}/setup-token`;
  if (svc === "haproxy-agent") {
    Object.assign(env, {
      EP_DATA_DIR: `${dir.path}/haproxy-${inst}`,
      EP_HAPROXY_CLUSTER: "faults",
      EP_HAPROXY_NODE: `node-${inst}`,
      EP_HAPROXY_CONTROL: "child",
      EP_HAPROXY_NOREUSEPORT: "true",
      EP_HAPROXY_PORT_OFFSET: inst === "a" ? "0" : "100",
    });
  }
  if (svc === "wg-agent") {
    Object.assign(env, { EP_DATA_DIR: `${dir.path}/wg-${inst}`, EP_WG_MODE: "render-only" });
  }
  return env;
}

async function start(svc: ServiceDir, inst: string): Promise<ServiceProcess> {
  const p = await spawnService(svc, envFor(svc, inst), { instance: `${svc}-${inst}`, timeoutMs: 30_000 });
  procs.set(`${svc}-${inst}`, p);
  return p;
}

const proc = (svc: ServiceDir, inst: string) => procs.get(`${svc}-${inst}`) as ServiceProcess;

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${front.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${apiKey}`,
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...(init.headers ?? {}),
    },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** GET routes of the table a load can send: no path parameter, JSON, not a stream. */
function candidateReads(table: readonly RouteSpec[]): Read[] {
  const skip = new Set(["health.mesh"]); // discovery fan-out: waits ~400 ms by design
  return table
    .filter((r) => r.method === "GET" && !r.path.includes("{") && !skip.has(r.id))
    .filter((r) => !r.replyType || r.replyType === "json")
    .filter((r) => !/events|logs|stream|docs|openapi|metrics/.test(r.path))
    .map((r) => ({ name: r.id, path: r.path, weight: r.subject ? 2 : 1, auth: r.auth === "principal" }));
}

async function restartGateway(inst: string, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  if (signal === "SIGTERM") {
    // What endpoint removal + preStop do in Kubernetes: no new requests, in-flight finish.
    await front.setState(inst, "maint");
    await waitFor(async () => (await front.server(inst)).sessions === 0, { timeout: 10_000 });
  }
  const code = await proc("gateway", inst).stop(signal);
  if (signal === "SIGTERM") expect(code, `gateway-${inst} exit code`).toBe(0);
  await start("gateway", inst);
  await front.setState(inst, "ready");
  await waitFor(async () => (await front.server(inst)).up, {
    timeout: 10_000,
    message: `gateway-${inst} UP`,
  });
}

async function restartService(svc: ServiceDir, inst: string, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  const code = await proc(svc, inst).stop(signal);
  if (signal === "SIGTERM") expect(code, `${svc}-${inst} exit code`).toBe(0);
  await start(svc, inst);
}

async function scenario(name: string, body: () => Promise<string | undefined>): Promise<LoadReport> {
  const load = new Load({
    base: front.url,
    key: apiKey,
    reads,
    ...(write ? { write } : {}),
    rate: READ_RATE,
  });
  load.start();
  await sleep(1000); // steady state first
  const notes = await body();
  await sleep(1000);
  const report = await load.stop();
  reports[name] = { ...report, ...(notes ? { notes } : {}) };
  process.stdout.write(
    `faults: ${name}: ${report.requests} requests (${report.reads} reads, ${report.writes} writes) in ${report.seconds}s, ` +
      `failed reads ${report.failedReads}, failed writes ${report.failedWrites}, p50 ${report.p50} ms, p99 ${report.p99} ms, max ${report.max} ms${notes ? `; ${notes}` : ""}\n`,
  );
  return report;
}

/** Every acknowledged write is there; then remove the keys so the next run has room. */
async function checkWritesAndClean(report: LoadReport): Promise<void> {
  if (!write) return;
  const listed = await api("/api/v1/api-keys?per_page=200");
  expect(listed.status).toBe(200);
  const ids = new Set((listed.body as { items: Array<{ id: string }> }).items.map((k) => k.id));
  const lost = report.acknowledged.filter((id) => !ids.has(id));
  expect(lost, "acknowledged writes missing afterwards").toEqual([]);
  for (const id of ids) {
    if (id === ownerKeyId) continue;
    const del = await api(`/api/v1/api-keys/${id}`, { method: "DELETE" });
    expect(del.status, `delete ${id}: ${JSON.stringify(del.body)}`).toBeLessThan(300);
  }
}

beforeAll(async () => {
  dir = await tmpDir("ep-faults-");
  cleanup.push(() => dir[Symbol.asyncDispose]());
  cluster = await startNatsCluster();
  cleanup.push(() => cluster.stop());
  const db = await authDatabase();
  cleanup.push(() => db[Symbol.asyncDispose]());
  baseEnv = {
    EP_NATS_URL: cluster.urls,
    EP_STREAM_REPLICAS: "3",
    DATABASE_URL: db.url,
    EP_SEALING_KEY: randomBytes(32).toString("base64"),
    EP_LOG_LEVEL: "info",
  };
  cleanup.push(async () => {
    for (const p of procs.values()) await p.stop("SIGKILL").catch(() => undefined);
  });
  for (const inst of INSTANCES) gatewayPorts[inst] = await freePort();

  // One at a time: the first instance of each service creates its R3 streams and KV
  // buckets, which takes the cluster a moment. auth-a comes first: it writes the setup
  // token the owner is created with.
  // Setup is completed before auth-b starts (a second instance would open a new one).
  const t0 = performance.now();
  for (const svc of SERVICES) await start(svc, "a");
  const gwA = await start("gateway", "a");
  const token = (await readFile(`${dir.path}/setup-token`, "utf8")).trim();
  const setup = await fetch(`${gwA.url}/api/v1/setup/complete`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, username: "owner", password: "correct horse battery staple" }),
  });
  expect(setup.status, await setup.clone().text()).toBeLessThan(300);
  const created = (await setup.json()) as { api_key: { key: string; id: string } };
  apiKey = created.api_key.key;
  ownerKeyId = created.api_key.id;
  await Promise.all([...SERVICES.map((svc) => start(svc, "b")), start("gateway", "b")]);
  front = await startFront(dir.path, gatewayPorts);
  cleanup.push(() => front.stop());
  process.stdout.write(
    `faults: mesh of ${procs.size} processes up in ${Math.round(performance.now() - t0)} ms\n`,
  );

  // Reads: every GET route that answers 200 right now (so the set grows with the API).
  const probed: Read[] = [];
  for (const r of candidateReads(routes)) {
    const res = await fetch(`${front.url}${r.path}`, {
      headers: r.auth ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(2000),
    }).catch(() => undefined);
    if (res?.status === 200) probed.push(r);
    await res?.text();
  }
  reads = probed;
  process.stdout.write(`faults: reads in the load: ${reads.map((r) => r.path).join(", ")}\n`);

  // The write: API-key creation, when the API has it.
  if (routes.some((r) => r.id === "api_keys.create")) {
    write = {
      name: "api_keys.create",
      rate: WRITE_RATE,
      max: 40, // a user may hold 50 active keys; each run's keys are removed afterwards
      async run(base) {
        const res = await fetch(`${base}/api/v1/api-keys`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({
            name: `load-${randomBytes(4).toString("hex")}`,
            scopes: ["haproxy:read"],
            expires_in_days: 1,
          }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json().catch(() => ({}))) as { id?: string };
        return body.id && res.status === 201 ? { status: res.status, id: body.id } : { status: res.status };
      },
    };
  }

  nc = await connect({ servers: cluster.urls.split(","), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  cleanup.push(() => nc.close());
}, 180_000);

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  if (Object.keys(reports).length > 0) {
    await writeFile(".tmp/faults.json", `${JSON.stringify(reports, null, 2)}\n`).catch(() => undefined);
  }
});

describe("faults - many nodes on one machine", () => {
  it("runs the mesh R3 on a 3-node NATS cluster, with a load touching every service that answers", async () => {
    const jsm = await jetstreamManager(nc);
    for (const name of ["AUDIT", "EVENTS"]) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas, name).toBe(3);
      expect(info.cluster?.replicas?.length, name).toBe(2);
    }
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.map((r) => r.path)).toEqual(
      expect.arrayContaining(["/api/v1/setup/status", "/api/v1/auth/me"]),
    );
  });

  it("rolling restart of every service, one instance at a time (SIGTERM): no failed request", async () => {
    const report = await scenario("rolling restart (SIGTERM)", async () => {
      for (const svc of SERVICES) for (const inst of INSTANCES) await restartService(svc, inst, "SIGTERM");
      for (const inst of INSTANCES) await restartGateway(inst, "SIGTERM");
      return undefined;
    });
    expect(report.failures).toEqual([]);
    expect(report.failedReads + report.failedWrites).toBe(0);
    expect(report.reads).toBeGreaterThan(500);
    await checkWritesAndClean(report);
  });

  it("SIGKILL one instance of each service in turn: no failed idempotent request, no lost write", async () => {
    const report = await scenario("SIGKILL one instance of each", async () => {
      for (const [n, svc] of SERVICES.entries()) {
        const inst = INSTANCES[n % 2] as string;
        await restartService(svc, inst, "SIGKILL");
        await sleep(300);
      }
      await restartGateway("a", "SIGKILL");
      return undefined;
    });
    expect(report.failures.filter((f) => !f.startsWith("api_keys.create"))).toEqual([]);
    expect(report.failedReads).toBe(0);
    await checkWritesAndClean(report);
  });

  it("SIGKILL a NATS node: the mesh keeps serving, KV and AUDIT stay available, the node rejoins", async () => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const kv = await new Kvm(nc).create("ep_faults", { replicas: 3 });
    await kv.put("probe", "before");
    const leader = (await jsm.streams.info("AUDIT")).cluster?.leader;
    const victim =
      cluster.nodes.find((n) => n.name === leader) ?? (cluster.nodes[0] as (typeof cluster.nodes)[0]);
    let auditDuring = 0;
    let kvDuring = "";
    const report = await scenario("NATS node killed", async () => {
      await victim.kill("SIGKILL");
      // Whatever a new leader election takes, both come back on their own, under load.
      const t0 = performance.now();
      await waitFor(
        () =>
          publishAudit(
            js,
            buildAuditEvent(
              { action: "faults.probe", category: "test", result: "success" },
              { principal: undefined, requestId: "faults", sourceIp: undefined },
            ),
          ).then(() => true),
        { timeout: 20_000, interval: 100, message: "AUDIT accepts a publish with a node down" },
      );
      auditDuring = Math.round(performance.now() - t0);
      await waitFor(() => kv.put("probe", "during").then(() => true), { timeout: 20_000, interval: 100 });
      kvDuring = (await kv.get("probe"))?.string() ?? "";
      await sleep(2000); // keep serving on two nodes for a while
      await victim.start();
      return `killed ${victim.name} (AUDIT leader); AUDIT writable again after ${auditDuring} ms`;
    });
    expect(kvDuring).toBe("during");
    // Writes wait out the AUDIT leader election (publishAudit retries, same msgID):
    // none fails, reads or writes.
    expect(report.failures).toEqual([]);
    expect(report.failedReads + report.failedWrites).toBe(0);
    await checkWritesAndClean(report);

    // Rejoined: healthy, and every replica of the mesh's streams current again.
    expect(await victim.healthy()).toBe(true);
    await waitFor(
      async () => {
        for (const name of ["AUDIT", "EVENTS"]) {
          const c = (await jsm.streams.info(name)).cluster;
          const peers = [c?.leader, ...(c?.replicas ?? []).map((p) => p.name)];
          if (!peers.includes(victim.name)) return false;
          if (!(c?.replicas ?? []).every((p) => p.current)) return false;
        }
        return true;
      },
      { timeout: 30_000, message: `${victim.name} rejoined the AUDIT and EVENTS streams` },
    );
    expect((await kv.get("probe"))?.string()).toBe("during");
  });
});
