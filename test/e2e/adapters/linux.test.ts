/**
 * adapters / linux — the reference driver against a real Linux router: a network
 * namespace with nftables and sshd, driven over SSH by real adapters workers behind
 * the real gateway, with TCP traffic from the host side of the veth. Covers the staged
 * pipeline end to end: stage → diff → both apply gates → applied (traffic dropped) →
 * commit-confirm rollback (traffic flows again), the catastrophic role rule, two
 * workers applying the same change once, and a sweeper on another worker rolling back
 * after the applying workers died.
 */
import { type NatsConnection, connect as natsConnect } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServiceProcess, waitFor } from "../../harness/mod.ts";
import { type AdaptersMesh, startAdaptersMesh } from "./mesh.ts";
import { type RouterNs, startRouterNs } from "./netns.ts";

const PORT = 8080;
let mesh: AdaptersMesh;
let ns: RouterNs;
let nc: NatsConnection;
let readOnlyWorker: ServiceProcess;
let writers: ServiceProcess[] = [];
let controllerId = "";
const events: Array<{ type: string; data: { change_id: string } }> = [];

type Change = {
  id: string;
  status: string;
  diff: Array<{ field: string; before: unknown; after: unknown }>;
  before: unknown;
  target_id: string | null;
  result: { id?: string } | null;
  history?: Array<{ from: string | null; to: string }>;
  error?: { code: string } | null;
};
type Err = { error: { code: string; message: string; details?: unknown } };

const rules = async () =>
  (await ns.ruleset()).filter((o) => "rule" in o).map((o) => o.rule as { handle: number; expr: unknown[] });
const dropsPort = (r: { expr: unknown[] }) => JSON.stringify(r.expr).includes(`"right":${PORT}`);

beforeAll(async () => {
  [mesh, ns] = await Promise.all([startAdaptersMesh(), startRouterNs()]);
  await ns.serve(PORT);
  readOnlyWorker = await mesh.worker({}, "adapters-ro");
  nc = await natsConnect({ servers: mesh.natsUrl });
  nc.subscribe("ep.v1.evt.adapters.>", {
    callback: (_e, m) => {
      events.push(m.json() as (typeof events)[number]);
    },
  });
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await mesh?.[Symbol.asyncDispose]();
  await ns?.[Symbol.asyncDispose]();
});

const stageDrop = (role: "owner" | "admin" | "operator" = "operator", comment = "block 8080") =>
  mesh.api<Change>(
    role,
    "POST",
    `/api/v1/adapters/controllers/${controllerId}/changes/firewall_rules?operation=create`,
    {
      data: { action: "drop", protocol: "tcp", port: PORT, comment },
    },
  );
const waitStatus = (id: string, status: string, timeout = 15_000) =>
  waitFor(
    async () => {
      const r = await mesh.api<Change>("viewer", "GET", `/api/v1/adapters/changes/${id}`);
      return r.body.status === status ? r.body : undefined;
    },
    { timeout, interval: 100, message: `change ${id} ${status}` },
  );

