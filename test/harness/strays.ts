/**
 * Stray daemons of a test: processes whose command line names a path under a test's
 * directory (e.g. a haproxy master-worker a service started detached, which outlives that
 * service when it is SIGKILLed). `killStrays(dir)` ends them — SIGTERM, then SIGKILL after
 * a grace period — and `tmpDir()` calls it before removing its directory, so no test
 * leaves a daemon running from a directory that no longer exists.
 */
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** Live processes (not zombies, not this one) with an argument mentioning `dir`. */
export async function findStrays(dir: string): Promise<number[]> {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  const names = await readdir("/proc").catch(() => [] as string[]);
  const found: number[] = [];
  await Promise.all(
    names.map(async (n) => {
      if (!/^\d+$/.test(n)) return;
      const pid = Number(n);
      if (pid === process.pid) return;
      // A zombie's cmdline is empty: nothing left to end.
      const cmd = await readFile(`/proc/${n}/cmdline`, "utf8").catch(() => "");
      if (cmd.split("\0").some((a) => a === dir || a.includes(prefix))) found.push(pid);
    }),
  );
  return found.sort((a, b) => a - b);
}

const alive = async (pid: number) =>
  (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).length > 0;

/** End every stray of `dir`; returns the pids that were found. */
export async function killStrays(dir: string, graceMs = 5000): Promise<number[]> {
  const pids = await findStrays(dir);
  if (pids.length === 0) return pids;
  const signal = (s: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, s);
      } catch {}
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = (await Promise.all(pids.map(alive))).some(Boolean);
    if (!left) return pids;
    if (Date.now() > deadline) break;
    await sleep(20);
  }
  signal("SIGKILL");
  return pids;
}
