/**
 * HTTP load with autocannon, in-process. Two shapes:
 *
 * - `saturate`: N keep-alive connections sending back to back, for throughput.
 * - `paced`: a fixed overall rate, for latency. autocannon's `overallRate` gives each
 *   connection a per-second quota that it sends back to back at the start of every
 *   second, and all connections of one run start their seconds together: one run is a
 *   burst of N concurrent requests every second, not a steady rate. We spread the rate
 *   over `lanes` runs of one connection each, started 1000/lanes ms apart, so the bursts
 *   interleave through the second.
 *
 * Latencies are collected per response (see percentiles.ts), not from autocannon's histogram.
 */
import { setTimeout as sleep } from "node:timers/promises";
import autocannon, { type Options, type Result } from "autocannon";
import { type LatencySummary, Samples, summarize } from "./percentiles.ts";

export interface LoadStats {
  shape: "saturation" | "paced";
  connections: number;
  /** Measured seconds (per lane for paced load). */
  durationS: number;
  /** Requested rate (paced load only). */
  offeredRate?: number;
  /** 2xx responses per second. */
  rps: number;
  ok: number;
  /** Non-2xx responses plus errors (connection errors, timeouts). */
  failed: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  latencyMs: LatencySummary;
}

interface Run {
  result: Result;
  samples: Samples;
}

function cannon(opts: Options): Promise<Run> {
  const samples = new Samples();
  return new Promise((resolve, reject) => {
    const inst = autocannon({ timeout: 10, ...opts }, (err, result) =>
      err ? reject(err) : resolve({ result, samples }),
    );
    inst.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) samples.add(ms);
    });
  });
}

function stats(shape: LoadStats["shape"], connections: number, runs: Run[], offeredRate?: number): LoadStats {
  const samples = new Samples();
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let rps = 0;
  let durationS = 0;
  for (const { result, samples: s } of runs) {
    samples.addAll(s);
    ok += result["2xx"];
    non2xx += result.non2xx;
    errors += result.errors;
    timeouts += result.timeouts;
    rps += result["2xx"] / result.duration;
    durationS = Math.max(durationS, result.duration);
    for (const [code, { count }] of Object.entries(result.statusCodeStats))
      statusCodes[code] = (statusCodes[code] ?? 0) + count;
  }
  return {
    shape,
    connections,
    durationS,
    ...(offeredRate !== undefined ? { offeredRate } : {}),
    rps: Math.round(rps),
    ok,
    failed: non2xx + errors,
    statusCodes,
    errors,
    timeouts,
    latencyMs: summarize(samples),
  };
}

/** Back-to-back requests on `connections` keep-alive connections. */
export async function saturate(url: string, connections: number, durationS: number): Promise<LoadStats> {
  return stats("saturation", connections, [await cannon({ url, connections, duration: durationS })]);
}

/** `rate` requests/s spread over `lanes` staggered single-connection runs (see the module doc). */
export async function paced(url: string, rate: number, durationS: number, lanes = 20): Promise<LoadStats> {
  if (rate % lanes !== 0) throw new Error(`paced: rate ${rate} must be a multiple of lanes ${lanes}`);
  const runs = Array.from({ length: lanes }, async (_, i) => {
    await sleep((i * 1000) / lanes);
    return cannon({ url, connections: 1, overallRate: rate / lanes, duration: durationS });
  });
  return stats("paced", lanes, await Promise.all(runs), rate);
}
