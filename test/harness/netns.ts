/**
 * Network namespaces for tests that need real interfaces (WireGuard, nftables, routing):
 *
 *   await using gw = await createNetns("gw");
 *   await using client = await createNetns("cl");
 *   await using link = await connectVeth(gw, client, { a: "10.77.0.1/24", b: "10.77.0.2/24" });
 *   await client.exec("ping", ["-c1", "-W1", "10.77.0.1"]);
 *
 * Names get a random suffix (several test files run at once on one machine). Disposing a
 * namespace kills every process still inside it, then deletes it; a process-exit hook
 * does the same for anything left behind. Needs root: `requireRoot()` says so clearly.
 * Nothing here goes through a shell: arguments are vectors.
 */
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Throw a readable error unless the test process is root (namespaces need CAP_SYS_ADMIN). */
export function requireRoot(what = "this test"): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(
      `${what} needs root (network namespaces, TUN devices); run the suite as root (CI does), e.g. sudo make test`,
    );
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A network namespace owned by one test. */
export interface Netns {
  readonly name: string;
  /** Run a command inside; resolves with its exit code (never throws on a non-zero exit). */
  run(
    cmd: string,
    args?: readonly string[],
    opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<ExecResult>;
  /** Like `run`, but throws (with stderr) on a non-zero exit. */
  exec(
    cmd: string,
    args?: readonly string[],
    opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<string>;
  /** Start a long-running process inside; it is killed when the namespace is disposed. */
  spawn(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Kill every process inside and delete the namespace. Safe to call twice. */
  [Symbol.asyncDispose](): Promise<void>;
}

const live = new Set<string>();
let hooked = false;

function cleanupSync(name: string): void {
  try {
    const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" })
      .split(/\s+/)
      .filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), "SIGKILL");
      } catch {}
    }
  } catch {}
  try {
    execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
  } catch {}
}

const suffix = (n = 3) => randomBytes(n).toString("hex");

async function execIn(
  ns: string | undefined,
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  const [bin, argv] = ns ? ["ip", ["netns", "exec", ns, cmd, ...args]] : [cmd, [...args]];
  try {
    const { stdout, stderr } = await run(bin, argv, {
      timeout: opts.timeoutMs ?? 30_000,
      env: { ...process.env, ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === "number" ? e.code : -1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? e.message,
    };
  }
}

/** Create a namespace named `<prefix>-<random>` with loopback up. */
export async function createNetns(prefix = "ep"): Promise<Netns> {
  requireRoot("createNetns");
  const name = `${prefix.slice(0, 20)}-${suffix()}`;
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const n of live) cleanupSync(n);
    });
  }
  await run("ip", ["netns", "add", name]);
  live.add(name);
  let disposed = false;
  const ns: Netns = {
    name,
    run: (cmd, args = [], opts) => execIn(name, cmd, args, opts),
    async exec(cmd, args = [], opts) {
      const r = await execIn(name, cmd, args, opts);
      if (r.code !== 0)
        throw new Error(`${cmd} ${args.join(" ")} in ${name} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    spawn(cmd, args = [], opts = {}) {
      return spawn("ip", ["netns", "exec", name, cmd, ...args], { stdio: "ignore", ...opts });
    },
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      const pids = async () =>
        (await run("ip", ["netns", "pids", name]).catch(() => ({ stdout: "" }))).stdout
          .split(/\s+/)
          .filter(Boolean);
      const signal = (list: string[], sig: NodeJS.Signals) => {
        for (const p of list) {
          try {
            process.kill(Number(p), sig);
          } catch {}
        }
      };
      // SIGTERM first (wireguard-go then removes its socket in /var/run/wireguard), SIGKILL
      // whatever is still there after a second.
      signal(await pids(), "SIGTERM");
      for (let i = 0; i < 50 && (await pids()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      signal(await pids(), "SIGKILL");
      for (let i = 0; i < 50 && (await pids()).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      await run("ip", ["netns", "del", name]).catch(() => undefined);
      live.delete(name);
    },
  };
  await ns.exec("ip", ["link", "set", "lo", "up"]);
  return ns;
}

/** A veth pair joining two namespaces (or one and the host: `null`). */
export interface Veth {
  /** Device names on each side. */
  readonly a: string;
  readonly b: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Join `left` and `right` (a namespace, or `null` for the host) with a veth pair, give
 * each end its address (CIDR, optional) and bring both up.
 */
export async function connectVeth(
  left: Netns | null,
  right: Netns | null,
  addrs: { a?: string; b?: string } = {},
): Promise<Veth> {
  requireRoot("connectVeth");
  const id = suffix();
  const a = `va${id}`;
  const b = `vb${id}`;
  await run("ip", ["link", "add", a, "type", "veth", "peer", "name", b]);
  try {
    for (const [dev, ns, addr] of [
      [a, left, addrs.a],
      [b, right, addrs.b],
    ] as const) {
      if (ns) await run("ip", ["link", "set", dev, "netns", ns.name]);
      const ip = (args: string[]) => run("ip", ns ? ["-n", ns.name, ...args] : args);
      if (addr) await ip(["address", "add", addr, "dev", dev]);
      await ip(["link", "set", dev, "up"]);
    }
  } catch (err) {
    await run("ip", ["link", "del", a]).catch(() => undefined);
    throw err;
  }
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      // Deleting either end removes the pair; it is gone already if its namespace was deleted.
      if (left) await run("ip", ["-n", left.name, "link", "del", a]).catch(() => undefined);
      else await run("ip", ["link", "del", a]).catch(() => undefined);
    },
  };
}

/** Run a command in the host namespace, never throwing (same result shape as Netns.run). */
export function hostRun(
  cmd: string,
  args: readonly string[] = [],
  opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<ExecResult> {
  return execIn(undefined, cmd, args, opts);
}
