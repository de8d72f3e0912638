/**
 * wireguard tunnel — real WireGuard end to end: a "gateway" namespace where wg-agent runs
 * wireguard-go, a "client" namespace joined by a veth pair. Interface and peer are created
 * through the API, the client config is downloaded and brought up with wg-quick in the
 * client namespace, and pings go through the tunnel. Disable/enable, expiry, and an agent
 * restart that must not disturb the live session.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectVeth,
  createNetns,
  hostRun,
  type Netns,
  requireRoot,
  type ServiceProcess,
  waitFor,
} from "../../harness/mod.ts";
import { type PeerBody, rand, startWgMesh, type WgMesh } from "./mesh.ts";

requireRoot("the WireGuard tunnel tests");

let mesh: WgMesh;
let gw: Netns;
let client: Netns;
let agent: ServiceProcess;
const disposers: Array<() => Promise<unknown>> = [];
const iface = `t${rand()}`;
const prefix = `g${rand()}`;
const clientDev = `c${rand(3)}`;
const GW_TUNNEL = "10.66.0.1";
let peer: PeerBody;
let agentEnv: Record<string, string>;

const ping = (timeoutS = 1) => client.run("ping", ["-c", "1", "-W", String(timeoutS), "-n", GW_TUNNEL]);
const pingsUntilOk = (timeout = 20_000) =>
  waitFor(async () => (await ping()).code === 0, {
    timeout,
    interval: 100,
    message: "ping through the tunnel",
  });

/** The gateway device's view of the peer (UAPI socket is in the host filesystem). */
async function gwPeer(): Promise<string[] | undefined> {
  const r = await hostRun("wg", ["show", `${prefix}${iface}`, "dump"]);
  return r.stdout
    .split("\n")
    .slice(1) // first line: the interface (holds its private key): never print it
    .map((l) => l.split("\t"))
    .find((f) => f[0] === peer.public_key);
}

beforeAll(async () => {
  mesh = await startWgMesh();
  disposers.push(() => mesh.dispose());
  gw = await createNetns("wgt-gw");
  disposers.push(() => gw[Symbol.asyncDispose]());
  client = await createNetns("wgt-cl");
  disposers.push(() => client[Symbol.asyncDispose]());
  await connectVeth(gw, client, { a: "10.77.0.1/24", b: "10.77.0.2/24" });
  agentEnv = { EP_WG_NETNS: gw.name, EP_WG_DEVICE_PREFIX: prefix, EP_WG_MODE: "wireguard-go" };
  agent = await mesh.agent("gw1", agentEnv);
}, 60_000);

