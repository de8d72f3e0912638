/**
 * Vitest for every workspace: real servers per test file, so forked workers (at most 2 on
 * these 2-core machines) and generous timeouts.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["proto/**/*.test.ts", "services/**/*.test.ts", "launcher/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/.edgeplane/**"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
