/**
 * A real stats mesh for end-to-end tests: nats-server, PostgreSQL (migrated), auth + gateway
 * (an API key), a real haproxy (master-worker, own temp dir, free ports) in front of tiny Node
 * HTTP backends with a delay/status knob, a node "feed" that reads `show info` + `show stat`
 * from haproxy's admin socket with the agent's own helper and publishes the `HaproxySample`
 * contract (exactly what the agent's sampler does), answers `show sess` requests on the node
 * subject, and N stats instances. Everything is disposed in `close()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  buildHaproxySample,
  encodeJson,
  HaproxySessionsRequest,
  parseShowSess,
  Subjects,
} from "../../../proto/src/mod.ts";
import { HaproxyProcess, socketCommand } from "../../../services/haproxy-agent/src/haproxy.ts";
import {
  freePort,
  type NatsServer,
  type ServiceProcess,
  spawnService,
  type TestDatabase,
  tmpDir,
  waitFor,
} from "../../harness/mod.ts";
import { connectVeth, createNetns, hostRun } from "../../harness/netns.ts";
import { startCluster } from "../haproxy/cluster.ts";

export interface Backend {
  port: number;
  server: Server;
}

/** A backend that waits `?delay=<ms>` (or its default) and answers `?status=<code>`. */
export async function knobBackend(defaultDelayMs: number): Promise<Backend> {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const delay = Number(u.searchParams.get("delay") ?? defaultDelayMs);
    const status = Number(u.searchParams.get("status") ?? 200);
    setTimeout(() => {
      res.statusCode = status;
      res.end("ok\n");
    }, delay);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return { port: typeof a === "object" && a ? a.port : 0, server };
}

/**
 * A client namespace whose address is public (81.2.69.142, a GeoLite2 GB record), joined to
 * the host by a veth with /32 routes both ways; `hold()` opens a long-lived request from it.
 */
export async function publicClient(edgePort: number): Promise<{
  hostAddr: string;
  hold(path: string): ChildProcess;
  close(): Promise<void>;
}> {
  const ns = await createNetns("stc");
  const hostAddr = `10.213.${1 + Math.floor(Math.random() * 250)}.1`;
  const pub = "81.2.69.142";
  const veth = await connectVeth(null, ns, { a: `${hostAddr}/32`, b: `${pub}/32` });
  await hostRun("ip", ["route", "add", `${pub}/32`, "dev", veth.a]);
  await ns.exec("ip", ["route", "add", `${hostAddr}/32`, "dev", veth.b]);
  return {
    hostAddr,
    hold: (path) =>
      ns.spawn(process.execPath, [
        "-e",
        `const s=require("net").connect({host:${JSON.stringify(hostAddr)},port:${edgePort},localAddress:${JSON.stringify(pub)}},()=>s.write("GET ${path} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"));s.on("error",()=>{});setTimeout(()=>process.exit(0),30000);`,
      ]),
    async close() {
      await veth[Symbol.asyncDispose]();
      await ns[Symbol.asyncDispose]();
    },
  };
}

export interface StatsMesh {
  nats: NatsServer;
  db: TestDatabase;
  nc: NatsConnection;
  api(path: string): Promise<Response>;
  json<T>(path: string): Promise<T>;
  haproxy: HaproxyProcess;
  /** Loopback frontend, and the edge one (all addresses: reached from the client namespace). */
  port: number;
  proxyPort: number;
  stats: ServiceProcess[];
  metricsPorts: number[];
  startStats(i: number): Promise<ServiceProcess>;
  /** Take and publish one sample now. */
  sampleNow(): Promise<void>;
  close(): Promise<void>;
}

const HAPROXY_CFG = (dir: string, port: number, proxyPort: number, fast: number, slow: number) => `
global
  stats socket ${join(dir, "admin.sock")} mode 600 level admin
  noreuseport
  nbthread 1
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
frontend fe_main
  bind 127.0.0.1:${port}
  use_backend be_slow if { path_beg /slow }
  default_backend be_fast
frontend fe_edge
  bind 0.0.0.0:${proxyPort}
  use_backend be_slow if { path_beg /slow }
  default_backend be_fast
backend be_fast
  server f1 127.0.0.1:${fast}
backend be_slow
  server s1 127.0.0.1:${slow}
`;

