/**
 * The local haproxy: its master CLI and admin socket, `show proc` parsing, and a managed
 * master-worker child (`haproxy -W -S <master.sock> -f <cfg> -p <pid>`, no `-D`, output to
 * `haproxy.log`). A reload is only reported successful once `show proc` confirms it: the
 * master's reload counter rose, `failed` is 0 and a new worker PID appeared (HAProxy 2.6
 * answers `reload` with nothing).
 */
import { execFile, spawn } from "node:child_process";
import { accessSync, closeSync, constants, type FSWatcher, openSync, statSync, watch } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface ProcInfo {
  masterPid: number;
  reloads: number;
  failed: number;
  workers: number[];
  oldWorkers: number[];
  version: string | null;
}

/** Parse `show proc` of the master CLI by its header line (layout changed in 2.5). */
export function parseShowProc(text: string): ProcInfo | null {
  const lines = text.split("\n");
  const header = lines.findIndex((l) => l.startsWith("#<PID>"));
  if (header < 0) return null;
  let section: "master" | "workers" | "old" | "other" = "master";
  const out: ProcInfo = { masterPid: 0, reloads: 0, failed: 0, workers: [], oldWorkers: [], version: null };
  for (const l of lines.slice(header + 1)) {
    if (l.startsWith("# workers")) section = "workers";
    else if (l.startsWith("# old workers")) section = "old";
    else if (l.startsWith("#")) section = "other";
    else {
      const m = /^(\d+)\s+(master|worker)\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?\s+\S+\s+(\S+)?/.exec(l.trim());
      if (!m) continue;
      const pid = Number(m[1]);
      if (m[2] === "master") {
        out.masterPid = pid;
        out.reloads = Number(m[3]);
        out.failed = Number(m[4] ?? 0);
        out.version = m[5] ?? null;
      } else if (section === "workers") out.workers.push(pid);
      else if (section === "old") out.oldWorkers.push(pid);
    }
  }
  return out.masterPid > 0 ? out : null;
}

/** One command on a UNIX stats/master socket; retries connects while the master re-execs. */
export async function socketCommand(
  path: string,
  cmd: string,
  opts: { retryMs?: number; timeoutMs?: number; retryEveryMs?: number } = {},
): Promise<string> {
  const deadline = Date.now() + (opts.retryMs ?? 2000);
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const s = createConnection({ path });
        let out = "";
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`no answer from ${path} to '${cmd}'`));
        }, opts.timeoutMs ?? 30_000);
        // Half-close after the command: haproxy answers, then closes (like `socat stdio`).
        s.on("connect", () => s.end(`${cmd}\n`));
        s.on("data", (b) => {
          out += b.toString();
        });
        s.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
        s.on("close", () => {
          clearTimeout(timer);
          resolve(out);
        });
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === "ENOENT" || code === "ECONNREFUSED" || code === "ECONNRESET") && Date.now() < deadline) {
        await sleep(opts.retryEveryMs ?? 20);
        continue;
      }
      throw err;
    }
  }
}

