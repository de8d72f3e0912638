// $EP_DATA_DIR/run: the launcher's lock and one record per running child.
//
// A launcher killed with SIGKILL (or an OOM kill) cannot stop its children, and they
// run in their own process groups. The next launcher on the same data dir finds their
// records here and stops them before starting anything, so a crash never leaves a
// nats-server on the JetStream store or a postgres on the data dir. A record holds the
// pid *and* the kernel start time of the process, so a recycled pid is never killed.
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "./log.ts";

export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat; undefined where there is no /proc. */
  readonly startTime: string | undefined;
  readonly stopSignal: NodeJS.Signals;
}

const LOCK = "launcher.lock";

/**
 * Kernel start time of a process (clock ticks since boot), or undefined if it is gone,
 * a zombie (exited, not yet reaped: nothing left to stop) or there is no /proc.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** True while the process the record describes is still alive (and not a recycled pid). */
export function isAlive(rec: Pick<ProcessRecord, "pid" | "startTime">): boolean {
  if (rec.startTime !== undefined) return processStartTime(rec.pid) === rec.startTime;
  try {
    process.kill(rec.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function recordFor(name: string, pid: number, stopSignal: NodeJS.Signals): ProcessRecord {
  return { name, pid, startTime: processStartTime(pid), stopSignal };
}

export function writeRecord(runDir: string, rec: ProcessRecord): void {
  writeFileSync(join(runDir, `${rec.name}.json`), JSON.stringify(rec), { mode: 0o600 });
}

export function removeRecord(runDir: string, name: string): void {
  rmSync(join(runDir, `${name}.json`), { force: true });
}

function readRecord(path: string): ProcessRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, "utf8")) as ProcessRecord;
    return Number.isInteger(r.pid) && r.pid > 1 ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the per-data-dir lock. Throws if another live launcher holds it; a lock left by
 * a dead launcher is taken over. Returns the function that releases it.
 */
export function acquireLock(runDir: string): () => void {
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const path = join(runDir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600); // exclusive: two launchers racing cannot both win
      writeSync(fd, JSON.stringify(recordFor("launcher", process.pid, "SIGTERM")));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = readRecord(path);
      if (holder !== undefined && holder.pid !== process.pid && isAlive(holder)) {
        throw new Error(`another launcher (pid ${holder.pid}) is running on ${runDir}; stop it first`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not take the launcher lock ${path}`);
}

/**
 * Stops every child a previous launcher left running: its stop signal, up to
 * `timeoutMs`, then SIGKILL to its whole process group. Records are removed. Children
 * named in `last` are stopped after all others, one name at a time in that order (the
 * services before NATS before PostgreSQL, as in an orderly shutdown).
 */
export async function reapStale(
  runDir: string,
  log: Logger,
  opts: { last?: readonly string[]; timeoutMs?: number } = {},
): Promise<void> {
  let files: string[];
  try {
    files = readdirSync(runDir).filter((f) => f.endsWith(".json"));
  } catch {
    return;
  }
  const last = opts.last ?? [];
  const recs = files.map((file) => ({ path: join(runDir, file), rec: readRecord(join(runDir, file)) }));
  const phases = [
    recs.filter((r) => !last.includes(r.rec?.name ?? "")),
    ...last.map((name) => recs.filter((r) => r.rec?.name === name)),
  ];
  for (const phase of phases) {
    await Promise.all(
      phase.map(async ({ path, rec }) => {
        if (rec !== undefined && isAlive(rec)) {
          log.warn(`stopping ${rec.name} (pid ${rec.pid}) left running by a previous launcher`);
          await stopProcess(rec, opts.timeoutMs ?? 10_000);
        }
        rmSync(path, { force: true });
      }),
    );
  }
}

async function stopProcess(rec: ProcessRecord, timeoutMs: number): Promise<void> {
  signal(rec.pid, rec.stopSignal);
  const deadline = Date.now() + timeoutMs;
  while (isAlive(rec) && Date.now() < deadline) await sleep(100);
  signal(-rec.pid, "SIGKILL"); // the leader if still there, and whatever it left in its group
  const killDeadline = Date.now() + 5000;
  while (isAlive(rec) && Date.now() < killDeadline) await sleep(50);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
