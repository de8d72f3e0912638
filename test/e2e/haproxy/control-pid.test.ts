/**
 * haproxy control strategy `pid` — the agent drives a master it did not start, found by
 * the pidfile it is configured with: it adopts it, applies revisions by reloading it
 * (same master), stops it with a signal, starts one again under that pidfile, and leaves
 * it running when the agent itself stops.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findExecutable } from "../../../services/haproxy-agent/src/haproxy.ts";
import { findStrays, type TmpDir, tmpDir, waitFor } from "../../harness/mod.ts";
import { backend, type Cluster, startCluster } from "./cluster.ts";

let c: Cluster;
let ext: TmpDir;
let app: { port: number; server: Server };
let files: { cfg: string; pid: string; sock: string };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const pidOf = async () => Number.parseInt(await readFile(files.pid, "utf8").catch(() => ""), 10);

beforeAll(async () => {
  app = await backend("app");
  ext = await tmpDir("ep-hapid-");
  files = {
    cfg: join(ext.path, "haproxy.cfg"),
    pid: join(ext.path, "haproxy.pid"),
    sock: join(ext.path, "master.sock"),
  };
  // An haproxy someone else started (an init script, say): master-worker with a master socket.
  await writeFile(
    files.cfg,
    "global\n    master-worker\ndefaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 1s\n",
  );
  const bin = findExecutable("haproxy") ?? "haproxy";
  spawn(bin, ["-W", "-S", `${files.sock},mode,600`, "-f", files.cfg, "-p", files.pid], {
    detached: true,
    stdio: "ignore",
  }).unref();
  await waitFor(async () => ((await pidOf()) > 0 && alive(await pidOf()) ? true : undefined));
  c = await startCluster({
    nodes: 1,
    agentEnv: {
      EP_HAPROXY_CONTROL: "pid",
      EP_HAPROXY_PID_FILE: files.pid,
      EP_HAPROXY_MASTER_SOCKET: files.sock,
      EP_HAPROXY_CONFIG_FILE: files.cfg,
    },
  });
}, 120_000);
afterAll(async () => {
  await c?.close();
  // The master outlives its agent by design (pid strategy): it goes with the test's dir.
  await ext?.[Symbol.asyncDispose]();
  app?.server.close();
});

const doc = () => ({
  defaults: [{ mode: "http", timeouts: { connect: "2s", client: "10s", server: "10s" } }],
  frontends: [{ name: "web", binds: [{ address: "127.0.0.1", port: c.port }], default_backend: "app" }],
  backends: [{ name: "app", servers: [{ name: "a1", address: "127.0.0.1", port: app.port }] }],
});
const get = async () => {
  const r = await fetch(`http://127.0.0.1:${c.port}/p`, { headers: { connection: "close" } });
  return `${r.status} ${await r.text()}`;
};

describe("haproxy control strategy pid", () => {
  it("adopts the existing master and applies revisions by reloading it", async () => {
    const master = await pidOf();
    const cs = (await (await c.api("GET", "/api/v1/haproxy/clusters/default/control-strategy")).json()) as {
      strategy: string;
      detected: string[];
      running: boolean;
      config_file: string;
    };
    expect(cs).toMatchObject({ strategy: "pid", running: true, config_file: files.cfg });
    expect(cs.detected).toContain("pid");
    const r = await c.api("PUT", "/api/v1/haproxy/clusters/default/state", doc(), { "if-match": "0" });
    const b = (await r.json()) as { results: Array<{ result: string }> };
    expect(r.status, JSON.stringify(b)).toBe(200);
    expect(b.results.map((x) => x.result)).toEqual(["applied"]);
    expect(await get()).toBe("200 app /p");
    expect(await pidOf()).toBe(master);
    expect(alive(master)).toBe(true);
  });

  it("stop signals the pidfile's master; start brings one up under the same pidfile", async () => {
    const master = await pidOf();
    const stop = await c.api("POST", "/api/v1/haproxy/clusters/default/stop", { confirm: true });
    expect(stop.status, await stop.clone().text()).toBe(200);
    await waitFor(async () => (!alive(master) ? true : undefined), { timeout: 10_000 });
    await expect(get()).rejects.toThrow();
    const start = await c.api("POST", "/api/v1/haproxy/clusters/default/start");
    const sb = (await start.json()) as { ok: boolean; results: Array<{ ok: boolean; master_pid: number }> };
    expect(start.status, JSON.stringify(sb)).toBe(200);
    expect(sb.ok).toBe(true);
    const again = await pidOf();
    expect(again).not.toBe(master);
    expect(alive(again)).toBe(true);
    expect(sb.results[0]?.master_pid).toBe(again);
    expect(await get()).toBe("200 app /p");
  });

  it("the agent stopping leaves the master serving", async () => {
    const master = await pidOf();
    const a = c.agents[0];
    if (!a) throw new Error("no agent");
    expect(await a.proc.stop()).toBe(0);
    expect(alive(master)).toBe(true);
    expect(await get()).toBe("200 app /p");
    expect(await findStrays(ext.path)).toContain(master);
  });
});