/** Absolute path of an executable: as given if it contains '/', else PATH plus sbin dirs. */
export function findExecutable(bin: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = bin.includes("/")
    ? [bin]
    : [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"]
        .filter(Boolean)
        .map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  return null;
}

export function run(bin: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : 127
        : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** `haproxy -v` → "2.6.12-1+deb12u4", or null when it cannot run. */
export async function haproxyVersion(bin: string): Promise<string | null> {
  const r = await run(bin, ["-v"]);
  return r.code === 0 ? (/version (\S+)/.exec(r.out)?.[1] ?? null) : null;
}

export interface HaproxyPaths {
  bin: string;
  cfg: string;
  masterSocket: string;
  pidFile: string;
  logFile: string;
  adminSocket: string;
  stateFile: string;
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The master-worker haproxy of this node, driven through its master CLI. */
export class HaproxyProcess {
  readonly paths: HaproxyPaths;
  /**
   * Commands that change what runs (start, reload, stop) counted as they begin, and how
   * many are under way. A `show proc` answer asked while none was under way still
   * describes what runs as long as `generation` has not moved since (the early reload
   * baseline of `NodeAgent.prepare`).
   */
  generation = 0;
  changing = 0;
  constructor(paths: HaproxyPaths) {
    this.paths = paths;
  }

  private async changes<T>(fn: () => Promise<T>): Promise<T> {
    this.generation++;
    this.changing++;
    try {
      return await fn();
    } finally {
      this.changing--;
    }
  }

  /** `show proc`, or null when no master answers. */
  async showProc(retryMs = 300, retryEveryMs = 20): Promise<ProcInfo | null> {
    try {
      return parseShowProc(
        await socketCommand(this.paths.masterSocket, "show proc", { retryMs, timeoutMs: 5000, retryEveryMs }),
      );
    } catch {
      return null;
    }
  }

  /** A command on the admin socket; connects are retried for `retryMs`. */
  async admin(cmd: string, retryMs = 1000): Promise<string> {
    return socketCommand(this.paths.adminSocket, cmd, { retryMs, timeoutMs: 30_000 });
  }

  /** Size of haproxy.log now (to read what a reload printed). */
  async logOffset(): Promise<number> {
    // A stat, synchronously: it is on the way to every reload.
    try {
      return statSync(this.paths.logFile).size;
    } catch {
      return 0;
    }
  }
  async logSince(offset: number): Promise<string> {
    try {
      const fh = await open(this.paths.logFile, "r");
      try {
        const size = (await fh.stat()).size;
        const len = Math.min(Math.max(0, size - offset), 64 * 1024);
        const buf = Buffer.alloc(len);
        await fh.read(buf, 0, len, Math.max(offset, size - len));
        return buf.toString();
      } finally {
        await fh.close();
      }
    } catch {
      return "";
    }
  }

  /**
   * Start the master as a detached child (its own process group, output to haproxy.log)
   * and wait until a worker runs. A detached master survives an agent crash; the next
   * agent adopts it through the master socket.
   */
  start(timeoutMs: number): Promise<ProcInfo> {
    return this.changes(() => this.startNow(timeoutMs));
  }

  private async startNow(timeoutMs: number): Promise<ProcInfo> {
    const existing = await readPid(this.paths.pidFile);
    if (existing && isAlive(existing)) {
      // A master is alive but its socket was briefly away (re-exec): never start a second one.
      const p = await this.showProc(2000);
      if (p) return p;
    }
    const offset = await this.logOffset();
    const fd = openSync(this.paths.logFile, "a");
    let exited: number | null = null;
    try {
      const child = spawn(
        this.paths.bin,
        ["-W", "-S", `${this.paths.masterSocket},mode,600`, "-f", this.paths.cfg, "-p", this.paths.pidFile],
        {
          detached: true,
          stdio: ["ignore", fd, fd],
          env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin" },
        },
      );
      child.once("exit", (code) => {
        exited = code ?? -1;
      });
      child.unref();
    } finally {
      closeSync(fd);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited !== null)
        throw new Error(`haproxy exited with ${exited}: ${alerts(await this.logSince(offset))}`);
      const p = await this.showProc(0);
      if (p && p.workers.length > 0) return p;
      await sleep(20);
    }
    throw new Error(`haproxy did not start within ${timeoutMs} ms: ${alerts(await this.logSince(offset))}`);
  }

  /**
   * Reload through the master CLI and confirm with `show proc`. The master re-executes
   * itself and parses the new file (as long as `haproxy -c` takes, more for big files).
   * It prints to haproxy.log when it starts and when the new worker is ready ("Loading
   * success."), so a write to the log (inotify) triggers the next `show proc` at once;
   * between writes the poll starts tight (2 ms) and backs off to 25 ms. Connects are
   * retried every 3 ms while the master socket is away during the re-exec.
   */
  reload(timeoutMs: number, ph?: { mark(name: string): void }, known?: ProcInfo): Promise<ProcInfo> {
    return this.changes(() => this.reloadNow(timeoutMs, ph, known));
  }

  private async reloadNow(
    timeoutMs: number,
    ph?: { mark(name: string): void },
    known?: ProcInfo,
  ): Promise<ProcInfo> {
    const before = known ?? (await this.showProc(1000));
    if (!before) throw new Error("haproxy is not running (no answer on the master socket)");
    const offset = await this.logOffset();
    ph?.mark("reload_before");
    let wake: (() => void) | undefined;
    let logWritten = false;
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.paths.logFile, { persistent: false }, () => {
        logWritten = true;
        wake?.();
      });
      watcher.on("error", () => undefined);
    } catch {
      // No log file to watch (an adopted master logging elsewhere): the timer alone.
    }
    try {
      // A master still re-executing after an earlier reload resets or refuses connections
      // for a while (over a second at 10k backends on a slow machine): keep trying.
      await socketCommand(this.paths.masterSocket, "reload", { retryMs: 10_000, timeoutMs: 5000 });
      ph?.mark("reload_cmd");
      const deadline = Date.now() + timeoutMs;
      let pause = 2;
      while (Date.now() < deadline) {
        if (!logWritten) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, pause);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = undefined;
        }
        // After a log write, poll tight again: the line may precede the process table.
        pause = logWritten ? 2 : Math.min(25, pause * 1.5);
        logWritten = false;
        const p = await this.showProc(200, 3);
        if (!p) continue; // re-exec in progress
        if (p.reloads > before.reloads) {
          if (p.failed > 0)
            throw new Error(
              `reload failed: ${alerts(await this.logSince(offset)) || "haproxy reported [failed]"}`,
            );
          if (p.workers.some((w) => !before.workers.includes(w))) {
            ph?.mark("reload_confirm");
            return p;
          }
        }
      }
      throw new Error(`reload not confirmed within ${timeoutMs} ms`);
    } finally {
      wake = undefined;
      watcher?.close();
    }
  }

  /** Stop the master (SIGTERM to it: workers finish, then exit) and wait for it to go. */
  stop(timeoutMs = 10_000): Promise<void> {
    return this.changes(() => this.stopNow(timeoutMs));
  }

  private async stopNow(timeoutMs: number): Promise<void> {
    const p = await this.showProc(0);
    const pid = p?.masterPid ?? (await readPid(this.paths.pidFile));
    if (!pid || !isAlive(pid)) return;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + timeoutMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(20);
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
}

async function readPid(file: string): Promise<number | null> {
  const t = await readFile(file, "utf8").catch(() => "");
  const n = Number.parseInt(t.trim().split("\n")[0] ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** The ALERT lines of haproxy output, joined (or the last lines when there are none). */
export function alerts(out: string): string {
  const a = out
    .split("\n")
    .filter((l) => l.includes("[ALERT]"))
    .map((l) => l.replace(/^\[ALERT\]\s+\(\d+\)\s*:\s*/, "").trim());
  return (a.length > 0 ? a : out.trim().split("\n").slice(-3)).join("; ").slice(0, 2000);
}
