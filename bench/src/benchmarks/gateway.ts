/**
 * Gateway overhead: bare Fastify answering `GET /echo` against the real gateway
 * forwarding `GET /api/v1/bench/echo` over NATS to a trivial service, with a third stack
 * between them — the floor of the design: Fastify making the same NATS request to the
 * same service and nothing else (targets/forwarder.ts). Every system under test runs in
 * its own process; the load generator is this process.
 *
 * Saturation is measured in rounds of short trials that alternate between the stacks
 * (all three running throughout), and each stack's median trial is reported: on a shared
 * 2-core VM one stack's throughput moves by up to 2× between trials seconds apart (where
 * the scheduler puts the load generator and the target), so one long trial per stack,
 * one after the other, compares two different machines. Then each stack once at a
 * moderate fixed rate (latency).
 */
import { fileURLToPath } from "node:url";
import { parseEnv } from "@edgeplane/proto";
import { z } from "zod";
import { waitForQuiet, withCpu } from "../lib/cpu.ts";
import { summarizeProfile } from "../lib/cpuprofile.ts";
import { type LoadStats, paced, saturate } from "../lib/load.ts";
import { finishMachineInfo, machineInfo } from "../lib/machine.ts";
import { startNats } from "../lib/nats.ts";
import { median } from "../lib/percentiles.ts";
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
    .describe("Warm-up seconds of each stack before the saturation rounds (discarded)."),
  BENCH_TRIAL_S: z.coerce.number().int().min(1).default(5).describe("Seconds per saturation trial."),
  BENCH_ROUNDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(3)
    .describe("Saturation rounds; each round is one trial per stack, in turn."),
  BENCH_DURATION_S: z.coerce.number().int().min(1).default(10).describe("Seconds of the moderate phase."),
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

type Phase = LoadStats & { cpuPct: Record<string, number> };

interface Stack {
  id: string;
  label: string;
  url: string;
  /** Processes whose CPU is shown for this stack's phases. */
  pids: Record<string, number | undefined>;
  trials: Phase[];
}

async function saturationTrial(ctx: BenchContext, s: Settings, st: Stack, round: number): Promise<number> {
  await quiet(ctx, st.id);
  const [sat, cpu] = await withCpu(st.pids, () => saturate(st.url, s.BENCH_CONNECTIONS, s.BENCH_TRIAL_S));
  st.trials.push({ ...sat, cpuPct: cpu });
  ctx.log(
    `${st.id}: round ${round + 1}: ${sat.rps} req/s, p50 ${sat.latencyMs.p50} ms, p99 ${sat.latencyMs.p99} ms`,
  );
  return sat.failed;
}

/** The trial with the median throughput (upper median), reported as the stack's saturation. */
function medianTrial(trials: Phase[]): Phase {
  const m = median(trials.map((t) => t.rps));
  return trials.find((t) => t.rps === m) as Phase;
}

