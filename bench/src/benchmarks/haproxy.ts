/**
 * HAProxy apply latency: time from `PUT …/state` to "applied on all nodes" (the PUT's own
 * reply, which waits for every node's confirmed reload) for documents of 10, 1,000 and
 * 10,000 backends, beside `haproxy -c` alone and a bare confirmed reload on the same
 * rendered file in the same run. Real nats-server, gateway, auth, agents and haproxies
 * (the e2e cluster harness), for each cluster size of `BENCH_HAPROXY_NODES` (default one
 * node, then two on this same machine).
 */
import { writeFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { parseEnv, StateDocument } from "@edgeplane/proto";
import { z } from "zod";
import { validateDocument } from "../../../services/haproxy-agent/src/check.ts";
import { HaproxyProcess } from "../../../services/haproxy-agent/src/haproxy.ts";
import { render } from "../../../services/haproxy-agent/src/render.ts";
import { startCluster } from "../../../test/e2e/haproxy/cluster.ts";
import { tmpDir } from "../../../test/harness/mod.ts";
import { startResult } from "../lib/bench-result.ts";
import { median } from "../lib/percentiles.ts";
import type { Benchmark, Target } from "../lib/types.ts";

const Settings = z.object({
  BENCH_HAPROXY_SIZES: z.string().default("10,1000,10000").describe("Backend counts, comma-separated."),
  BENCH_HAPROXY_REPEAT: z.coerce
    .number()
    .int()
    .min(1)
    .default(11)
    .describe(
      "Measured PUTs per size, each followed by a check, a reload and an all-nodes reload (medians reported).",
    ),
  BENCH_HAPROXY_NODES: z
    .string()
    .regex(/^[1-4](,[1-4])*$/)
    .default("1,2")
    .describe("Cluster sizes measured, comma-separated (nodes = agent + haproxy, all on this machine)."),
  BENCH_HAPROXY_NBTHREAD: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("global.nbthread of the benchmark document (0: unset, haproxy's default of one per CPU)."),
});

const round = (x: number) => Math.round(x * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until no old worker is left on any node (the previous reload's worker has finished
 * exiting), then 200 ms more for the agents' after-apply work (marker, status, events).
 */
async function settled(procs: HaproxyProcess[]): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const infos = await Promise.all(procs.map((p) => p.showProc(5000)));
    if (infos.every((i) => i === null || i.oldWorkers.length === 0)) break;
    await sleep(50);
  }
  await sleep(200);
}

/**
 * `PUT` over one kept-alive node:http connection: the client's own cost stays out of the
 * figure (a WHATWG fetch costs about a millisecond more per call, as much as curl's
 * process start would).
 */
