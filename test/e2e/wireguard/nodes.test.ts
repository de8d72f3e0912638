/**
 * wireguard nodes — two gateway nodes (two wg-agents, each with wireguard-go in its own
 * namespace) serving one interface: creates return only once both installed the peer;
 * 100 concurrent creates get 100 distinct addresses; a stopped node is reported, and
 * resynced when it comes back; NATS going away leaves the devices alone, and the resync
 * after the reconnect fixes drift without touching correct peers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createNetns,
  hostRun,
  type Netns,
  requireRoot,
  type ServiceProcess,
  waitFor,
} from "../../harness/mod.ts";
import { type PeerBody, rand, startWgMesh, type WgMesh } from "./mesh.ts";

requireRoot("the WireGuard two-node tests");

let mesh: WgMesh;
const disposers: Array<() => Promise<unknown>> = [];
const iface = `n${rand()}`;
const nodes = {
  gwa: {
    prefix: `a${rand()}`,
    ns: undefined as Netns | undefined,
    agent: undefined as ServiceProcess | undefined,
  },
  gwb: {
    prefix: `b${rand()}`,
    ns: undefined as Netns | undefined,
    agent: undefined as ServiceProcess | undefined,
  },
};
type NodeName = keyof typeof nodes;
const dev = (n: NodeName) => `${nodes[n].prefix}${iface}`;
const envOf = (n: NodeName) => ({
  EP_WG_NETNS: nodes[n].ns?.name ?? "",
  EP_WG_DEVICE_PREFIX: nodes[n].prefix,
  EP_WG_MODE: "wireguard-go",
});

/** Public keys on a node's device. */
async function devicePeers(n: NodeName): Promise<Set<string>> {
  const r = await hostRun("wg", ["show", dev(n), "peers"]);
  if (r.code !== 0) throw new Error(`wg show ${dev(n)}: ${r.stderr}`);
  return new Set(r.stdout.split("\n").filter(Boolean));
}
const keyOf = async () => (await hostRun("wg", ["genkey"])).stdout.trim();
const pubOf = async (priv: string) => {
  const { execFileSync } = await import("node:child_process");
  return execFileSync("wg", ["pubkey"], { input: priv }).toString().trim();
};

beforeAll(async () => {
  mesh = await startWgMesh();
  disposers.push(() => mesh.dispose());
  for (const n of Object.keys(nodes) as NodeName[]) {
    const ns = await createNetns(`wgn-${n}`);
    disposers.push(() => ns[Symbol.asyncDispose]());
    nodes[n].ns = ns;
    nodes[n].agent = await mesh.agent(n, envOf(n));
  }
  const r = await mesh.api("POST", "/api/v1/wireguard/interfaces", {
    name: iface,
    address_v4: "10.70.0.1/24",
    address_v6: "fd00:70::1/64",
    listen_port: 51821,
    endpoint_host: "vpn.example.com",
    nodes: ["gwa", "gwb"],
  });
  if (r.status !== 201) throw new Error(`interface: ${r.status} ${r.text}`);
}, 60_000);

afterAll(async () => {
  for (const d of disposers.reverse()) await d().catch(() => undefined);
});

