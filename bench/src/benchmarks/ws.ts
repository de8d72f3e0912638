/**
 * WebSocket fan-out: N concurrent clients on one real gateway, all subscribed to one
 * topic, while events are published to JetStream at a fixed rate with `publishEvent`
 * (the producer path every service uses). Measures delivery latency end to end (publish
 * call → frame parsed by the client, every delivery counted), missed deliveries, and the
 * gateway's memory (RSS and V8 heap are not separable from outside: RSS from /proc).
 *
 * Processes: nats-server, a `verify` stand-in (any `ep_bench_<n>` is user n; no
 * PostgreSQL), the gateway (real `startGateway()`), this runner (publisher), and the
 * clients in BENCH_WS_CLIENT_PROCS child processes (lib/ws-clients.ts: raw sockets, own
 * upgrade, a minimal frame reader: real clients are not on the gateway's cores, so the
 * load generator must cost as little as a correct client can). Raises its own (inherited
 * by the clients) and the gateway's open-file limit with prlimit when needed. Bounded: it
 * stops after warm-up + duration + a 3 s drain, whatever happens.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildEvent, parseEnv, publishEvent } from "@edgeplane/proto";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { waitForQuiet, withCpu } from "../lib/cpu.ts";
import { finishMachineInfo, machineInfo } from "../lib/machine.ts";
import { startNats } from "../lib/nats.ts";
import { Samples, summarize } from "../lib/percentiles.ts";
import { type Proc, spawnProc, spawnTarget } from "../lib/procs.ts";
import type { BenchContext, Benchmark, BenchResult } from "../lib/types.ts";
import { target } from "../lib/types.ts";

const Settings = z.object({
  BENCH_WS_CLIENTS: z.coerce.number().int().min(1).max(50_000).default(5000).describe("WebSocket clients."),
  BENCH_WS_RATE: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe("Events published per second."),
  BENCH_WS_DURATION_S: z.coerce.number().int().min(1).max(600).default(20).describe("Measured seconds."),
  BENCH_WS_WARMUP_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(60)
    .default(3)
    .describe("Warm-up seconds (discarded)."),
  BENCH_WS_CLIENT_PROCS: z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .describe("Child processes holding the clients."),
});
type Settings = z.infer<typeof Settings>;

const TARGET_P99_MS = 50;
const USERS_PER_KEY = 25; // the per-user cap: 25 clients share one bench user
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function nofile(pid: number): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(
    readFileSync(`/proc/${pid}/limits`, "utf8"),
  );
  const n = (v: string | undefined) =>
    v === "unlimited" || v === undefined ? Number.MAX_SAFE_INTEGER : Number(v);
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Make sure `pid` may open `need` files: raise the soft limit (up to the hard one) with prlimit. */
function ensureNofile(ctx: BenchContext, pid: number, need: number, label: string): void {
  const { soft, hard } = nofile(pid);
  if (soft >= need) return;
  if (hard < need) throw new Error(`${label}: needs ${need} open files, hard limit is ${hard} (raise it)`);
  execFileSync("prlimit", [`--pid=${pid}`, `--nofile=${need}:${hard}`]);
  ctx.log(`${label}: raised open-file limit ${soft} → ${need}`);
}

/** Monotonic milliseconds, the same clock in every process of the machine (ws-clients.ts). */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

interface ClientProc {
  proc: Proc;
  request<T>(msg: Record<string, unknown>, reply: string): Promise<T>;
}

function startClients(name: string, env: NodeJS.ProcessEnv, execArgv: string[]): ClientProc {
  const proc = spawnProc(name, process.execPath, [...execArgv, here("../lib/ws-clients.ts")], {
    env,
    ipc: true,
    serialization: "advanced",
  });
  const child = proc.child;
  return {
    proc,
    request<T>(msg: Record<string, unknown>, reply: string) {
      return new Promise<T>((resolve, reject) => {
        const done = () => {
          child.off("message", onMsg);
          child.off("exit", onExit);
        };
        const onMsg = (m: { type: string; message?: string }) => {
          if (m.type === reply) {
            done();
            resolve(m as T);
          } else if (m.type === "error") {
            done();
            reject(new Error(m.message));
          }
        };
        const onExit = (code: number | null) => {
          done();
          reject(new Error(`${name} exited (code ${code})${proc.output() ? `\n${proc.output()}` : ""}`));
        };
        child.on("message", onMsg);
        child.once("exit", onExit);
        child.send(msg);
      });
    },
  };
}

