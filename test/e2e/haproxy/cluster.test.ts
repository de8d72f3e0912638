/**
 * haproxy cluster — two agents managing two real haproxies as one cluster, through the
 * gateway: converge on both with traffic reaching the new backend, a rejected document
 * (502 with hints, nothing changes), concurrent PUTs (one 200, one 409), an agent away and
 * back, runtime drain surviving reloads, snapshots/diff/restore, PatchPanel aliases, import.
 */

import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketCommand } from "../../../services/haproxy-agent/src/haproxy.ts";
import { findStrays, freePort, killStrays, waitFor } from "../../harness/mod.ts";
import { backend, type Cluster, startCluster } from "./cluster.ts";

let c: Cluster;
const backends: Record<string, { port: number; server: Server }> = {};

/** Element `i` of a list that must have it. */
function at<T>(list: T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`no element ${i}`);
  return v;
}

type Doc = Record<string, unknown> & { meta?: { revision?: number } };

function doc(withNew: boolean): Doc {
  return {
    defaults: [
      {
        mode: "http",
        timeouts: { connect: "2s", client: "10s", server: "10s" },
        options: ["http-server-close"],
      },
    ],
    acls: [{ name: "host_app", criterion: "hdr(host)", flags: ["-i"], values: ["app.example.com"] }],
    frontends: [
      {
        name: "web",
        binds: [{ address: "127.0.0.1", port: c.port }],
        acls: [{ name: "is_new", criterion: "path_beg", values: ["/new"] }],
        use_backends: withNew ? [{ backend: "fresh", cond: "if", cond_test: "is_new" }] : [],
        default_backend: "app",
      },
    ],
    backends: [
      { name: "app", servers: [{ name: "old1", address: "127.0.0.1", port: backends.old?.port }] },
      ...(withNew
        ? [{ name: "fresh", servers: [{ name: "new1", address: "127.0.0.1", port: backends.fresh?.port }] }]
        : []),
    ],
  };
}

/**
 * A request through node i's haproxy on a new connection: after a reload, a kept-alive
 * connection gets one more answer from the previous worker (`option
 * idle-close-on-response`, see render.ts), new connections reach the new configuration.
 */
const through = async (i: number, path: string) => {
  const a = c.agents[i];
  const r = await fetch(`http://127.0.0.1:${c.port + (a?.offset ?? 0)}${path}`, {
    headers: { connection: "close" },
  });
  return `${r.status} ${await r.text()}`;
};
const getState = async () => {
  const r = await c.api("GET", "/api/v1/haproxy/clusters/default/state");
  expect(r.status).toBe(200);
  return (await r.json()) as Doc & { meta: { revision: number } };
};
type Ev = { type: string; actor: { type: string; name: string | null }; data: Record<string, unknown> };
/** Stored events of cluster `default` (oldest first) of the given topics. */
const eventsOf = async (topics: string): Promise<Ev[]> => {
  const q = `topics=${topics}&resource_kind=cluster&resource=default&order=asc&limit=200`;
  const r = await c.api("GET", `/api/v1/events?${q}`);
  return ((await r.json()) as { items: Array<{ event: Ev }> }).items.map((i) => i.event);
};
const put = (d: Doc, rev: number | undefined, query = "") =>
  c.api(
    "PUT",
    `/api/v1/haproxy/clusters/default/state${query}`,
    d,
    rev === undefined ? {} : { "if-match": `"${rev}"` },
  );

beforeAll(async () => {
  backends.old = await backend("old");
  backends.fresh = await backend("fresh");
  c = await startCluster({ nodes: 2, agentEnv: { EP_HAPROXY_ON_EXIT: "keep" } });
}, 120_000);

afterAll(async () => {
  if (process.env.EP_TEST_DEBUG)
    for (const a of c?.agents ?? []) process.stderr.write(`--- ${a.node}\n${a.proc.output()}\n`);
  await c?.close();
  for (const b of Object.values(backends)) b.server.close();
});

/** Candidate files (`haproxy.cfg.cand-*`) left in the agents' directories. */
async function candidates(): Promise<string[]> {
  const names = await Promise.all(c.agents.map((a) => readdir(a.dir)));
  return names.flat().filter((f) => f.startsWith("haproxy.cfg.cand-"));
}

