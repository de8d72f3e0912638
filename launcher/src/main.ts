/**
 * @edgeplane/launcher — `make up`: the whole mesh on one machine, in the foreground.
 *
 * Owns: a child nats-server with JetStream (unless EP_NATS_URL), an embedded PostgreSQL
 * (unless DATABASE_URL), the secrets that must survive restarts ($EP_DATA_DIR/secrets.json),
 * running the auth migrations, one supervised process per service, the readiness wait and
 * the first-start setup banner; and an ordered stop on SIGINT/SIGTERM/SIGHUP: gateway
 * first (no new requests), then the other services, then NATS, then PostgreSQL.
 *
 * Must not: hold domain logic, talk NATS, or touch the database beyond creating it. It is
 * a developer/single-node tool: production runs each service under its own supervisor
 * (systemd, Kubernetes) with the same environment contract (see services.ts).
 */
import { existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, type LauncherConfig, loadConfig } from "./config.ts";
import { spawnReaper } from "./guard.ts";
import { createLogger } from "./log.ts";
import { firstServer, startNats } from "./nats.ts";
import { canConnect, freePort } from "./ports.ts";
import { startEmbeddedPostgres } from "./postgres.ts";
import { pendingSetupToken, setupBanner, waitReady } from "./ready.ts";
import { acquireLock, reapStale, recordFor, removeRecord, writeRecord } from "./runfiles.ts";
import { loadSecrets } from "./secrets.ts";
import {
  type MeshContext,
  migrateEnv,
  migrateScript,
  SERVICES,
  serviceEnv,
  serviceMain,
  setupTokenFile,
} from "./services.ts";
import { type Child, createSupervisor } from "./supervisor.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
/** Infrastructure, stopped after every service (in this order). */
const INFRA = ["nats", "postgres"];

process.stdout.on("error", () => {}); // `make up | head` must not crash the launcher (EPIPE)

let config: LauncherConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}

const style = {
  width: Math.max(...SERVICES.map((s) => s.length), "launcher".length),
  color: process.stdout.isTTY === true && !config.noColor,
};
const log = createLogger({ level: config.logLevel, style });
const runDir = join(config.dataDir, "run");

mkdirSync(config.dataDir, { recursive: true, mode: 0o700 }); // holds secrets
const releaseLock = acquireLock(runDir);

const sup = createSupervisor({
  style,
  log,
  onSpawn: (name, pid, spec) => writeRecord(runDir, recordFor(name, pid, spec.stopSignal ?? "SIGTERM")),
  onExit: (name) => removeRecord(runDir, name),
});

// The orphan guard: whatever ends this process, its children end too.
process.on("exit", () => {
  spawnReaper(sup.signalAll());
  releaseLock();
});

const startup = new AbortController();
let shuttingDown = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    if (shuttingDown) {
      log.warn(`${sig} again: killing everything now`);
      sup.signalAll("SIGKILL");
      process.exit(1);
    }
    log.info(`${sig}: shutting down (again to force)`);
    void shutdown(0);
  });
}

try {
  await start();
} catch (err) {
  if (!shuttingDown) {
    log.error(`startup failed: ${(err as Error).message}`);
    await shutdown(1);
  }
}

