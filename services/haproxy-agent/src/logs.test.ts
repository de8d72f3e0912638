/** haproxy-agent logs - syslog lines from haproxy parsed into log entries. */
import { createSocket } from "node:dgram";
import { createLogger, HaproxyLogSubjects } from "@edgeplane/proto";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { tmpDir } from "../../../test/harness/mod.ts";
import { startNats } from "../../../test/harness/nats.ts";
import { parseLogLine, startLogListener } from "./logs.ts";

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

  it("publishes a burst of lines, all of them in order (an old worker's proxies stopping)", async () => {
    const nats = await startNats();
    const nc = await connect({ servers: nats.url });
    await using dir = await tmpDir("ep-logs-");
    const logs = await startLogListener({
      nc,
      cluster: "c",
      node: "n",
      dir: dir.path,
      port: 0,
      log: createLogger("logs-test", "silent"),
    });
    const got: string[] = [];
    nc.subscribe(HaproxyLogSubjects.node("c", "n"), {
      callback: (_e, m) => {
        got.push((m.json() as { message: string }).message);
      },
    });
    await nc.flush();
    const sock = createSocket("udp4");
    const [host, port] = logs.target.split(":");
    const N = 2_000;
    try {
      const until = Date.now() + 10_000;
      // Bursts of 200, each sent once the previous one was read: a host whose socket
      // buffers are small (net.core.rmem_max) must not drop datagrams of the test itself.
      for (let i = 0; i < N; i++) {
        const line = `<132>Dec  7 06:40:00 haproxy[7]: Proxy b${i} stopped (cumulated conns: FE: 0, BE: 0).`;
        await new Promise<void>((r, j) => sock.send(line, Number(port), host, (e) => (e ? j(e) : r())));
        if (i % 200 === 199)
          while (logs.counts.received <= i && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      }
      while (got.length < N && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(logs.counts).toMatchObject({ received: N, published: N });
      expect(got).toEqual(
        Array.from({ length: N }, (_, i) => `Proxy b${i} stopped (cumulated conns: FE: 0, BE: 0).`),
      );
    } finally {
      sock.close();
      await logs.close();
      await nc.close();
      await nats.stop();
    }
  }, 30_000);
});