export const benchmark: Benchmark = {
  name: "ws",
  title: "WebSocket fan-out: clients on one gateway, one topic, fixed event rate",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const s: Settings = parseEnv(Settings, ctx.env);
    const startedAt = new Date().toISOString();
    const machine = machineInfo();
    ensureNofile(ctx, process.pid, s.BENCH_WS_CLIENTS + 1024, "runner");
    const childEnv = { ...ctx.env, EP_LOG_LEVEL: "silent" };
    const nats = await startNats();
    const procs: Array<Proc | typeof nats> = [nats];
    const clientProcs: ClientProc[] = [];
    const nc = await connect({ servers: nats.url });
    try {
      const env = { ...childEnv, EP_NATS_URL: nats.url, EP_HTTP_PORT: "0", EP_HTTP_HOST: "127.0.0.1" };
      procs.push(await spawnTarget("verify-stub", here("../targets/verify-stub.ts"), { env }));
      const gw = await spawnTarget("gateway", here("../targets/gateway.ts"), {
        execArgv: ctx.profile
          ? ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}`, "--cpu-prof-name=ws-gateway.cpuprofile"]
          : [],
        env: {
          ...env,
          EP_SERVICE_INSTANCE: "bench-ws",
          EP_WS_MAX_CONNECTIONS: String(s.BENCH_WS_CLIENTS),
          EP_WS_MAX_PER_PRINCIPAL: String(USERS_PER_KEY),
        },
      });
      procs.push(gw);
      const gwPid = gw.child.pid as number;
      ensureNofile(ctx, gwPid, s.BENCH_WS_CLIENTS + 1024, "gateway");
      const wsUrl = `${new URL(gw.ready.url as string).origin.replace(/^http/, "ws")}/api/v1/ws`;
      await new Promise((r) => setTimeout(r, 500));
      const rssIdle = rssMiB(gwPid);

      ctx.log(`ws: connecting ${s.BENCH_WS_CLIENTS} clients in ${s.BENCH_WS_CLIENT_PROCS} process(es)`);
      const per = Math.ceil(s.BENCH_WS_CLIENTS / s.BENCH_WS_CLIENT_PROCS);
      const t0 = performance.now();
      for (let w = 0; w < s.BENCH_WS_CLIENT_PROCS; w++) {
        const prof = ctx.profile
          ? ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=ws-clients-${w}.cpuprofile`]
          : [];
        clientProcs.push(startClients(`ws-clients-${w}`, childEnv, prof));
      }
      await Promise.all(
        clientProcs.map((c, w) =>
          c.request(
            {
              cmd: "start",
              url: wsUrl,
              clients: Math.min(per, s.BENCH_WS_CLIENTS - w * per),
              capacity: Math.ceil(
                per * s.BENCH_WS_RATE * (Math.max(s.BENCH_WS_DURATION_S, s.BENCH_WS_WARMUP_S) + 5) * 1.05,
              ),
              keyOffset: w * per,
              usersPerKey: USERS_PER_KEY,
              topic: "haproxy.runtime.changed",
            },
            "ready",
          ),
        ),
      );
      const connectS = Math.round(performance.now() - t0) / 1000;
      const rssConnected = rssMiB(gwPid);
      ctx.log(`ws: connected in ${connectS} s; gateway RSS ${rssIdle} → ${rssConnected} MiB`);

      const js = jetstream(nc);
      const sentAt = new Map<string, number>();
      const seqOf = new Map<string, number>();
      let publishErrors = 0;
      let rssMax = rssConnected;
      const publishFor = async (seconds: number, record: boolean) => {
        const start = performance.now();
        const total = seconds * s.BENCH_WS_RATE;
        const interval = 1000 / s.BENCH_WS_RATE;
        const inflight: Promise<unknown>[] = [];
        for (let k = 0; k < total; k++) {
          const due = start + k * interval;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          if (k % s.BENCH_WS_RATE === 0) rssMax = Math.max(rssMax, rssMiB(gwPid));
          const ev = buildEvent(
            {
              type: "haproxy.runtime.changed",
              resource: { kind: "cluster", name: "bench" },
              data: { backend: "web", server: `s${k % 100}`, action: "weight", value: k % 256 },
            },
            { system: "bench" },
          );
          const t = nowMs();
          inflight.push(
            publishEvent(js, ev).then(
              (r) => {
                if (record) {
                  sentAt.set(ev.id, t);
                  seqOf.set(ev.id, r.seq);
                }
              },
              () => {
                publishErrors++;
              },
            ),
          );
        }
        await Promise.all(inflight);
      };

      await waitForQuiet();
      if (s.BENCH_WS_WARMUP_S > 0) {
        ctx.log(`ws: warm-up ${s.BENCH_WS_WARMUP_S} s at ${s.BENCH_WS_RATE} events/s`);
        await publishFor(s.BENCH_WS_WARMUP_S, false);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await Promise.all(clientProcs.map((c) => c.request({ cmd: "reset" }, "reset")));
      ctx.log(`ws: measuring ${s.BENCH_WS_DURATION_S} s at ${s.BENCH_WS_RATE} events/s`);
      const clientPids: Record<string, number | undefined> = {};
      for (const [w, c] of clientProcs.entries()) clientPids[`clients${w > 0 ? w : ""}`] = c.proc.child.pid;
      const [, cpuPct] = await withCpu(
        { publisher: process.pid, ...clientPids, gateway: gwPid, "nats-server": nats.pid },
        () => publishFor(s.BENCH_WS_DURATION_S, true),
      );
      await new Promise((r) => setTimeout(r, 3000));
      rssMax = Math.max(rssMax, rssMiB(gwPid));

      const wsStats = (await (
        await fetch(`${new URL(gw.ready.url as string).origin}/api/v1/ws/stats`, {
          headers: { "x-api-key": "ep_bench_0" },
        })
      ).json()) as {
        fanout?: { rounds: number; events: number; writes: number; avg_ms: number; max_ms: number };
      };
      const fanout = wsStats.fanout ?? {
        rounds: 0,
        events: 0,
        writes: 0,
        avg_ms: Number.NaN,
        max_ms: Number.NaN,
      };
      ctx.log(`ws: gateway fan-out ${JSON.stringify(fanout)}`);
      const sentBySeq = new Map<number, number>();
      for (const [id, t] of sentAt) sentBySeq.set(seqOf.get(id) as number, t);
      const samples = new Samples();
      // Per event: when its first and its last delivery arrived (where the time goes:
      // publish → gateway → first socket, then the spread of the sweep and of the clients).
      const first = new Map<number, number>();
      const last = new Map<number, number>();
      let delivered = 0;
      let closed = 0;
      for (const c of clientProcs) {
        const r = await c.request<{ t0: number; seqs: Uint32Array; times: Float32Array; closed: number }>(
          { cmd: "collect" },
          "samples",
        );
        closed += r.closed;
        for (let i = 0; i < r.seqs.length; i++) {
          const sent = sentBySeq.get(r.seqs[i] as number);
          if (sent === undefined) continue;
          delivered++;
          const seq = r.seqs[i] as number;
          const at = r.t0 + (r.times[i] as number) - sent;
          samples.add(at);
          if (!(at >= (first.get(seq) ?? Number.POSITIVE_INFINITY))) first.set(seq, at);
          if (!(at <= (last.get(seq) ?? Number.NEGATIVE_INFINITY))) last.set(seq, at);
        }
      }
      const expected = sentAt.size * s.BENCH_WS_CLIENTS;
      const lat = summarize(samples);
      const perEvent = (m: Map<number, number>) => {
        const x = new Samples();
        for (const v of m.values()) x.add(v);
        return summarize(x);
      };
      const firstLat = perEvent(first);
      const lastLat = perEvent(last);
      const missed = expected - delivered;
      ctx.log(
        `ws: ${delivered}/${expected} deliveries, p50 ${lat.p50} ms, p90 ${lat.p90} ms, p99 ${lat.p99} ms, max ${lat.max} ms; ` +
          `per event: first delivery p50 ${firstLat.p50} / p99 ${firstLat.p99} ms, last p50 ${lastLat.p50} / p99 ${lastLat.p99} ms; ` +
          `gateway RSS max ${rssMax} MiB`,
      );
      return {
        name: "ws",
        title: this.title,
        startedAt,
        finishedAt: new Date().toISOString(),
        machine: { ...finishMachineInfo(machine), nats: nats.version },
        settings: {
          clients: s.BENCH_WS_CLIENTS,
          eventsPerS: s.BENCH_WS_RATE,
          durationS: s.BENCH_WS_DURATION_S,
          warmupS: s.BENCH_WS_WARMUP_S,
          clientProcs: s.BENCH_WS_CLIENT_PROCS,
        },
        cases: [
          {
            id: "fanout",
            label: `${s.BENCH_WS_CLIENTS} clients, one topic, ${s.BENCH_WS_RATE} events/s (rate column: deliveries/s)`,
            phases: {
              measured: {
                shape: "paced",
                connections: s.BENCH_WS_CLIENTS,
                durationS: s.BENCH_WS_DURATION_S,
                offeredRate: s.BENCH_WS_RATE * s.BENCH_WS_CLIENTS,
                rps: Math.round(delivered / s.BENCH_WS_DURATION_S),
                ok: delivered,
                failed: missed + publishErrors,
                statusCodes: {},
                errors: publishErrors + closed,
                timeouts: 0,
                latencyMs: lat,
                cpuPct,
              },
            },
          },
        ],
        metrics: {
          "delivery p50 (ms)": lat.p50,
          "delivery p99 (ms)": lat.p99,
          "delivery max (ms)": lat.max,
          "per event, first delivery p50 (ms)": firstLat.p50,
          "per event, first delivery p99 (ms)": firstLat.p99,
          "per event, last delivery p50 (ms)": lastLat.p50,
          "per event, last delivery p99 (ms)": lastLat.p99,
          "deliveries missed": missed,
          "clients closed unexpectedly": closed,
          "connect time for all clients (s)": connectS,
          "gateway sweep round mean (ms, all connections)": fanout.avg_ms,
          "gateway sweep round max (ms)": fanout.max_ms,
          "gateway events per socket write (mean)":
            fanout.writes > 0
              ? Math.round(((fanout.events * s.BENCH_WS_CLIENTS) / fanout.writes) * 100) / 100
              : Number.NaN,
          "gateway RSS idle (MiB)": rssIdle,
          "gateway RSS with clients connected (MiB)": rssConnected,
          "gateway RSS max under load (MiB)": rssMax,
          "gateway RSS per connection (KiB)":
            Math.round(((rssConnected - rssIdle) * 1024 * 10) / s.BENCH_WS_CLIENTS) / 10,
        },
        targets: [
          target(
            "ws-p99",
            `delivery p99 at ${s.BENCH_WS_CLIENTS} clients`,
            lat.p99,
            "<=",
            TARGET_P99_MS,
            "ms",
          ),
          target("ws-missed", "deliveries missed", missed, "<=", 0, ""),
        ],
        notes: [
          "Latency: from just before `publishEvent()` (JetStream publish, stored on file) in the runner to the moment " +
            "a client process has read the bytes holding the frame and parsed its sequence, for every delivery " +
            "(clients × events); both ends read the machine's monotonic clock (`process.hrtime`).",
          `${machine.cpus} cores shared by nats-server, the gateway, the verify stand-in, the publisher and ` +
            `${s.BENCH_WS_CLIENT_PROCS} client process(es) (raw sockets, a minimal frame reader: every frame parsed, ` +
            "pings answered): the clients' reads compete with the gateway for CPU, as real remote clients would not.",
          `Clients connect and authenticate (first \`auth\` frame) in waves of 100; ${USERS_PER_KEY} clients share one ` +
            "user (the per-user cap). Gateway memory is the process RSS from /proc.",
        ],
        failedRequests: missed + publishErrors,
      };
    } finally {
      for (const c of clientProcs) {
        const child = c.proc.child;
        if (child.connected && child.exitCode === null) {
          // Let it exit on its own (a CPU profile is written at exit), then make sure.
          const exited = new Promise((r) => child.once("exit", r));
          child.send({ cmd: "stop" });
          await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        }
        await c.proc.stop();
      }
      await nc.close().catch(() => undefined);
      for (const p of procs.reverse()) await p.stop();
    }
  },
};
