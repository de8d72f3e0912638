// Generic child-process supervisor: spawn, prefix output, restart with exponential
// backoff, stop with a timeout. Knows nothing about edgeplane; main.ts decides what runs.
//
// Every child gets its own process group (`detached`). Two reasons: Ctrl-C in a terminal
// signals the whole foreground group, and we want the launcher alone to receive it so it
// can stop the mesh in order (gateway first, PostgreSQL last); and a group can be killed
// as a whole, so a child's own children (haproxy, wireguard-go, piscina) go with it.
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "./log.ts";
import { silentLogger } from "./log.ts";
import { createLineWriter, type PrefixStyle, prefixFor } from "./prefix.ts";

export interface ChildSpec {
  /** Shown in the output prefix and logs; unique per supervisor. */
  readonly name: string;
  readonly command: string;
  readonly args?: readonly string[];
  /** The child's complete environment (not merged with anything). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Run as another user (PostgreSQL refuses to run as root). */
  readonly uid?: number;
  readonly gid?: number;
  /** Restart when it exits without being asked to. Default true. */
  readonly restart?: boolean;
  /** Signal asking it to stop. Default SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
  /** How long to wait after stopSignal before SIGKILL of its process group. Default 10 s. */
  readonly stopTimeoutMs?: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be spawned at all (e.g. ENOENT). */
  readonly error?: Error;
  readonly uptimeMs: number;
  /** True when the exit followed stop(): no restart follows. */
  readonly requested: boolean;
  /** True when a restart has been scheduled. */
  readonly willRestart: boolean;
}

export interface Child {
  readonly name: string;
  /** Pid of the current process, undefined between runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Restarts so far (not counting the first start). */
  readonly restarts: number;
  /** Called after every exit of the process; returns an unsubscribe function. */
  onExit(listener: (info: ExitInfo) => void): () => void;
  /** Stop it (stopSignal, then SIGKILL after stopTimeoutMs) and never restart it. Idempotent. */
  stop(): Promise<void>;
}

export interface BackoffPolicy {
  /** Delay before the first restart. */
  readonly initialMs: number;
  /** The delay doubles up to this. */
  readonly maxMs: number;
  /** A run at least this long resets the delay to initialMs. */
  readonly resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({
  initialMs: 500,
  maxMs: 30_000,
  resetAfterMs: 60_000,
});

/** Delay before restart number `attempt` (0-based). */
export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
}

export interface SupervisorOptions {
  /** Where prefixed child output goes. Default process.stdout. */
  readonly out?: NodeJS.WritableStream;
  readonly style?: PrefixStyle;
  readonly backoff?: BackoffPolicy;
  readonly log?: Logger;
  /** After every spawn (main.ts records the pid for crash recovery). */
  readonly onSpawn?: (name: string, pid: number, spec: ChildSpec) => void;
  /** After every exit. */
  readonly onExit?: (name: string, info: ExitInfo) => void;
}

export interface Supervisor {
  /** Spawn a child now and supervise it. */
  start(spec: ChildSpec): Child;
  /** Every child ever started, in start order. */
  readonly children: readonly Child[];
  /**
   * Synchronous last resort for process.on("exit"): sends each live child its stop
   * signal (or `signal` to its whole group) and cancels restarts. Returns the pids.
   */
  signalAll(signal?: NodeJS.Signals): number[];
}

export function createSupervisor(opts: SupervisorOptions = {}): Supervisor {
  const out = opts.out ?? process.stdout;
  const style = opts.style ?? { width: 12, color: false };
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const log = opts.log ?? silentLogger;
  const children: ChildImpl[] = [];

  return {
    start(spec) {
      const child = new ChildImpl(spec, {
        out,
        style,
        backoff,
        log,
        onSpawn: opts.onSpawn,
        onExit: opts.onExit,
      });
      children.push(child);
      child.spawn();
      return child;
    },
    get children() {
      return children;
    },
    signalAll(signal) {
      const pids: number[] = [];
      for (const c of children) {
        const pid = c.abandon(signal);
        if (pid !== undefined) pids.push(pid);
      }
      return pids;
    },
  };
}

interface ChildContext {
  out: NodeJS.WritableStream;
  style: PrefixStyle;
  backoff: BackoffPolicy;
  log: Logger;
  onSpawn: SupervisorOptions["onSpawn"];
  onExit: SupervisorOptions["onExit"];
}