function putter(url: string, key: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return (path: string, body: string, headers: Record<string, string>) =>
    new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const req = request(
        `${url}${path}`,
        {
          method: "PUT",
          agent,
          headers: { authorization: `Bearer ${key}`, "content-length": Buffer.byteLength(body), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            try {
              resolve({
                status: res.statusCode ?? 0,
                json: JSON.parse(Buffer.concat(chunks).toString("utf8")),
              });
            } catch (err) {
              reject(err);
            }
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
}

function bigDoc(n: number, port: number, tag: number, nbthread = 0) {
  return {
    ...(nbthread > 0 ? { global: { nbthread } } : {}),
    defaults: [{ mode: "http", timeouts: { connect: "2s", client: `${10 + tag}s`, server: "10s" } }],
    frontends: [{ name: "web", binds: [{ address: "127.0.0.1", port }], default_backend: "b0" }],
    backends: Array.from({ length: n }, (_, i) => ({
      name: `b${i}`,
      servers: [{ name: "s1", address: "127.0.0.1", port: 10_000 + (i % 50_000) }],
    })),
  };
}

/** `phases` of the agents' "applied" (node) and "committed" (PUT) log lines, by revision. */
function phaseLogs(outputs: string[], msg: "applied" | "committed", revisions: Set<number>) {
  const rows: Array<Record<string, number>> = [];
  for (const out of outputs)
    for (const line of out.split("\n")) {
      if (!line.includes(`"msg":"${msg}"`)) continue;
      try {
        const l = JSON.parse(line) as { revision?: number; phases?: Record<string, number>; ms?: number };
        if (l.revision !== undefined && revisions.has(l.revision) && l.phases)
          rows.push({ ...l.phases, ...(l.ms !== undefined ? { total: l.ms } : {}) });
      } catch {}
    }
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return Object.fromEntries(keys.map((k) => [k, round(median(rows.map((r) => r[k] ?? 0)))]));
}

export const benchmark: Benchmark = {
  name: "haproxy",
  title: "HAProxy: PUT → applied on all nodes vs haproxy -c + reload",
  async run(ctx) {
    const s = parseEnv(Settings, ctx.env);
    const sizes = s.BENCH_HAPROXY_SIZES.split(",").map((x) => Number(x.trim()));
    const clusterSizes = s.BENCH_HAPROXY_NODES.split(",").map(Number);
    const result = startResult(benchmark, { ...s });
    await using dir = await tmpDir("ep-bench-haproxy-");
    const natsConf = join(dir.path, "nats.conf");
    await writeFile(natsConf, "max_payload: 8MB\n");
    const metrics: Record<string, number> = {};
    const targets: Target[] = [];
    const notes: string[] = [];
    let failed = 0;
    for (const nodes of clusterSizes) {
      // Metric and target names carry the cluster size: n1_…, n2_…
      const k = `n${nodes}_`;
      ctx.log(`haproxy: cluster of ${nodes} node(s)`);
      const c = await startCluster({
        nodes,
        natsArgs: ["-c", natsConf],
        gatewayEnv: { EP_BODY_LIMIT: String(16 * 1024 * 1024) },
        agentEnv: { EP_HAPROXY_APPLY_WAIT_MS: "60000" },
      });
      const put = putter(c.gateway.url as string, c.key);
      const procs = c.agents.map(
        (a) =>
          new HaproxyProcess({
            bin: "haproxy",
            cfg: join(a.dir, "haproxy.cfg"),
            masterSocket: join(a.dir, "master.sock"),
            pidFile: join(a.dir, "haproxy.pid"),
            logFile: join(a.dir, "haproxy.log"),
            adminSocket: join(a.dir, "admin.sock"),
            stateFile: join(a.dir, "server-state"),
          }),
      );
      try {
        let rev = 0;
        for (const n of sizes) {
          const totals: number[] = [];
          const measured = new Set<number>();
          // haproxy -c alone and bare confirmed reloads, on the same rendered file.
          const doc = StateDocument.parse(bigDoc(n, c.port, 99, s.BENCH_HAPROXY_NBTHREAD));
          const opts = {
            runDir: dir.path,
            mapDir: join(dir.path, "maps"),
            certDir: dir.path,
            portOffset: 0,
            noreuseport: true,
          };
          const checks: number[] = [];
          const reloadsMs: number[] = [];
          const bothMs: number[] = [];
          const p = procs[0];
          // PUTs and the floor's measurements alternate, each on a settled cluster (no old
          // worker left, the agents' after-apply work done), so a drift of the machine's speed
          // during the run moves both alike. The first PUT of a size is a warm-up (it also
          // grows haproxy's memory).
          for (let i = 0; i < s.BENCH_HAPROXY_REPEAT + 1; i++) {
            const body = JSON.stringify(bigDoc(n, c.port, i, s.BENCH_HAPROXY_NBTHREAD));
            await settled(procs);
            const t0 = performance.now();
            const r = await put("/api/v1/haproxy/clusters/default/state", body, {
              "content-type": "application/json",
              "if-match": String(rev),
            });
            const ms = performance.now() - t0;
            const b = r.json as { revision: number; results: Array<{ result: string }> };
            if (r.status !== 200 || !b.results.every((x) => x.result === "applied")) {
              failed++;
              ctx.log(`haproxy: ${n} backends: ${r.status} ${JSON.stringify(b).slice(0, 300)}`);
              continue;
            }
            rev = b.revision;
            if (i === 0) continue;
            measured.add(rev);
            totals.push(ms);
            await settled(procs);
            checks.push((await validateDocument("haproxy", doc, opts)).checkMs);
            if (!p) continue;
            await settled(procs);
            const known = await p.showProc(30_000);
            const t1 = performance.now();
            await p.reload(60_000, undefined, known ?? undefined);
            reloadsMs.push(performance.now() - t1);
            // Every node at once, as a PUT reloads them: on this machine their haproxies share
            // its two cores (in a fleet each node is its own machine).
            await settled(procs);
            const knownAll = await Promise.all(procs.map((x) => x.showProc(30_000)));
            const t2 = performance.now();
            await Promise.all(procs.map((x, k) => x.reload(60_000, undefined, knownAll[k] ?? undefined)));
            bothMs.push(performance.now() - t2);
          }
          const renderMs = (() => {
            const t0 = performance.now();
            render(doc, opts);
            return performance.now() - t0;
          })();
          const outputs = c.agents.map((a) => a.proc.output());
          const nodePh = phaseLogs(outputs, "applied", measured);
          const putPh = phaseLogs(outputs, "committed", measured);
          ctx.log(`haproxy: ${n} backends: PUT phases (median ms) ${JSON.stringify(putPh)}`);
          ctx.log(`haproxy: ${n} backends: node phases (median ms) ${JSON.stringify(nodePh)}`);
          for (const [phase, v] of Object.entries(putPh)) metrics[`${k}put_phase_${phase}_ms_${n}`] = v;
          for (const [phase, v] of Object.entries(nodePh)) metrics[`${k}node_phase_${phase}_ms_${n}`] = v;
          const parseMs = (() => {
            const raw = JSON.parse(JSON.stringify(bigDoc(n, c.port, 98, s.BENCH_HAPROXY_NBTHREAD)));
            const t0 = performance.now();
            StateDocument.parse(raw);
            return performance.now() - t0;
          })();
          metrics[`${k}schema_parse_ms_${n}`] = round(parseMs);
          const total = median(totals);
          const check = median(checks);
          const reload = median(reloadsMs);
          metrics[`${k}put_to_applied_ms_${n}`] = round(total);
          metrics[`${k}haproxy_check_ms_${n}`] = round(check);
          metrics[`${k}reload_confirmed_ms_${n}`] = round(reload);
          metrics[`${k}reload_both_nodes_ms_${n}`] = round(median(bothMs));
          metrics[`${k}render_ms_${n}`] = round(renderMs);
          metrics[`${k}ratio_${n}`] = ratio(total, check + reload);
          // Against the floor of this cluster on this machine: one check, then all
          // nodes' reloads at once.
          metrics[`${k}ratio_vs_both_nodes_${n}`] = ratio(total, check + median(bothMs));
          ctx.log(
            `haproxy: ${n} backends: PUT→applied ${round(total)} ms; haproxy -c ${round(check)} ms; reload ${round(reload)} ms (all ${c.agents.length} nodes at once ${round(median(bothMs))} ms); render ${round(renderMs)} ms; schema parse ${round(parseMs)} ms`,
          );
          // One node: the target as written. Several nodes on this one machine: their reloads
          // share its two cores (in a fleet each node reloads on its own machine), so the
          // floor of "reload" is every node's reload at once, measured the same way.
          const reloadFloor = nodes === 1 ? reload : median(bothMs);
          const limit = 1.5 * (check + reloadFloor);
          targets.push({
            id: `${k}ratio_${n}`,
            description:
              nodes === 1
                ? `1 node: PUT→applied ≤ 1.5 × (haproxy -c + reload) at ${n} backends`
                : `${nodes} nodes on this machine: PUT→applied on all ≤ 1.5 × (haproxy -c + all ${nodes} reloads at once) at ${n} backends`,
            value: round(total),
            op: "<=",
            threshold: round(limit),
            unit: "ms",
            pass: total <= limit,
          });
          if (n === 10)
            targets.push({
              id: `${k}abs_10`,
              description: `${nodes} node(s): PUT→applied ≤ 150 ms at 10 backends`,
              value: round(total),
              op: "<=",
              threshold: 150,
              unit: "ms",
              pass: total <= 150,
            });
        }
      } finally {
        await c.close();
      }
    }
    notes.push(
      "PUT→applied = the PUT's reply (validation with haproxy -c in a temp dir, KV compare-and-set, then every agent: render, swap, state dump, reload confirmed by show proc; snapshot and audit published meanwhile).",
      "haproxy -c runs once on the PUT path: a node skips it when its rendering has the node-neutral hash the committing agent validated (validated_hash). The floor is check + reload (+ schema parses of the document in gateway, agent and node).",
      "nK_*: a cluster of K nodes, all on this machine. reload_both_nodes_ms: every node's haproxy reloaded at once (as a PUT does) on this machine's two cores; ratio_vs_both_nodes = PUT→applied / (haproxy -c + that); ratio = PUT→applied / (haproxy -c + one node's reload). The target of a one-node cluster is the ratio; that of a larger one, ratio_vs_both_nodes (its reloads compete for the same cores; in a fleet each node has its own).",
      "Every PUT and every floor measurement starts on a settled cluster: no old worker left from the previous reload, then 200 ms.",
      'put_phase_* / node_phase_*: medians of the agents\' per-phase timings ("committed" and "applied" log lines) over the measured PUTs.',
    );
    return result.finish({
      cases: [],
      metrics,
      targets,
      notes,
      failedRequests: failed,
    });
  },
};