describe("adapters linux - controllers", () => {
  it("registers a controller with sealed credentials that are never returned", async () => {
    const r = await mesh.api<{ id: string; credentials_set: boolean; credential_fields: string[] }>(
      "owner",
      "POST",
      "/api/v1/adapters/controllers",
      {
        name: "edge-router-1",
        vendor: "linux",
        base_url: ns.sshUrl,
        credentials: { username: "root", private_key: ns.privateKey },
        tls: { verify: true, host_key_sha256: ns.hostKeyFingerprint },
        tags: ["lab"],
      },
    );
    expect(r.status).toBe(201);
    controllerId = r.body.id;
    expect(r.body.credentials_set).toBe(true);
    expect(r.body.credential_fields).toEqual(["private_key", "username"]);
    expect(JSON.stringify(r.body)).not.toContain("PRIVATE KEY");
    const got = await mesh.api("viewer", "GET", `/api/v1/adapters/controllers/${controllerId}`);
    expect(JSON.stringify(got.body)).not.toContain("PRIVATE KEY");
    // At rest: only the sealed blob.
    const c = new pg.Client({ connectionString: mesh.db.url });
    await c.connect();
    const row = (await c.query("SELECT * FROM adapter_controllers WHERE id = $1", [controllerId])).rows[0];
    await c.end();
    expect(JSON.stringify(row)).not.toContain("OPENSSH PRIVATE KEY");
    expect(Buffer.from(row.credentials_sealed).toString("latin1")).not.toContain("OPENSSH");
  });

  it("test checks reachability and credentials; a wrong host key or key is a typed 502", async () => {
    const ok = await mesh.api<{ ok: boolean; device: { nftables: boolean } }>(
      "viewer",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/test`,
    );
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, device: { nftables: true } });

    const pinned = await mesh.api<{ id: string }>("owner", "POST", "/api/v1/adapters/controllers", {
      name: "wrong-pin",
      vendor: "linux",
      base_url: ns.sshUrl,
      credentials: { username: "root", private_key: ns.privateKey },
      tls: { verify: true, host_key_sha256: `SHA256:${"A".repeat(43)}` },
    });
    const r1 = await mesh.api<Err>("viewer", "POST", `/api/v1/adapters/controllers/${pinned.body.id}/test`);
    expect(r1.status).toBe(502);
    expect(r1.body.error.code).toBe("adapter_connection_error");

    const badPassword = await mesh.api<{ id: string }>("owner", "POST", "/api/v1/adapters/controllers", {
      name: "wrong-password",
      vendor: "linux",
      base_url: ns.sshUrl,
      credentials: { username: "root", password: "not-the-password" },
      tls: { verify: false },
    });
    const r2 = await mesh.api<Err>(
      "viewer",
      "POST",
      `/api/v1/adapters/controllers/${badPassword.body.id}/test`,
    );
    expect(r2.status).toBe(502);
    expect(r2.body.error.code).toBe("adapter_authentication_error");
    expect(JSON.stringify(r2.body)).not.toContain("not-the-password");
  });

  it("validation names the field: insecure must be explicit, the host key pinned when verifying", async () => {
    const r = await mesh.api<Err>("owner", "POST", "/api/v1/adapters/controllers", {
      name: "Bad Name",
      vendor: "linux",
      base_url: "ssh://user:pw@host",
      credentials: { username: "root", password: "x" },
      tls: {},
    });
    expect(r.status).toBe(422);
    const fields = (r.body.error.details as Array<{ field: string }>).map((d) => d.field).sort();
    expect(fields).toEqual(expect.arrayContaining(["base_url", "name", "tls.verify"]));
    const r2 = await mesh.api<Err>("owner", "POST", "/api/v1/adapters/controllers", {
      name: "nopin",
      vendor: "linux",
      base_url: ns.sshUrl,
      credentials: { username: "root", password: "x" },
      tls: { verify: true },
    });
    expect(r2.status).toBe(422);
    expect((r2.body.error.details as Array<{ field: string }>)[0]?.field).toBe("tls.host_key_sha256");
  });

  it("reads nftables rules, routes, addresses and interfaces live", async () => {
    const fw = await mesh.api<{ items: unknown[] }>(
      "viewer",
      "GET",
      `/api/v1/adapters/controllers/${controllerId}/firewall_rules`,
    );
    expect(fw.status).toBe(200);
    expect(fw.body.items).toEqual([]);
    const addrs = await mesh.api<{ items: Array<{ address: string }> }>(
      "viewer",
      "GET",
      `/api/v1/adapters/controllers/${controllerId}/addresses`,
    );
    expect(addrs.body.items.map((a) => a.address)).toContain(`${ns.address}/30`);
    const routes = await mesh.api<{ items: Array<{ destination: string }> }>(
      "viewer",
      "GET",
      `/api/v1/adapters/controllers/${controllerId}/routes`,
    );
    expect(routes.status).toBe(200);
    expect(routes.body.items.length).toBeGreaterThan(0);
    const bad = await mesh.api<Err>(
      "viewer",
      "GET",
      `/api/v1/adapters/controllers/${controllerId}/dhcp_leases`,
    );
    expect(bad.status).toBe(422);
  });
});

describe("adapters linux - staged pipeline with both gates", () => {
  let change: Change;

  it("stages a drop rule with its diff and leaves the device untouched", async () => {
    expect(await ns.reachable(PORT)).toBe(true);
    const r = await stageDrop();
    expect(r.status).toBe(201);
    change = r.body;
    expect(change.status).toBe("staged");
    expect(change.before).toBeNull();
    expect(change.diff).toEqual(
      expect.arrayContaining([
        { field: "action", before: null, after: "drop" },
        { field: "port", before: null, after: PORT },
        { field: "protocol", before: null, after: "tcp" },
      ]),
    );
    expect(await rules()).toEqual([]);
    expect(await ns.reachable(PORT)).toBe(true);
  });

  it("rejects bad or hostile payloads with 422 naming the fields", async () => {
    const r = await mesh.api<Err>(
      "operator",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/firewall_rules?operation=create`,
      {
        data: {
          action: "explode",
          port: 70000,
          comment: '"; nft flush ruleset; "',
          chain: "in put",
          extra: 1,
        },
      },
    );
    expect(r.status).toBe(422);
    const fields = (r.body.error.details as Array<{ field: string }>).map((d) => d.field);
    expect(fields).toEqual(
      expect.arrayContaining(["data.action", "data.port", "data.comment", "data.chain"]),
    );
    const op = await mesh.api<Err>(
      "operator",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/interfaces?operation=create`,
      {
        data: {},
      },
    );
    expect(op.status).toBe(422);
  });

  it("apply without force is refused naming the gate, device unchanged", async () => {
    const r = await mesh.api<Err>("operator", "POST", `/api/v1/adapters/changes/${change.id}/apply`, {});
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("adapter_apply_gated");
    expect(r.body.error.details).toEqual({ missing_gates: ["force", "EP_ADAPTER_READ_ONLY"] });
    expect(r.body.error.message).toContain('"force": true');
    expect(await rules()).toEqual([]);
  });

  it("apply with force on a read-only deployment is refused naming EP_ADAPTER_READ_ONLY", async () => {
    const r = await mesh.api<Err>("operator", "POST", `/api/v1/adapters/changes/${change.id}/apply`, {
      force: true,
    });
    expect(r.status).toBe(403);
    expect(r.body.error.details).toEqual({ missing_gates: ["EP_ADAPTER_READ_ONLY"] });
    expect(r.body.error.message).toContain("EP_ADAPTER_READ_ONLY");
    expect(await rules()).toEqual([]);
    expect(await ns.reachable(PORT)).toBe(true);
    const still = await mesh.api<Change>("viewer", "GET", `/api/v1/adapters/changes/${change.id}`);
    expect(still.body.status).toBe("staged");
  });

  it("with both gates the rule is in the ruleset and traffic to the port is dropped", async () => {
    await readOnlyWorker.stop();
    writers = await Promise.all([
      mesh.worker({ EP_ADAPTER_READ_ONLY: "false" }, "adapters-w1"),
      mesh.worker({ EP_ADAPTER_READ_ONLY: "false" }, "adapters-w2"),
    ]);
    const r = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${change.id}/apply`, {
      force: true,
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("applied");
    expect(r.body.target_id).toMatch(/^inet:filter:input:\d+$/);
    expect(r.body.history?.map((h) => h.to)).toEqual(["staged", "applying", "applied"]);
    const now = await rules();
    expect(now).toHaveLength(1);
    expect(JSON.stringify(now[0])).toContain('"drop":null');
    expect(dropsPort(now[0] as { expr: unknown[] })).toBe(true);
    expect(await ns.reachable(PORT)).toBe(false);
    change = r.body;
    const again = await mesh.api<Err>("operator", "POST", `/api/v1/adapters/changes/${change.id}/apply`, {
      force: true,
    });
    expect(again.status).toBe(409);
  });

  it("the live read shows the rule in the driver's model; deleting it restores traffic", async () => {
    const fw = await mesh.api<{ items: Array<Record<string, unknown>> }>(
      "viewer",
      "GET",
      `/api/v1/adapters/controllers/${controllerId}/firewall_rules`,
    );
    expect(fw.body.items).toEqual([
      expect.objectContaining({
        id: change.target_id,
        action: "drop",
        protocol: "tcp",
        port: PORT,
        comment: "block 8080",
      }),
    ]);
    const del = await mesh.api<Change>(
      "operator",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/firewall_rules?operation=delete`,
      { id: change.target_id },
    );
    expect(del.status).toBe(201);
    expect(del.body.diff).toEqual(expect.arrayContaining([{ field: "action", before: "drop", after: null }]));
    const ap = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${del.body.id}/apply`, {
      force: true,
    });
    expect(ap.body.status).toBe("applied");
    expect(await rules()).toEqual([]);
    expect(await ns.reachable(PORT)).toBe(true);
  });

  it("commit-confirm without confirm: the rule is gone after the timeout and traffic flows again", async () => {
    const st = await stageDrop();
    const ap = await mesh.api<Change & { confirm_deadline: string }>(
      "operator",
      "POST",
      `/api/v1/adapters/changes/${st.body.id}/apply`,
      { force: true, confirm_within: 2 },
    );
    expect(ap.status, JSON.stringify(ap.body)).toBe(200);
    expect(ap.body.status).toBe("pending_confirm");
    expect(Date.parse(ap.body.confirm_deadline)).toBeGreaterThan(Date.now());
    expect(await ns.reachable(PORT)).toBe(false);
    const rolled = await waitStatus(st.body.id, "rolled_back");
    expect(rolled.error?.code).toBe("not_confirmed");
    expect(rolled.history?.map((h) => h.to)).toEqual([
      "staged",
      "applying",
      "pending_confirm",
      "rolled_back",
    ]);
    expect(await rules()).toEqual([]);
    expect(await ns.reachable(PORT)).toBe(true);
    await waitFor(
      () => events.some((e) => e.type === "adapters.change.rolled_back" && e.data.change_id === st.body.id),
      {
        message: "rolled_back event",
      },
    );
    // The device-side backstop timer was disarmed by the controller's rollback.
    await expect(ns.exec(["ls", `/run/edgeplane-rollback-${st.body.id}.json`])).rejects.toThrow();
    const late = await mesh.api<Err>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/confirm`);
    expect(late.status).toBe(409);
  });

  it("commit-confirm with confirm keeps the change and disarms the device timer", async () => {
    const st = await stageDrop();
    const ap = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/apply`, {
      force: true,
      confirm_within: 30,
    });
    expect(ap.body.status).toBe("pending_confirm");
    expect(await ns.exec(["ls", `/run/edgeplane-rollback-${st.body.id}.json`])).toContain(st.body.id);
    const busy = await stageDrop("operator", "second");
    const blocked = await mesh.api<Err>(
      "operator",
      "POST",
      `/api/v1/adapters/changes/${busy.body.id}/apply`,
      { force: true },
    );
    expect(blocked.status).toBe(409); // one change at a time per controller
    const ok = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/confirm`);
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe("applied");
    await expect(ns.exec(["ls", `/run/edgeplane-rollback-${st.body.id}.json`])).rejects.toThrow();
    expect(await ns.reachable(PORT)).toBe(false);
    const d = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${busy.body.id}/discard`);
    expect(d.body.status).toBe("discarded");
    // Clean up: delete the confirmed rule.
    const del = await mesh.api<Change>(
      "operator",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/firewall_rules?operation=delete`,
      { id: ok.body.target_id },
    );
    await mesh.api("operator", "POST", `/api/v1/adapters/changes/${del.body.id}/apply`, { force: true });
    expect(await rules()).toEqual([]);
  });
});

describe("adapters linux - catastrophic operations and roles", () => {
  it("an operator cannot stage a catastrophic change", async () => {
    const r = await mesh.api<Err>(
      "operator",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/ruleset?operation=delete`,
      {},
    );
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain("catastrophic");
  });

  it("an admin's staged catastrophic change cannot be applied by an operator; the admin's apply is rolled back by commit-confirm", async () => {
    const st = await mesh.api<Change & { catastrophic: boolean; risk: string }>(
      "admin",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/ruleset?operation=delete`,
      { comment: "flush everything" },
    );
    expect(st.status).toBe(201);
    expect(st.body).toMatchObject({ catastrophic: true, risk: "catastrophic" });
    const op = await mesh.api<Err>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/apply`, {
      force: true,
    });
    expect(op.status).toBe(403);
    expect((await ns.ruleset()).some((o) => "table" in o)).toBe(true);
    const still = await mesh.api<Change>("viewer", "GET", `/api/v1/adapters/changes/${st.body.id}`);
    expect(still.body.status).toBe("staged");

    const ap = await mesh.api<Change>("admin", "POST", `/api/v1/adapters/changes/${st.body.id}/apply`, {
      force: true,
      confirm_within: 1,
    });
    expect(ap.body.status).toBe("pending_confirm");
    expect(await ns.ruleset()).toEqual([]);
    await waitStatus(st.body.id, "rolled_back");
    expect((await ns.ruleset()).some((o) => "chain" in o)).toBe(true);
  });
});

describe("adapters linux - two workers", () => {
  it("applying the same change concurrently applies it once", async () => {
    const st = await stageDrop();
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/apply`, { force: true }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    expect((await rules()).filter(dropsPort)).toHaveLength(1);
    const del = await mesh.api<Change>(
      "operator",
      "POST",
      `/api/v1/adapters/controllers/${controllerId}/changes/firewall_rules?operation=delete`,
      { id: results.find((r) => r.status === 200)?.body.target_id },
    );
    await mesh.api("operator", "POST", `/api/v1/adapters/changes/${del.body.id}/apply`, { force: true });
  });

  it("a commit-confirm deadline survives the workers that armed it", async () => {
    const st = await stageDrop();
    const ap = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/apply`, {
      force: true,
      confirm_within: 2,
    });
    expect(ap.body.status).toBe("pending_confirm");
    await Promise.all(writers.map((w) => w.stop("SIGKILL")));
    expect(await ns.reachable(PORT)).toBe(false);
    await mesh.worker({ EP_ADAPTER_READ_ONLY: "false" }, "adapters-w3");
    await waitStatus(st.body.id, "rolled_back");
    expect(await rules()).toEqual([]);
    expect(await ns.reachable(PORT)).toBe(true);
  });
});
