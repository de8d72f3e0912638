// Free ports and "is it listening yet" checks.
import { createConnection, createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A port the kernel considers free right now, from the ephemeral range (so never a
 * well-known one such as a system NATS on 4222 or PostgreSQL on 5432). Someone may take
 * it before our child binds it: callers retry with a new port when the child fails.
 */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** True if a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/**
 * Polls `check` every `intervalMs` until it returns true. Rejects after `timeoutMs`
 * (with `what` in the message) or as soon as `signal` aborts.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`${what} not ready after ${opts.timeoutMs / 1000} s`);
    await sleep(opts.intervalMs ?? 100, undefined, { signal: opts.signal });
  }
}
