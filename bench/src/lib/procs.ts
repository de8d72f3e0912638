/**
 * Child processes of a bench run: spawned through one registry so every one of them is
 * stopped when the run ends, fails, or is interrupted (SIGTERM, then SIGKILL after a
 * grace period; SIGKILL from the `exit` hook as a last resort).
 *
 * Node targets (`spawnTarget`) are entry scripts that report `{type: "ready", …}` over
 * the IPC channel (see targets/child.ts) and exit when it closes.
 */
import { type ChildProcess, spawn } from "node:child_process";

const STOP_GRACE_MS = 5_000;
const READY_TIMEOUT_MS = 20_000;

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Last few KB of stderr and stdout, for error messages. */
  output(): string;
  /** SIGTERM, SIGKILL after the grace period; resolves once the process is gone. */
  stop(): Promise<void>;
}

const live = new Set<Proc>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const p of live) p.child.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${live.size} child process(es)\n`);
      void stopAll().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
    });
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].reverse().map((p) => p.stop()));
}

const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

export function spawnProc(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; ipc?: boolean; serialization?: "json" | "advanced" } = {},
): Proc {
  hook();
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    serialization: opts.serialization ?? "json",
    stdio: ["ignore", "pipe", "pipe", ...(opts.ipc ? (["ipc"] as const) : [])],
  });
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    if (gone(child)) resolve();
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const proc: Proc = {
    name,
    child,
    output: () => tail,
    async stop() {
      if (!gone(child) && child.pid !== undefined) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      live.delete(proc);
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

export interface ReadyMessage {
  type: "ready";
  url?: string;
  [k: string]: unknown;
}

/** Runs a bench/src/targets entry script with this Node and waits for its ready message. */
export async function spawnTarget(
  name: string,
  script: string,
  opts: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {},
): Promise<Proc & { ready: ReadyMessage }> {
  const proc = spawnProc(name, process.execPath, [...(opts.execArgv ?? []), script], {
    env: opts.env,
    ipc: true,
  });
  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      proc.child.removeListener("exit", onExit);
      void proc.stop();
      reject(new Error(`${name}: ${why}${proc.output() ? `\n${proc.output()}` : ""}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited before ready (code ${code}, signal ${signal})`);
    proc.child.once("exit", onExit);
    proc.child.once("error", (err) => fail(err.message));
    proc.child.on("message", (m: ReadyMessage) => {
      if (m?.type !== "ready") return;
      clearTimeout(timer);
      proc.child.removeListener("exit", onExit);
      resolve(m);
    });
  });
  return Object.assign(proc, { ready });
}