async function moderate(ctx: BenchContext, s: Settings, st: Stack): Promise<[Phase, number]> {
  await quiet(ctx, st.id);
  ctx.log(`${st.id}: moderate, ${s.BENCH_RATE} req/s over ${s.BENCH_LANES} lanes, ${s.BENCH_DURATION_S} s`);
  const [mod, cpu] = await withCpu(st.pids, () =>
    paced(st.url, s.BENCH_RATE, s.BENCH_DURATION_S, s.BENCH_LANES),
  );
  ctx.log(`${st.id}: ${mod.rps} req/s, p50 ${mod.latencyMs.p50} ms, p99 ${mod.latencyMs.p99} ms`);
  return [{ ...mod, cpuPct: cpu }, mod.failed];
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
  title: "bare Fastify vs forwarding floor vs gateway → NATS → service",
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
    const cases: CaseResult[] = [];

    const profileFile = "gateway.cpuprofile";
    const procs: (Proc | { stop(): Promise<void> })[] = [];
    const stacks: Stack[] = [];
    try {
      const bare = await spawnTarget("fastify-echo", script("fastify-echo.ts"), { env: childEnv });
      procs.push(bare);
      const nats = await startNats();
      procs.push(nats);
      const env = { ...childEnv, EP_NATS_URL: nats.url, EP_HTTP_PORT: "0", EP_HTTP_HOST: "127.0.0.1" };
      const svc = await spawnTarget("echo-service", script("echo-service.ts"), { env });
      procs.push(svc);
      const fwd = await spawnTarget("forwarder", script("forwarder.ts"), { env });
      procs.push(fwd);
      const execArgv = ctx.profile
        ? ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}`, `--cpu-prof-name=${profileFile}`]
        : [];
      const gw = await spawnTarget("gateway", script("gateway.ts"), {
        env: { ...env, EP_SERVICE_INSTANCE: "bench-gw" },
        execArgv,
      });
      procs.push(gw);
      machine.nats = nats.version;
      const behind = { service: svc.child.pid, "nats-server": nats.pid };
      stacks.push(
        {
          id: "bare",
          label: "bare Fastify `GET /echo`",
          url: bare.ready.url as string,
          trials: [],
          pids: { bench: process.pid, fastify: bare.child.pid },
        },
        {
          id: "floor",
          label: "floor: Fastify → NATS → service `GET /echo` (forwarding only)",
          url: fwd.ready.url as string,
          trials: [],
          pids: { bench: process.pid, forwarder: fwd.child.pid, ...behind },
        },
        {
          id: "gateway",
          label: "gateway → NATS → service `GET /api/v1/bench/echo`",
          url: gw.ready.url as string,
          trials: [],
          pids: { bench: process.pid, gateway: gw.child.pid, ...behind },
        },
      );
      for (const st of stacks) {
        await check(st.url);
        if (s.BENCH_WARMUP_S > 0) {
          ctx.log(`${st.id}: warm-up ${s.BENCH_WARMUP_S} s`);
          failedRequests += (await saturate(st.url, s.BENCH_CONNECTIONS, s.BENCH_WARMUP_S)).failed;
        }
      }
      ctx.log(
        `saturation: ${s.BENCH_ROUNDS} round(s) of ${s.BENCH_TRIAL_S}-s trials, ${s.BENCH_CONNECTIONS} connections`,
      );
      for (let round = 0; round < s.BENCH_ROUNDS; round++)
        for (const st of stacks) failedRequests += await saturationTrial(ctx, s, st, round);
      for (const st of stacks) {
        const [mod, failed] = await moderate(ctx, s, st);
        failedRequests += failed;
        cases.push({
          id: st.id,
          label: st.label,
          phases: { saturation: medianTrial(st.trials), moderate: mod },
        });
      }
    } finally {
      await stopAll(procs);
    }

    const [bareCase, floorCase, gwCase] = cases as [CaseResult, CaseResult, CaseResult];
    const rps = (c: CaseResult) => c.phases.saturation?.rps ?? 0;
    const ratioOf = (a: CaseResult, b: CaseResult) => Math.round((rps(a) / rps(b)) * 1000) / 1000;
    const ratio = ratioOf(gwCase, bareCase);
    const gwP99 = gwCase.phases.moderate?.latencyMs.p99 ?? 0;
    const profiles = ctx.profile
      ? [summarizeProfile(`${ctx.profileDir}/${profileFile}`, ctx.root)]
      : undefined;
    const cores = machine.cpus;
    const trialList = stacks.map((st) => `${st.id} ${st.trials.map((t) => t.rps).join(" / ")}`).join("; ");
    const r3 = (v: number) => Math.round(v * 1000) / 1000;
    return {
      name: "gateway",
      title: this.title,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: finishMachineInfo(machine),
      settings: {
        warmupS: s.BENCH_WARMUP_S,
        trialS: s.BENCH_TRIAL_S,
        rounds: s.BENCH_ROUNDS,
        durationS: s.BENCH_DURATION_S,
        saturationConnections: s.BENCH_CONNECTIONS,
        moderateRate: s.BENCH_RATE,
        moderateLanes: s.BENCH_LANES,
        profiled: ctx.profile,
      },
      cases,
      metrics: {
        "throughput ratio gateway/bare (saturation)": ratio,
        "throughput ratio floor/bare (saturation)": ratioOf(floorCase, bareCase),
        "throughput ratio gateway/floor (saturation)": ratioOf(gwCase, floorCase),
        "gateway p50 overhead at moderate load (ms)": r3(
          (gwCase.phases.moderate?.latencyMs.p50 ?? 0) - (bareCase.phases.moderate?.latencyMs.p50 ?? 0),
        ),
        "gateway p99 overhead at moderate load (ms)": r3(
          gwP99 - (bareCase.phases.moderate?.latencyMs.p99 ?? 0),
        ),
      },
      targets: [
        target("throughput-ratio", "throughput gateway/bare at saturation", ratio, ">=", TARGET_RATIO, ""),
        target("gateway-p99", `gateway p99 at ${s.BENCH_RATE} req/s`, gwP99, "<=", TARGET_P99_MS, "ms"),
      ],
      notes: [
        `${cores} cores shared by the load generator (autocannon, in the runner process), the target, and for the floor ` +
          "and gateway cases the echo service and nats-server too: saturation throughput is what each stack reaches while " +
          "competing with its load generator for CPU, not its capacity on a dedicated machine (see CPU per process). " +
          "The bare case has one process to feed, the others three, so the ratio is pessimistic. " +
          "Others share the machine: each phase starts after a 1 s window with < 25% of a core busy, and " +
          '"other" in the CPU table is what the rest of the machine used during the phase.',
        `Saturation: ${s.BENCH_ROUNDS} round(s), each one ${s.BENCH_TRIAL_S}-s trial per stack in turn; the table shows each ` +
          `stack's median trial. Every trial, req/s: ${trialList}.`,
        "Floor: what the design costs before the gateway does anything — Fastify whose one route makes the same NATS " +
          "request to the same service through the mesh's requester, with no authentication, ids, headers, metrics, trace " +
          "context or validation. gateway/floor is the share of the floor the gateway's own work leaves; floor/bare bounds " +
          "what any gateway of this design can reach on this machine.",
        `Moderate load: ${s.BENCH_RATE} req/s as ${s.BENCH_LANES} single-connection autocannon runs (overallRate ` +
          `${s.BENCH_RATE / s.BENCH_LANES} each) started ${1000 / s.BENCH_LANES} ms apart; autocannon sends a connection's ` +
          "per-second quota back to back at the start of its second, so one run with many connections would be one burst a second.",
        "Latency is per response, from request write to end of response, measured in the load generator; percentiles are " +
          "computed from every sample (autocannon's histogram has 1 ms resolution).",
        "Gateway: the real `startGateway()` with the default route table plus `bench.echo` (public, subject " +
          "`ep.v1.bench.echo`), tracer provider started as in main.ts; service: `createService().route()`; " +
          "separate processes, one private nats-server with JetStream and one service behind both floor and gateway; " +
          "EP_LOG_LEVEL=silent.",
        ...(ctx.profile
          ? ["The gateway ran under `--cpu-prof`: its figures include profiler overhead."]
          : []),
        ...busyNote(cases),
      ],
      failedRequests,
      ...(profiles ? { profiles } : {}),
    };
  },
};
