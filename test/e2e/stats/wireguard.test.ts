/**
 * stats - WireGuard from real samples: wg-agent runs wireguard-go in a "gateway" namespace
 * and publishes its `WgStatsSample`s; a client namespace brings the peer's tunnel up with
 * wg-quick and pings through it. The stats service turns the samples into per-peer counters,
 * rates and handshake history, read through the gateway; its history writer (lease holder)
 * stores the buckets in PostgreSQL, so a restarted instance (empty memory) still answers them.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";
import { migrate } from "../../../proto/src/runtime/migrate.ts";
import {
  connectVeth,
  createNetns,
  createTestDatabase,
  type Netns,
  requireRoot,
  type ServiceProcess,
  spawnService,
  type TestDatabase,
  waitFor,
} from "../../harness/mod.ts";
import { type PeerBody, rand, startWgMesh, type WgMesh } from "../wireguard/mesh.ts";

requireRoot("the WireGuard stats test");

let mesh: WgMesh;
let client: Netns;
let db: TestDatabase;
let stats: ServiceProcess;
let peerKey = "";
const disposers: Array<() => Promise<unknown>> = [];
const iface = `s${rand()}`;
const prefix = `h${rand()}`;
const clientDev = `d${rand(3)}`;
const GW_TUNNEL = "10.68.0.1";

interface WgStats {
  interface: string;
  peers: Array<{
    public_key: string;
    peer_id: string | null;
    nodes: string[];
    endpoint: string | null;
    latest_handshake: number;
    rx_bytes: number;
    tx_bytes: number;
    rx_rate: number;
    tx_rate: number;
    history: Array<Array<number | null>>;
  }>;
  total: number;
  page: number;
  per_page: number;
  pages: number;
}

beforeAll(async () => {
  mesh = await startWgMesh();
  disposers.push(() => mesh.dispose());
  const gw = await createNetns("wgs-gw");
  disposers.push(() => gw[Symbol.asyncDispose]());
  client = await createNetns("wgs-cl");
  disposers.push(() => client[Symbol.asyncDispose]());
  await connectVeth(gw, client, { a: "10.79.0.1/24", b: "10.79.0.2/24" });
  await mesh.agent("gw1", {
    EP_WG_NETNS: gw.name,
    EP_WG_DEVICE_PREFIX: prefix,
    EP_WG_MODE: "wireguard-go",
    EP_WG_STATS_INTERVAL_MS: "500",
  });
  db = await createTestDatabase();
  disposers.push(() => db[Symbol.asyncDispose]());
  await migrate(db.url);
  stats = await startStats();
  disposers.push(() => stats.stop());
}, 90_000);

const startStats = () =>
  spawnService("stats", { EP_NATS_URL: mesh.nats.url, DATABASE_URL: db.url, EP_STATS_POOL_THREADS: "1" });
const rxOf = (h: Array<Array<number | null>>, stepS: number) =>
  h.reduce((a, x) => a + ((x[1] as number | null) ?? 0) * stepS, 0);

afterAll(async () => {
  await client?.run("wg-quick", ["down", join(mesh.dir, `${clientDev}.conf`)], {
    env: { WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" },
  });
  for (const d of disposers.reverse()) await d().catch(() => undefined);
});

test("stats - WireGuard per-peer traffic and handshake from real wg-agent samples", async () => {
  const created = await mesh.api("POST", "/api/v1/wireguard/interfaces", {
    name: iface,
    address_v4: "10.68.0.0/24",
    listen_port: 51821,
    endpoint_host: "10.79.0.1",
    nodes: ["gw1"],
    persistent_keepalive: 0,
  });
  expect(created.status, created.text).toBe(201);
  const p = await mesh.api<PeerBody>("POST", `/api/v1/wireguard/interfaces/${iface}/peers`, {
    name: "phone",
    store_private_key: true,
  });
  expect(p.status, p.text).toBe(201);
  const peer = p.body;
  const file = join(mesh.dir, `${clientDev}.conf`);
  await writeFile(file, peer.config as string, { mode: 0o600 });
  await client.exec("wg-quick", ["up", file], { env: { WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" } });
  const started = Math.floor(Date.now() / 1000);
  await waitFor(async () => (await client.run("ping", ["-c", "1", "-W", "1", "-n", GW_TUNNEL])).code === 0, {
    timeout: 20_000,
    interval: 100,
    message: "ping through the tunnel",
  });
  // ~200 KB each way through the tunnel.
  const pings = await client.run("ping", ["-c", "100", "-i", "0.01", "-s", "2000", "-n", "-q", GW_TUNNEL]);
  expect(pings.code, pings.stdout).toBe(0);

  const path = `/api/v1/stats/wireguard/${iface}?window=5m&step=10s`;
  let seen: WgStats["peers"][number] | undefined;
  await waitFor(
    async () => {
      const r = await mesh.api<WgStats>("GET", path);
      if (r.status !== 200) throw new Error(r.text);
      seen = r.body.peers.find((x) => x.public_key === peer.public_key);
      return !!seen && seen.rx_bytes > 200_000 && seen.tx_bytes > 200_000;
    },
    { timeout: 20_000, interval: 250, message: "the peer's traffic in the stats service" },
  );
  const s = seen as NonNullable<typeof seen>;
  peerKey = s.public_key;
  expect(s.peer_id).toBe(peer.id);
  expect(s.nodes).toEqual(["gw1"]);
  expect(s.endpoint).toMatch(/^10\.79\.0\.2:\d+$/);
  expect(s.latest_handshake).toBeGreaterThanOrEqual(started - 1);
  expect(s.latest_handshake).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  // History: the traffic is in the buckets (rates × 10 s), the handshake age is small, and
  // no point is negative.
  const points = s.history.filter((h) => h[1] !== null);
  expect(points.length).toBeGreaterThan(0);
  const rx = points.reduce((a, h) => a + (h[1] as number) * 10, 0);
  expect(rx).toBeGreaterThan(150_000);
  expect(rx).toBeLessThanOrEqual(s.rx_bytes + 1);
  for (const h of points) for (const v of h.slice(1)) if (v !== null) expect(v).toBeGreaterThanOrEqual(0);
  const ages = points.map((h) => h[3]).filter((v): v is number => v !== null);
  expect(ages.length).toBeGreaterThan(0);
  expect(Math.min(...ages)).toBeLessThan(30);
  // One peer filter by id works too.
  const one = await mesh.api<WgStats>("GET", `${path}&peer=${encodeURIComponent(peer.id)}`);
  expect(one.body.peers.map((x) => x.public_key)).toEqual([peer.public_key]);
  // Peers come in pages (`page`/`per_page`, the list envelope's counts beside `peers`).
  const paged = await mesh.api<WgStats>("GET", `${path}&page=1&per_page=1`);
  expect(paged.body).toMatchObject({ page: 1, per_page: 1 });
  expect(paged.body.peers.length).toBe(1);
  expect(paged.body.pages).toBe(paged.body.total);
  const badPage = await mesh.api("GET", `${path}&per_page=0`);
  expect(badPage.status).toBe(422);
  expect(JSON.stringify(badPage.body)).toContain("per_page");
}, 90_000);

test("stats - WireGuard history survives a restart: a fresh instance answers it from PostgreSQL", async () => {
  expect(peerKey).not.toBe("");
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const stored = async () =>
    (
      await c.query<{ rx: number | null }>(
        "SELECT sum(rx) AS rx FROM stats_wg_10s WHERE interface = $1 AND public_key = $2",
        [iface, peerKey],
      )
    ).rows[0]?.rx ?? null;
  try {
    // The leader stores the peer's buckets. Its first one may be partial for this instance (it
    // started just before the interface appeared) and is not stored: traffic again, once the
    // writer is past it.
    await waitFor(async () => (await stored()) !== null, {
      timeout: 30_000,
      interval: 250,
      message: "the peer's first buckets in stats_wg_10s",
    });
    const before = (await stored()) as number;
    const pings = await client.run("ping", ["-c", "100", "-i", "0.01", "-s", "2000", "-n", "-q", GW_TUNNEL]);
    expect(pings.code, pings.stdout).toBe(0);
    await waitFor(async () => ((await stored()) as number) - before > 150_000, {
      timeout: 30_000,
      interval: 250,
      message: "the pings' buckets in stats_wg_10s",
    });
    const dup = await c.query(
      "SELECT interface, public_key, ts FROM stats_wg_10s GROUP BY 1, 2, 3 HAVING count(*) > 1",
    );
    expect(dup.rowCount).toBe(0);
  } finally {
    await c.end();
  }
  // A new instance starts with empty memory; the traffic is only in the table now.
  await stats.stop();
  stats = await startStats();
  const path = `/api/v1/stats/wireguard/${iface}?window=2h&step=1m`;
  const h = await waitFor(
    async () => {
      const r = await mesh.api<WgStats>("GET", path);
      return r.status === 200 ? r.body.peers.find((x) => x.public_key === peerKey) : undefined;
    },
    { timeout: 20_000, interval: 250, message: "the restarted stats instance answers" },
  );
  expect(h.history.length).toBe(120);
  expect(rxOf(h.history, 60)).toBeGreaterThan(150_000);
});

test("stats - WireGuard windows up to 30 days are accepted; beyond, a 422 names the field", async () => {
  const base = `/api/v1/stats/wireguard/${iface}`;
  const month = await mesh.api<WgStats>("GET", `${base}?window=30d&step=15m`);
  expect(month.status, month.text).toBe(200);
  const h = month.body.peers.find((x) => x.public_key === peerKey)?.history ?? [];
  expect(h.length).toBe(2880);
  expect(rxOf(h, 900)).toBeGreaterThan(150_000);
  type Err = { error: { code: string; details: Array<{ field: string }> } };
  const over = await mesh.api<Err>("GET", `${base}?window=31d`);
  expect(over.status, over.text).toBe(422);
  expect(over.body.error.details.map((d) => d.field)).toEqual(["window"]);
  const dense = await mesh.api<Err>("GET", `${base}?window=30d&step=1m`);
  expect(dense.status, dense.text).toBe(422);
  expect(dense.body.error.details.map((d) => d.field)).toEqual(["query.step"]);
});
