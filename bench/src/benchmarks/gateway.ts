/**
 * Gateway overhead: bare Fastify answering `GET /echo` against the real gateway
 * forwarding `GET /api/v1/bench/echo` over NATS to a trivial service. Each at saturation
 * (throughput) and at a moderate fixed rate (latency). Every system under test runs in
 * its own process; the load generator is this process.
 */
import { fileURLToPath } from "node:url";
import { parseEnv } from "@edgeplane/proto";
import { z } from "zod";
import { waitForQuiet, withCpu } from "../lib/cpu.ts";
import { summarizeProfile } from "../lib/cpuprofile.ts";
import { paced, saturate } from "../lib/load.ts";
import { finishMachineInfo, machineInfo } from "../lib/machine.ts";
import { startNats } from "../lib/nats.ts";
import { type Proc, spawnTarget } from "../lib/procs.ts";
import {
  type BenchContext,
  type Benchmark,
  type BenchResult,
  type CaseResult,
  target,
} from "../lib/types.ts";

const Settings = z.object({
  BENCH_WARMUP_S: z.coerce
    .number()
    .int()
    .min(0)
    .default(2)
    .describe("Warm-up seconds before saturation (discarded)."),
  BENCH_DURATION_S: z.coerce.number().int().min(1).default(10).describe("Seconds per measured phase."),
  BENCH_CONNECTIONS: z.coerce.number().int().min(1).default(50).describe("Connections at saturation."),
  BENCH_RATE: z.coerce.number().int().min(1).default(1000).describe("Requests/s at moderate load."),
  BENCH_LANES: z.coerce
    .number()
    .int()
    .min(1)
    .default(20)
    .describe("Staggered connections carrying the moderate rate."),
});
type Settings = z.infer<typeof Settings>;

const TARGET_RATIO = 0.5;
const TARGET_P99_MS = 2;

const script = (name: string) => fileURLToPath(new URL(`../targets/${name}`, import.meta.url));

/** One request before the load: the target answers 200 with the expected body. */
async function check(url: string): Promise<void> {
  const res = await fetch(url);
  const body = (await res.json()) as { message?: string };
  if (res.status !== 200 || body.message !== "ok") {
    throw new Error(`${url} answered ${res.status} ${JSON.stringify(body)}`);
  }
}

/** Lets other work on the shared machine settle before a phase (see waitForQuiet). */
async function quiet(ctx: BenchContext, label: string): Promise<void> {
  const waited = await waitForQuiet();
  if (waited > 1) ctx.log(`${label}: waited ${waited} s for other work on the machine to settle`);
}

async function measure(
  ctx: BenchContext,
  s: Settings,
  label: string,
  url: string,
  pids: Record<string, number | undefined>,
) {
  await check(url);
  await quiet(ctx, label);
  let failed = 0;
  if (s.BENCH_WARMUP_S > 0) {
    ctx.log(`${label}: warm-up ${s.BENCH_WARMUP_S} s`);
    failed += (await saturate(url, s.BENCH_CONNECTIONS, s.BENCH_WARMUP_S)).failed;
  }
  await quiet(ctx, label);
  ctx.log(`${label}: saturation, ${s.BENCH_CONNECTIONS} connections, ${s.BENCH_DURATION_S} s`);
  const [sat, satCpu] = await withCpu(pids, () => saturate(url, s.BENCH_CONNECTIONS, s.BENCH_DURATION_S));
  ctx.log(`${label}: ${sat.rps} req/s, p50 ${sat.latencyMs.p50} ms, p99 ${sat.latencyMs.p99} ms`);
  await quiet(ctx, label);
  ctx.log(`${label}: moderate, ${s.BENCH_RATE} req/s over ${s.BENCH_LANES} lanes, ${s.BENCH_DURATION_S} s`);
  const [mod, modCpu] = await withCpu(pids, () =>
    paced(url, s.BENCH_RATE, s.BENCH_DURATION_S, s.BENCH_LANES),
  );
  ctx.log(`${label}: ${mod.rps} req/s, p50 ${mod.latencyMs.p50} ms, p99 ${mod.latencyMs.p99} ms`);
  failed += sat.failed + mod.failed;
  return {
    phases: { saturation: { ...sat, cpuPct: satCpu }, moderate: { ...mod, cpuPct: modCpu } },
    failed,
  };
}

/** A note when other work took a noticeable share of the CPU during a measured phase. */
function busyNote(cases: CaseResult[]): string[] {
  const worst = Math.max(
    0,
    ...cases.flatMap((c) => Object.values(c.phases).map((p) => p.cpuPct?.other ?? 0)),
  );
  return worst >= 10
    ? [
        `Other work on the machine used up to ${worst}% of a core during a measured phase ("other" in the CPU table): expect noise.`,
      ]
    : [];
}

async function stopAll(procs: (Proc | { stop(): Promise<void> } | undefined)[]): Promise<void> {
  for (const p of procs.reverse()) await p?.stop();
}

