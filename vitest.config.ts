/**
 * Vitest for every workspace: real servers per test file, so forked workers (one file at
 * a time on these 2-core machines) and generous timeouts.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["proto/**/*.test.ts", "services/**/*.test.ts", "launcher/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.edgeplane/**"],
    pool: "forks",
    // One test file at a time. Each end-to-end file runs its own haproxies, NATS servers,
    // PostgreSQL databases and service processes; two at once on a 2-core machine made
    // timing assertions flaky (seen: a drain fan-out timing out, an events REST read racing
    // its publish). The suite takes ~8 min this way, well inside CI's budget.
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
