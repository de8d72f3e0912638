import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "./log.ts";
import { acquireLock, isAlive, processStartTime, reapStale, recordFor, writeRecord } from "./runfiles.ts";

let dir: string;
const procs: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ep-run-"));
});
afterEach(() => {
  for (const p of procs.splice(0)) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** A detached long-running process, like a child the launcher left behind. */
async function orphan(): Promise<number> {
  const p = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
    detached: true,
    stdio: "ignore",
  });
  procs.push(p);
  await new Promise((r) => p.once("spawn", r));
  return p.pid as number;
}

const gone = (pid: number) => processStartTime(pid) === undefined;

describe("runfiles", () => {
  it("runfiles - the lock refuses a second launcher while the first is alive", async () => {
    const pid = await orphan();
    writeFileSync(join(dir, "launcher.lock"), JSON.stringify(recordFor("launcher", pid, "SIGTERM")));
    expect(() => acquireLock(dir)).toThrow(`another launcher (pid ${pid}) is running`);
  });

  it("runfiles - a lock left by a dead launcher is taken over and released", () => {
    writeFileSync(
      join(dir, "launcher.lock"),
      JSON.stringify({ name: "launcher", pid: 999_999_99, startTime: "1", stopSignal: "SIGTERM" }),
    );
    const release = acquireLock(dir);
    expect(existsSync(join(dir, "launcher.lock"))).toBe(true);
    release();
    expect(existsSync(join(dir, "launcher.lock"))).toBe(false);
  });

  it("runfiles - reapStale stops recorded children that are still alive", async () => {
    const a = await orphan();
    const b = await orphan();
    writeRecord(dir, recordFor("svc", a, "SIGTERM"));
    writeRecord(dir, recordFor("nats", b, "SIGTERM"));
    await reapStale(dir, silentLogger, { last: ["nats"] });
    for (let i = 0; i < 50 && !(gone(a) && gone(b)); i++) await sleep(20);
    expect(gone(a) && gone(b)).toBe(true);
    expect(existsSync(join(dir, "svc.json")) || existsSync(join(dir, "nats.json"))).toBe(false);
  });

  it("runfiles - never kills a recycled pid (start time differs)", async () => {
    const pid = await orphan();
    writeRecord(dir, { name: "svc", pid, startTime: "12345", stopSignal: "SIGKILL" });
    expect(isAlive({ pid, startTime: "12345" })).toBe(false);
    await reapStale(dir, silentLogger);
    expect(gone(pid)).toBe(false);
    expect(existsSync(join(dir, "svc.json"))).toBe(false);
  });
});