export const benchmark: Benchmark = {
  name: "gateway",
  title: "bare Fastify vs gateway → NATS → service",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const s = parseEnv(Settings, ctx.env);
    if (s.BENCH_RATE % s.BENCH_LANES !== 0) throw new Error("BENCH_RATE must be a multiple of BENCH_LANES");
    const startedAt = new Date().toISOString();
    const machine = machineInfo();
    // Rate limits (per principal / IP) would cap a single-IP load generator: measure the path, not the limiter.
    const childEnv = {
      EP_RATE_LIMIT_RPM: "100000000",
      EP_RATE_BURST_RPS: "100000000",
      ...ctx.env,
      EP_LOG_LEVEL: "silent",
    };
    let failedRequests = 0;

    // (a) bare Fastify
    const bare = await spawnTarget("fastify-echo", script("fastify-echo.ts"), { env: childEnv });
    let bareCase: CaseResult;
    try {
      const m = await measure(ctx, s, "bare", bare.ready.url as string, {
        bench: process.pid,
        fastify: bare.child.pid,
      });
      bareCase = { id: "bare", label: "bare Fastify `GET /echo`", phases: m.phases };
      failedRequests += m.failed;
    } finally {
      await bare.stop();
    }

    // (b) gateway → NATS → service
    const profileFile = "gateway.cpuprofile";
    const nats = await startNats();
    const procs: (Proc | typeof nats)[] = [nats];
    let gwCase: CaseResult;
    try {
      const env = { ...childEnv, EP_NATS_URL: nats.url, EP_HTTP_PORT: "0", EP_HTTP_HOST: "127.0.0.1" };
      const svc = await spawnTarget("echo-service", script("echo-service.ts"), { env });
      procs.push(svc);
      const execArgv = ctx.profile
        ? ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=${profileFile}`]
        : [];
      const gw = await spawnTarget("gateway", script("gateway.ts"), {
        env: { ...env, EP_SERVICE_INSTANCE: "bench-gw" },
        execArgv,
      });
      procs.push(gw);
      const m = await measure(ctx, s, "gateway", gw.ready.url as string, {
        bench: process.pid,
        gateway: gw.child.pid,
        service: svc.child.pid,
        "nats-server": nats.pid,
      });
      gwCase = {
        id: "gateway",
        label: "gateway → NATS → service `GET /api/v1/bench/echo`",
        phases: m.phases,
      };
      failedRequests += m.failed;
    } finally {
      await stopAll(procs);
    }

    const ratio = Math.round((gwCase.phases.saturation.rps / bareCase.phases.saturation.rps) * 1000) / 1000;
    const gwP99 = gwCase.phases.moderate.latencyMs.p99;
    const r3 = (v: number) => Math.round(v * 1000) / 1000;
    const profiles = ctx.profile
      ? [summarizeProfile(`${ctx.profileDir}/${profileFile}`, ctx.root)]
      : undefined;
    const cores = machine.cpus;
    return {
      name: "gateway",
      title: this.title,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: { ...finishMachineInfo(machine), nats: nats.version },
      settings: {
        warmupS: s.BENCH_WARMUP_S,
        durationS: s.BENCH_DURATION_S,
        saturationConnections: s.BENCH_CONNECTIONS,
        moderateRate: s.BENCH_RATE,
        moderateLanes: s.BENCH_LANES,
        profiled: ctx.profile,
      },
      cases: [bareCase, gwCase],
      metrics: {
        "throughput ratio gateway/bare (saturation)": ratio,
        "gateway p50 overhead at moderate load (ms)": r3(
          gwCase.phases.moderate.latencyMs.p50 - bareCase.phases.moderate.latencyMs.p50,
        ),
        "gateway p99 overhead at moderate load (ms)": r3(gwP99 - bareCase.phases.moderate.latencyMs.p99),
      },
      targets: [
        target("throughput-ratio", "throughput gateway/bare at saturation", ratio, ">=", TARGET_RATIO, ""),
        target("gateway-p99", `gateway p99 at ${s.BENCH_RATE} req/s`, gwP99, "<=", TARGET_P99_MS, "ms"),
      ],
      notes: [
        `${cores} cores shared by the load generator (autocannon, in the runner process), the target, and for the gateway ` +
          "case the echo service and nats-server too: saturation throughput is what each stack reaches while competing " +
          "with its load generator for CPU, not its capacity on a dedicated machine (see CPU per process). " +
          "The bare case has one process to feed, the gateway case three, so the ratio is pessimistic. " +
          "Others share the machine: each phase starts after a 1 s window with < 25% of a core busy, and " +
          '"other" in the CPU table is what the rest of the machine used during the phase.',
        `Moderate load: ${s.BENCH_RATE} req/s as ${s.BENCH_LANES} single-connection autocannon runs (overallRate ` +
          `${s.BENCH_RATE / s.BENCH_LANES} each) started ${1000 / s.BENCH_LANES} ms apart; autocannon sends a connection's ` +
          "per-second quota back to back at the start of its second, so one run with many connections would be one burst a second.",
        "Latency is per response, from request write to end of response, measured in the load generator; percentiles are " +
          "computed from every sample (autocannon's histogram has 1 ms resolution).",
        "Gateway: the real `startGateway()` with the default route table plus `bench.echo` (public, subject " +
          "`ep.v1.bench.echo`), tracer provider started as in main.ts; service: `createService().route()`; " +
          "separate processes, a private nats-server with JetStream; EP_LOG_LEVEL=silent.",
        ...(ctx.profile
          ? ["The gateway ran under `--cpu-prof`: its figures include profiler overhead."]
          : []),
        ...busyNote([bareCase, gwCase]),
      ],
      failedRequests,
      ...(profiles ? { profiles } : {}),
    };
  },
};