export async function startStatsMesh(opts: { instances: number; intervalMs?: number }): Promise<StatsMesh> {
  const disposers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
  };
  try {
    const cluster = await startCluster({ nodes: 0 });
    disposers.push(() => cluster.close());
    const { createTestDatabase } = await import("../../harness/mod.ts");
    const db = await createTestDatabase();
    disposers.push(() => db[Symbol.asyncDispose]());
    const { migrate } = await import("../../../proto/src/runtime/migrate.ts");
    await migrate(db.url);
    const dir = await tmpDir("ep-stats-");
    disposers.push(() => dir[Symbol.asyncDispose]());

    const fast = await knobBackend(5);
    const slow = await knobBackend(150);
    disposers.push(async () => {
      fast.server.closeAllConnections();
      slow.server.closeAllConnections();
      fast.server.close();
      slow.server.close();
    });
    const port = await freePort();
    let proxyPort = await freePort();
    while (proxyPort === port) proxyPort = await freePort();
    await writeFile(
      join(dir.path, "haproxy.cfg"),
      HAPROXY_CFG(dir.path, port, proxyPort, fast.port, slow.port),
    );
    const haproxy = new HaproxyProcess({
      bin: "/usr/sbin/haproxy",
      cfg: join(dir.path, "haproxy.cfg"),
      masterSocket: join(dir.path, "master.sock"),
      pidFile: join(dir.path, "haproxy.pid"),
      logFile: join(dir.path, "haproxy.log"),
      adminSocket: join(dir.path, "admin.sock"),
      stateFile: join(dir.path, "state"),
    });
    await haproxy.start(10_000);
    disposers.push(() => haproxy.stop());

    const nc = await connect({ servers: cluster.nats.url });
    disposers.push(() => nc.close());
    const intervalMs = opts.intervalMs ?? 1000;
    const admin = (cmd: string) =>
      socketCommand(join(dir.path, "admin.sock"), cmd, { retryMs: 2000, timeoutMs: 5000 });
    const sampleNow = async () => {
      const info = await admin("show info");
      const stat = await admin("show stat");
      const ts = Date.now();
      for (const p of buildHaproxySample({ cluster: "default", node: "node-a", ts, intervalMs, info, stat }))
        nc.publish(Subjects.stats.haproxySamples("default", "node-a"), JSON.stringify(p));
    };
    let sampling = true;
    const loop = (async () => {
      while (sampling) {
        await sampleNow().catch(() => undefined);
        await sleep(intervalMs);
      }
    })();
    disposers.push(async () => {
      sampling = false;
      await loop;
    });
    // The node's `show sess` endpoint, answered from the real admin socket.
    const sessSub = nc.subscribe(Subjects.stats.haproxySessions("default", "node-a"), {
      callback: (_err, msg) => {
        void (async () => {
          const req = HaproxySessionsRequest.parse(msg.json());
          const all = parseShowSess(await admin("show sess"));
          msg.respond(
            encodeJson({
              ok: true,
              data: {
                cluster: "default",
                node: "node-a",
                ts: Date.now(),
                total: all.length,
                truncated: all.length > req.limit,
                sessions: all.slice(0, req.limit),
              },
            }),
          );
        })();
      },
    });
    disposers.push(async () => sessSub.unsubscribe());

    const metricsPorts: number[] = [];
    const stats: ServiceProcess[] = [];
    const startStats = async (i: number) => {
      metricsPorts[i] ??= await freePort();
      const p = await spawnService(
        "stats",
        {
          EP_NATS_URL: cluster.nats.url,
          DATABASE_URL: db.url,
          EP_STATS_METRICS_PORT: String(metricsPorts[i]),
          EP_STATS_POOL_THREADS: "1",
        },
        { instance: `stats-${i}` },
      );
      stats[i] = p;
      return p;
    };
    for (let i = 0; i < opts.instances; i++) {
      const p = await startStats(i);
      disposers.push(() => p.stop("SIGKILL"));
    }
    disposers.push(async () => {
      for (const s of stats) await s?.stop("SIGKILL");
    });
    const api = (path: string) => cluster.api("GET", path);
    const json = async <T>(path: string): Promise<T> => {
      const r = await api(path);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as T;
    };
    // Samples flow once a stats instance answers the current view.
    await waitFor(async () => (await json<{ nodes: unknown[] }>("/api/stats")).nodes.length > 0, {
      timeout: 15_000,
      message: "stats sees node-a",
    });
    return {
      nats: cluster.nats,
      db,
      nc,
      api,
      json,
      haproxy,
      port,
      proxyPort,
      stats,
      metricsPorts,
      startStats,
      sampleNow,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** `n` requests to `path` on the plain frontend, a few at a time; returns the statuses. */
export async function drive(port: number, path: string, n: number, lanes = 4): Promise<number[]> {
  const out: number[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (i < n) {
        i++;
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: "close" } });
        await r.arrayBuffer();
        out.push(r.status);
      }
    }),
  );
  return out;
}

/** Run `promtool check metrics` on a text; resolves with its exit code and output. */
export function promtool(text: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (b) => {
      out += b;
    });
    p.stderr.on("data", (b) => {
      out += b;
    });
    p.on("close", (code) => resolve({ code, out }));
    p.stdin.end(text);
  });
}