afterAll(async () => {
  await client?.run("wg-quick", ["down", join(mesh.dir, `${clientDev}.conf`)], {
    env: { WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" },
  });
  for (const d of disposers.reverse()) await d().catch(() => undefined);
});

describe("wireguard tunnel - API to packets", () => {
  it("creates an interface that every serving node brings up before replying", async () => {
    const r = await mesh.api<{
      gateway_address: string;
      servers: Array<{ public_key: string }>;
      apply: unknown;
    }>("POST", "/api/v1/wireguard/interfaces", {
      name: iface,
      address_v4: "10.66.0.0/24",
      listen_port: 51820,
      endpoint_host: "10.77.0.1",
      nodes: ["gw1"],
      persistent_keepalive: 0,
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.gateway_address).toBe(GW_TUNNEL);
    expect(r.body.servers[0]?.public_key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(r.body.apply).toMatchObject({ confirmed: ["gw1"], unconfirmed: [] });
    const link = await gw.exec("ip", ["-j", "address", "show", "dev", `${prefix}${iface}`]);
    expect(link).toContain(GW_TUNNEL);
  });

  it("creates a peer, installed on the node when the create returns; the client config brings a tunnel up", async () => {
    const r = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
      name: "laptop",
      store_private_key: true,
      tags: ["e2e"],
    });
    expect(r.status, r.text).toBe(201);
    peer = r.body;
    expect(peer.addresses).toEqual(["10.66.0.2/32"]);
    expect(peer.apply.confirmed).toEqual(["gw1"]);
    expect(peer.config).toContain(`PrivateKey = ${peer.private_key}`);
    expect(await gwPeer()).toBeDefined(); // installed before the reply

    // Fetch the config again (sealed private key) and bring it up with wg-quick.
    const cfg = await mesh.api<string>("GET", `/api/v1/wireguard/interfaces/${iface}/peers/laptop/config`);
    expect(cfg.status).toBe(200);
    expect(cfg.text).toBe(peer.config);
    const file = join(mesh.dir, `${clientDev}.conf`);
    await writeFile(file, cfg.text, { mode: 0o600 });
    await client.exec("wg-quick", ["up", file], {
      env: { WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" },
    });
    await pingsUntilOk();
  });

  it("the peer's first handshake is a wireguard.peer.handshake event (from the node's stats sample)", async () => {
    const ev = await waitFor(
      async () => {
        const r = await mesh.api<{ items: Array<{ event: { data: Record<string, unknown> } }> }>(
          "GET",
          `/api/v1/events?topics=wireguard.peer.handshake&resource_kind=interface&resource=${iface}`,
        );
        return r.body.items.find((i) => i.event.data.peer_id === peer.id)?.event;
      },
      { timeout: 5000, message: "handshake event" },
    );
    expect(ev.data).toMatchObject({
      name: "laptop",
      node: "gw1",
      endpoint: expect.stringMatching(/^10\.77\.0\.2:\d+$/),
    });
    expect(Date.parse(ev.data.latest_handshake as string)).toBeGreaterThan(0);
  });

  it("disabling the peer stops pings within 1 s; enabling brings them back", async () => {
    const off = await mesh.api<PeerBody>(
      "POST",
      `/api/v1/wireguard/interfaces/${iface}/peers/laptop/disable`,
    );
    expect(off.status, off.text).toBe(200);
    expect(off.body.enabled).toBe(false);
    const t0 = Date.now();
    expect((await ping(1)).code).not.toBe(0); // the very first ping after the reply fails
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(await gwPeer()).toBeUndefined();

    const on = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers/laptop/enable`);
    expect(on.status, on.text).toBe(200);
    expect(await gwPeer()).toBeDefined();
    // The gateway lost the session with the peer: the client re-handshakes (WireGuard
    // retries after REKEY_TIMEOUT), then traffic flows again.
    await pingsUntilOk(30_000);
  }, 45_000);

  it("restarting the agent keeps the session: same handshake, no lost ping, same peer set", async () => {
    await pingsUntilOk();
    const before = await gwPeer();
    const handshake = before?.[4];
    expect(Number(handshake)).toBeGreaterThan(0);
    const pidsBefore = await hostRun("ip", ["netns", "pids", gw.name]);

    expect(await agent.stop("SIGKILL")).toBeNull(); // a crash, not a graceful stop
    expect((await ping()).code).toBe(0); // the device lives on without its agent
    agent = await mesh.agent("gw1", agentEnv);
    const st = await waitFor(
      async () => {
        const s = await mesh.api<{
          nodes: Array<{ applied_revision: number; interface_up: boolean; peer_count: number }>;
        }>("GET", `/api/v1/wireguard/interfaces/${iface}/status`);
        return s.body.nodes[0]?.interface_up && s.body.nodes[0].applied_revision > 0 ? s.body : undefined;
      },
      { message: "restarted agent reports the interface" },
    );
    expect(st.nodes[0]?.peer_count).toBe(1);
    expect((await ping()).code).toBe(0);
    const after = await gwPeer();
    expect(after?.[4]).toBe(handshake); // no new handshake: the session survived
    expect(after?.[3]).toBe(before?.[3]); // allowed IPs untouched
    expect((await hostRun("ip", ["netns", "pids", gw.name])).stdout).toBe(pidsBefore.stdout); // same wireguard-go
    expect(agent.output()).toContain("device adopted");
  });

  it("reports per-node status and per-peer runtime", async () => {
    await pingsUntilOk();
    const s = await mesh.api<{ running: boolean; nodes: Array<Record<string, unknown>> }>(
      "GET",
      `/api/v1/wireguard/interfaces/${iface}/status`,
    );
    expect(s.body.running).toBe(true);
    expect(s.body.nodes[0]).toMatchObject({
      node: "gw1",
      mode: "wireguard-go",
      interface_up: true,
      listen_port: 51820,
      peer_count: 1,
      last_error: null,
    });
    const p = await mesh.api<{
      nodes: Array<{ installed: boolean; rx_bytes: number; endpoint: string; latest_handshake: string }>;
    }>("GET", `/api/v1/wireguard/interfaces/${iface}/peers/laptop/status`);
    expect(p.body.nodes[0]?.installed).toBe(true);
    expect(p.body.nodes[0]?.rx_bytes).toBeGreaterThan(0);
    expect(p.body.nodes[0]?.endpoint).toMatch(/^10\.77\.0\.2:\d+$/);
    expect(Date.parse(p.body.nodes[0]?.latest_handshake ?? "")).toBeGreaterThan(0);
    // Logs never carry a private key.
    expect(agent.output()).not.toContain(peer.private_key);
  });

  it("expiry removes the peer within 1 s of expires_at, and is recorded", async () => {
    await pingsUntilOk();
    const at = new Date(Date.now() + 1500);
    const r = await mesh.api<PeerBody>("PATCH", `/api/v1/wireguard/interfaces/${iface}/peers/laptop`, {
      expires_at: at.toISOString(),
    });
    expect(r.status, r.text).toBe(200);
    await waitFor(async () => (await gwPeer()) === undefined, {
      timeout: 5000,
      interval: 20,
      message: "expired peer removed",
    });
    expect(Date.now() - at.getTime()).toBeLessThan(1000);
    expect((await ping()).code).not.toBe(0);
    const got = await mesh.api<PeerBody>("GET", `/api/v1/wireguard/interfaces/${iface}/peers/laptop`);
    expect(got.body.expired).toBe(true);

    const back = await mesh.api<PeerBody>("PATCH", `/api/v1/wireguard/interfaces/${iface}/peers/laptop`, {
      expires_at: null,
    });
    expect(back.status).toBe(200);
    expect(await gwPeer()).toBeDefined();
  });

  it("deleting the peer removes it from the device and frees its address", async () => {
    const d = await mesh.api<{ apply: { confirmed: string[] } }>(
      "DELETE",
      `/api/v1/wireguard/interfaces/${iface}/peers/laptop`,
    );
    expect(d.status, d.text).toBe(200);
    expect(d.body.apply.confirmed).toEqual(["gw1"]);
    expect(await gwPeer()).toBeUndefined();
    const again = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
      name: "phone",
    });
    expect(again.body.addresses).toEqual(["10.66.0.2/32"]);
  });

  it("every change of the peer was an event, in order; its handshake too", async () => {
    type Ev = { type: string; actor: { type: string }; data: Record<string, unknown> };
    const trail = await waitFor(
      async () => {
        const r = await mesh.api<{ items: Array<{ event: Ev }> }>(
          "GET",
          `/api/v1/events?topics=wireguard.peer.*&resource_kind=interface&resource=${iface}&order=asc&limit=200`,
        );
        const evs = r.body.items.map((i) => i.event).filter((e) => e.data.peer_id === peer.id);
        return evs.some((e) => e.type === "wireguard.peer.deleted") ? evs : undefined;
      },
      { message: "the peer's events" },
    );
    const changes = trail.filter((e) => e.type !== "wireguard.peer.handshake");
    expect(changes.map((e) => [e.type.slice("wireguard.peer.".length), e.data.changed ?? null])).toEqual([
      ["created", null],
      ["updated", ["enabled"]], // disable
      ["updated", ["enabled"]], // enable
      ["updated", ["expires_at"]],
      ["expired", null],
      ["updated", ["expires_at"]],
      ["deleted", null],
    ]);
    expect(changes[0]?.data).toMatchObject({
      name: "laptop",
      public_key: peer.public_key,
      allowed_ips: peer.addresses,
    });
    expect(changes.find((e) => e.type === "wireguard.peer.expired")?.actor.type).toBe("system");
    // First contact only: the re-enable's handshake is within the 60 s rate limit, and the
    // restarted agent's first sample of the adopted device is a baseline.
    expect(trail.filter((e) => e.type === "wireguard.peer.handshake")).toHaveLength(1);
    expect(JSON.stringify(trail)).not.toContain(peer.private_key);
  });
});