describe("haproxy cluster - converge on every node", () => {
  it("starts empty: revision 0, both nodes report", async () => {
    const s = await getState();
    expect(s.meta.revision).toBe(0);
    const nodes = await waitFor(async () => {
      const r = await c.api("GET", "/api/v1/haproxy/clusters/default/nodes");
      const b = (await r.json()) as {
        items: Array<{ node: string; online: boolean; haproxy_version: string }>;
      };
      return b.items.length === 2 ? b.items : undefined;
    });
    expect(nodes.map((n) => n.node)).toEqual(["node-a", "node-b"]);
    expect(nodes.every((n) => n.online && n.haproxy_version.startsWith("2."))).toBe(true);
  });

  it("a first PUT is applied on both nodes and serves traffic", async () => {
    const r = await put(doc(false), 0);
    const body = (await r.json()) as { revision: number; results: Array<{ node: string; result: string }> };
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(r.headers.get("etag")).toBe(`"${body.revision}"`);
    expect(body.results).toEqual([
      expect.objectContaining({ node: "node-a", result: "applied", revision: body.revision }),
      expect.objectContaining({ node: "node-b", result: "applied", revision: body.revision }),
    ]);
    expect(await through(0, "/x")).toBe("200 old /x");
    expect(await through(1, "/x")).toBe("200 old /x");
  });

  it("a PUT adding a backend and a frontend rule converges on both; traffic reaches the new backend", async () => {
    const cur = await getState();
    const r = await put(doc(true), cur.meta.revision);
    const body = (await r.json()) as { revision: number; results: Array<{ result: string }> };
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.results.map((x) => x.result)).toEqual(["applied", "applied"]);
    for (const i of [0, 1]) {
      expect(await through(i, "/new/thing")).toBe("200 fresh /new/thing");
      expect(await through(i, "/other")).toBe("200 old /other");
    }
    // Every node ran the candidate it wrote while the committing agent checked the document
    // (the other node from the published candidate, cluster-prepare.ts), renamed into place:
    // none is left. Every node's file is byte for byte what that node renders from the state.
    const applied = c.agents.map((a) =>
      a.proc
        .output()
        .split("\n")
        .filter((l) => l.includes('"msg":"applied"'))
        .map((l) => JSON.parse(l) as { revision: number; prepared: boolean })
        .find((l) => l.revision === body.revision),
    );
    expect(applied.map((l) => l?.prepared)).toEqual([true, true]);
    expect(await candidates()).toEqual([]);
    for (const n of ["node-a", "node-b"]) {
      const path = `/api/v1/haproxy/clusters/default/nodes/${n}/cfg`;
      const disk = await (await c.api("GET", path)).text();
      expect(disk).toContain("backend fresh");
      expect(disk).toBe(await (await c.api("GET", `${path}?source=state`)).text());
    }
  });

  it("a commit is a haproxy.state.committed event, each node's apply a haproxy.state.applied", async () => {
    const cur = await getState();
    const evs = await waitFor(async () => {
      const mine = (await eventsOf("haproxy.state.*")).filter((e) => e.data.revision === cur.meta.revision);
      return mine.length >= 3 ? mine : undefined;
    });
    expect(evs.map((e) => `${e.type} ${e.data.node ?? ""}`).sort()).toEqual([
      "haproxy.state.applied node-a",
      "haproxy.state.applied node-b",
      "haproxy.state.committed ",
    ]);
    const committed = evs.find((e) => e.type === "haproxy.state.committed");
    expect(committed?.actor).toMatchObject({ type: "api_key", name: "owner" });
    expect(committed?.data).toMatchObject({
      previous_revision: expect.any(Number),
      counts: { frontends: 1, backends: 2, servers: 2 },
    });
    for (const e of evs.filter((x) => x.type === "haproxy.state.applied")) {
      expect(e.actor.type).toBe("system");
      expect(e.data).toMatchObject({ reloaded: true, duration_ms: expect.any(Number) });
    }
    // Each node's reloads are `haproxy.reload` events too.
    const reloads = (await eventsOf("haproxy.reload")).map((e) => e.data);
    for (const node of ["node-a", "node-b"])
      expect(reloads).toContainEqual(
        expect.objectContaining({ node, result: "success", reason: "state", worker_pid: expect.any(Number) }),
      );
  });

  it("a document haproxy rejects is a 502 with hints naming the entity; both nodes keep the old revision", async () => {
    const cur = await getState();
    const bad = doc(true);
    (bad.backends as Array<{ servers: unknown[] }>)[1]?.servers.push({
      name: "ghost",
      address: "no-such-host.invalid",
      port: 80,
    });
    const r = await put(bad, cur.meta.revision);
    expect(r.status).toBe(502);
    const e = (await r.json()) as {
      error: { code: string; details: { output: string; hints: Array<{ entity: unknown; field: string }> } };
    };
    expect(e.error.code).toBe("haproxy_config_invalid");
    expect(e.error.details.output).toContain("no-such-host.invalid");
    expect(e.error.details.hints).toContainEqual(
      expect.objectContaining({
        entity: { kind: "server", name: "fresh/ghost" },
        field: "backends.1.servers.1",
      }),
    );
    expect((await getState()).meta.revision).toBe(cur.meta.revision);
    for (const i of [0, 1]) expect(await through(i, "/new/x")).toBe("200 fresh /new/x");
    // The candidate the committing agent wrote while haproxy -c ran is gone with the verdict.
    await waitFor(async () => ((await candidates()).length === 0 ? true : undefined));
  });

  it("a reference to a missing backend is a 422 naming the field", async () => {
    const cur = await getState();
    const bad = doc(true);
    at(bad.frontends as Array<{ default_backend: string }>, 0).default_backend = "nope";
    const r = await put(bad, cur.meta.revision);
    expect(r.status).toBe(422);
    const e = (await r.json()) as { error: { details: Array<{ field: string }> } };
    expect(e.error.details.map((d) => d.field)).toEqual(["frontends.0.default_backend"]);
  });

  it("a document the schema rejects (checked once, by the agent) is a 422 naming every field, on both paths", async () => {
    const cur = await getState();
    const bad = doc(true);
    at(bad.backends as Array<{ name: string }>, 0).name = "app\n    server smuggled 10.0.0.1:80";
    at(bad.frontends as Array<{ binds: Array<Record<string, unknown>> }>, 0).binds[0] = {
      address: "127.0.0.1",
      port: 0,
    };
    for (const path of ["/api/v1/haproxy/clusters/default/state", "/api/state"]) {
      const r = await c.api("PUT", path, JSON.stringify(bad), {
        "content-type": "application/json",
        "if-match": String(cur.meta.revision),
      });
      expect(r.status).toBe(422);
      const e = (await r.json()) as {
        error: { code: string; request_id: string; details: Array<{ field: string; type: string }> };
      };
      expect(e.error.code).toBe("validation_failed");
      expect(e.error.request_id).toMatch(/\S/);
      const fields = e.error.details.map((d) => d.field);
      expect(fields).toContain("backends.0.name");
      expect(fields).toContain("frontends.0.binds.0.port");
    }
    // Not JSON-object bodies get the same envelope.
    const v = await c.api("POST", "/api/v1/haproxy/clusters/default/state/validate", "[1]", {
      "content-type": "application/json",
    });
    expect(v.status).toBe(422);
    expect(((await v.json()) as { error: { code: string } }).error.code).toBe("validation_failed");
    expect((await getState()).meta.revision).toBe(cur.meta.revision);
  });

  it("two concurrent PUTs from the same revision: exactly one 200 and one 409 with the current revision", async () => {
    const cur = await getState();
    const a = doc(true);
    const b = doc(true);
    at(a.defaults as Array<{ timeouts: Record<string, string> }>, 0).timeouts.client = "11s";
    at(b.defaults as Array<{ timeouts: Record<string, string> }>, 0).timeouts.client = "12s";
    const rs = await Promise.all([put(a, cur.meta.revision), put(b, cur.meta.revision)]);
    expect(rs.map((r) => r.status).sort()).toEqual([200, 409]);
    const lost = rs.find((r) => r.status === 409) as Response;
    const e = (await lost.json()) as { error: { code: string; details: { current_revision: number } } };
    expect(e.error.code).toBe("stale_revision");
    expect(e.error.details.current_revision).toBe((await getState()).meta.revision);
    // The loser's candidate (written while its check ran) is discarded, the winner's applied.
    await waitFor(async () => ((await candidates()).length === 0 ? true : undefined));
  });

  it("a PUT without a revision on a cluster with state is 428", async () => {
    const r = await put(doc(true), undefined);
    expect(r.status).toBe(428);
  });

  it("a node that cannot serve a revision publishes haproxy.state.failed (and keeps the old one)", async () => {
    const [na, nb] = [at(c.agents, 0), at(c.agents, 1)];
    // A port taken on node-b's offset only: the commit's `haproxy -c` does not bind, node-b's reload does.
    const blocker = createServer();
    let port = 0;
    for (;;) {
      const q = await freePort();
      port = q - nb.offset + na.offset;
      if (port < 1024) continue;
      if (!(await canListen(port))) continue;
      await new Promise<void>((r) => blocker.listen(q, "127.0.0.1", r));
      break;
    }
    try {
      const d = doc(true);
      (d.frontends as unknown[]).push({
        name: "blocked",
        binds: [{ address: "127.0.0.1", port: port - na.offset }],
        default_backend: "app",
      });
      const r = await put(d, (await getState()).meta.revision);
      const body = (await r.json()) as { revision: number; results: Array<{ node: string; result: string }> };
      expect(body.results.map((x) => `${x.node} ${x.result}`)).toEqual(["node-a applied", "node-b failed"]);
      const failed = await waitFor(async () =>
        (await eventsOf("haproxy.state.failed")).find((e) => e.data.revision === body.revision),
      );
      expect(failed.data).toMatchObject({
        node: "node-b",
        stage: expect.stringMatching(/^(reload|confirm)$/),
        error: { code: "haproxy_reload_failed", message: expect.any(String) },
      });
      expect((await eventsOf("haproxy.reload")).map((e) => e.data)).toContainEqual(
        expect.objectContaining({ node: "node-b", result: "failure", reason: "state" }),
      );
      expect(await through(1, "/x")).toBe("200 old /x"); // the previous revision still serves
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    // Back to a document every node can serve.
    const back = await put(doc(true), (await getState()).meta.revision);
    const b = (await back.json()) as { results: Array<{ result: string }> };
    expect(b.results.map((x) => x.result)).toEqual(["applied", "applied"]);
  });
});

