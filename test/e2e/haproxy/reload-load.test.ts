/**
 * haproxy reloads under load — steady HTTP load through a real haproxy (loopback, bounded
 * concurrency) while the state document changes 100 times, each change confirmed as a
 * reload on the node. With a new connection per request: zero failed requests. With
 * keep-alive clients, HAProxy 2.6's old worker closes idle connections at soft-stop and
 * races clients sending on them; the agent renders `option idle-close-on-response` on
 * HTTP frontends (render.ts) so the old worker answers once more with `Connection: close`
 * instead. Both are measured — the document opting out (before) and the default (after) —
 * and reported, with no client retries hiding anything.
 */

import type { Server } from "node:http";
import { Agent as HttpAgent, request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backend, type Cluster, startCluster } from "./cluster.ts";

let c: Cluster;
let app: { port: number; server: Server };

beforeAll(async () => {
  app = await backend("app");
  c = await startCluster({ nodes: 1, agentEnv: { EP_HAPROXY_APPLY_WAIT_MS: "60000" } });
}, 120_000);
afterAll(async () => {
  if (process.env.EP_TEST_DEBUG)
    for (const a of c?.agents ?? []) process.stderr.write(`--- ${a.node}\n${a.proc.output()}\n`);
  await c?.close();
  app?.server.close();
});

function doc(i: number, options: string[] = []) {
  return {
    defaults: [
      { mode: "http", timeouts: { connect: "2s", client: "10s", server: "10s", http_keep_alive: "10s" } },
    ],
    frontends: [
      {
        name: "web",
        options,
        binds: [{ address: "127.0.0.1", port: c.port }],
        http_response: [{ action: "set-header", args: ["X-Revision-Mark", String(i)] }],
        default_backend: "app",
      },
    ],
    backends: [{ name: "app", servers: [{ name: "a1", address: "127.0.0.1", port: app.port }] }],
  };
}

function get(port: number, agent: HttpAgent | false): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
      res.on("error", () => resolve(false));
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** `lanes` request loops until `stop()`; returns counts. */
function load(port: number, lanes: number, agent: () => HttpAgent | false) {
  let running = true;
  let ok = 0;
  let failed = 0;
  const loops = Array.from({ length: lanes }, async () => {
    const a = agent();
    while (running) {
      if (await get(port, a)) ok++;
      else failed++;
      // Bounded load: at most ~1 request per lane every 5 ms.
      await sleep(5);
    }
    if (a) a.destroy();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

async function changes(n: number, from: number, options: string[] = []): Promise<number> {
  let rev = (
    (await (await c.api("GET", "/api/v1/haproxy/clusters/default/state")).json()) as {
      meta: { revision: number };
    }
  ).meta.revision;
  for (let i = 0; i < n; i++) {
    const r = await c.api("PUT", "/api/v1/haproxy/clusters/default/state", doc(from + i, options), {
      "if-match": String(rev),
    });
    const b = (await r.json()) as { revision: number; results: Array<{ result: string }> };
    expect(r.status, JSON.stringify(b)).toBe(200);
    expect(b.results.map((x) => x.result)).toEqual(["applied"]);
    rev = b.revision;
  }
  return rev;
}

describe("haproxy reloads under load", () => {
  it("100 state changes with reloads: zero failed requests with a new connection per request", async () => {
    expect(
      (await c.api("PUT", "/api/v1/haproxy/clusters/default/state", doc(0), { "if-match": "0" })).status,
    ).toBe(200);
    const reloadsBefore = await reloads();
    const l = load(c.port, 8, () => false);
    await changes(Number(process.env.EP_TEST_RELOADS ?? 100), 1);
    const r = await l.stop();
    expect(await reloads()).toBeGreaterThanOrEqual(
      reloadsBefore + Number(process.env.EP_TEST_RELOADS ?? 100),
    );
    process.stderr.write(
      `[reload-load] new connection per request: ${r.ok} ok, ${r.failed} failed over 100 reloads\n`,
    );
    expect(r.ok).toBeGreaterThan(100);
    expect(r.failed).toBe(0);
  }, 180_000);

  it("keep-alive clients: the old worker's idle-close race is measured, and minimised by default", async () => {
    const keepAlive = async (label: string, from: number, options: string[]) => {
      const l = load(c.port, 8, () => new HttpAgent({ keepAlive: true, maxSockets: 1 }));
      await changes(30, from, options);
      const r = await l.stop();
      process.stderr.write(
        `[reload-load] keep-alive, ${label}: ${r.ok} ok, ${r.failed} failed over 30 reloads\n`,
      );
      expect(r.ok).toBeGreaterThan(200);
      return r;
    };
    // Before: the document opts out — HAProxy 2.6's default closes idle connections at once.
    const before = await keepAlive("no option idle-close-on-response (2.6 default)", 1000, [
      "no idle-close-on-response",
    ]);
    // Bounded: at most one failure per lane per reload.
    expect(before.failed).toBeLessThanOrEqual(30 * 8);
    // After: what the agent renders by default.
    const after = await keepAlive("agent default (option idle-close-on-response)", 2000, []);
    // Measured 0 on a quiet machine. Under heavy CPU load a request can still meet a
    // connection the old worker is closing for its own reasons (keep-alive timeout,
    // hard-stop), so the contract is "minimised", not "zero": at most half the 2.6-default
    // failures (or 4). New connections per request (the test above) must stay at zero.
    expect(after.failed).toBeLessThanOrEqual(Math.max(4, Math.floor(before.failed / 2)));
  }, 180_000);
});

async function reloads(): Promise<number> {
  const r = await c.api("GET", "/api/v1/haproxy/clusters/default/nodes");
  return ((await r.json()) as { items: Array<{ reloads: number }> }).items[0]?.reloads ?? 0;
}