describe("wireguard nodes - two gateways serve one interface", () => {
  it("a create returns only after both nodes installed the peer", async () => {
    const pub = await pubOf(await keyOf());
    const r = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
      name: "first",
      public_key: pub,
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.apply.confirmed.sort()).toEqual(["gwa", "gwb"]);
    expect(r.body.addresses).toEqual(["10.70.0.2/32", "fd00:70::2/128"]);
    expect(r.body.private_key).toBeUndefined(); // the client kept its key
    // Checked right after the reply, without waiting: both devices already have it.
    expect((await devicePeers("gwa")).has(pub)).toBe(true);
    expect((await devicePeers("gwb")).has(pub)).toBe(true);
  });

  it("100 concurrent creates across both API instances get 100 distinct addresses", async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, { name: `c${i}` }),
      ),
    );
    const bad = results.filter((r) => r.status !== 201);
    expect(bad.map((r) => r.text)).toEqual([]);
    const v4 = results.map((r) => r.body.addresses[0]);
    const v6 = results.map((r) => r.body.addresses[1]);
    expect(new Set(v4).size).toBe(100);
    expect(new Set(v6).size).toBe(100);
    // No gaps: with .1 the gateway and .2 held by "first", they are exactly .3–.102.
    const hosts = v4.map((a) => Number(a?.split("/")[0]?.split(".")[3])).sort((a, b) => a - b);
    expect(hosts).toEqual(Array.from({ length: 100 }, (_, i) => i + 3));
    for (const r of results) expect(r.body.apply.confirmed.sort()).toEqual(["gwa", "gwb"]);
    expect((await devicePeers("gwa")).size).toBe(101);
    expect((await devicePeers("gwb")).size).toBe(101);
  });

  it("a stopped node is reported as unconfirmed, and catches up when it restarts", async () => {
    await nodes.gwb.agent?.stop();
    const t0 = Date.now();
    const r = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
      name: "while-b-down",
    });
    expect(r.status, r.text).toBe(202);
    expect(r.body.apply.confirmed).toEqual(["gwa"]);
    expect(r.body.apply.unconfirmed).toEqual([{ node: "gwb", reason: "agent not running" }]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await devicePeers("gwb")).has(r.body.public_key)).toBe(false); // device kept running
    nodes.gwb.agent = await mesh.agent("gwb", envOf("gwb"));
    await waitFor(async () => (await devicePeers("gwb")).has(r.body.public_key), { message: "gwb resynced" });
    expect((await devicePeers("gwb")).size).toBe(102);
  });

  it("NATS away: devices stay up; after the reconnect the resync fixes drift and leaves correct peers alone", async () => {
    const before = await devicePeers("gwa");
    // Drift on gwa: one desired peer removed by hand, one unknown peer added by hand.
    const victim = [...before][0] as string;
    const stranger = await pubOf(await keyOf());
    await hostRun("wg", ["set", dev("gwa"), "peer", victim, "remove"]);
    await hostRun("wg", ["set", dev("gwa"), "peer", stranger, "allowed-ips", "10.70.0.250/32"]);

    const logA = nodes.gwa.agent?.output().length ?? 0;
    mesh.nats.kill("SIGTERM"); // the bus goes away (same store dir when it comes back)
    await new Promise((r) => setTimeout(r, 1500));
    // Nothing was torn down while the bus was away.
    const during = await devicePeers("gwa");
    expect(during.size).toBe(before.size); // -1 victim +1 stranger
    expect(during.has(stranger)).toBe(true);
    expect((await devicePeers("gwb")).size).toBe(before.size);
    const up = await hostRun("ip", ["-n", nodes.gwa.ns?.name ?? "", "-j", "link", "show", "dev", dev("gwa")]);
    expect(up.stdout).toContain("UP");

    await mesh.nats.restart();
    await waitFor(
      async () => {
        const p = await devicePeers("gwa");
        return p.has(victim) && !p.has(stranger);
      },
      { timeout: 20_000, message: "drift fixed after the reconnect" },
    );
    expect(await devicePeers("gwa")).toEqual(before);
    const resync = (nodes.gwa.agent?.output().slice(logA) ?? "")
      .split("\n")
      .filter((l) => l.includes('"msg":"peers resynced"') && l.includes(`"interface":"${iface}"`))
      .map((l) => JSON.parse(l) as { added: number; removed: number; updated: number; unchanged: number });
    // Only the two wrong peers were touched; the 101 correct ones were left alone.
    expect(resync.at(-1)).toMatchObject({ added: 1, removed: 1, updated: 0, unchanged: before.size - 1 });

    // And the API works again through the reconnected mesh.
    const r = await waitFor(
      async () => {
        const x = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
          name: "after",
        });
        return x.status === 201 ? x : undefined;
      },
      { timeout: 20_000, message: "create after the reconnect" },
    );
    expect(r.body.apply.confirmed.sort()).toEqual(["gwa", "gwb"]);
  }, 60_000);

  it("an expiry both nodes enforce is one wireguard.peer.expired event", async () => {
    const at = new Date(Date.now() + 1000).toISOString();
    const r = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
      name: "short-lived",
      expires_at: at,
    });
    expect(r.status, r.text).toBe(201);
    const logged = (n: NodeName) =>
      (nodes[n].agent?.output() ?? "")
        .split("\n")
        .some((l) => l.includes(r.body.id) && l.includes("peer expired"));
    // Each node logs the expiry after recording it, then publishes the event (same id).
    await waitFor(async () => logged("gwa") && logged("gwb"), { message: "both nodes enforced the expiry" });
    await new Promise((res) => setTimeout(res, 300));
    const list = await mesh.api<{ items: Array<{ event: { type: string; data: Record<string, unknown> } }> }>(
      "GET",
      `/api/v1/events?topics=wireguard.peer.expired&resource_kind=interface&resource=${iface}`,
    );
    const mine = list.body.items.filter((i) => i.event.data.peer_id === r.body.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.event.data).toMatchObject({ name: "short-lived", expired_at: at });
  });
});
