import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Logger } from "./log.ts";
import { processStartTime } from "./runfiles.ts";
import { backoffDelay, type Child, createSupervisor, type ExitInfo } from "./supervisor.ts";

const node = process.execPath;
const started: Child[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

function capturingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (msg: string) => lines.push(`${level} ${msg}`);
  return { lines, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Gone or a zombie (exited; its reaping is not our concern). Linux /proc. */
const pidGone = (pid: number) => processStartTime(pid) === undefined;

describe("supervisor", () => {
  it("supervisor - backoff doubles from the initial delay up to the maximum", () => {
    const p = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 50].map((a) => backoffDelay(a, p))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("supervisor - restarts a crashing child with exponential backoff", async () => {
    const spawns: number[] = [];
    const log = capturingLog();
    const sup = createSupervisor({
      out: new PassThrough(),
      log,
      backoff: { initialMs: 100, maxMs: 400, resetAfterMs: 60_000 },
      onSpawn: () => spawns.push(Date.now()),
    });
    const child = sup.start({ name: "crasher", command: node, args: ["-e", "process.exit(3)"] });
    started.push(child);
    await until("5 spawns", () => spawns.length >= 5);
    await child.stop();

    expect(child.restarts).toBeGreaterThanOrEqual(4);
    const gaps = spawns.slice(1).map((t, i) => t - (spawns[i] as number));
    // Each gap is the process lifetime plus the delay: at least the delay 100, 200, 400, 400.
    for (const [i, delay] of [100, 200, 400, 400].entries())
      expect(gaps[i]).toBeGreaterThanOrEqual(delay - 5);
    // The doubling itself is read from the scheduled delays the supervisor logs (below):
    // wall-clock gaps also contain the child's start-up time, which varies with load.
    expect(log.lines).toContainEqual(expect.stringMatching(/restart #1 in 0\.1 s$/));
    expect(
      log.lines.filter((l) => l.startsWith("warn crasher exited with code 3")).length,
    ).toBeGreaterThanOrEqual(4);
    expect(log.lines).toContainEqual(expect.stringMatching(/restart #2 in 0\.2 s$/));
  });

  it("supervisor - a run longer than resetAfterMs resets the backoff", async () => {
    const log = capturingLog();
    const sup = createSupervisor({
      out: new PassThrough(),
      log,
      backoff: { initialMs: 50, maxMs: 10_000, resetAfterMs: 200 },
    });
    // Runs 300 ms (> resetAfterMs) then fails: every restart should use the initial delay.
    const child = sup.start({
      name: "slowfail",
      command: node,
      args: ["-e", "setTimeout(() => process.exit(1), 300)"],
    });
    started.push(child);
    await until("3 restarts", () => child.restarts >= 3);
    await child.stop();
    const delays = log.lines.filter((l) => l.includes("restart #")).map((l) => l.replace(/.* in /, ""));
    expect(delays.slice(0, 3)).toEqual(["0.1 s", "0.1 s", "0.1 s"]);
  });

  it("supervisor - stops children on shutdown and does not restart them", async () => {
    const sup = createSupervisor({
      out: new PassThrough(),
      backoff: { initialMs: 10, maxMs: 10, resetAfterMs: 1000 },
    });
    const a = sup.start({ name: "a", command: node, args: ["-e", "setInterval(() => {}, 1000)"] });
    const b = sup.start({ name: "b", command: node, args: ["-e", "setInterval(() => {}, 1000)"] });
    started.push(a, b);
    await until("both running", () => a.pid !== undefined && b.pid !== undefined);
    const pids = [a.pid as number, b.pid as number];
    const exits: ExitInfo[] = [];
    a.onExit((i) => exits.push(i));
    await Promise.all([a.stop(), b.stop()]);
    expect(pids.every(pidGone)).toBe(true);
    expect(exits).toEqual([
      expect.objectContaining({ signal: "SIGTERM", requested: true, willRestart: false }),
    ]);
    await sleep(100);
    expect(a.running || b.running).toBe(false);
    expect(a.restarts + b.restarts).toBe(0);
  });

  it("supervisor - SIGKILLs a child ignoring its stop signal after the timeout, with its process group", async () => {
    const log = capturingLog();
    const out = new PassThrough();
    let text = "";
    out.on("data", (d) => {
      text += d.toString();
    });
    const sup = createSupervisor({ out, log });
    // The child ignores SIGTERM and starts a grandchild in its own process group.
    const script = `
      process.on("SIGTERM", () => {});
      const g = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
      console.log("grandchild " + g.pid);
      setInterval(() => {}, 1000);`;
    const child = sup.start({ name: "stubborn", command: node, args: ["-e", script], stopTimeoutMs: 300 });
    started.push(child);
    await until("grandchild pid", () => /grandchild \d+/.test(text));
    const grandchild = Number(/grandchild (\d+)/.exec(text)?.[1]);
    const pid = child.pid as number;
    const t0 = Date.now();
    await child.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(pidGone(pid)).toBe(true);
    await until("grandchild gone", () => pidGone(grandchild), 2000);
    expect(log.lines).toContainEqual("warn stubborn did not stop within 0.3 s; killing it");
  });

  it("supervisor - prefixes every output line with the padded name", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d) => {
      text += d.toString();
    });
    const sup = createSupervisor({ out, style: { width: 8, color: false } });
    const child = sup.start({
      name: "svc",
      command: node,
      args: [
        "-e",
        "process.stdout.write('one\\ntwo\\r\\nthr'); process.stdout.write('ee'); console.error('err')",
      ],
      restart: false,
    });
    started.push(child);
    await until("3 stdout lines and 1 stderr line", () => text.split("\n").length >= 5);
    const lines = text.trimEnd().split("\n");
    expect(lines.filter((l) => !l.includes("err"))).toEqual([
      "svc      | one",
      "svc      | two",
      "svc      | three",
    ]);
    expect(lines).toContain("svc      | err");
  });

  it("supervisor - colours the prefix when asked to", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (d) => {
      text += d.toString();
    });
    const sup = createSupervisor({ out, style: { width: 4, color: true } });
    started.push(sup.start({ name: "c", command: node, args: ["-e", "console.log('hi')"], restart: false }));
    await until("output", () => text.includes("hi"));
    const esc = String.fromCharCode(27);
    expect(text.startsWith(`${esc}[`)).toBe(true);
    expect(text.endsWith(`mc    |${esc}[0m hi\n`)).toBe(true);
  });

  it("supervisor - reports a command that cannot be spawned", async () => {
    const log = capturingLog();
    const sup = createSupervisor({ out: new PassThrough(), log });
    const child = sup.start({ name: "ghost", command: "/nonexistent/binary", restart: false });
    const info = await new Promise<ExitInfo>((resolve) => child.onExit(resolve));
    expect((info.error as NodeJS.ErrnoException | undefined)?.code).toBe("ENOENT");
    expect(child.running).toBe(false);
    expect(log.lines.some((l) => l.startsWith("warn ghost could not start"))).toBe(true);
  });

  it("supervisor - signalAll stops every child synchronously and cancels restarts", async () => {
    const sup = createSupervisor({
      out: new PassThrough(),
      backoff: { initialMs: 10, maxMs: 10, resetAfterMs: 1000 },
    });
    const kids = [1, 2, 3].map((i) =>
      sup.start({ name: `k${i}`, command: node, args: ["-e", "setInterval(() => {}, 1000)"] }),
    );
    started.push(...kids);
    await until("all running", () => kids.every((k) => k.pid !== undefined));
    const pids = sup.signalAll();
    expect(pids.sort()).toEqual(kids.map((k) => k.pid as number).sort());
    await until("all gone", () => pids.every(pidGone));
    await sleep(100);
    expect(kids.every((k) => k.restarts === 0 && !k.running)).toBe(true);
  });
});
