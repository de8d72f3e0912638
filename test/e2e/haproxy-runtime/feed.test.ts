/**
 * haproxy feeds — the stats samples every agent publishes, and live logs: a request
 * through haproxy reaches an SSE client within 1 s, filters apply, PatchPanel's
 * `/api/logs` works, and a client that stops reading only loses its own lines (dropped
 * and counted) while other clients and the agents carry on.
 */
import { type IncomingMessage, request } from "node:http";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HaproxyLogSubjects, HaproxySample } from "../../../proto/src/mod.ts";
import { waitFor } from "../../harness/mod.ts";
import { backend, type Cluster, startCluster } from "../haproxy/cluster.ts";

let c: Cluster;
let nc: NatsConnection;
const be: Record<string, Awaited<ReturnType<typeof backend>>> = {};
const P = "/api/v1/haproxy/clusters/default";

interface SseEvent {
  event: string;
  data: string;
  at: number;
}
/** An SSE client (plain node:http, one connection of its own) reading events into a list. */
async function sse(path: string, opts: { paused?: boolean } = {}) {
  const u = new URL(`${c.gateway.url}${path}`);
  const events: SseEvent[] = [];
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        agent: false,
        headers: { authorization: `Bearer ${c.key}` },
      },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
  let buf = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (ev && data !== undefined) events.push({ event: ev, data, at: Date.now() });
    }
  });
  res.on("error", () => undefined);
  if (opts.paused) res.pause();
  return {
    status: res.statusCode,
    type: res.headers["content-type"],
    events,
    resume() {
      res.resume();
    },
    close() {
      res.destroy();
    },
  };
}

beforeAll(async () => {
  be.up = await backend("up");
  c = await startCluster({ nodes: 2, agentEnv: { EP_HAPROXY_SAMPLE_MS: "300" } });
  nc = await connect({ servers: c.nats.url });
  await waitFor(async () => {
    const b = (await (await c.api("GET", `${P}/nodes`)).json()) as { items: Array<{ state: string }> };
    return b.items.length === 2 && b.items.every((n) => n.state === "applied") ? true : undefined;
  });
  const r = await c.api(
    "PUT",
    `${P}/state`,
    {
      defaults: [
        { mode: "http", options: ["httplog"], timeouts: { connect: "1s", client: "5s", server: "5s" } },
      ],
      frontends: [
        {
          name: "web",
          binds: [{ address: "127.0.0.1", port: c.port }],
          acls: [{ name: "to_down", criterion: "path_beg", values: ["/down"] }],
          use_backends: [{ backend: "down", cond: "if", cond_test: "to_down" }],
          default_backend: "app",
        },
      ],
      backends: [
        { name: "app", servers: [{ name: "up1", address: "127.0.0.1", port: be.up?.port }] },
        {
          name: "down",
          servers: [{ name: "gone", address: "127.0.0.1", port: 9, check: true, inter: "1s" }],
        },
      ],
    },
    { "if-match": '"0"' },
  );
  expect(r.status, await r.clone().text()).toBe(200);
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await c?.close();
  for (const b of Object.values(be)) b.server.close();
});

const url = (i: number, path: string) => `http://127.0.0.1:${c.port + (c.agents[i]?.offset ?? 0)}${path}`;

describe("haproxy feeds - stats samples", () => {
  it("every node publishes show info + show stat samples for the stats service", async () => {
    const seen = new Map<string, HaproxySample>();
    const sub = nc.subscribe("ep.v1.stats.samples.haproxy.default.*", {
      callback: (_e, m) => {
        const s = HaproxySample.parse(m.json());
        seen.set(s.node, s);
      },
    });
    await waitFor(() => (seen.size === 2 ? true : undefined), {
      timeout: 5000,
      message: "samples from both nodes",
    });
    sub.unsubscribe();
    const a = seen.get("node-a") as HaproxySample;
    expect(a.cluster).toBe("default");
    expect(a.interval_ms).toBe(300);
    expect(a.info.version).toMatch(/^2\./);
    expect(a.rows.map((r) => `${r.px}/${r.sv}`)).toEqual(
      expect.arrayContaining(["web/FRONTEND", "app/BACKEND", "app/up1", "down/gone"]),
    );
  });
});

