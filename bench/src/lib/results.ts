/**
 * Result files: `results/<name>.json` per benchmark, `results/latest.json` aggregating
 * every `<name>.json` present (so running one benchmark keeps the others' last results),
 * and `results/SUMMARY.md` rendered from the same set.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSummary } from "./markdown.ts";
import type { BenchResult } from "./types.ts";

const AGGREGATES = new Set(["latest.json"]);

export function writeResult(dir: string, result: BenchResult): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function readResults(dir: string): BenchResult[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !AGGREGATES.has(f))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as BenchResult);
}

/** Rewrites latest.json and SUMMARY.md from every result file; returns the markdown. */
export function writeAggregates(dir: string): string {
  const results = readResults(dir);
  const latest = {
    generatedAt: new Date().toISOString(),
    results: Object.fromEntries(results.map((r) => [r.name, r])),
  };
  writeFileSync(join(dir, "latest.json"), `${JSON.stringify(latest, null, 2)}\n`);
  const md = renderSummary(results);
  writeFileSync(join(dir, "SUMMARY.md"), md);
  return md;
}
