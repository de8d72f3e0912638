/**
 * adapters / vendor drivers — OPNsense, RouterOS v7 and OpenWrt, each against its
 * stateful simulator (test/fixtures/simulators), through the real gateway and a real
 * adapters worker: live reads, stage → apply (create, update, delete), commit-confirm
 * rolled back (OPNsense savepoint/revert, OpenWrt `uci apply {rollback}`/`uci rollback`,
 * RouterOS emulated inverse) and confirmed, and the typed error mapping: refused
 * connection, 401, 404, a slow device, 429.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenwrtSim, startOpenwrtSim } from "../../fixtures/simulators/openwrt.ts";
import { type OpnsenseSim, startOpnsenseSim } from "../../fixtures/simulators/opnsense.ts";
import { type RouterosSim, startRouterosSim } from "../../fixtures/simulators/routeros.ts";
import type { SimServer } from "../../fixtures/simulators/server.ts";
import { freePort, waitFor } from "../../harness/mod.ts";
import { type AdaptersMesh, startAdaptersMesh } from "./mesh.ts";

type Change = { id: string; status: string; target_id: string | null; diff: Array<{ field: string }> };
type Err = { error: { code: string; details?: Record<string, unknown> } };

let mesh: AdaptersMesh;
let opn: OpnsenseSim;
let ros: RouterosSim;
let owrt: OpenwrtSim;

beforeAll(async () => {
  [mesh, opn, ros, owrt] = await Promise.all([
    startAdaptersMesh(),
    startOpnsenseSim(),
    startRouterosSim(),
    startOpenwrtSim(),
  ]);
  await mesh.worker({ EP_ADAPTER_READ_ONLY: "false", EP_ADAPTER_READ_TIMEOUT_MS: "1500" });
}, 90_000);

afterAll(async () => {
  await mesh?.[Symbol.asyncDispose]();
  await Promise.all([opn?.close(), ros?.close(), owrt?.close()]);
});

interface VendorCase {
  vendor: "opnsense" | "routeros" | "openwrt";
  sim: () => SimServer;
  credentials: () => Record<string, string>;
  badCredentials: Record<string, string>;
  reads: string[];
  rule: (port: number) => Record<string, unknown>;
  /** How many rules the device runs for this destination port. */
  running: (port: number) => number;
  missingId: string;
  /** Native rollback timer armed on the device right now? */
  armed?: () => boolean;
}

const cases: VendorCase[] = [
  {
    vendor: "opnsense",
    sim: () => opn,
    credentials: () => ({ api_key: opn.key, api_secret: opn.secret }),
    badCredentials: { api_key: "wrong", api_secret: "wrong" },
    reads: ["firewall_rules", "aliases", "dhcp_leases"],
    rule: (port) => ({ action: "drop", protocol: "tcp", port, comment: `block ${port}` }),
    running: (port) => [...opn.active().values()].filter((r) => r.destination_port === String(port)).length,
    missingId: "00000000-0000-4000-8000-000000000000",
    armed: () => opn.pendingRollbacks().length > 0,
  },
  {
    vendor: "routeros",
    sim: () => ros,
    credentials: () => ({ username: ros.user, password: ros.password }),
    badCredentials: { username: "admin", password: "wrong" },
    reads: ["firewall_rules", "addresses", "routes"],
    rule: (port) => ({ chain: "input", action: "drop", protocol: "tcp", port, comment: `block ${port}` }),
    running: (port) =>
      [...ros.menu("ip/firewall/filter").values()].filter((r) => r["dst-port"] === String(port)).length,
    missingId: "*FF",
  },
  {
    vendor: "openwrt",
    sim: () => owrt,
    credentials: () => ({ username: owrt.user, password: owrt.password }),
    badCredentials: { username: "root", password: "wrong" },
    reads: ["firewall_rules", "network_interfaces"],
    rule: (port) => ({ name: `block ${port}`, src: "wan", action: "drop", protocol: "tcp", port }),
    running: (port) =>
      Object.values(owrt.uci("firewall")).filter((s) => s[".type"] === "rule" && s.dest_port === String(port))
        .length,
    missingId: "cfgdeadbe",
    armed: () => owrt.pendingRollback(),
  },
];

