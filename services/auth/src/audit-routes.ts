/**
 * The audit log's read side: filtered pages, a streamed CSV export (bounded memory for
 * any size), and verification of the chain, its signed checkpoints and the head
 * published in KV.
 */
import { auditExportRoute, auditQueryRoute, auditVerifyRoute, openStream } from "@edgeplane/proto";
import type { ChainRow } from "./audit-chain.ts";
import { CSV_COLUMNS, loadAuditKeys, readPage, verifyChain, walkCsv } from "./audit-store.ts";
import type { Deps } from "./deps.ts";

interface Filters {
  actor?: string | undefined;
  action?: string | undefined;
  category?: string | undefined;
  target_type?: string | undefined;
  target_id?: string | undefined;
  result?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
}

/** SQL conditions for the filters, numbered from `first`. Values are always parameters. */
export function filterSql(f: Filters, first = 1): { where: string; params: unknown[] } {
  const cond: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: string) => string, v: unknown) => {
    params.push(v);
    cond.push(sql(`$${first + params.length - 1}`));
  };
  if (f.actor) add((n) => `(actor_id = ${n} OR actor_name = ${n})`, f.actor);
  for (const k of ["action", "category", "target_type", "target_id", "result"] as const) {
    const v = f[k];
    if (v) add((n) => `${k} = ${n}`, v);
  }
  if (f.since) add((n) => `time >= ${n}::timestamptz`, new Date(f.since).toISOString());
  if (f.until) add((n) => `time < ${n}::timestamptz`, new Date(f.until).toISOString());
  return { where: cond.join(" AND "), params };
}

/** One CSV cell: quoted when needed; a leading `= + - @` is neutralised (spreadsheet formula injection). */
export function csvCell(v: string | number | null): string {
  if (v === null) return "";
  let s = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A row as a CSV line: the reference the export's SQL rendering (`walkCsv`) must match. */
export function csvLine(r: ChainRow): string {
  return `${CSV_COLUMNS.map((c) => {
    const v = r[c];
    return csvCell(Buffer.isBuffer(v) ? v.toString("hex") : (v as string | number | null));
  }).join(",")}\r\n`;
}

function viewRow(r: ChainRow) {
  let summary: Record<string, unknown> = {};
  try {
    summary = JSON.parse(r.summary) as Record<string, unknown>;
  } catch {
    summary = { unparsable: r.summary };
  }
  return {
    seq: r.seq,
    event_id: r.event_id,
    time: r.time,
    actor_type: r.actor_type as "user",
    actor_id: r.actor_id,
    actor_name: r.actor_name,
    action: r.action,
    category: r.category,
    target_type: r.target_type,
    target_id: r.target_id,
    result: r.result as "success",
    request_id: r.request_id,
    source_ip: r.source_ip,
    summary,
    prev_hash: r.prev_hash.toString("hex"),
    row_hash: r.row_hash.toString("hex"),
  };
}

export function registerAuditRoutes(d: Deps): void {
  const { svc, db } = d;

  svc.route(auditQueryRoute, async (req) => {
    const q = req.query;
    const perPage = q.limit ?? q.per_page;
    const offset = q.offset ?? (q.page - 1) * perPage;
    const f = filterSql(q, 1);
    const where = f.where ? `WHERE ${f.where}` : "";
    const total = Number(
      (await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log ${where}`, f.params)).rows[0]?.n ??
        0,
    );
    const rows = await readPage(db, {
      where: f.where,
      params: f.params,
      order: q.order,
      limit: perPage,
      offset,
    });
    return {
      items: rows.map(viewRow),
      total,
      page: Math.floor(offset / perPage) + 1,
      per_page: perPage,
      pages: Math.max(1, Math.ceil(total / perPage)),
    };
  });

  svc.route(auditExportRoute, (req, ctx) =>
    openStream(
      d.nc,
      req.headers,
      { contentType: "text/csv; charset=utf-8", filename: "audit.csv" },
      async (w) => {
        await w.write(`${CSV_COLUMNS.join(",")}\r\n`);
        const f = filterSql(req.query, 2);
        for await (const lines of walkCsv(db, { where: f.where || undefined, params: f.params })) {
          if (w.signal.aborted) return;
          await w.write(lines);
        }
      },
      (err) => ctx.log.error({ err }, "audit export failed"),
    ),
  );

  svc.route(auditVerifyRoute, async () => {
    const keys = await loadAuditKeys(db);
    let head: { seq: number; row_hash: Buffer } | undefined;
    try {
      const e = await d.kv.get("audit.head");
      if (e?.value.length) {
        const h = e.json<{ seq: number; row_hash: string }>();
        head = { seq: h.seq, row_hash: Buffer.from(h.row_hash, "hex") };
      }
    } catch {
      /* no head published yet */
    }
    return verifyChain(db, keys, head);
  });
}
