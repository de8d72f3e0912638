/**
 * A real NATS server per test: `await using nats = await startNats({ jetstream: true })`.
 *
 * Local `nats-server` binary on an ephemeral port (`-p -1`, port read back from
 * `--ports_file_dir`), bound to 127.0.0.1, JetStream in a temp store dir removed on stop.
 * When a Docker engine answers, the official `nats` image through testcontainers instead
 * (imported only then). Never a shared server, never a fixed port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { dockerAvailable, dockerRequest } from "./docker.ts";

/** What {@link startNats} starts. */
export interface StartNatsOptions {
  /** Enable JetStream (`-js -sd <storeDir>`). Default false. */
  jetstream?: boolean;
  /** Extra nats-server arguments, appended after the harness's own. */
  args?: string[];
}

/** A running NATS server owned by one test; dispose it (or `stop()`) when done. */
export interface NatsServer {
  /** Client URL, `nats://127.0.0.1:<port>`. Under Docker it may change on `restart()`. */
  url: string;
  /** Client port. */
  port: number;
  /** JetStream store dir (a host temp dir; `/data` inside the container under Docker). */
  storeDir: string;
  /** Graceful shutdown, then removes the store dir. Safe to call twice. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) without cleaning up: a crash, for failure tests. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (if running) and starts again on the same port with the same store dir. */
  restart(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Image used when Docker answers: the same minor as Debian 12's nats-server (2.9). */
const NATS_IMAGE = "nats:2.9";
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Starts a fresh NATS server (see the module doc for local vs. Docker). */
export async function startNats(opts: StartNatsOptions = {}): Promise<NatsServer> {
  return (await dockerAvailable()) ? startNatsContainer(opts) : startNatsLocal(opts);
}

/** Local processes still running, killed and cleaned up if the test process exits first. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const [child, root] of live) {
      child.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    }
  });
}

/** Absolute path of nats-server: `NATS_SERVER_BIN`, else PATH plus the sbin dirs. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATS_SERVER_BIN) return env.NATS_SERVER_BIN;
  const dirs = [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error(
    "nats-server not found on PATH nor in /usr/sbin: install it with " +
      "`apt-get install -y --no-install-recommends nats-server` (or run scripts/provision.sh), " +
      "or set NATS_SERVER_BIN",
  );
}

async function startNatsLocal(opts: StartNatsOptions): Promise<NatsServer> {
  const bin = findNatsServer();
  installExitHook();
  const root = await mkdtemp(join(tmpdir(), "ep-nats-"));
  const storeDir = join(root, "store");
  const portsDir = join(root, "ports");
  await mkdir(storeDir);
  await mkdir(portsDir);

  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (port: number): Promise<number> => {
    await rm(portsDir, { recursive: true, force: true });
    await mkdir(portsDir);
    const args = ["-a", "127.0.0.1", "-p", String(port), "--ports_file_dir", portsDir];
    if (opts.jetstream) args.push("-js", "-sd", storeDir);
    args.push(...(opts.args ?? []));
    const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    live.set(proc, root);
    let log = "";
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (chunk: string) => {
      log = (log + chunk).slice(-4000);
    });
    let exited: Error | undefined;
    proc.once("error", (err) => {
      exited = err;
    });
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      exited ??= new Error(`nats-server exited (code ${code}, signal ${signal})`);
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!exited && Date.now() < deadline) {
      const bound = await readPortsFile(portsDir, proc.pid);
      if (bound && (await acceptsConnections(bound))) return bound;
      await sleep(20);
    }
    proc.kill("SIGKILL");
    const why = exited?.message ?? `not accepting connections after ${START_TIMEOUT_MS} ms`;
    throw new Error(`startNats: ${why}${log ? `\n${log}` : ""}`, { cause: exited });
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exit = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await exit;
    clearTimeout(timer);
  };

  const port = await launch(-1).catch(async (err) => {
    await rm(root, { recursive: true, force: true });
    throw err;
  });

  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt("SIGTERM");
      await rm(root, { recursive: true, force: true });
    },
    kill(signal = "SIGKILL") {
      child?.kill(signal);
    },
    async restart() {
      if (stopped) throw new Error("startNats: restart() after stop()");
      await halt("SIGTERM");
      await launch(port);
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  return server;
}

/** The client port from `<exe>_<pid>.ports` (`{"nats": ["nats://127.0.0.1:N"], …}`), if written. */
async function readPortsFile(dir: string, pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const name = (await readdir(dir)).find((f) => f.endsWith(`_${pid}.ports`));
  if (!name) return undefined;
  try {
    const ports = JSON.parse(await readFile(join(dir, name), "utf8")) as { nats?: string[] };
    const url = ports.nats?.[0];
    return url ? Number(new URL(url).port) : undefined;
  } catch {
    return undefined; // partially written: try again
  }
}

/** True when a TCP connection gets the server's `INFO` greeting. */
function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (data) => done(data.toString("latin1").startsWith("INFO ")));
  });
}

async function startNatsContainer(opts: StartNatsOptions): Promise<NatsServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const args = [...(opts.jetstream ? ["-js", "-sd", "/data"] : []), ...(opts.args ?? [])];
  const container = await new GenericContainer(NATS_IMAGE)
    .withCommand(args)
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .withStartupTimeout(60_000)
    .start();
  let stopped = false;
  const server: NatsServer = {
    url: "",
    port: 0,
    storeDir: "/data",
    async stop() {
      if (stopped) return;
      stopped = true;
      await container.stop({ timeout: STOP_TIMEOUT_MS });
    },
    kill(signal = "SIGKILL") {
      void dockerRequest("POST", `/containers/${container.getId()}/kill?signal=${signal}`).catch(() => {});
    },
    async restart() {
      await container.restart({ timeout: STOP_TIMEOUT_MS });
      locate();
    },
    [Symbol.asyncDispose]() {
      return server.stop();
    },
  };
  const locate = () => {
    server.port = container.getMappedPort(4222);
    server.url = `nats://${container.getHost()}:${server.port}`;
  };
  locate();
  return server;
}