describe("haproxy feeds - live logs over SSE", () => {
  it("a request through haproxy appears on the stream within 1 s", async () => {
    const s = await sse(`${P}/logs`);
    expect(s.status).toBe(200);
    expect(s.type).toContain("text/event-stream");
    for (const i of [0, 1]) {
      const path = `/hello-${i}-${Date.now()}`;
      const t0 = Date.now();
      expect((await fetch(url(i, path))).status).toBe(200);
      const ev = await waitFor(() => s.events.find((e) => e.data.includes(path)), { timeout: 1000 });
      expect(ev.at - t0).toBeLessThan(1000);
      const entry = JSON.parse(ev.data);
      expect(entry).toMatchObject({
        cluster: "default",
        node: i === 0 ? "node-a" : "node-b",
        kind: "http",
        frontend: "web",
        backend: "app",
        server: "up1",
        status: 200,
        method: "GET",
        path,
        client: "127.0.0.1",
      });
    }
    s.close();
  });

  it("filters by status class and node; /api/logs is the same stream", async () => {
    const only5xx = await sse(`${P}/logs?status=5xx&node=node-a`);
    const compat = await sse("/api/logs");
    expect(compat.status).toBe(200);
    await fetch(url(0, "/ok-a"));
    await fetch(url(1, "/down-b"));
    await fetch(url(0, "/down-a"));
    await waitFor(() => only5xx.events.find((e) => e.data.includes("/down-a")), { timeout: 2000 });
    await waitFor(() => compat.events.find((e) => e.data.includes("/down-b")), { timeout: 2000 });
    const paths = only5xx.events.map((e) => JSON.parse(e.data).path);
    expect(paths).toEqual(["/down-a"]);
    expect(JSON.parse(only5xx.events[0]?.data ?? "{}").status).toBe(503);
    only5xx.close();
    compat.close();
    expect((await c.api("GET", `${P}/logs?status=9xx`)).status).toBe(422);
  });

  it("a client that stops reading loses only its own lines (counted); others and the agents carry on", async () => {
    const slow = await sse(`${P}/logs?node=node-b`, { paused: true });
    const fast = await sse(`${P}/logs?node=node-a`);
    // Flood node-b's subject (as an agent would under load) far beyond socket buffers.
    const line = JSON.stringify({
      ts: Date.now(),
      cluster: "default",
      node: "node-b",
      kind: "other",
      severity: 6,
      pid: null,
      client: null,
      client_port: null,
      accept_date: null,
      frontend: null,
      tls: false,
      backend: null,
      server: null,
      status: null,
      bytes: null,
      time_total_ms: null,
      termination: null,
      method: null,
      path: null,
      message: "x".repeat(4000),
    });
    const subj = HaproxyLogSubjects.node("default", "node-b");
    for (let i = 0; i < 6000; i++) nc.publish(subj, line);
    await nc.flush();
    // Meanwhile a real request on node-a reaches the fast client promptly.
    const path = `/during-flood-${Date.now()}`;
    const t0 = Date.now();
    await fetch(url(0, path));
    const ev = await waitFor(() => fast.events.find((e) => e.data.includes(path)), { timeout: 1000 });
    expect(ev.at - t0).toBeLessThan(1000);
    // The slow client, once it reads again, is told how much it lost.
    slow.resume();
    const dropped = await waitFor(() => slow.events.find((e) => e.event === "dropped"), { timeout: 10_000 });
    expect(JSON.parse(dropped.data).dropped).toBeGreaterThan(0);
    expect(slow.events.filter((e) => e.event === "log").length).toBeLessThan(6000);
    slow.close();
    fast.close();
  });
});
