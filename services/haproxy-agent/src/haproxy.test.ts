/**
 * HaproxyProcess against a real haproxy (master-worker): every start, reload and stop
 * moves `generation` as it begins and counts in `changing` while under way — what lets a
 * `show proc` answer taken earlier stand as a reload's baseline (NodeAgent.prepare).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type TmpDir, tmpDir } from "../../../test/harness/mod.ts";
import { findExecutable, HaproxyProcess } from "./haproxy.ts";

let dir: TmpDir;
let proc: HaproxyProcess;

beforeAll(async () => {
  dir = await tmpDir("ep-haproxy-proc-");
  const p = (f: string) => join(dir.path, f);
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
      `    bind 127.0.0.1:${await freePort()}`,
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
});

afterAll(async () => {
  await proc?.stop().catch(() => undefined);
  await dir?.[Symbol.asyncDispose]();
});

describe("haproxy-agent HaproxyProcess", () => {
  it("counts start, reload and stop as they begin, and while they run", async () => {
    expect([proc.generation, proc.changing]).toEqual([0, 0]);
    const starting = proc.start(20_000);
    expect([proc.generation, proc.changing]).toEqual([1, 1]);
    const first = await starting;
    expect(proc.changing).toBe(0);

    // An answer taken now stands until the next command begins.
    const baseline = await proc.showProc(1000);
    expect(baseline?.workers).toEqual(first.workers);
    const reloading = proc.reload(20_000, undefined, baseline ?? undefined);
    expect([proc.generation, proc.changing]).toEqual([2, 1]);
    const after = await reloading;
    expect(proc.changing).toBe(0);
    expect(after.reloads).toBeGreaterThan(first.reloads);
    expect(after.workers.some((w) => !first.workers.includes(w))).toBe(true);

    // A failed command still ends (changing back to 0) and still counts.
    await expect(proc.reload(500, undefined, { ...after, reloads: after.reloads + 1000 })).rejects.toThrow(
      /not confirmed/,
    );
    expect([proc.generation, proc.changing]).toEqual([3, 0]);

    const stopping = proc.stop();
    expect([proc.generation, proc.changing]).toEqual([4, 1]);
    await stopping;
    expect(proc.changing).toBe(0);
    expect(await proc.showProc(0)).toBeNull();
  }, 60_000);
});
