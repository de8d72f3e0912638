/** The contract between the runner and a benchmark, and the shape of `results/<name>.json`. */
import type { ProfileSummary } from "./cpuprofile.ts";
import type { LoadStats } from "./load.ts";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  platform: string;
  node: string;
  /** 1-minute load average when the benchmark started (other work on the machine). */
  loadAvgStart: number;
  loadAvgEnd: number;
  [k: string]: unknown;
}

/** A target shown as PASS/FAIL in the summary; a miss never fails the run. */
export interface Target {
  id: string;
  description: string;
  value: number;
  op: ">=" | "<=";
  threshold: number;
  unit: string;
  pass: boolean;
}

/** One system under test, measured in one or more load phases. */
export interface CaseResult {
  id: string;
  label: string;
  /** Phase name (`saturation`, `moderate`) → measurement, in the order run. */
  phases: Record<string, LoadStats & { cpuPct?: Record<string, number> }>;
}

export interface BenchResult {
  name: string;
  title: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  cases: CaseResult[];
  /** Derived figures (ratios, overheads). */
  metrics: Record<string, number>;
  targets: Target[];
  notes: string[];
  /** Non-2xx responses and request errors over every phase, warm-ups included. */
  failedRequests: number;
  profiles?: ProfileSummary[];
}

export interface BenchContext {
  /** Settings come from here (BENCH_* variables), never from `process.env` directly. */
  env: NodeJS.ProcessEnv;
  /** Run selected children under `--cpu-prof`; profiles go to `profileDir`. */
  profile: boolean;
  profileDir: string;
  /** Repository root, for relative paths. */
  root: string;
  log(msg: string): void;
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

export function target(
  id: string,
  description: string,
  value: number,
  op: Target["op"],
  threshold: number,
  unit: string,
): Target {
  return {
    id,
    description,
    value,
    op,
    threshold,
    unit,
    pass: op === ">=" ? value >= threshold : value <= threshold,
  };
}
