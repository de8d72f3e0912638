/**
 * make up — the launcher as an operator runs it: child nats-server, embedded PostgreSQL
 * (DATABASE_URL unset), migrations, every service. It prints the ready line and the
 * one-time setup token, serves /health and the mesh view, and stops cleanly on SIGTERM
 * leaving no process behind.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, tmpDir, waitFor } from "../harness/mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let launcher: ChildProcess | undefined;
let out = "";

function descendants(pid: number): number[] {
  const ps = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
  const kids = new Map<number, number[]>();
  for (const line of ps.trim().split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number) as [number, number];
    kids.set(pp, [...(kids.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => {
    for (const k of kids.get(p) ?? []) {
      all.push(k);
      walk(k);
    }
  };
  walk(pid);
  return all;
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(() => {
  if (launcher && launcher.exitCode === null) launcher.kill("SIGKILL");
});

describe("make up - the whole mesh on one machine", () => {
  it("starts, serves, completes setup, and stops cleanly", { timeout: 180_000 }, async () => {
    await using dir = await tmpDir("ep-up-");
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      EP_DATA_DIR: dir.path,
      EP_HTTP_PORT: String(port),
      NO_COLOR: "1",
    };
    delete env.DATABASE_URL;
    delete env.EP_NATS_URL;
    launcher = spawn(process.execPath, ["launcher/src/main.ts"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    launcher.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    launcher.stderr?.on("data", (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((r) => launcher?.once("exit", (code) => r(code)));

    const base = `http://127.0.0.1:${port}`;
    await waitFor(() => out.includes(`edgeplane ready at ${base}`), {
      timeout: 120_000,
      message: `ready line\n${out}`,
    });
    expect(out).toMatch(new RegExp(`^edgeplane ready at ${base}$`, "m"));
    const tokenLine = await waitFor(() => /^setup token: (\S+)/m.exec(out), { timeout: 10_000 });
    const token = tokenLine[1] as string;
    const tokenFile = `${dir.path}/setup-token`;
    expect((await readFile(tokenFile, "utf8")).trim()).toBe(token);
    expect(((await stat(tokenFile)).mode & 0o777).toString(8)).toBe("600");

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "healthy" });

    const setup = await fetch(`${base}/api/v1/setup/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, username: "admin", password: "correct horse battery staple" }),
    });
    expect(setup.status).toBe(201);
    const key = ((await setup.json()) as { api_key: { key: string } }).api_key.key;

    const mesh = (await (
      await fetch(`${base}/api/v1/health`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as {
      status: string;
      services: Array<{ name: string; id: string; version: string; uptime_s: number }>;
    };
    const names = [...new Set(mesh.services.map((s) => s.name))].sort();
    expect(names).toEqual([
      "ep-adapters",
      "ep-auth",
      "ep-gateway",
      "ep-haproxy-agent",
      "ep-stats",
      "ep-wg-agent",
    ]);
    expect(mesh.status).toBe("healthy");
    for (const s of mesh.services) expect(s.version).toMatch(/^\d+\.\d+\.\d+/);

    const before = descendants(launcher.pid as number);
    expect(before.length).toBeGreaterThanOrEqual(8); // nats, postgres, 6 services
    launcher.kill("SIGTERM");
    expect(await exited).toBe(0);
    await waitFor(() => before.every((p) => !alive(p)), { timeout: 10_000, message: "no orphan processes" });
  });
});
