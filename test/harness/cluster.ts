/**
 * A real 3-node NATS cluster on loopback: `await using c = await startNatsCluster()`.
 *
 * Three nats-server processes, each with its own client port, route port, monitoring
 * port and JetStream store dir, routed to each other (full mesh), JetStream clustered
 * so streams and KV buckets can be created with 3 replicas. Ports are picked once, so a
 * killed node restarts on the same ports with the same store and rejoins. Local binaries
 * only (a cluster of containers would need a network between them).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findNatsServer } from "./nats.ts";
import { freePort } from "./ports.ts";

export interface ClusterNode {
  /** `server_name`, e.g. `n1`. */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly routePort: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  /** True while the process runs. */
  running(): boolean;
  /** A crash: the signal (default SIGKILL), no cleanup; resolves when it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again (same ports, same store) and waits until it is healthy. */
  start(): Promise<void>;
  /** `GET /healthz` of this node (JetStream included): 200 once it has caught up. */
  healthy(): Promise<boolean>;
  /** Its last stderr lines, for diagnostics. */
  log(): string;
}

export interface NatsCluster {
  readonly nodes: readonly ClusterNode[];
  /** Every node's client URL, comma-separated (what EP_NATS_URL takes). */
  readonly urls: string;
  /** The JetStream meta leader's name, once one is elected (throws after `timeoutMs`). */
  metaLeader(timeoutMs?: number): Promise<string>;
  /** Stops every node and removes the store dirs. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartNatsClusterOptions {
  /** Number of nodes (default 3). */
  size?: number;
  /** Cluster name (default `ep-test`). */
  name?: string;
}

const START_TIMEOUT_MS = 15_000;
const live = new Map<ChildProcess, string>();
let hooked = false;

export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const clusterName = opts.name ?? "ep-test";
  const bin = findNatsServer();
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const [child, root] of live) {
        child.kill("SIGKILL");
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
  const root = await mkdtemp(join(tmpdir(), "ep-natscluster-"));
  const specs: Array<{ name: string; port: number; routePort: number; monitorPort: number; dir: string }> =
    [];
  for (let i = 1; i <= size; i++) {
    const dir = join(root, `n${i}`);
    await mkdir(join(dir, "store"), { recursive: true });
    specs.push({
      name: `n${i}`,
      port: await freePort(),
      routePort: await freePort(),
      monitorPort: await freePort(),
      dir,
    });
  }
  const routes = specs.map((s) => `nats-route://127.0.0.1:${s.routePort}`);

  const nodes = specs.map((s): ClusterNode & { stop(): Promise<void> } => {
    let child: ChildProcess | undefined;
    let log = "";
    const conf = join(s.dir, "nats.conf");
    const healthy = async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${s.monitorPort}/healthz`, {
          signal: AbortSignal.timeout(1000),
        });
        return r.status === 200;
      } catch {
        return false;
      }
    };
    const node = {
      name: s.name,
      url: `nats://127.0.0.1:${s.port}`,
      port: s.port,
      routePort: s.routePort,
      monitorPort: s.monitorPort,
      storeDir: join(s.dir, "store"),
      running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      log: () => log,
      healthy,
      async kill(signal: NodeJS.Signals = "SIGKILL") {
        const proc = child;
        if (!proc || !node.running()) return;
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        proc.kill(signal);
        await exited;
      },
      async stop() {
        const proc = child;
        if (!proc || !node.running()) return;
        const exited = new Promise<void>((r) => proc.once("exit", () => r()));
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      },
      async start() {
        if (node.running()) return;
        const proc = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
        child = proc;
        live.set(proc, root);
        proc.stderr?.setEncoding("utf8");
        proc.stderr?.on("data", (chunk: string) => {
          log = (log + chunk).slice(-8000);
        });
        proc.once("exit", () => live.delete(proc));
        const deadline = Date.now() + START_TIMEOUT_MS;
        while (Date.now() < deadline) {
          if (!node.running()) throw new Error(`nats ${s.name} exited while starting:\n${log}`);
          if (await healthy()) return;
          await sleep(50);
        }
        throw new Error(`nats ${s.name} not healthy after ${START_TIMEOUT_MS} ms:\n${log}`);
      },
    };
    return node;
  });

  for (const s of specs) {
    await writeFile(
      join(s.dir, "nats.conf"),
      [
        `server_name: ${s.name}`,
        `listen: 127.0.0.1:${s.port}`,
        `http: 127.0.0.1:${s.monitorPort}`,
        "jetstream {",
        `  store_dir: ${JSON.stringify(join(s.dir, "store"))}`,
        "  max_memory_store: 256MB",
        "  max_file_store: 16GB",
        "}",
        "cluster {",
        `  name: ${clusterName}`,
        `  listen: 127.0.0.1:${s.routePort}`,
        `  routes: [${routes.filter((r) => !r.endsWith(`:${s.routePort}`)).join(", ")}]`,
        "}",
        "",
      ].join("\n"),
    );
  }

  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url).join(","),
    async metaLeader(timeoutMs = START_TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const n of nodes.filter((x) => x.running())) {
          try {
            const r = await fetch(`http://127.0.0.1:${n.monitorPort}/jsz`, {
              signal: AbortSignal.timeout(1000),
            });
            const j = (await r.json()) as { meta_cluster?: { leader?: string } };
            if (j.meta_cluster?.leader) return j.meta_cluster.leader;
          } catch {}
        }
        if (Date.now() > deadline) throw new Error("no JetStream meta leader elected");
        await sleep(100);
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await rm(root, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]() {
      return cluster.stop();
    },
  };

  try {
    // Start all at once: each node's /healthz waits for JetStream, which needs a quorum.
    await Promise.all(nodes.map((n) => n.start()));
    await cluster.metaLeader();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
