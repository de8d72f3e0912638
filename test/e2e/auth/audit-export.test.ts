/**
 * auth audit export at size — `GET /api/v1/audit/export?format=csv` streams a large audit
 * table through the real path (PostgreSQL → auth's keyset walk → NATS stream chunks with
 * credit-based flow control → gateway → HTTP) in bounded memory: every row arrives, in
 * seq order, while the RSS of the gateway and of the auth service stay within a fixed
 * bound above their baseline.
 *
 * The suite exports 100,000 rows (a few seconds); `bench/src/benchmarks/audit-export.ts`
 * does the same with 1,000,000 (`EP_EXPORT_ROWS` overrides the count here too). Rows are
 * generated in SQL (`generate_series`): the export does not check the chain, so the
 * hashes are filler, and auth runs without the audit writer so nothing else appends.
 * PostgreSQL renders the CSV cells (one string per row reaches JavaScript); a second test
 * checks that rendering against the reference `csvLine` on hostile values.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvLine } from "../../../services/auth/src/audit-routes.ts";
import { walkRows } from "../../../services/auth/src/audit-store.ts";
import { exportCsv, insertAuditRows, rssMiB } from "./export.ts";
import { type AuthMesh, startAuthMesh } from "./mesh.ts";

const ROWS = Number(process.env.EP_EXPORT_ROWS ?? 100_000);
/** Summary padding per row: 100k rows make a ~140 MiB body, well above the memory bound. */
const PAD = Number(process.env.EP_EXPORT_PAD ?? 1000);
/** Allowed RSS growth over the baseline, per process. */
const BOUND_MIB = 100;

let mesh: AuthMesh;

beforeAll(async () => {
  mesh = await startAuthMesh({ authEnv: { EP_AUDIT_WRITER: "false" } });
  await insertAuditRows(mesh.db.url, ROWS, PAD);
}, 300_000);
afterAll(async () => mesh?.dispose());

describe("audit - export at size", () => {
  it(`streams ${ROWS.toLocaleString("en")} rows as CSV in bounded memory`, async () => {
    const gateway = mesh.gateways[0]?.proc.pid as number;
    const auth = mesh.auth[0]?.proc.pid as number;
    // Warm both processes up (JIT, pools, buffers) before taking the baseline.
    const warm = await exportCsv(`${mesh.url}/api/v1/audit/export?format=csv&until=2025-01-01T00:00:10Z`, {
      key: mesh.owner.key,
    });
    expect(warm.status).toBe(200);
    const base = { gateway: await rssMiB(gateway), auth: await rssMiB(auth) };

    const r = await exportCsv(`${mesh.url}/api/v1/audit/export?format=csv`, {
      key: mesh.owner.key,
      pids: { gateway, auth },
    });
    expect(r.status).toBe(200);
    expect(r.header).toBe(
      "seq,time,actor_type,actor_id,actor_name,action,category,target_type,target_id,result,request_id,source_ip,summary,prev_hash,row_hash",
    );
    expect(r.rows).toBe(ROWS);
    expect(r.inOrder).toBe(true);
    const growth = { gateway: r.peakMiB.gateway - base.gateway, auth: r.peakMiB.auth - base.auth };
    console.log(
      `export: ${ROWS} rows, ${(r.bytes / 2 ** 20).toFixed(0)} MiB in ${r.ms} ms ` +
        `(${Math.round((ROWS / r.ms) * 1000)} rows/s); RSS peak over baseline: gateway ` +
        `+${growth.gateway.toFixed(1)} MiB (from ${base.gateway.toFixed(0)}), auth +${growth.auth.toFixed(1)} MiB (from ${base.auth.toFixed(0)})`,
    );
    expect(growth.gateway).toBeLessThan(BOUND_MIB);
    expect(growth.auth).toBeLessThan(BOUND_MIB);
  }, 300_000);

  it("renders every cell exactly like the reference csvLine, hostile values included", async () => {
    const hostile = [
      '=HYPERLINK("x")',
      "+1",
      "-2",
      "@sum",
      "\tTab",
      "\rCR",
      'quote"d',
      "comma,here",
      "line\nbreak",
      "crlf\r\nend",
      "",
      "'already",
      "ünïcødé ✓",
      "back\\slash",
      '=a,"b"\n',
      " lead space",
    ];
    const c = new pg.Client({ connectionString: mesh.db.url });
    await c.connect();
    try {
      const first = Number((await c.query<{ m: string }>("SELECT max(seq) AS m FROM audit_log")).rows[0]?.m);
      for (const [i, v] of hostile.entries()) {
        const nul = i % 3 === 0 ? null : v;
        await c.query(
          `INSERT INTO audit_log (seq, event_id, time, actor_type, actor_id, actor_name, action, category,
             target_type, target_id, result, request_id, source_ip, summary, prev_hash, row_hash)
           VALUES ($1::bigint, $2::text, now(), $3::text, $4::text, $5::text, 'hostile.case', $3, $4, $3, $3, $4, $5, $6::text,
                   sha256(convert_to($2, 'UTF8')), sha256(convert_to($2 || '.', 'UTF8')))`,
          [first + 1 + i, `evt_hostile${i}`, v, nul, `${v}${v}`, JSON.stringify({ v })],
        );
      }
      const want = [
        "seq,time,actor_type,actor_id,actor_name,action,category,target_type,target_id,result,request_id,source_ip,summary,prev_hash,row_hash\r\n",
      ];
      for await (const rows of walkRows(c, { where: "action = $2", params: ["hostile.case"] }))
        for (const r of rows) want.push(csvLine(r));
      expect(want).toHaveLength(hostile.length + 1);
      const r = await fetch(`${mesh.url}/api/v1/audit/export?format=csv&action=hostile.case`, {
        headers: { authorization: `Bearer ${mesh.owner.key}` },
      });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(want.join(""));
    } finally {
      await c.end();
    }
  });
});
