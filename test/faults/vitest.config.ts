/**
 * The fault suite (`make test-faults`): one file, alone on the machine (it runs a NATS
 * cluster, two of every service and a load), so nothing else competes for the 2 cores.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../../", import.meta.url).pathname,
    include: ["test/faults/**/*.fault.ts"],
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