/** Whether a TCP port on 127.0.0.1 is free right now. */
function canListen(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

describe("haproxy cluster - an agent away and back", () => {
  it("converges to the latest revision on its own", async () => {
    const b = c.agents[1];
    if (!b) throw new Error("no agent b");
    expect(await b.proc.stop()).toBe(0);
    // Two changes while it is away; its haproxy keeps serving the old revision meanwhile.
    let rev = (await getState()).meta.revision;
    for (const path of ["/away1", "/away2"]) {
      const d = doc(true);
      at(at(d.frontends as Array<{ acls: Array<{ values: string[] }> }>, 0).acls, 0).values = [path];
      const r = await put(d, rev);
      const body = (await r.json()) as { revision: number; results: Array<{ node: string; result: string }> };
      expect(r.status).toBe(200);
      expect(body.results).toEqual([
        expect.objectContaining({ node: "node-a", result: "applied" }),
        expect.objectContaining({ node: "node-b", result: "offline" }),
      ]);
      rev = body.revision;
    }
    expect(await through(1, "/away2")).toBe("200 old /away2");
    await c.startAgent(b);
    await waitFor(
      async () => {
        const r = await c.api("GET", "/api/v1/haproxy/clusters/default/nodes");
        const items = (
          (await r.json()) as { items: Array<{ node: string; revision: number; state: string }> }
        ).items;
        return items.find((n) => n.node === "node-b" && n.revision === rev && n.state === "applied");
      },
      { timeout: 20_000, message: "node-b converges" },
    );
    expect(await through(1, "/away2")).toBe("200 fresh /away2");
    expect(await through(1, "/new")).toBe("200 old /new");
  });
});

describe("haproxy cluster - runtime state survives reloads (server-state-file)", () => {
  it("a drained server is still drained after a reload and after a new revision", async () => {
    const a = c.agents[0] as { dir: string };
    const sock = join(a.dir, "admin.sock");
    const stat = async () => {
      const csv = await socketCommand(sock, "show stat");
      const row = csv.split("\n").find((l) => l.startsWith("app,old1,"));
      return row?.split(",")[17];
    };
    await socketCommand(sock, "set server app/old1 state drain");
    expect(await stat()).toBe("DRAIN");
    const r = await c.api("POST", "/api/v1/haproxy/clusters/default/reload");
    const body = (await r.json()) as { ok: boolean; results: Array<{ ok: boolean }> };
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.ok).toBe(true);
    expect(await stat()).toBe("DRAIN");
    // Each node's manual reload is a `haproxy.reload` event by the caller.
    const manual = (await eventsOf("haproxy.reload")).filter((e) => e.data.reason === "manual");
    expect(manual.map((e) => `${e.data.node} ${e.data.result} ${e.actor.name}`).sort()).toEqual([
      "node-a success owner",
      "node-b success owner",
    ]);
    const cur = await getState();
    const d = doc(true);
    at(d.defaults as Array<{ timeouts: Record<string, string> }>, 0).timeouts.server = "9s";
    expect((await put(d, cur.meta.revision)).status).toBe(200);
    expect(await stat()).toBe("DRAIN");
    await socketCommand(sock, "set server app/old1 state ready");
  });
});

