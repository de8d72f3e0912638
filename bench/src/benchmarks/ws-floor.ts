/**
 * The floor under the WebSocket fan-out: what one loopback TCP write per socket costs on
 * this machine, with no WebSocket, gateway, NATS or JSON involved. N server sockets (plain
 * `net`, Nagle off, as the gateway's) each get one write of a typical fan-out batch (five
 * event frames); the write loop is timed, then the time until every client socket in the
 * same process has read its bytes.
 *
 * Why it exists: the `ws` benchmark's p99 target needs one fan-out to 5,000 clients to take
 * well under 50 ms. This benchmark shows how much of that the kernel alone takes (on
 * loopback the sender's `write()` also runs the receiver's TCP input), and what a raw
 * `handle.writeBuffer` saves over `socket.write()` (nothing measurable: the stream layer is
 * not the cost). Bounded: a few rounds, then every socket is closed.
 */

import { createConnection, createServer, type Socket } from "node:net";
import { loadavg } from "node:os";
import { parseEnv } from "@edgeplane/proto";
import { z } from "zod";
import { startResult } from "../lib/bench-result.ts";
import { median } from "../lib/percentiles.ts";
import type { Benchmark } from "../lib/types.ts";

const Settings = z.object({
  BENCH_WS_FLOOR_SOCKETS: z.coerce.number().int().min(10).max(20_000).default(5000).describe("Socket pairs."),
  BENCH_WS_FLOOR_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(65_536)
    .default(1000)
    .describe("Bytes per write (five ~200-byte event frames)."),
  BENCH_WS_FLOOR_ROUNDS: z.coerce.number().int().min(2).max(50).default(8).describe("Write rounds."),
});

const r2 = (x: number) => Math.round(x * 100) / 100;

export const benchmark: Benchmark = {
  name: "ws-floor",
  title: "WebSocket fan-out floor: one loopback TCP write per socket",
  async run(ctx) {
    const s = parseEnv(Settings, ctx.env);
    const result = startResult(benchmark, { ...s });
    const n = s.BENCH_WS_FLOOR_SOCKETS;
    const server: Socket[] = [];
    const clients: Socket[] = [];
    const srv = createServer((sock) => {
      sock.setNoDelay(true);
      server.push(sock);
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const port = (srv.address() as { port: number }).port;
    let received = 0;
    let waiting: (() => void) | undefined;
    let expected = 0;
    try {
      for (let i = 0; i < n; i += 200) {
        await Promise.all(
          Array.from(
            { length: Math.min(200, n - i) },
            () =>
              new Promise<void>((resolve, reject) => {
                const c = createConnection(port, "127.0.0.1", () => resolve());
                c.once("error", reject);
                c.on("data", (d: Buffer) => {
                  received += d.length;
                  if (waiting && received >= expected) waiting();
                });
                clients.push(c);
              }),
          ),
        );
      }
      while (server.length < n) await new Promise((r) => setTimeout(r, 10));
      const buf = Buffer.alloc(s.BENCH_WS_FLOOR_BYTES, 0x61);
      // The raw path the stream layer ends in (a deprecated binding: measured, never used by
      // the gateway). Absent on a Node without it: only the stream path is reported.
      let WriteWrap: (new () => Record<string, unknown>) | undefined;
      try {
        const binding = (process as unknown as { binding(n: string): { WriteWrap: typeof WriteWrap } })
          .binding;
        WriteWrap = binding("stream_wrap").WriteWrap;
      } catch {
        WriteWrap = undefined;
      }
      const streamUs: number[] = [];
      const rawUs: number[] = [];
      const drainUs: number[] = [];
      for (let round = 0; round < s.BENCH_WS_FLOOR_ROUNDS; round++) {
        const raw = WriteWrap !== undefined && round % 2 === 1;
        expected = received + n * buf.length;
        const done = new Promise<void>((resolve) => {
          waiting = resolve;
        });
        const t0 = performance.now();
        if (raw && WriteWrap) {
          for (const sock of server) {
            const h = (sock as unknown as { _handle: { writeBuffer(req: unknown, b: Buffer): number } })
              ._handle;
            const req = new WriteWrap();
            req.handle = h;
            req.oncomplete = () => undefined;
            req.async = false;
            h.writeBuffer(req, buf);
          }
        } else for (const sock of server) sock.write(buf);
        const t1 = performance.now();
        await done;
        const t2 = performance.now();
        waiting = undefined;
        if (round > 0) {
          (raw ? rawUs : streamUs).push(((t1 - t0) * 1000) / n);
          drainUs.push(((t2 - t1) * 1000) / n);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      const writeUs = median(streamUs);
      const readUs = median(drainUs);
      const fanoutMs = (writeUs * n) / 1000;
      ctx.log(
        `ws-floor: ${n} sockets: write ${r2(writeUs)} µs, raw ${r2(median(rawUs))} µs, read ${r2(readUs)} µs`,
      );
      return result.finish({
        cases: [],
        metrics: {
          "socket.write per socket (µs, median)": r2(writeUs),
          "raw handle.writeBuffer per socket (µs, median)": rawUs.length ? r2(median(rawUs)) : Number.NaN,
          "client read per socket after the loop (µs, median)": r2(readUs),
          [`one fan-out to ${n} sockets, writes alone (ms)`]: r2(fanoutMs),
          "reads of that fan-out on the client side (ms)": r2((readUs * n) / 1000),
          "fan-outs/s one core can write at that cost": r2(1000 / fanoutMs),
          "load average at end": r2(loadavg()[0] ?? 0),
        },
        targets: [],
        notes: [
          "Server and clients share this process: the write loop runs first, then the event loop delivers the reads; " +
            "on loopback the writer's system call also runs the receiver's TCP input, so the write figure is the " +
            "kernel's whole cost of one delivery, and the read figure is the client's.",
          "The gateway writes one pre-built buffer per connection per fan-out (ws's framing bypassed), so a fan-out " +
            "to N clients cannot cost less than N × the write figure on one core.",
        ],
        failedRequests: 0,
      });
    } finally {
      for (const c of clients) c.destroy();
      for (const c of server) c.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  },
};
