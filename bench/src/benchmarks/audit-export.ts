/**
 * Audit CSV export at size: `GET /api/v1/audit/export?format=csv` of a 1,000,000-row audit
 * table through the real path (PostgreSQL → auth's keyset walk, cells rendered by
 * PostgreSQL → NATS stream chunks with credit-based flow control → gateway → HTTP),
 * consumed as it arrives. Reports rows/s, MiB/s and the RSS growth of the gateway and the
 * auth service over their baseline (sampled every 50 ms). Rows are generated in SQL; the
 * export does not check the chain. The suite runs the same at 100,000 fat rows
 * (test/e2e/auth/audit-export.test.ts).
 */
import { parseEnv } from "@edgeplane/proto";
import { z } from "zod";
import { exportCsv, insertAuditRows, rssMiB } from "../../../test/e2e/auth/export.ts";
import { startAuthMesh } from "../../../test/e2e/auth/mesh.ts";
import { startResult } from "../lib/bench-result.ts";
import { type BenchContext, type Benchmark, type BenchResult, target } from "../lib/types.ts";

const Settings = z.object({
  BENCH_EXPORT_ROWS: z.coerce.number().int().min(1000).default(1_000_000).describe("Audit rows exported."),
  BENCH_EXPORT_PAD: z.coerce.number().int().min(0).default(0).describe("Extra summary bytes per row."),
});

const BOUND_MIB = 100;

export const benchmark: Benchmark = {
  name: "audit-export",
  title: "audit CSV export of 1M rows through the gateway, bounded memory",
  async run(ctx: BenchContext): Promise<BenchResult> {
    const s = parseEnv(Settings, ctx.env);
    const result = startResult(this, { rows: s.BENCH_EXPORT_ROWS, padBytes: s.BENCH_EXPORT_PAD });
    const mesh = await startAuthMesh({ authEnv: { EP_AUDIT_WRITER: "false", EP_LOG_LEVEL: "warn" } });
    try {
      ctx.log(`inserting ${s.BENCH_EXPORT_ROWS} rows`);
      await insertAuditRows(mesh.db.url, s.BENCH_EXPORT_ROWS, s.BENCH_EXPORT_PAD);
      const gateway = mesh.gateways[0]?.proc.pid as number;
      const auth = mesh.auth[0]?.proc.pid as number;
      await exportCsv(`${mesh.url}/api/v1/audit/export?format=csv&until=2025-01-01T00:00:10Z`, {
        key: mesh.owner.key,
      });
      const base = { gateway: await rssMiB(gateway), auth: await rssMiB(auth) };
      ctx.log("exporting");
      const r = await exportCsv(`${mesh.url}/api/v1/audit/export?format=csv`, {
        key: mesh.owner.key,
        pids: { gateway, auth },
      });
      if (r.status !== 200 || r.rows !== s.BENCH_EXPORT_ROWS || !r.inOrder)
        throw new Error(`export: status ${r.status}, ${r.rows} rows, in order: ${r.inOrder}`);
      const growth = { gateway: r.peakMiB.gateway - base.gateway, auth: r.peakMiB.auth - base.auth };
      const r1 = (v: number) => Math.round(v * 10) / 10;
      const metrics = {
        rows: r.rows,
        "body (MiB)": r1(r.bytes / 2 ** 20),
        "export time (s)": r1(r.ms / 1000),
        "rows/s": Math.round((r.rows / r.ms) * 1000),
        "MiB/s": r1(r.bytes / 2 ** 20 / (r.ms / 1000)),
        "gateway RSS baseline (MiB)": r1(base.gateway),
        "gateway RSS growth, peak (MiB)": r1(growth.gateway),
        "auth RSS baseline (MiB)": r1(base.auth),
        "auth RSS growth, peak (MiB)": r1(growth.auth),
      };
      ctx.log(JSON.stringify(metrics));
      return result.finish({
        cases: [],
        metrics,
        targets: [
          target(
            "gateway-rss",
            "gateway RSS growth during the export",
            r1(growth.gateway),
            "<=",
            BOUND_MIB,
            "MiB",
          ),
          target("auth-rss", "auth RSS growth during the export", r1(growth.auth), "<=", BOUND_MIB, "MiB"),
        ],
        notes: [
          "RSS is sampled every 50 ms from /proc; growth is the peak over the baseline taken after a 10,000-row warm-up export.",
        ],
        failedRequests: 0,
      });
    } finally {
      await mesh.dispose();
    }
  },
};