describe("haproxy cluster - snapshots, diff, restore", () => {
  it("keeps every revision, diffs two and restores one as a new revision", async () => {
    const list = (await (await c.api("GET", "/api/v1/haproxy/clusters/default/snapshots")).json()) as {
      items: Array<{ revision: number; backends: number }>;
    };
    expect(list.items.length).toBeGreaterThanOrEqual(5);
    const revs = list.items.map((s) => s.revision);
    expect([...revs].sort((x, y) => y - x)).toEqual(revs);
    const first = revs[revs.length - 1] as number;
    const snap = (await (
      await c.api("GET", `/api/v1/haproxy/clusters/default/snapshots/${first}`)
    ).json()) as {
      state: { backends: unknown[] };
    };
    expect(snap.state.backends).toHaveLength(1);
    const diff = (await (
      await c.api("GET", `/api/v1/haproxy/clusters/default/snapshots/${first}/diff/${revs[0]}`)
    ).json()) as {
      changes: Array<{ op: string; path: string }>;
      unified: string;
    };
    expect(diff.changes).toContainEqual(expect.objectContaining({ op: "add", path: "backends[fresh]" }));
    expect(diff.unified).toContain("+backend fresh");
    const r = await c.api("POST", `/api/v1/haproxy/clusters/default/snapshots/${first}/restore`, {});
    const body = (await r.json()) as { revision: number; results: Array<{ result: string }> };
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.revision).toBeGreaterThan(revs[0] as number);
    expect(body.results.map((x) => x.result)).toEqual(["applied", "applied"]);
    for (const i of [0, 1]) expect(await through(i, "/new")).toBe("200 old /new");
    expect((await c.api("GET", "/api/v1/haproxy/clusters/default/snapshots/99999")).status).toBe(404);
  });
});

