// The child nats-server with JetStream, bound to 127.0.0.1 on a free ephemeral port
// (a system NATS may already own 4222), store in $EP_DATA_DIR/nats.
import { mkdirSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import type { Logger } from "./log.ts";
import { freePort, waitUntil } from "./ports.ts";
import { type Child, firstExit, type Supervisor } from "./supervisor.ts";

export interface NatsHandle {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly child: Child;
}

export interface StartNatsOptions {
  readonly bin: string;
  readonly dataDir: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

const ATTEMPTS = 3;

export async function startNats(sup: Supervisor, opts: StartNatsOptions): Promise<NatsHandle> {
  const storeDir = join(opts.dataDir, "nats");
  mkdirSync(storeDir, { recursive: true, mode: 0o700 });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // A fixed port (not -p -1) so a restart after a crash comes back where services reconnect.
    const child = sup.start({
      name: "nats",
      command: opts.bin,
      args: [
        "--addr",
        "127.0.0.1",
        "--port",
        String(port),
        "--jetstream",
        "--store_dir",
        storeDir,
        "--name",
        "edgeplane",
      ],
      stopSignal: "SIGTERM",
      stopTimeoutMs: 10_000,
    });
    const failed = firstExit(child);
    try {
      await Promise.race([
        waitUntil("nats-server", () => hasJetStream(port), {
          timeoutMs: opts.timeoutMs ?? 15_000,
          signal: opts.signal,
        }),
        failed.promise,
      ]);
      failed.cancel();
      opts.log.info(`nats-server ready on nats://127.0.0.1:${port} (JetStream in ${storeDir})`);
      return { url: `nats://127.0.0.1:${port}`, child };
    } catch (err) {
      failed.cancel();
      await child.stop();
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new Error(
          `${opts.bin} not found: install nats-server (apt-get install nats-server), set EP_NATS_SERVER_BIN, or use an external NATS with EP_NATS_URL`,
        );
      }
      // Most likely someone took the port between freePort() and the bind: try another.
      if (attempt >= ATTEMPTS || opts.signal?.aborted) throw err;
      opts.log.warn(`nats-server did not start (${(err as Error).message}); retrying on another port`);
    }
  }
}

/** True once the server on `port` greets with an INFO line announcing JetStream. */
export function hasJetStream(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      if (!line.startsWith("INFO ")) return done(false);
      try {
        done((JSON.parse(line.slice(5)) as { jetstream?: boolean }).jetstream === true);
      } catch {
        done(false);
      }
    });
    sock.once("error", () => done(false));
  });
}

/** For EP_NATS_URL: is the first server of the list reachable at all? (warning only) */
export function firstServer(natsUrl: string): { host: string; port: number } | undefined {
  const first = natsUrl.split(",")[0]?.trim() ?? "";
  try {
    const u = new URL(/^[a-z]+:\/\//i.test(first) ? first : `nats://${first}`);
    const port = u.port ? Number(u.port) : u.protocol === "wss:" ? 443 : u.protocol === "ws:" ? 80 : 4222;
    return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
  } catch {
    return undefined;
  }
}