// Not exported: callers only see the Child interface.
class ChildImpl implements Child {
  readonly name: string;
  restarts = 0;
  #spec: ChildSpec;
  #ctx: ChildContext;
  #proc: ChildProcess | undefined;
  #startedAt = 0;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #listeners = new Set<(info: ExitInfo) => void>();

  constructor(spec: ChildSpec, ctx: ChildContext) {
    this.name = spec.name;
    this.#spec = spec;
    this.#ctx = ctx;
  }

  get pid() {
    return this.#proc?.pid;
  }

  get running() {
    return this.#proc !== undefined;
  }

  onExit(listener: (info: ExitInfo) => void) {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  spawn(): void {
    this.#timer = undefined;
    if (this.#stopping) return;
    const s = this.#spec;
    const proc = spawn(s.command, s.args ?? [], {
      env: s.env ?? process.env,
      cwd: s.cwd,
      uid: s.uid,
      gid: s.gid,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#proc = proc;
    this.#startedAt = Date.now();
    const prefix = prefixFor(this.name, this.#ctx.style);
    // One writer per stream, so a partial stdout line never merges with a stderr line.
    for (const stream of [proc.stdout, proc.stderr]) {
      const w = createLineWriter(prefix, this.#ctx.out);
      stream?.on("data", (chunk: Buffer) => w.write(chunk));
      stream?.on("end", () => w.flush());
      stream?.on("error", () => w.flush());
    }
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (done) return;
      done = true;
      this.#exited(proc, code, signal, error);
    };
    proc.on("exit", (code, signal) => finish(code, signal));
    // 'error' without a pid: it never started (ENOENT, EACCES); 'exit' may not follow.
    proc.on("error", (err) => {
      if (proc.pid === undefined || proc.exitCode !== null) finish(null, null, err);
      else this.#ctx.log.warn(`${this.name}: ${err.message}`);
    });
    if (proc.pid !== undefined) this.#ctx.onSpawn?.(this.name, proc.pid, s);
  }

  #exited(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null, error?: Error): void {
    if (this.#proc === proc) this.#proc = undefined;
    const uptimeMs = Date.now() - this.#startedAt;
    const requested = this.#stopping;
    const willRestart = !requested && this.#spec.restart !== false;
    const what = error
      ? `could not start: ${error.message}`
      : signal
        ? `killed by ${signal}`
        : `exited with code ${code}`;
    if (willRestart) {
      if (uptimeMs >= this.#ctx.backoff.resetAfterMs) this.#attempt = 0;
      const delay = backoffDelay(this.#attempt++, this.#ctx.backoff);
      this.restarts++;
      this.#ctx.log.warn(
        `${this.name} ${what} after ${seconds(uptimeMs)}; restart #${this.restarts} in ${seconds(delay)}`,
      );
      this.#timer = setTimeout(() => this.spawn(), delay);
    } else if (!requested) {
      if (code === 0) this.#ctx.log.debug(`${this.name} ${what}`);
      else this.#ctx.log.warn(`${this.name} ${what}`);
    }
    const info: ExitInfo = { code, signal, error, uptimeMs, requested, willRestart };
    if (proc.pid !== undefined) this.#ctx.onExit?.(this.name, info);
    for (const l of this.#listeners) l(info);
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const proc = this.#proc;
    if (proc === undefined || proc.pid === undefined) return;
    const pid = proc.pid;
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once("exit", () => resolve());
    });
    kill(pid, this.#spec.stopSignal ?? "SIGTERM");
    const timeoutMs = this.#spec.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#ctx.log.warn(`${this.name} did not stop within ${seconds(timeoutMs)}; killing it`);
      kill(-pid, "SIGKILL");
      await exited;
    }
    // Anything it left behind in its process group goes too: no orphans.
    kill(-pid, "SIGKILL");
  }

  /** See Supervisor.signalAll. */
  abandon(signal?: NodeJS.Signals): number | undefined {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const pid = this.#proc?.pid;
    if (pid === undefined) return undefined;
    if (signal === undefined) kill(pid, this.#spec.stopSignal ?? "SIGTERM");
    else kill(-pid, signal);
    return pid;
  }
}

/** Rejects when the child's first run ends (it did not become ready). */
export function firstExit(child: Child): { promise: Promise<never>; cancel: () => void } {
  let off = () => {};
  const promise = new Promise<never>((_, reject) => {
    off = child.onExit((info) => {
      off();
      if (info.error) reject(info.error);
      else reject(new Error(info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`));
    });
  });
  promise.catch(() => {}); // may never be awaited
  return { promise, cancel: () => off() };
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
