/** haproxy-agent logs - syslog lines from haproxy parsed into log entries. */
import { describe, expect, it } from "vitest";
import { parseLogLine } from "./logs.ts";

describe("haproxy-agent logs - parseLogLine", () => {
  it("parses the default HTTP log format (rfc3164 header)", () => {
    const e = parseLogLine(
      '<134>Nov 23 07:32:18 haproxy[4242]: 127.0.0.1:54321 [23/Nov/2026:07:32:18.123] web~ app/s1 0/0/1/2/3 503 212 - - SC-- 1/1/0/0/0 0/0 "GET /x?y=1 HTTP/1.1"',
      "default",
      "node-a",
      1,
    );
    expect(e).toMatchObject({
      kind: "http",
      severity: 6,
      pid: 4242,
      client: "127.0.0.1",
      client_port: 54321,
      frontend: "web",
      tls: true,
      backend: "app",
      server: "s1",
      status: 503,
      bytes: 212,
      time_total_ms: 3,
      termination: "SC--",
      method: "GET",
      path: "/x?y=1",
    });
  });

  it("parses the TCP format, IPv6 clients, and keeps anything else as a message", () => {
    const t = parseLogLine(
      "<134>Nov 23 07:32:18 haproxy[1]: ::1:40000 [23/Nov/2026:07:32:18.123] db db/pg1 0/1/5 1024 -- 2/1/1/1/0 0/0",
      "c",
      "n",
    );
    expect(t).toMatchObject({ kind: "tcp", client: "::1", client_port: 40000, backend: "db", bytes: 1024 });
    const o = parseLogLine("<133>Nov 23 07:32:18 haproxy[1]: Proxy web started.", "c", "n");
    expect(o).toMatchObject({ kind: "other", severity: 5, message: "Proxy web started." });
    expect(parseLogLine("not syslog", "c", "n")).toBeNull();
  });
});
