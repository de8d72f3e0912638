/**
 * The part of a result every benchmark fills the same way: its name and title, when it ran,
 * the machine (with the load average at start and at end) and its settings.
 */
import { finishMachineInfo, machineInfo } from "./machine.ts";
import type { Benchmark, BenchResult } from "./types.ts";

/** What a run measured: the rest of its {@link BenchResult}. */
export type RunFigures = Omit<
  BenchResult,
  "name" | "title" | "startedAt" | "finishedAt" | "machine" | "settings"
>;

/** Call as the run starts (start time, load average); `finish` stamps the end onto the figures. */
export function startResult(
  bench: Pick<Benchmark, "name" | "title">,
  settings: Record<string, unknown>,
): { finish(figures: RunFigures): BenchResult } {
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  return {
    finish: (figures) => ({
      name: bench.name,
      title: bench.title,
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: finishMachineInfo(machine),
      settings,
      ...figures,
    }),
  };
}
