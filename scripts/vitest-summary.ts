/**
 * Prints the closing line of `make test`, `vitest: N passed, N failed, N skipped`, from
 * vitest's JSON report(s) — several reports are added up, under the label given with
 * `--label` — and exits non-zero when anything failed or no test ran. A test file that
 * failed to load counts as one failure.
 *
 * Usage: scripts/node scripts/vitest-summary.ts [--label total] .tmp/vitest.json [more.json…]
 */
import { readFileSync } from "node:fs";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

const args = process.argv.slice(2);
const labelAt = args.indexOf("--label");
const label = labelAt >= 0 ? (args.splice(labelAt, 2)[1] ?? "vitest") : "vitest";
const files = args.length > 0 ? args : [".tmp/vitest.json"];

let passed = 0;
let failed = 0;
let skipped = 0;
let unreadable = false;
for (const file of files) {
  let report: Report;
  try {
    report = JSON.parse(readFileSync(file, "utf8")) as Report;
  } catch (err) {
    console.error(`vitest-summary: cannot read ${file}: ${(err as Error).message}`);
    unreadable = true;
    continue;
  }
  const brokenFiles = report.testResults.filter(
    (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
  ).length;
  passed += report.numPassedTests;
  failed += report.numFailedTests + brokenFiles;
  skipped += report.numPendingTests + report.numTodoTests;
}
console.log(`${label}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = unreadable || failed > 0 || passed + failed === 0 ? 1 : 0;