describe("haproxy cluster - PatchPanel compatibility on the default cluster", () => {
  it("the documented read-modify-write example works as written (jq: .acls[0].values += [...])", async () => {
    const state = (await (await c.api("GET", "/api/state")).json()) as { acls: Array<{ values: string[] }> };
    state.acls[0]?.values.push("newhost.example.com"); // jq '.acls[0].values += ["newhost.example.com"]'
    const r = await c.api("PUT", "/api/state", state);
    expect(r.status, await r.clone().text()).toBe(200);
    const after = (await (await c.api("GET", "/api/state")).json()) as { acls: Array<{ values: string[] }> };
    expect(after.acls[0]?.values).toContain("newhost.example.com");
    const cfg = await c.api("GET", "/api/haproxy/cfg");
    expect(cfg.headers.get("content-type")).toContain("text/plain");
    expect(await cfg.text()).toContain("newhost.example.com");
    expect(await (await c.api("GET", "/api/haproxy/cfg?source=state")).text()).toContain("backend app");
    const strategy = (await (await c.api("GET", "/api/haproxy/control-strategy")).json()) as {
      strategy: string;
      running: boolean;
    };
    expect(strategy).toMatchObject({ strategy: "child", running: true });
    const ssl = (await (await c.api("GET", "/api/haproxy/ssl-capabilities")).json()) as {
      protocols: string[];
      ciphersuites: string[];
    };
    expect(ssl.protocols).toContain("TLSv1.3");
    expect(ssl.ciphersuites.length).toBeGreaterThan(0);
    const snaps = (await (await c.api("GET", "/api/snapshots")).json()) as { items: unknown[] };
    expect(snaps.items.length).toBeGreaterThan(0);
    expect((await c.api("POST", "/api/haproxy/reload")).status).toBe(200);
    expect((await c.api("POST", "/api/haproxy/stop", {})).status).toBe(422);
  });
});

