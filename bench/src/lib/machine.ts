/** What the numbers were measured on. */
import { cpus, loadavg, totalmem } from "node:os";
import type { MachineInfo } from "./types.ts";

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? "unknown",
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    loadAvgStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    loadAvgEnd: Number.NaN,
  };
}

export function finishMachineInfo(m: MachineInfo): MachineInfo {
  return { ...m, loadAvgEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100 };
}
