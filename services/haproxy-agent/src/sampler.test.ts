/**
 * The stats sampler against a real haproxy (master-worker, admin socket) and a real
 * nats-server: samples keep their cadence, wait while an apply is held, and are never
 * held back longer than one interval.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createLogger, Subjects } from "@edgeplane/proto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type TmpDir, tmpDir } from "../../../test/harness/mod.ts";
import { startNats } from "../../../test/harness/nats.ts";
import { findExecutable, HaproxyProcess } from "./haproxy.ts";
import { Sampler } from "./sampler.ts";

const INTERVAL_MS = 200;
let nats: Awaited<ReturnType<typeof startNats>>;
let nc: NatsConnection;
let dir: TmpDir;
let proc: HaproxyProcess;

beforeAll(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  dir = await tmpDir("ep-sampler-");
  const p = (f: string) => join(dir.path, f);
  const port = await freePort();
  await writeFile(
    p("haproxy.cfg"),
    [
      "global",
      `    stats socket ${p("admin.sock")} mode 600 level admin`,
      "defaults",
      "    mode http",
      "    timeout client 5s",
      "    timeout server 5s",
      "    timeout connect 1s",
      "frontend web",
      `    bind 127.0.0.1:${port}`,
      "    default_backend app",
      "backend app",
      "    server s1 127.0.0.1:9",
      "",
    ].join("\n"),
  );
  proc = new HaproxyProcess({
    bin: findExecutable("haproxy") ?? "haproxy",
    cfg: p("haproxy.cfg"),
    masterSocket: p("master.sock"),
    pidFile: p("haproxy.pid"),
    logFile: p("haproxy.log"),
    adminSocket: p("admin.sock"),
    stateFile: p("server-state"),
  });
  await proc.start(20_000);
}, 60_000);

afterAll(async () => {
  await proc?.stop();
  await nc?.close();
  await nats?.stop();
  await dir?.[Symbol.asyncDispose]();
});

/** Times (ms since `t0`) at which samples of node `node` were published. */
function listen(node: string, t0: number): number[] {
  const at: number[] = [];
  nc.subscribe(Subjects.stats.haproxySamples("default", node), {
    callback: () => {
      at.push(Math.round(performance.now() - t0));
    },
  });
  return at;
}

function sampler(node: string, deferWhile: () => boolean, intervalMs = INTERVAL_MS): Sampler {
  return new Sampler({
    nc,
    proc,
    cluster: "default",
    node,
    intervalMs,
    log: createLogger("sampler-test", "silent"),
    running: () => true,
    deferWhile,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("haproxy-agent sampler", () => {
  it("publishes every interval when nothing is held", async () => {
    const at = listen("steady", performance.now());
    const s = sampler("steady", () => false);
    s.start();
    await sleep(INTERVAL_MS * 5 + 100);
    s.stop();
    await nc.flush();
    // 5 due in the window (one part per sample for this small haproxy); never two close together.
    expect(at.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < at.length; i++)
      // Half an interval apart when published; a quarter leaves room for delivery jitter.
      expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(INTERVAL_MS / 4);
  });

  it("waits while an apply is held and samples right after it ends", async () => {
    const t0 = performance.now();
    const at = listen("held", t0);
    let held = false;
    // Three intervals here: between the release and the cap, room for a loaded machine.
    const interval = INTERVAL_MS * 3;
    const s = sampler("held", () => held, interval);
    s.start();
    // Held from before the first sample is due (1 interval) until 1.5 intervals, short of
    // the cap (2 intervals).
    await sleep(interval / 2);
    held = true;
    await sleep(interval);
    await nc.flush();
    expect(at).toEqual([]);
    held = false;
    const released = Math.round(performance.now() - t0);
    while (at.length === 0 && performance.now() - t0 < interval * 3) await sleep(10);
    s.stop();
    await nc.flush();
    expect(at.length).toBe(1);
    expect(at[0] as number).toBeGreaterThanOrEqual(released);
    // Taken on the release (asked again every 50 ms), not at the cap.
    expect(at[0] as number).toBeLessThan(interval * 2);
  });

  it("is held back at most one interval", async () => {
    const at = listen("busy", performance.now());
    const s = sampler("busy", () => true);
    s.start();
    await sleep(INTERVAL_MS * 4 + 100);
    s.stop();
    await nc.flush();
    // First due at 1 interval, taken at 2; then every interval or so (each one due, late).
    expect(at.length).toBeGreaterThanOrEqual(2);
    expect(at[0] as number).toBeGreaterThanOrEqual(INTERVAL_MS * 2 - 10);
    expect(at[0] as number).toBeLessThan(INTERVAL_MS * 4);
  });
});
