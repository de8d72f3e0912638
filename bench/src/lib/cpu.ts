/**
 * CPU used by each process during a phase, in % of one core, from /proc/<pid>/stat
 * (utime + stime). On a 2-core machine this shows how the load generator, the target and
 * NATS split the CPU. Linux only: elsewhere the result is empty.
 */
import { readFileSync } from "node:fs";

const TICKS_PER_S = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the `(comm)`, which may contain spaces: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine (all cores), from the first line of /proc/stat. */
function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] as string;
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (
      ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_S
    );
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn`, returning its result and the CPU % of one core each named process used
 * meanwhile, plus `other`: the rest of the machine's busy time (other work, the kernel).
 */
export async function withCpu<T>(
  pids: Record<string, number | undefined>,
  fn: () => Promise<T>,
): Promise<[T, Record<string, number>]> {
  const before = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) {
    const s = pid === undefined ? undefined : cpuSeconds(pid);
    if (s !== undefined) before.set(name, s);
  }
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const out = await fn();
  const wall = (performance.now() - t0) / 1000;
  const busy1 = machineBusySeconds();
  const cpu: Record<string, number> = {};
  let ours = 0;
  for (const [name, s0] of before) {
    const s1 = cpuSeconds(pids[name] as number);
    if (s1 === undefined) continue;
    ours += s1 - s0;
    cpu[name] = Math.round(((s1 - s0) / wall) * 100);
  }
  if (busy0 !== undefined && busy1 !== undefined)
    cpu.other = Math.max(0, Math.round(((busy1 - busy0 - ours) / wall) * 100));
  return [out, cpu];
}

/**
 * Waits (up to `maxWaitS`) for a 1 s window in which the whole machine is busy for less
 * than `thresholdPct` of one core: others share this machine, and a phase started in the
 * middle of their burst measures them too. Returns the seconds waited.
 */
export async function waitForQuiet(thresholdPct = 25, maxWaitS = 60): Promise<number> {
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < maxWaitS) {
    const b0 = machineBusySeconds();
    await new Promise((r) => setTimeout(r, 1000));
    const b1 = machineBusySeconds();
    if (b0 === undefined || b1 === undefined || (b1 - b0) * 100 < thresholdPct) break;
  }
  return Math.round((performance.now() - t0) / 1000);
}
