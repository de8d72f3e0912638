/**
 * A private nats-server for one bench run: 127.0.0.1, an ephemeral port (`-p -1`, read
 * back from `--ports_file_dir`), JetStream in a temp dir removed on stop. Never 4222.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { spawnProc } from "./procs.ts";

export interface BenchNats {
  url: string;
  version: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NATS_SERVER_BIN) return env.NATS_SERVER_BIN;
  for (const dir of [...(env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, "nats-server"), constants.X_OK);
      return join(dir, "nats-server");
    } catch {}
  }
  throw new Error("nats-server not found on PATH nor in /usr/sbin (set NATS_SERVER_BIN)");
}

export async function startNats(): Promise<BenchNats> {
  const bin = findNatsServer();
  const root = mkdtempSync(join(tmpdir(), "ep-bench-nats-"));
  const portsDir = join(root, "ports");
  mkdirSync(portsDir);
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  process.once("exit", cleanup);
  const proc = spawnProc("nats-server", bin, [
    "-a",
    "127.0.0.1",
    "-p",
    "-1",
    "--ports_file_dir",
    portsDir,
    "-js",
    "-sd",
    join(root, "store"),
  ]);
  const stop = async () => {
    await proc.stop();
    cleanup();
  };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && proc.child.exitCode === null) {
    const file = readdirSync(portsDir).find((f) => f.endsWith(`_${proc.child.pid}.ports`));
    if (file) {
      try {
        const url = (JSON.parse(readFileSync(join(portsDir, file), "utf8")) as { nats?: string[] }).nats?.[0];
        if (url) {
          const version = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
          return { url, version, pid: proc.child.pid, stop };
        }
      } catch {} // partially written: try again
    }
    await sleep(20);
  }
  await stop();
  throw new Error(`nats-server did not start\n${proc.output()}`);
}