async function start(): Promise<void> {
  await reapStale(runDir, log, { last: INFRA });
  // Fail now rather than have the readiness probe talk to whatever already owns the port.
  if (await canConnect("127.0.0.1", config.httpPort)) {
    throw new Error(
      `EP_HTTP_PORT: 127.0.0.1:${config.httpPort} is already in use; stop that server or choose another port`,
    );
  }
  const secrets = loadSecrets(config.dataDir);
  const signal = startup.signal;

  let natsUrl = config.natsUrl;
  if (natsUrl === undefined) {
    natsUrl = (await startNats(sup, { bin: config.natsServerBin, dataDir: config.dataDir, log, signal })).url;
  } else {
    const first = firstServer(natsUrl);
    if (first && !(await canConnect(first.host, first.port, 2000))) {
      log.warn(
        `EP_NATS_URL: ${first.host}:${first.port} is not reachable (yet); services will keep retrying`,
      );
    }
  }
  signal.throwIfAborted();

  let databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) {
    const pg = await startEmbeddedPostgres(sup, {
      dataDir: config.dataDir,
      password: secrets.EP_PG_PASSWORD,
      log,
      signal,
    });
    databaseUrl = pg.url;
  }
  signal.throwIfAborted();

  const ctx: MeshContext = {
    natsUrl,
    databaseUrl,
    dataDir: config.dataDir,
    secrets,
    nodeName: hostname(),
    httpPort: config.httpPort,
    logLevel: config.logLevel,
    statsMetricsPort: await freePort(),
  };

  await migrate(ctx);
  signal.throwIfAborted();

  const started: string[] = [];
  for (const name of SERVICES) {
    const main = serviceMain(REPO_ROOT, name);
    if (!existsSync(main)) {
      log.warn(`${name}: ${main} does not exist yet; not started`);
      continue;
    }
    sup.start({
      name,
      command: process.execPath,
      args: [main],
      env: serviceEnv(name, process.env, ctx),
      cwd: REPO_ROOT,
      stopTimeoutMs: 10_000,
    });
    started.push(name);
  }
  log.info(`started: ${started.join(", ") || "no services"}`);

  if (!started.includes("gateway")) {
    log.warn("no gateway: not waiting for readiness");
    return;
  }
  const baseUrl = `http://127.0.0.1:${config.httpPort}`;
  const ready = await waitReady(baseUrl, {
    timeoutMs: READY_TIMEOUT_MS,
    signal,
    onSlow: (problem) => {
      const down = sup.children.filter((c) => !c.running && !["initdb", "migrate"].includes(c.name));
      log.warn(
        `not ready after ${READY_TIMEOUT_MS / 1000} s: ${problem}` +
          (down.length ? `; not running: ${down.map((c) => c.name).join(", ")}` : "") +
          "; still waiting",
      );
    },
  });
  if (!ready) return;
  process.stdout.write(`edgeplane ready at ${baseUrl}\n`);
  const tokenFile = setupTokenFile(config.dataDir);
  const token = await pendingSetupToken(baseUrl, tokenFile);
  if (token !== undefined) process.stdout.write(setupBanner(baseUrl, token, tokenFile));
}

/** Runs the auth migrations to completion; services start only on success. */
async function migrate(ctx: MeshContext): Promise<void> {
  const script = migrateScript(REPO_ROOT);
  if (!existsSync(script)) {
    log.warn(`${script} does not exist yet; skipping migrations`);
    return;
  }
  const child = sup.start({
    name: "migrate",
    command: process.execPath,
    args: [script],
    env: migrateEnv(process.env, ctx),
    cwd: REPO_ROOT,
    restart: false,
  });
  const info = await new Promise<{ code: number | null; signal: string | null; error?: Error }>((resolve) =>
    child.onExit(resolve),
  );
  if (info.error || info.code !== 0) {
    throw new Error(
      `migrations failed (${info.error?.message ?? (info.signal ? `killed by ${info.signal}` : `exit code ${info.code}`)}); services not started`,
    );
  }
  log.info("migrations applied");
}

/** Ordered stop: gateway, other services (in parallel), nats, postgres. Then exit. */
async function shutdown(code: number): Promise<never> {
  shuttingDown = true;
  startup.abort();
  const phase = async (what: string, pred: (name: string) => boolean) => {
    const running = sup.children.filter((c) => pred(c.name) && c.running);
    if (running.length > 0) log.info(`stopping ${what}`);
    await stopAll(sup.children.filter((c) => pred(c.name))); // also cancels pending restarts
  };
  await phase("gateway", (n) => n === "gateway");
  await phase("services", (n) => n !== "gateway" && !INFRA.includes(n));
  for (const name of INFRA) await phase(name, (n) => n === name);
  // Anything started while we were stopping (startup racing the signal).
  await stopAll(sup.children);
  log.info("stopped");
  process.exit(code);
}

async function stopAll(children: readonly Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop()));
}
