/** serviceEnv: the stats service gets its fleet-wide /metrics port under `make up`. */
import { describe, expect, it } from "vitest";
import { type MeshContext, serviceEnv } from "./services.ts";

const ctx: MeshContext = {
  natsUrl: "nats://127.0.0.1:4222",
  databaseUrl: "postgres://x@127.0.0.1/db",
  dataDir: "/tmp/ep",
  secrets: { EP_KEY_PEPPER: "p", EP_SEALING_KEY: "s" },
  nodeName: "n",
  httpPort: 8080,
  logLevel: "info",
  statsMetricsPort: 45678,
};

describe("launcher service env: stats fleet metrics", () => {
  it("gives only the stats service the free loopback port", () => {
    const env = serviceEnv("stats", {}, ctx);
    expect(env.EP_STATS_METRICS_PORT).toBe("45678");
    expect(env.EP_STATS_METRICS_HOST).toBe("127.0.0.1");
    expect(serviceEnv("auth", {}, ctx).EP_STATS_METRICS_PORT).toBeUndefined();
  });

  it("lets the caller's environment choose (0 = off), and stays off without a port", () => {
    expect(serviceEnv("stats", { EP_STATS_METRICS_PORT: "0" }, ctx).EP_STATS_METRICS_PORT).toBe("0");
    expect(
      serviceEnv("stats", {}, { ...ctx, statsMetricsPort: undefined }).EP_STATS_METRICS_PORT,
    ).toBeUndefined();
  });
});
