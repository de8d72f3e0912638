/**
 * Test support for the generator tests: Redocly's CLI (a dev dependency; it bundles
 * openapi-core and lints OpenAPI 3.1 and AsyncAPI 3) run as a child process on a temp file,
 * with only its `recommended` ruleset.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

export interface LintProblem {
  ruleId: string;
  severity: "error" | "warn";
  message: string;
  location: Array<{ pointer: string }>;
}

/** `redocly lint --format=json` of `doc`, written as `file` (its name tells the format) to a temp dir. */
export async function redoclyLint(doc: unknown, file: string): Promise<LintProblem[]> {
  const cli = join(
    dirname(createRequire(import.meta.url).resolve("@redocly/cli/package.json")),
    "bin/cli.js",
  );
  const dir = await mkdtemp(join(tmpdir(), "ep-redocly-"));
  try {
    const path = join(dir, file);
    const config = join(dir, "redocly.yaml");
    await writeFile(path, JSON.stringify(doc, null, 2));
    await writeFile(config, "extends:\n  - recommended\n");
    const args = [cli, "lint", "--format=json", "--max-problems=1000", `--config=${config}`, path];
    const env = { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" };
    const out = await promisify(execFile)(process.execPath, args, {
      cwd: dir,
      env,
      maxBuffer: 64 << 20,
    }).catch((err: { stdout?: string; stderr?: string }) => {
      // Exit code 1 means "problems found": the JSON report is still on stdout.
      if (err.stdout?.trim().startsWith("{")) return { stdout: err.stdout };
      throw new Error(`redocly lint failed to run: ${err.stderr ?? err}`);
    });
    return (JSON.parse(out.stdout) as { problems: LintProblem[] }).problems;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const show = (p: LintProblem) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`;

/**
 * The lint errors of `doc`, one readable line each (so a failing `toEqual([])` names them);
 * warnings are printed, not failed on.
 */
export async function redoclyErrors(doc: unknown, file: string): Promise<string[]> {
  const problems = await redoclyLint(doc, file);
  const warnings = problems.filter((p) => p.severity !== "error");
  if (warnings.length) console.warn(`redocly warnings:\n${warnings.map(show).join("\n")}`);
  return problems.filter((p) => p.severity === "error").map(show);
}