for (const v of cases) {
  describe(`adapters ${v.vendor} - against its simulator`, () => {
    let id = "";
    const stage = (
      operation: string,
      body: unknown,
      feature = "firewall_rules",
      role: "operator" | "admin" = "operator",
    ) =>
      mesh.api<Change>(
        role,
        "POST",
        `/api/v1/adapters/controllers/${id}/changes/${feature}?operation=${operation}`,
        body,
      );
    const applyOk = async (
      changeId: string,
      extra: Record<string, unknown> = {},
      role: "operator" | "admin" = "operator",
    ) => {
      const r = await mesh.api<Change>(role, "POST", `/api/v1/adapters/changes/${changeId}/apply`, {
        force: true,
        ...extra,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body;
    };
    const addController = async (name: string, credentials: Record<string, string>, url = v.sim().url) => {
      const r = await mesh.api<{ id: string }>("owner", "POST", "/api/v1/adapters/controllers", {
        name,
        vendor: v.vendor,
        base_url: url,
        credentials,
        tls: { verify: true },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.id;
    };

    it("registers, tests and reads every readable feature live", async () => {
      id = await addController(`${v.vendor}-1`, v.credentials());
      const t = await mesh.api<{ ok: boolean }>("viewer", "POST", `/api/v1/adapters/controllers/${id}/test`);
      expect(t.status).toBe(200);
      expect(t.body.ok).toBe(true);
      for (const f of v.reads) {
        const r = await mesh.api<{ items: unknown[] }>(
          "viewer",
          "GET",
          `/api/v1/adapters/controllers/${id}/${f}`,
        );
        expect(r.status, f).toBe(200);
        expect(Array.isArray(r.body.items)).toBe(true);
      }
    });

    it("stage, apply: create, update and delete a firewall rule", async () => {
      const st = await stage("create", { data: v.rule(7001) });
      expect(st.status, JSON.stringify(st.body)).toBe(201);
      expect(v.running(7001)).toBe(0); // staging never touches the device
      const created = await applyOk(st.body.id);
      expect(created.status).toBe("applied");
      expect(v.running(7001)).toBe(1);
      const ruleId = created.target_id as string;

      const up = await stage("update", { id: ruleId, data: { port: 7002 } });
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      expect(up.body.diff).toEqual([{ field: "port", before: 7001, after: 7002 }]);
      await applyOk(up.body.id);
      expect(v.running(7001)).toBe(0);
      expect(v.running(7002)).toBe(1);

      const del = await stage("delete", { id: ruleId });
      await applyOk(del.body.id);
      expect(v.running(7002)).toBe(0);
    });

    it("commit-confirm not confirmed: rolled back", async () => {
      const st = await stage("create", { data: v.rule(7003) });
      const ap = await applyOk(st.body.id, { confirm_within: 1 });
      expect(ap.status).toBe("pending_confirm");
      expect(v.running(7003)).toBe(1);
      if (v.armed) expect(v.armed()).toBe(true);
      await waitFor(
        async () =>
          (await mesh.api<Change>("viewer", "GET", `/api/v1/adapters/changes/${st.body.id}`)).body.status ===
          "rolled_back",
        { timeout: 10_000, interval: 100, message: "rolled back" },
      );
      expect(v.running(7003)).toBe(0);
      if (v.armed) expect(v.armed()).toBe(false);
    });

    it("commit-confirm confirmed: kept, device timer cancelled", async () => {
      const st = await stage("create", { data: v.rule(7004) });
      const ap = await applyOk(st.body.id, { confirm_within: 20 });
      expect(ap.status).toBe("pending_confirm");
      const ok = await mesh.api<Change>("operator", "POST", `/api/v1/adapters/changes/${st.body.id}/confirm`);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.status).toBe("applied");
      if (v.armed) expect(v.armed()).toBe(false);
      expect(v.running(7004)).toBe(1);
      const del = await stage("delete", { id: ap.target_id });
      await applyOk(del.body.id);
      expect(v.running(7004)).toBe(0);
    });

    it("a catastrophic reboot needs an admin to stage and to apply", async () => {
      const op = await stage("reboot", {}, "system");
      expect(op.status).toBe(403);
      const st = await stage("reboot", {}, "system", "admin");
      expect(st.status).toBe(201);
      const byOperator = await mesh.api<Err>(
        "operator",
        "POST",
        `/api/v1/adapters/changes/${st.body.id}/apply`,
        {
          force: true,
        },
      );
      expect(byOperator.status).toBe(403);
      const noRollback = await mesh.api<Err>(
        "admin",
        "POST",
        `/api/v1/adapters/changes/${st.body.id}/apply`,
        {
          force: true,
          confirm_within: 5,
        },
      );
      expect(noRollback.status).toBe(422);
      await applyOk(st.body.id, {}, "admin");
      expect((v.sim() as SimServer & { rebooted: number }).rebooted).toBe(1);
    });

    it("error mapping: refused connection → 502 adapter_connection_error", async () => {
      const closed = await addController(
        `${v.vendor}-closed`,
        v.credentials(),
        `http://127.0.0.1:${await freePort()}`,
      );
      const r = await mesh.api<Err>("viewer", "POST", `/api/v1/adapters/controllers/${closed}/test`);
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe("adapter_connection_error");
    });

    it("error mapping: bad credentials (401) → 502 adapter_authentication_error", async () => {
      const bad = await addController(`${v.vendor}-badcreds`, v.badCredentials);
      const r = await mesh.api<Err>("viewer", "GET", `/api/v1/adapters/controllers/${bad}/firewall_rules`);
      expect(r.status).toBe(502);
      expect(r.body.error.code).toBe("adapter_authentication_error");
      expect(JSON.stringify(r.body)).not.toContain("wrong");
    });

    it("error mapping: unknown object (404) → 404 adapter_not_found", async () => {
      const r = await stage("delete", { id: v.missingId });
      expect(r.status).toBe(404);
      expect((r.body as unknown as Err).error.code).toBe("adapter_not_found");
    });

    it("error mapping: a slow device → 504 adapter_timeout", async () => {
      v.sim().setDelay(2500);
      try {
        const r = await mesh.api<Err>("viewer", "GET", `/api/v1/adapters/controllers/${id}/firewall_rules`);
        expect(r.status).toBe(504);
        expect(r.body.error.code).toBe("adapter_timeout");
      } finally {
        v.sim().setDelay(0);
      }
    });

    it("error mapping: vendor rate limit (429) → 429 adapter_rate_limit", async () => {
      v.sim().failNext({
        status: 429,
        headers: { "retry-after": "7" },
        body: { error: "too many requests" },
      });
      const r = await mesh.api<Err>("viewer", "GET", `/api/v1/adapters/controllers/${id}/firewall_rules`);
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe("adapter_rate_limit");
      expect(r.body.error.details).toEqual({ retry_after: 7 });
    });
  });
}

describe("adapters - vendors and changes listing", () => {
  it("lists every driver with features, operations and catastrophic ones", async () => {
    const r = await mesh.api<{
      items: Array<{ vendor: string; features: Array<{ name: string; catastrophic: string[] }> }>;
    }>("viewer", "GET", "/api/v1/adapters/vendors");
    expect(r.status).toBe(200);
    expect(r.body.items.map((i) => i.vendor).sort()).toEqual(["linux", "openwrt", "opnsense", "routeros"]);
    const linux = r.body.items.find((i) => i.vendor === "linux");
    expect(linux?.features.find((f) => f.name === "ruleset")?.catastrophic).toEqual(["delete"]);
  });

  it("filters and paginates changes; a viewer cannot stage", async () => {
    const all = await mesh.api<{ total: number; items: Change[] }>(
      "viewer",
      "GET",
      "/api/v1/adapters/changes?per_page=2",
    );
    expect(all.status).toBe(200);
    expect(all.body.items).toHaveLength(2);
    expect(all.body.total).toBeGreaterThan(10);
    const rolled = await mesh.api<{ items: Change[] }>(
      "viewer",
      "GET",
      "/api/v1/adapters/changes?status=rolled_back",
    );
    expect(rolled.body.items.length).toBe(3);
    expect(rolled.body.items.every((c) => c.status === "rolled_back")).toBe(true);
    const ctl = await mesh.api<{ items: Array<{ id: string }> }>(
      "viewer",
      "GET",
      "/api/v1/adapters/controllers?vendor=opnsense",
    );
    const viewer = await mesh.api<Err>(
      "viewer",
      "POST",
      `/api/v1/adapters/controllers/${ctl.body.items[0]?.id}/changes/firewall_rules?operation=create`,
      { data: { action: "drop" } },
    );
    expect(viewer.status).toBe(403);
  });
});
