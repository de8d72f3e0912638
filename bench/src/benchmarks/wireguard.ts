/**
 * WireGuard: a real wg-agent driving wireguard-go in its own network namespace.
 *
 * (a) apply 10,000 peers from empty: 10k peers are stored first, then the interface is
 *     defined; timed from that KV write until the device holds all 10k (device start,
 *     key, port, addresses and one batched UAPI write included).
 * (b) stream 10,000 peers: 10k peer records written to KV while the interface is up;
 *     timed until the device holds them all (incremental per-peer deltas, batched).
 * (c) single peer create end to end with 10,000 peers present: HTTP → gateway → NATS →
 *     wg-agent (name/key/address claims in KV, audit to JetStream, peer record) → the node
 *     applies it to wireguard-go and confirms → reply. Sequential, one at a time.
 *
 * Credentials: the gateway verifies the bench key over NATS with a responder in this
 * process (the auth service's database is not what is measured; the gateway caches the
 * principal anyway). Needs root (namespaces, TUN).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ALL_PERMS, connectNats, parseEnv, Subjects } from "@edgeplane/proto";
import { z } from "zod";
import { generateKeyPair } from "../../../services/wg-agent/src/keys.ts";
import { Keys, openBuckets } from "../../../services/wg-agent/src/store.ts";
import { uapiGet } from "../../../services/wg-agent/src/uapi.ts";
import { finishMachineInfo, machineInfo } from "../lib/machine.ts";
import { startNats } from "../lib/nats.ts";
import { Samples, summarize } from "../lib/percentiles.ts";
import { type Proc, spawnProc, spawnTarget } from "../lib/procs.ts";
import { type BenchContext, type Benchmark, type BenchResult, target } from "../lib/types.ts";

const Settings = z.object({
  BENCH_WG_PEERS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(10_000)
    .describe("Peers per bulk case."),
  BENCH_WG_CREATES: z.coerce.number().int().min(10).default(300).describe("Measured single creates."),
  BENCH_WG_WARMUP: z.coerce.number().int().min(0).default(20).describe("Discarded creates first."),
});

const root = fileURLToPath(new URL("../../../", import.meta.url));
const rnd = () => Math.random().toString(36).slice(2, 6);
const r3 = (v: number) => Math.round(v * 1000) / 1000;

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

function peerRecord(iface: string, i: number, publicKey: string) {
  const t = new Date().toISOString();
  return {
    id: `peer_bench${String(i).padStart(8, "0")}`,
    name: `p${i}`,
    interface: iface,
    public_key: publicKey,
    preshared_key: null,
    addresses: [`10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`],
    allowed_ips: [],
    enabled: true,
    expires_at: null,
    tags: [],
    key_origin: "client",
    private_key_stored: false,
    created_at: t,
    updated_at: t,
    created_by: "bench",
    updated_by: "bench",
  };
}

export const benchmark: Benchmark = {
  name: "wireguard",
  title: "wg-agent: 10k peers from empty, streamed, and single create end to end (wireguard-go)",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const s = parseEnv(Settings, ctx.env);
    if (process.getuid?.() !== 0) throw new Error("the wireguard benchmark needs root (namespaces, TUN)");
    const startedAt = new Date().toISOString();
    const machine = machineInfo();
    const ns = `epb-${rnd()}`;
    const prefix = `b${rnd()}`;
    const state = mkdtempSync(join(tmpdir(), "ep-bench-wg-"));
    execFileSync("ip", ["netns", "add", ns]);
    const nats = await startNats();
    const procs: Proc[] = [];
    const nc = await connectNats({ servers: nats.url, name: "bench" });
    try {
      const { jetstream } = await import("@nats-io/jetstream");
      const kv = await openBuckets(jetstream(nc), 1, 900_000);
      // The gateway asks `ep.v1.auth.verify`: answer with an owner principal.
      nc.subscribe(Subjects.auth.verify, {
        callback: (_e, m) => {
          m.respond(
            JSON.stringify({
              ok: true,
              data: {
                principal: {
                  kind: "api_key",
                  user_id: "usr_bench",
                  username: "bench",
                  role: "owner",
                  key_id: "key_bench",
                  permissions: ALL_PERMS,
                },
                cache_ttl_ms: 60_000,
              },
            }),
          );
        },
      });
      const env = {
        ...process.env,
        EP_NATS_URL: nats.url,
        EP_LOG_LEVEL: "warn",
        EP_NODE_NAME: "bench1",
        EP_WG_MODE: "wireguard-go",
        EP_WG_NETNS: ns,
        EP_WG_DEVICE_PREFIX: prefix,
        EP_WG_STATE_DIR: state,
        EP_WG_STATS_INTERVAL_MS: "0",
        EP_SERVICE_INSTANCE: "bench-wg",
      };
      const agent = spawnProc("wg-agent", process.execPath, [join(root, "services/wg-agent/src/main.ts")], {
        env: { ...env, EP_LOG_LEVEL: "info" },
      });
      procs.push(agent);
      await until("wg-agent started", async () => agent.output().includes("ep-wg-agent started"), 20_000);

      const keys = Array.from({ length: s.BENCH_WG_PEERS }, () => generateKeyPair().publicKey);
      const ifaceRec = (name: string, port: number, v4: string) => ({
        name,
        address_v4: v4,
        address_v6: null,
        listen_port: port,
        endpoint_host: "vpn.example.com",
        dns: [],
        mtu: null,
        persistent_keepalive: 25,
        nodes: ["bench1"],
        created_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      });
      const putPeers = async (iface: string) => {
        for (let i = 0; i < keys.length; i += 500) {
          await Promise.all(
            keys.slice(i, i + 500).map((k, j) => {
              const p = peerRecord(iface, i + j + 2, k);
              return kv.desired.put(Keys.peer(iface, p.id), JSON.stringify(p));
            }),
          );
        }
      };
      const devPeers = async (iface: string) => (await uapiGet(`${prefix}${iface}`)).peers.size;

      // (a) from empty
      ctx.log(`wireguard: storing ${keys.length} peers, then defining the interface`);
      await putPeers("a");
      await new Promise((r) => setTimeout(r, 500)); // let the agent mirror them (not timed)
      const t0 = performance.now();
      await kv.desired.put(Keys.iface("a"), JSON.stringify(ifaceRec("a", 51900, "10.100.0.1/10")));
      await until("10k peers on the device", async () => (await devPeers("a")) === keys.length);
      const fromEmptyS = r3((performance.now() - t0) / 1000);
      ctx.log(`wireguard: ${keys.length} peers from empty in ${fromEmptyS} s`);

      // (b) streamed
      await kv.desired.put(Keys.iface("b"), JSON.stringify(ifaceRec("b", 51901, "10.100.0.1/10")));
      await until("interface b up", async () => (await devPeers("b")) === 0);
      const t1 = performance.now();
      await putPeers("b");
      const writtenS = r3((performance.now() - t1) / 1000);
      await until("10k streamed peers on the device", async () => (await devPeers("b")) === keys.length);
      const streamedS = r3((performance.now() - t1) / 1000);
      ctx.log(
        `wireguard: ${keys.length} streamed peers installed in ${streamedS} s (KV writes took ${writtenS} s)`,
      );

      // (c) single create end to end with 10k present (interface a)
      const gw = await spawnTarget("gateway", join(root, "bench/src/targets/gateway.ts"), {
        env: {
          ...env,
          EP_LOG_LEVEL: "silent",
          EP_HTTP_PORT: "0",
          EP_HTTP_HOST: "127.0.0.1",
          EP_RATE_LIMIT_RPM: "100000000",
          EP_RATE_BURST_RPS: "100000000",
          EP_SERVICE_INSTANCE: "bench-gw",
        },
      });
      procs.push(gw);
      const base = new URL(gw.ready.url as string).origin;
      const samples = new Samples();
      let failed = 0;
      const total = s.BENCH_WG_WARMUP + s.BENCH_WG_CREATES;
      ctx.log(`wireguard: ${total} sequential creates through the gateway (${s.BENCH_WG_WARMUP} warm-up)`);
      for (let i = 0; i < total; i++) {
        const t = performance.now();
        const r = await fetch(`${base}/api/v1/wireguard/interfaces/a/peers`, {
          method: "POST",
          headers: { "x-api-key": "ep_bench", "content-type": "application/json" },
          body: JSON.stringify({ name: `single-${i}`, public_key: generateKeyPair().publicKey }),
        });
        const body = (await r.json()) as { apply?: { confirmed: string[] } };
        const ms = performance.now() - t;
        if (r.status !== 201 || body.apply?.confirmed[0] !== "bench1") {
          failed++;
          if (failed === 1)
            ctx.log(`wireguard: create answered ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
        } else if (i >= s.BENCH_WG_WARMUP) samples.add(ms);
      }
      const lat = summarize(samples);
      ctx.log(`wireguard: create p50 ${lat.p50} ms, p99 ${lat.p99} ms`);
      const onDevice = await devPeers("a");

      return {
        name: "wireguard",
        title: this.title,
        startedAt,
        finishedAt: new Date().toISOString(),
        machine: { ...finishMachineInfo(machine), nats: nats.version },
        settings: { peers: keys.length, creates: s.BENCH_WG_CREATES, warmup: s.BENCH_WG_WARMUP },
        cases: [
          {
            id: "create",
            label: `single peer create end to end, ${keys.length} peers present (sequential)`,
            phases: {
              sequential: {
                rps: r3(lat.count / ((lat.mean * lat.count) / 1000)),
                latencyMs: lat,
                requests: lat.count,
                failed,
              } as never,
            },
          },
        ],
        metrics: {
          "10k peers from empty (s)": fromEmptyS,
          "10k peers streamed through KV, until installed (s)": streamedS,
          "10k peer KV writes alone (s)": writtenS,
          "single create p50 (ms)": lat.p50,
          "single create p99 (ms)": lat.p99,
          "peers on the device after the run": onDevice,
        },
        targets: [
          target("wg-10k-from-empty", `apply ${keys.length} peers from empty`, fromEmptyS, "<=", 5, "s"),
          target("wg-create-p99", "single create p99 with 10k peers present", lat.p99, "<=", 50, "ms"),
        ],
        notes: [
          "wireguard-go 0.0.20220316 in a network namespace, UAPI over its unix socket; one UAPI write per batch.",
          "Create = name, public-key and address claims (KV create), peer record, audit publish (JetStream ack), then the node applies it and confirms; the reply waits for that confirmation.",
        ],
        failedRequests: failed,
      };
    } finally {
      await nc.close().catch(() => undefined);
      for (const p of procs.reverse()) await p.stop();
      // wireguard-go outlives its agent by design: kill what is left in the namespace.
      try {
        const pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" })
          .split(/\s+/)
          .filter(Boolean);
        for (const p of pids) process.kill(Number(p), "SIGKILL");
      } catch {}
      await new Promise((r) => setTimeout(r, 200));
      try {
        execFileSync("ip", ["netns", "del", ns]);
      } catch {}
      await nats.stop();
      rmSync(state, { recursive: true, force: true });
    }
  },
};
