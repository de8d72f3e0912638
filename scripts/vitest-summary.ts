/**
 * Prints the closing line of `make test`, `vitest: N passed, N failed, N skipped`, from
 * vitest's JSON report, and exits non-zero when anything failed or no test ran. A test
 * file that failed to load counts as one failure.
 *
 * Usage: scripts/node scripts/vitest-summary.ts .tmp/vitest.json
 */
import { readFileSync } from "node:fs";

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

const file = process.argv[2] ?? ".tmp/vitest.json";
let report: Report | undefined;
try {
  report = JSON.parse(readFileSync(file, "utf8")) as Report;
} catch (err) {
  console.error(`vitest-summary: cannot read ${file}: ${(err as Error).message}`);
}
const brokenFiles = (report?.testResults ?? []).filter(
  (f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed"),
).length;
const passed = report?.numPassedTests ?? 0;
const failed = (report?.numFailedTests ?? 0) + brokenFiles;
const skipped = (report?.numPendingTests ?? 0) + (report?.numTodoTests ?? 0);
console.log(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = !report || failed > 0 || passed + failed === 0 ? 1 : 0;
