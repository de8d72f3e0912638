/**
 * HAProxy certificates: what a certificate change costs. (1) Validation alone (chain +
 * key + expiry + SANs with node:crypto, and the CRL DER walk), per call. (2) A BYO
 * re-upload through the gateway until both nodes serve it — object store put, per-node
 * sync and `set ssl cert` + `commit ssl cert` — beside (3) the same change made by a state
 * commit with reloads (a new certificate name referenced), on a two-node cluster with real
 * haproxies (the e2e harness).
 */
import { parseEnv } from "@edgeplane/proto";
import { z } from "zod";
import { validateByo, validateCrl } from "../../../services/haproxy-agent/src/pki.ts";
import { startCluster } from "../../../test/e2e/haproxy/cluster.ts";
import { Pki } from "../../../test/e2e/haproxy-certs/mint.ts";
import { tmpDir } from "../../../test/harness/mod.ts";
import { startResult } from "../lib/bench-result.ts";
import { median } from "../lib/percentiles.ts";
import { type Benchmark, target } from "../lib/types.ts";

const Settings = z.object({
  BENCH_CERTS_REPEAT: z.coerce
    .number()
    .int()
    .min(3)
    .default(15)
    .describe("Uploads / commits measured (median)."),
  BENCH_CERTS_VALIDATE: z.coerce.number().int().min(10).default(2000).describe("Validations timed."),
});
const round = (x: number) => Math.round(x * 100) / 100;

export const benchmark: Benchmark = {
  name: "haproxy-certs",
  title: "HAProxy certificates: validate, upload → served on all nodes (runtime) vs commit + reload",
  async run(ctx) {
    const s = parseEnv(Settings, ctx.env);
    const result = startResult(benchmark, { ...s });
    await using dir = await tmpDir("ep-bench-certs-");
    const pki = new Pki(dir.path);
    await pki.ca("root", "Bench Root");
    const inter = await pki.issue("inter", "root", { kind: "ca" });
    const leaves = await Promise.all(
      [0, 1].map((i) => pki.issue(`leaf${i}`, "inter", { kind: "server", sans: ["DNS:localhost"] })),
    );
    await pki.issue("victim", "root", { kind: "client" });
    await pki.revoke("root", "victim");
    const crl = await pki.crl("root");
    const metrics: Record<string, number> = {};

    const leaf0 = leaves[0] as (typeof leaves)[0];
    let t = performance.now();
    for (let i = 0; i < s.BENCH_CERTS_VALIDATE; i++) validateByo(leaf0.cert + inter.cert, leaf0.key);
    metrics.validate_byo_us = round(((performance.now() - t) * 1000) / s.BENCH_CERTS_VALIDATE);
    t = performance.now();
    for (let i = 0; i < s.BENCH_CERTS_VALIDATE; i++) validateCrl(crl);
    metrics.validate_crl_us = round(((performance.now() - t) * 1000) / s.BENCH_CERTS_VALIDATE);

    const c = await startCluster({ nodes: 2 });
    let failed = 0;
    const P = "/api/v1/haproxy/clusters/default";
    try {
      const up = async (name: string, i: number) => {
        const l = leaves[i % 2] as (typeof leaves)[0];
        const r = await c.api("POST", `${P}/byo-certs/upload`, {
          name,
          fullchain_pem: l.cert + inter.cert,
          privkey_pem: l.key,
        });
        const b = (await r.json()) as { nodes?: Array<{ ok: boolean; applied: string }> };
        if (r.status !== 200 || !b.nodes?.every((n) => n.ok)) failed++;
        return b.nodes?.map((n) => n.applied) ?? [];
      };
      const doc = (names: string[]) => ({
        defaults: [{ mode: "http", timeouts: { connect: "2s", client: "10s", server: "10s" } }],
        frontends: [
          {
            name: "web",
            binds: [{ address: "127.0.0.1", port: c.port, tls: { certificates: names } }],
            default_backend: "app",
          },
        ],
        backends: [{ name: "app", servers: [{ name: "s1", address: "127.0.0.1", port: 9 }] }],
      });
      const put = async (d: unknown) => {
        const cur = (await (await c.api("GET", `${P}/state`)).json()) as { meta: { revision: number } };
        const r = await c.api("PUT", `${P}/state`, d, { "if-match": `"${cur.meta.revision}"` });
        if (r.status !== 200) failed++;
        await r.arrayBuffer();
      };
      await up("site", 0);
      await up("alt", 1);
      await put(doc(["site"]));
      const runtimeMs: number[] = [];
      let viaRuntime = 0;
      for (let i = 1; i <= s.BENCH_CERTS_REPEAT; i++) {
        const t0 = performance.now();
        const applied = await up("site", i);
        runtimeMs.push(performance.now() - t0);
        if (applied.every((a) => a === "runtime")) viaRuntime++;
      }
      const reloadMs: number[] = [];
      for (let i = 1; i <= s.BENCH_CERTS_REPEAT; i++) {
        const t0 = performance.now();
        await put(doc([i % 2 ? "alt" : "site"]));
        reloadMs.push(performance.now() - t0);
      }
      metrics.upload_runtime_ms = round(median(runtimeMs));
      metrics.commit_reload_ms = round(median(reloadMs));
      metrics.runtime_share = round(viaRuntime / s.BENCH_CERTS_REPEAT);
    } finally {
      await c.close();
    }
    return result.finish({
      cases: [],
      metrics,
      targets: [
        target(
          "validate_byo",
          "BYO validation (chain + key + expiry)",
          metrics.validate_byo_us ?? 0,
          "<=",
          2000,
          "µs",
        ),
        target(
          "upload_runtime",
          "re-upload → served on both nodes (set/commit ssl cert)",
          metrics.upload_runtime_ms ?? 0,
          "<=",
          250,
          "ms",
        ),
        target(
          "runtime_share",
          "re-uploads applied without a reload",
          metrics.runtime_share ?? 0,
          ">=",
          1,
          "",
        ),
      ],
      notes: [
        "upload_runtime_ms: POST byo-certs/upload of a certificate the running config uses, reply after both nodes committed it over the runtime API (median).",
        "commit_reload_ms: PUT state switching the bind to another stored certificate, reply after both nodes reloaded (median).",
      ],
      failedRequests: failed,
    });
  },
};