describe("haproxy cluster - validate and import", () => {
  it("validate is a dry run returning the cfg and haproxy's verdict", async () => {
    const before = (await getState()).meta.revision;
    const r = await c.api("POST", "/api/v1/haproxy/clusters/default/state/validate", doc(true));
    const v = (await r.json()) as { valid: boolean; cfg: string; hints: unknown[]; output: string };
    expect(r.status).toBe(200);
    expect(v.valid).toBe(true);
    expect(v.cfg).toContain("backend fresh");
    // Checked without the node's runtime state, and without a warning about it.
    expect(v.output).not.toContain("server state file");
    expect((await getState()).meta.revision).toBe(before);
  });

  it("import takes text/plain and returns a document", async () => {
    const cfg =
      "defaults\n  mode http\n  timeout client 5s\nfrontend f\n  bind :8080\n  default_backend b\n  monitor-uri /up\nbackend b\n  server s 127.0.0.1:9\n";
    const r = await c.api("POST", "/api/v1/haproxy/clusters/default/import", cfg, {
      "content-type": "text/plain",
    });
    const b = (await r.json()) as {
      state: { frontends: Array<{ name: string }> };
      raw_lines: Array<{ text: string }>;
      committed: unknown;
    };
    expect(r.status, JSON.stringify(b)).toBe(200);
    expect(b.state.frontends[0]?.name).toBe("f");
    expect(b.raw_lines.map((l) => l.text)).toEqual(["monitor-uri /up"]);
    expect(b.committed).toBeNull();
    // The text/plain parser hands large bodies through up to the gateway's 1 MiB cap…
    const near = await c.api(
      "POST",
      "/api/v1/haproxy/clusters/default/import",
      `${"#".repeat(1000 * 1024)}\n${cfg}`,
      { "content-type": "text/plain" },
    );
    expect(near.status).toBe(200);
    // …and not beyond it.
    const big = await c.api("POST", "/api/v1/haproxy/clusters/default/import", "#".repeat(1024 * 1024 + 10), {
      "content-type": "text/plain",
    });
    expect(big.status).toBe(413);
  });
});

describe("haproxy cluster - no haproxy outlives its test", () => {
  it("a SIGKILLed agent's haproxy keeps serving and is adopted on restart; killStrays ends it", async () => {
    const b = c.agents[1];
    if (!b) throw new Error("no agent b");
    const master = Number((await readFile(join(b.dir, "haproxy.pid"), "utf8")).trim());
    const procs = await findStrays(b.dir);
    expect(procs).toContain(master);
    expect(procs.length).toBeGreaterThanOrEqual(2); // master + worker
    await b.proc.stop("SIGKILL");
    // Detached: traffic does not depend on the agent.
    expect(await through(1, "/x")).toMatch(/^200 /);
    await c.startAgent(b);
    const adopted = await waitFor(async () => {
      const r = await c.api("GET", "/api/v1/haproxy/clusters/default/nodes");
      const items = (
        (await r.json()) as { items: Array<{ node: string; agent: string; master_pid: number }> }
      ).items;
      return items.find((n) => n.node === "node-b" && n.agent === "agent-node-b" && n.master_pid === master);
    });
    expect(adopted.master_pid).toBe(master);
    // What the cluster's close() (and every test tmpDir's dispose) does after a SIGKILL.
    await b.proc.stop("SIGKILL");
    expect(await killStrays(b.dir)).toContain(master);
    expect(await findStrays(b.dir)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${c.port + b.offset}/x`)).rejects.toThrow();
  });
});
