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

/**
 * End every stray of `dir`; returns every pid that was found. It keeps looking until none
 * is left, because a stray can fork while it is being ended (a haproxy master that was
 * reloading forks its new worker after the first look): SIGTERM once to each pid as it
 * appears, SIGKILL to whatever is still there after `graceMs`, and it returns only when
 * two scans 50 ms apart find nothing (or 5 s after the SIGKILLs began).
 */
export async function killStrays(dir: string, graceMs = 5000): Promise<number[]> {
  const seen = new Set<number>();
  const termUntil = Date.now() + graceMs;
  const giveUpAt = termUntil + 5000;
  const send = (pid: number, s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {}
  };
  let quiet = 0;
  for (;;) {
    const pids = await findStrays(dir);
    if (Date.now() > giveUpAt) break;
    if (pids.length === 0) {
      if (seen.size === 0) break; // nothing to end: the common case of a test's tmpDir
      // Twice, 50 ms apart: a scan lists /proc first and reads command lines after, so a
      // stray that forks and exits in between is seen by neither (its child is not listed
      // yet, it is a zombie already).
      if (++quiet >= 2) break;
      await sleep(50);
      continue;
    }
    quiet = 0;
    const late = Date.now() > termUntil;
    for (const p of pids) {
      if (late) send(p, "SIGKILL");
      else if (!seen.has(p)) send(p, "SIGTERM");
      seen.add(p);
    }
    await sleep(20);
  }
  return [...seen].sort((a, b) => a - b);
}
