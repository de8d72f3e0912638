/**
 * Real edgeplane service processes for cross-service tests: `spawnService("auth", env)`
 * runs `services/auth/src/main.ts` with the test's Node, waits until it has registered
 * with NATS (its "started"/"listening" log line), and keeps its output for diagnostics.
 * `authDatabase()` gives a fresh migrated database for the auth service.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type ServiceDir = "gateway" | "auth" | "haproxy-agent" | "wg-agent" | "adapters" | "stats";

export interface ServiceProcess {
  name: string;
  proc: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** The gateway's URL, parsed from its log (gateway only). */
  url?: string;
  /** Send a signal (default SIGTERM) and wait for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A stable pepper for tests (≥ 32 chars). */
export const TEST_PEPPER = "test-pepper-0123456789abcdef0123456789";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export async function spawnService(
  dir: ServiceDir,
  env: Record<string, string>,
  opts: { timeoutMs?: number; instance?: string } = {},
): Promise<ServiceProcess> {
  const proc = spawn(process.execPath, [`services/${dir}/src/main.ts`], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      EP_LOG_LEVEL: "info",
      EP_KEY_PEPPER: TEST_PEPPER,
      EP_HTTP_PORT: "0",
      // Gateway rate limits out of the way unless a test sets its own (test/e2e/auth does).
      EP_RATE_LIMIT_RPM: "10000000",
      EP_RATE_BURST_RPS: "10000000",
      EP_AUTH_RATE_RPM: "10000000",
      EP_SERVICE_INSTANCE: opts.instance ?? `${dir}-${Math.random().toString(36).slice(2, 8)}`,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  let out = "";
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => {
      live.delete(proc);
      resolve(code);
    }),
  );
  const sp: ServiceProcess = {
    name: dir,
    proc,
    output: () => out,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    async [Symbol.asyncDispose]() {
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await sp.stop();
      clearTimeout(t);
    },
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${dir} did not start within ${opts.timeoutMs ?? 20_000} ms:\n${out}`)),
      opts.timeoutMs ?? 20_000,
    );
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /"msg":"gateway listening".*?|"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m?.[1]) sp.url = m[1];
      if (/"msg":"[\w-]+ started"/.test(out) || (dir === "gateway" && sp.url)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${dir} exited with ${code} before it started:\n${out}`));
    });
  });
  return sp;
}

/** A fresh database with every service's schema applied. */
export async function authDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  const { migrate } = await import("../../proto/src/runtime/migrate.ts");
  await migrate(db.url);
  return db;
}
