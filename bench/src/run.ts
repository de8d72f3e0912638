/**
 * Benchmark runner: `node bench/src/run.ts [name…] [--profile] [--list]`.
 *
 * Discovers every `benchmarks/*.ts` exporting `benchmark`, runs the named ones (all by
 * default), writes `results/<name>.json`, then `results/latest.json` and
 * `results/SUMMARY.md` from every result file present, and prints the summary.
 * Progress goes to stderr, the summary to stdout. Exits non-zero when a benchmark threw
 * or any request failed; a missed target is reported, not fatal.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stopAll } from "./lib/procs.ts";
import { writeAggregates, writeResult } from "./lib/results.ts";
import type { BenchContext, Benchmark } from "./lib/types.ts";

const benchDir = fileURLToPath(new URL("./benchmarks/", import.meta.url));
const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

async function discover(): Promise<Map<string, Benchmark>> {
  const found = new Map<string, Benchmark>();
  for (const f of readdirSync(benchDir).sort()) {
    if (!f.endsWith(".ts") || f.endsWith(".d.ts") || f.endsWith(".test.ts")) continue;
    const mod = (await import(pathToFileURL(`${benchDir}${f}`).href)) as { benchmark?: Benchmark };
    if (mod.benchmark) found.set(mod.benchmark.name, mod.benchmark);
  }
  return found;
}

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  const names = argv.filter((a) => !a.startsWith("--"));
  for (const f of flags) {
    if (f !== "--profile" && f !== "--list")
      throw new Error(`unknown option ${f} (known: --profile, --list)`);
  }
  const all = await discover();
  if (flags.has("--list")) {
    for (const b of all.values()) process.stdout.write(`${b.name}\t${b.title}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !all.has(n));
  if (unknown.length > 0)
    throw new Error(`unknown benchmark(s): ${unknown.join(", ")} (known: ${[...all.keys()].join(", ")})`);
  const selected = names.length > 0 ? names.map((n) => all.get(n) as Benchmark) : [...all.values()];

  const ctx: BenchContext = {
    env: process.env,
    profile: flags.has("--profile"),
    profileDir: `${resultsDir}profiles`,
    root,
    log: (msg) => process.stderr.write(`[bench] ${msg}\n`),
  };
  let status = 0;
  let wrote = false;
  for (const b of selected) {
    ctx.log(`${b.name}: ${b.title}`);
    try {
      const result = await b.run(ctx);
      const file = writeResult(resultsDir, result);
      wrote = true;
      ctx.log(`${b.name}: wrote ${file}`);
      if (result.failedRequests > 0) {
        ctx.log(`${b.name}: ${result.failedRequests} request(s) failed`);
        status = 1;
      }
    } catch (err) {
      ctx.log(`${b.name}: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      status = 1;
    } finally {
      await stopAll();
    }
  }
  if (wrote) process.stdout.write(writeAggregates(resultsDir));
  return status;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`[bench] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
await stopAll();
