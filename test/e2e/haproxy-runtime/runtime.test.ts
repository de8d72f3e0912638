/**
 * haproxy runtime — two agents, two real haproxies: runtime changes through the gateway
 * reach both nodes and are held as intents across a reload, a new revision and an agent
 * restart; clearing reverts everywhere. Weight, frontend disable/enable, maxconn, counters,
 * map and ACL entries (runtime + state document), read-outs, merged stats, PatchPanel aliases.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketCommand } from "../../../services/haproxy-agent/src/haproxy.ts";
import { waitFor } from "../../harness/mod.ts";
import { backend, type Cluster, startCluster } from "../haproxy/cluster.ts";

let c: Cluster;
const be: Record<string, Awaited<ReturnType<typeof backend>>> = {};
const P = "/api/v1/haproxy/clusters/default";

type Doc = Record<string, unknown>;
function doc(extraTimeout = "10s"): Doc {
  return {
    defaults: [
      {
        mode: "http",
        options: ["httplog"],
        timeouts: { connect: "2s", client: extraTimeout, server: "10s" },
      },
    ],
    acls: [{ name: "blocked", criterion: "path_beg", values: ["/blocked"] }],
    frontends: [
      {
        name: "web",
        binds: [{ address: "127.0.0.1", port: c.port }],
        http_request: [
          { action: "deny", args: [], cond: "if", cond_test: "blocked" },
          {
            action: "return",
            args: ["status", "200", "content-type", "text/plain", "lf-string", "map:%[path,map(@routes)]"],
            cond: "if",
            cond_test: "{ path,map(@routes) -m found }",
          },
        ],
        default_backend: "app",
      },
    ],
    backends: [
      {
        name: "app",
        balance: { algorithm: "roundrobin" },
        servers: [
          { name: "s1", address: "127.0.0.1", port: be.s1?.port, weight: 10 },
          { name: "s2", address: "127.0.0.1", port: be.s2?.port, weight: 10 },
        ],
      },
    ],
    maps: [{ name: "routes", entries: [{ key: "/known", value: "yes" }] }],
  };
}

const sock = (i: number) => join((c.agents[i] as { dir: string }).dir, "admin.sock");
async function statRow(i: number, px: string, sv: string): Promise<string[]> {
  const csv = await socketCommand(sock(i), "show stat");
  const row = csv.split("\n").find((l) => l.startsWith(`${px},${sv},`));
  return row?.split(",") ?? [];
}
const status = async (i: number, sv = "s1") => (await statRow(i, "app", sv))[17];
const weight = async (i: number, sv = "s1") => (await statRow(i, "app", sv))[18];
const url = (i: number, path = "/") => `http://127.0.0.1:${c.port + (c.agents[i]?.offset ?? 0)}${path}`;
async function hit(i: number, n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const r = await fetch(url(i, `/r${k}`), { headers: { connection: "close" } });
    await r.text();
  }
}
const getState = async () =>
  (await (await c.api("GET", `${P}/state`)).json()) as Doc & { meta: { revision: number } };
const put = async (d: Doc) => {
  const cur = await getState();
  const r = await c.api("PUT", `${P}/state`, d, { "if-match": `"${cur.meta.revision}"` });
  expect(r.status, await r.clone().text()).toBe(200);
};
type RuntimeReply = {
  ok: boolean;
  intent: { id: string } | null;
  cleared: string[];
  revision: number | null;
  results: Array<{ node: string; ok: boolean; message: string }>;
};
async function post(path: string, body?: unknown): Promise<RuntimeReply> {
  const r = await c.api("POST", path, body);
  const b = (await r.json()) as RuntimeReply;
  expect(r.status, JSON.stringify(b)).toBe(200);
  return b;
}

beforeAll(async () => {
  be.s1 = await backend("s1");
  be.s2 = await backend("s2");
  c = await startCluster({ nodes: 2 });
  await waitFor(async () => {
    const r = await c.api("GET", `${P}/nodes`);
    const b = (await r.json()) as { items: Array<{ state: string }> };
    return b.items.length === 2 && b.items.every((n) => n.state === "applied") ? true : undefined;
  });
  await put(doc());
}, 120_000);

afterAll(async () => {
  if (process.env.EP_TEST_DEBUG)
    for (const a of c?.agents ?? []) process.stderr.write(`--- ${a.node}\n${a.proc.output()}\n`);
  await c?.close();
  for (const b of Object.values(be)) b.server.close();
});

describe("haproxy runtime - drain held as an intent", () => {
  let intentId = "";

  it("drains a server on both nodes; traffic stops reaching it", async () => {
    const b = await post(`${P}/servers/app/s1/state`, { state: "drain" });
    expect(b.ok).toBe(true);
    expect(b.results.map((r) => [r.node, r.ok])).toEqual([
      ["node-a", true],
      ["node-b", true],
    ]);
    intentId = b.intent?.id ?? "";
    expect(intentId).toMatch(/^int_/);
    expect(await status(0)).toBe("DRAIN");
    expect(await status(1)).toBe("DRAIN");
    const before = be.s1?.hits() ?? 0;
    await hit(0, 6);
    await hit(1, 6);
    expect(be.s1?.hits()).toBe(before);
  });

  it("is still drained after a reload and after a new revision", async () => {
    const r = await c.api("POST", `${P}/reload`);
    expect(r.status).toBe(200);
    expect(await status(0)).toBe("DRAIN");
    expect(await status(1)).toBe("DRAIN");
    await put(doc("11s"));
    expect(await status(0)).toBe("DRAIN");
    expect(await status(1)).toBe("DRAIN");
  });

  it("is still drained after an agent restart (its haproxy restarted too)", async () => {
    const b = c.agents[1];
    if (!b) throw new Error("no agent b");
    expect(await b.proc.stop()).toBe(0);
    await c.startAgent(b);
    await waitFor(async () => ((await status(1).catch(() => undefined)) === "DRAIN" ? true : undefined), {
      timeout: 20_000,
      message: "node-b drains again after its restart",
    });
    const before = be.s1?.hits() ?? 0;
    await hit(1, 6);
    expect(be.s1?.hits()).toBe(before);
  });

  it("lists the intent; clearing it makes the server READY everywhere", async () => {
    const l = (await (await c.api("GET", `${P}/runtime/intents`)).json()) as {
      items: Array<{ id: string; kind: string; state: string }>;
    };
    expect(l.items).toEqual([
      expect.objectContaining({ id: intentId, kind: "server_state", state: "drain" }),
    ]);
    const r = await c.api("DELETE", `${P}/runtime/intents/${intentId}`);
    const body = (await r.json()) as RuntimeReply;
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.cleared).toEqual([intentId]);
    expect(body.results.every((x) => x.ok)).toBe(true);
    expect(await status(0)).toBe("no check"); // READY (no health check configured)
    expect(await status(1)).toBe("no check"); // READY (no health check configured)
    const before = be.s1?.hits() ?? 0;
    await hit(0, 4);
    expect(be.s1?.hits()).toBeGreaterThan(before);
    expect((await c.api("DELETE", `${P}/runtime/intents/${intentId}`)).status).toBe(404);
  });

  it("an unknown server is a 404; a bad state is a 422 naming the field", async () => {
    const r = await c.api("POST", `${P}/servers/app/nope/state`, { state: "drain" });
    expect(r.status).toBe(404);
    const bad = await c.api("POST", `${P}/servers/app/s1/state`, { state: "sleep" });
    expect(bad.status).toBe(422);
    const e = (await bad.json()) as { error: { details: Array<{ field: string }> } };
    expect(e.error.details.map((d) => d.field)).toEqual(["state"]);
    const inj = await c.api("POST", `${P}/servers/app/s1;shutdown/state`, { state: "drain" });
    expect(inj.status).toBe(422);
  });
});

describe("haproxy runtime - weight, frontends, maxconn, counters", () => {
  it("a weight change shows in show stat of both nodes and in the merged stats", async () => {
    const b = await post(`${P}/servers/app/s2/weight`, { weight: 17 });
    expect(b.ok).toBe(true);
    expect(await weight(0, "s2")).toBe("17");
    expect(await weight(1, "s2")).toBe("17");
    const s = (await (await c.api("GET", `${P}/stats`)).json()) as {
      nodes: Array<{ node: string; ok: boolean }>;
      rows: Array<{
        type: string;
        proxy: string;
        name: string;
        weight: number;
        per_node: Record<string, { weight: number }>;
      }>;
    };
    expect(s.nodes.map((n) => [n.node, n.ok])).toEqual([
      ["node-a", true],
      ["node-b", true],
    ]);
    const row = s.rows.find((r) => r.proxy === "app" && r.name === "s2");
    expect(row?.per_node).toEqual({
      "node-a": expect.objectContaining({ weight: 17 }),
      "node-b": expect.objectContaining({ weight: 17 }),
    });
    // Cleared: back to the configured weight.
    const id = b.intent?.id as string;
    expect((await c.api("DELETE", `${P}/runtime/intents/${id}`)).status).toBe(200);
    expect(await weight(0, "s2")).toBe("10");
    expect(await weight(1, "s2")).toBe("10");
  });

  it("disabling a frontend refuses connections on both nodes; enabling restores", async () => {
    await post(`${P}/frontends/web/disable`);
    for (const i of [0, 1])
      await expect(fetch(url(i, "/x"), { headers: { connection: "close" } })).rejects.toThrow();
    // Held across a reload.
    expect((await c.api("POST", `${P}/reload`)).status).toBe(200);
    for (const i of [0, 1])
      await expect(fetch(url(i, "/x"), { headers: { connection: "close" } })).rejects.toThrow();
    const e = await post(`${P}/frontends/web/enable`);
    expect(e.cleared.length).toBe(1);
    for (const i of [0, 1])
      expect((await fetch(url(i, "/x"), { headers: { connection: "close" } })).status).toBe(200);
  });

  it("maxconn on a frontend and globally, then cleared back to the configured values", async () => {
    const before = (await statRow(0, "web", "FRONTEND"))[6];
    const f = await post(`${P}/maxconn/frontend/web`, { max: 42 });
    expect((await statRow(0, "web", "FRONTEND"))[6]).toBe("42");
    expect((await statRow(1, "web", "FRONTEND"))[6]).toBe("42");
    const g = await post(`${P}/maxconn/global`, { max: 77 });
    expect(await socketCommand(sock(1), "show info")).toMatch(/^Maxconn: 77$/m);
    for (const b of [f, g])
      expect((await c.api("DELETE", `${P}/runtime/intents/${b.intent?.id}`)).status).toBe(200);
    expect((await statRow(0, "web", "FRONTEND"))[6]).toBe(before);
    expect(await socketCommand(sock(1), "show info")).not.toMatch(/^Maxconn: 77$/m);
  });

  it("clears counters on every node", async () => {
    await hit(0, 3);
    const b = await post(`${P}/counters/clear`);
    expect(b.results.map((r) => r.ok)).toEqual([true, true]);
    expect((await statRow(0, "web", "FRONTEND"))[7]).toBe("0");
  });
});

describe("haproxy runtime - map and ACL entries, read-outs", () => {
  it("a map entry is live at once on both nodes and lands in the state document", async () => {
    const rev = (await getState()).meta.revision;
    const b = await post(`${P}/runtime/maps/routes/entries`, { key: "/fresh", value: "hello" });
    expect(b.ok).toBe(true);
    expect(b.revision).toBeGreaterThan(rev);
    for (const i of [0, 1]) expect(await (await fetch(url(i, "/fresh"))).text()).toBe("map:hello");
    const st = (await getState()) as unknown as { maps: Array<{ entries: Array<{ key: string }> }> };
    expect(st.maps[0]?.entries.map((e) => e.key)).toEqual(["/known", "/fresh"]);
    const d = await c.api("DELETE", `${P}/runtime/maps/routes/entries?key=/fresh`);
    expect(d.status).toBe(200);
    for (const i of [0, 1]) expect((await fetch(url(i, "/fresh"))).status).toBe(200);
    expect(await (await fetch(url(0, "/fresh"))).text()).not.toBe("map:hello");
  });

  it("an ACL pattern is added on both nodes and in the document", async () => {
    expect((await fetch(url(0, "/nasty"))).status).toBe(200);
    const b = await post(`${P}/runtime/acls/blocked/entries`, { value: "/nasty" });
    expect(b.results.map((r) => r.ok)).toEqual([true, true]);
    for (const i of [0, 1]) expect((await fetch(url(i, "/nasty"))).status).toBe(403);
    const st = (await getState()) as unknown as { acls: Array<{ values: string[] }> };
    expect(st.acls[0]?.values).toEqual(["/blocked", "/nasty"]);
    const bad = await c.api("POST", `${P}/runtime/acls/blocked/entries`, { value: "a b;shutdown" });
    expect(bad.status).toBe(422);
  });

  it("reads maps, ACLs and servers from every node or one", async () => {
    const maps = (await (await c.api("GET", `${P}/runtime/maps`)).json()) as {
      nodes: Array<{ node: string; items: Array<{ file: string }> }>;
    };
    expect(maps.nodes.map((n) => n.node)).toEqual(["node-a", "node-b"]);
    expect(maps.nodes[0]?.items.some((m) => /routes-[0-9a-f]{12}\.map$/.test(m.file))).toBe(true);
    const one = (await (await c.api("GET", `${P}/runtime/servers?node=node-b`)).json()) as {
      nodes: Array<{ node: string; items: Array<Record<string, string>> }>;
    };
    expect(one.nodes.map((n) => n.node)).toEqual(["node-b"]);
    expect(one.nodes[0]?.items.map((s) => s.srv_name)).toEqual(["s1", "s2"]);
    expect((await c.api("GET", `${P}/runtime/sessions`)).status).toBe(200);
    expect((await c.api("GET", `${P}/runtime/bogus`)).status).toBe(422);
  });
});

describe("haproxy runtime - PatchPanel aliases on the default cluster", () => {
  it("the documented drain example works as written", async () => {
    const r = await c.api("POST", "/api/haproxy/servers/app/s1/state", { state: "drain" });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(await status(0)).toBe("DRAIN");
    expect((await c.api("POST", "/api/haproxy/servers/app/s1/state", { state: "ready" })).status).toBe(200);
    expect(await status(0)).toBe("no check"); // READY (no health check configured)
    expect((await c.api("POST", "/api/runtime/frontends/web/disable")).status).toBe(200);
    expect((await c.api("POST", "/api/runtime/frontends/web/enable")).status).toBe(200);
    expect((await c.api("POST", "/api/runtime/counters/clear")).status).toBe(200);
    expect((await c.api("GET", "/api/runtime/acls")).status).toBe(200);
    expect(
      ((await (await c.api("GET", "/api/runtime/intents")).json()) as { items: unknown[] }).items,
    ).toEqual([]);
  });
});
