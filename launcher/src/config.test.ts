import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

function issuesOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    loadConfig(env, "/srv/ep");
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("config - defaults: ./.edgeplane resolved against cwd, port 8080, embedded NATS and PostgreSQL", () => {
    const c = loadConfig({}, "/srv/ep");
    expect(c).toEqual({
      dataDir: "/srv/ep/.edgeplane",
      httpPort: 8080,
      databaseUrl: undefined,
      natsUrl: undefined,
      logLevel: "info",
      natsServerBin: "nats-server",
      noColor: false,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("config - reads every variable and resolves a relative EP_DATA_DIR", () => {
    const c = loadConfig(
      {
        EP_DATA_DIR: "data/../state",
        EP_HTTP_PORT: "9090",
        DATABASE_URL: "postgres://u:p@db.internal:5432/edgeplane",
        EP_NATS_URL: "nats://10.0.0.1:4222, tls://nats.internal:4443,localhost:4222",
        EP_LOG_LEVEL: "debug",
        NO_COLOR: "1",
      },
      "/srv/ep",
    );
    expect(c.dataDir).toBe("/srv/ep/state");
    expect(c.httpPort).toBe(9090);
    expect(c.databaseUrl).toBe("postgres://u:p@db.internal:5432/edgeplane");
    expect(c.natsUrl).toContain("tls://nats.internal:4443");
    expect(c.logLevel).toBe("debug");
    expect(c.noColor).toBe(true);
    expect(loadConfig({ EP_DATA_DIR: "/var/lib/ep/" }).dataDir).toBe("/var/lib/ep");
  });

  it("config - empty strings count as unset", () => {
    const c = loadConfig({ EP_HTTP_PORT: "", DATABASE_URL: " ", EP_NATS_URL: "", EP_LOG_LEVEL: "" }, "/x");
    expect(c.httpPort).toBe(8080);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.natsUrl).toBeUndefined();
    expect(c.logLevel).toBe("info");
  });

  it("config - rejects every bad value at once, naming the variable", () => {
    const issues = issuesOf({
      EP_HTTP_PORT: "http",
      DATABASE_URL: "mysql://root@localhost/db",
      EP_NATS_URL: "http://localhost:4222",
      EP_LOG_LEVEL: "loud",
    });
    expect(issues).toHaveLength(4);
    for (const name of ["EP_HTTP_PORT", "DATABASE_URL", "EP_NATS_URL", "EP_LOG_LEVEL"]) {
      expect(issues.some((i) => i.startsWith(`${name}: `))).toBe(true);
    }
    expect(issues.find((i) => i.startsWith("EP_HTTP_PORT"))).toContain('(got "http")');
  });

  it("config - rejects out-of-range ports", () => {
    for (const port of ["0", "65536", "-1", "80.5", "123456"]) {
      expect(issuesOf({ EP_HTTP_PORT: port })).toEqual([
        expect.stringMatching(/^EP_HTTP_PORT: must be a TCP port/),
      ]);
    }
  });

  it("config - the error message lists every issue", () => {
    expect(() => loadConfig({ EP_HTTP_PORT: "x", EP_LOG_LEVEL: "y" })).toThrow(
      /EP_HTTP_PORT.*\n.*EP_LOG_LEVEL/,
    );
  });
});
