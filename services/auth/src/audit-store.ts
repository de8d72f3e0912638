/**
 * Reading the audit table fast and exactly as hashed: text columns as text (no type
 * parsing), `time` rendered by PostgreSQL in the canonical ISO form, keyset pagination
 * by `seq` (bounded memory), the next page fetched while the current one is hashed.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import type pg from "pg";
import {
  type ChainRow,
  ChainWalker,
  type Checkpoint,
  canonicalRow,
  type RenderedRow,
  type VerifyResult,
} from "./audit-chain.ts";

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.Client, "query">;

export const TIME_SQL = `to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const ROW_SQL = `SELECT seq, event_id, ${TIME_SQL}, actor_type, actor_id, actor_name, action, category, target_type,
  target_id, result, request_id, source_ip, summary, prev_hash, row_hash FROM audit_log`;

const raw = { getTypeParser: () => (v: string) => v };
const hex = (v: string) => Buffer.from(v.slice(2), "hex");

/** The hashed columns of a `ROW_SQL` row read in array mode (the hashes stay out: see `toRow`). */
function rowContent(a: (string | null)[]): Omit<ChainRow, "prev_hash" | "row_hash"> {
  return {
    seq: Number(a[0]),
    event_id: a[1] as string,
    time: a[2] as string,
    actor_type: a[3] as string,
    actor_id: a[4] ?? null,
    actor_name: a[5] ?? null,
    action: a[6] as string,
    category: a[7] as string,
    target_type: a[8] ?? null,
    target_id: a[9] ?? null,
    result: a[10] as string,
    request_id: a[11] ?? null,
    source_ip: a[12] ?? null,
    summary: a[13] as string,
  };
}

function toRow(a: (string | null)[]): ChainRow {
  return { ...rowContent(a), prev_hash: hex(a[14] as string), row_hash: hex(a[15] as string) };
}

/** `ROW_SQL` followed by `tail` (WHERE, ORDER, LIMIT…), as rows. */
async function queryRows(db: Queryable, tail: string, values: unknown[]): Promise<ChainRow[]> {
  const r = (await db.query({
    text: `${ROW_SQL} ${tail}`,
    values,
    rowMode: "array",
    types: raw,
  })) as pg.QueryArrayResult<(string | null)[]>;
  return r.rows.map(toRow);
}

/** One page of rows for the query API: `where`/`params` filter ($1 is the first parameter). */
export function readPage(
  db: Queryable,
  opts: { where: string; params: unknown[]; order: "asc" | "desc"; limit: number; offset: number },
): Promise<ChainRow[]> {
  const where = opts.where ? `WHERE ${opts.where}` : "";
  const order = opts.order === "asc" ? "ASC" : "DESC";
  return queryRows(
    db,
    `${where} ORDER BY seq ${order} LIMIT ${opts.limit} OFFSET ${opts.offset}`,
    opts.params,
  );
}

/** Rows in seq order after `after`, in pages; `where`/`params` add filters ($1 is the cursor). */
export async function* walkRows(
  db: Queryable,
  opts: { page?: number; where?: string; params?: unknown[] } = {},
): AsyncGenerator<ChainRow[]> {
  const page = opts.page ?? 10_000;
  const extra = opts.where ? ` AND ${opts.where}` : "";
  const params = opts.params ?? [];
  const fetch = (after: number) =>
    db.query({
      text: `${ROW_SQL} WHERE seq > $1${extra} ORDER BY seq LIMIT ${page}`,
      values: [after, ...params],
      rowMode: "array",
      types: raw,
    }) as Promise<pg.QueryArrayResult<(string | null)[]>>;
  let next = fetch(0);
  next.catch(() => undefined); // a walk stopped early must not leave an unhandled rejection
  for (;;) {
    const r = await next;
    if (r.rows.length === 0) return;
    const rows = r.rows.map(toRow);
    const last = (rows[rows.length - 1] as ChainRow).seq;
    next = r.rows.length === page ? fetch(last) : Promise.resolve({ rows: [] } as never);
    next.catch(() => undefined);
    yield rows;
  }
}

/**
 * A CSV cell rendered by PostgreSQL exactly as `csvCell` (audit-routes.ts) renders it:
 * NULL is empty; a leading `= + - @ TAB CR` gets a `'`; a cell with `" , CR LF` is quoted.
 */
function csvCellSql(col: string): string {
  const defused = `(CASE WHEN ${col} ~ E'^[-=+@\\t\\r]' THEN '''' || ${col} ELSE ${col} END)`;
  const quoted = `CASE WHEN ${defused} ~ E'[",\\r\\n]' THEN '"' || replace(${defused}, '"', '""') || '"' ELSE ${defused} END`;
  return `CASE WHEN ${col} IS NULL THEN '' ELSE ${quoted} END`;
}

/** The export's CSV columns, in order (their cells: see {@link walkCsv}). */
export const CSV_COLUMNS = [
  "seq",
  "time",
  "actor_type",
  "actor_id",
  "actor_name",
  "action",
  "category",
  "target_type",
  "target_id",
  "result",
  "request_id",
  "source_ip",
  "summary",
  "prev_hash",
  "row_hash",
] as const;

const CSV_LINE_SQL = `${[
  "seq::text",
  TIME_SQL,
  ...CSV_COLUMNS.slice(2, 13).map(csvCellSql),
  "encode(prev_hash, 'hex')",
  "encode(row_hash, 'hex')",
].join(" || ',' || ")} || E'\\r\\n'`;

/**
 * The export's CSV lines (CRLF-terminated) in seq order, one string per page, rendered by
 * PostgreSQL: one text value per row crosses into JavaScript instead of sixteen values and
 * two buffers, so an export of any size allocates little and keeps less (a 1M-row export
 * stays within tens of MB). The next page is fetched while the current one is written.
 * `where`/`params` add filters ($1 is the cursor).
 */
export async function* walkCsv(
  db: Queryable,
  opts: { page?: number; where?: string; params?: unknown[] } = {},
): AsyncGenerator<string> {
  const page = opts.page ?? 2000;
  const extra = opts.where ? ` AND ${opts.where}` : "";
  const params = opts.params ?? [];
  const fetch = (after: number) =>
    db.query({
      text: `SELECT seq, ${CSV_LINE_SQL} FROM audit_log WHERE seq > $1${extra} ORDER BY seq LIMIT ${page}`,
      values: [after, ...params],
      rowMode: "array",
      types: raw,
    }) as Promise<pg.QueryArrayResult<[string, string]>>;
  let next = fetch(0);
  next.catch(() => undefined); // a walk stopped early must not leave an unhandled rejection
  for (;;) {
    const r = await next;
    const n = r.rows.length;
    if (n === 0) return;
    const last = Number((r.rows[n - 1] as [string, string])[0]);
    next = n === page ? fetch(last) : Promise.resolve({ rows: [] } as never);
    next.catch(() => undefined);
    let out = "";
    for (const row of r.rows) out += row[1];
    yield out;
  }
}

export async function loadCheckpoints(db: Queryable): Promise<Checkpoint[]> {
  const r = await db.query<{
    seq: string;
    row_hash: Buffer;
    signed_at: string;
    key_id: string;
    signature: Buffer;
  }>(
    `SELECT seq, row_hash, to_char(signed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS signed_at, key_id, signature
       FROM audit_checkpoints ORDER BY seq`,
  );
  return r.rows.map((c) => ({ ...c, seq: Number(c.seq) }));
}

/** Public checkpoint keys as stored (the CLI may pin its own instead). */
export async function loadAuditKeys(db: Queryable): Promise<Map<string, KeyObject>> {
  const r = await db.query<{ id: string; public_jwk: Record<string, string> }>(
    "SELECT id, public_jwk FROM signing_keys WHERE purpose = 'audit'",
  );
  return new Map(r.rows.map((k) => [k.id, createPublicKey({ key: k.public_jwk as never, format: "jwk" })]));
}

/**
 * Rows in seq order as {@link RenderedRow}s, in pages (the next page fetched while one is
 * hashed): the raw text columns go straight into `canonicalRow`, the hashes stay hex.
 */
export async function* walkRendered(db: Queryable, page = 10_000): AsyncGenerator<RenderedRow[]> {
  const fetch = (after: number) =>
    db.query({
      text: `${ROW_SQL} WHERE seq > $1 ORDER BY seq LIMIT ${page}`,
      values: [after],
      rowMode: "array",
      types: raw,
    }) as Promise<pg.QueryArrayResult<(string | null)[]>>;
  let next = fetch(0);
  next.catch(() => undefined);
  for (;;) {
    const r = await next;
    const n = r.rows.length;
    if (n === 0) return;
    next =
      n === page ? fetch(Number((r.rows[n - 1] as string[])[0])) : Promise.resolve({ rows: [] } as never);
    next.catch(() => undefined);
    yield r.rows.map((a) => {
      const content = rowContent(a);
      return {
        seq: content.seq,
        prev_hex: (a[14] as string).slice(2),
        row_hex: (a[15] as string).slice(2),
        canonical: canonicalRow(content),
      };
    });
  }
}

/** One row as stored (for a recheck), if it exists. */
async function readRow(db: Queryable, seq: number): Promise<ChainRow | undefined> {
  return (await queryRows(db, "WHERE seq = $1", [seq]))[0];
}

/**
 * Re-walk the whole chain on the fast path (`walkRendered`, `ChainWalker.pushRendered`); a
 * row whose content hash disagrees is re-read and judged by `ChainWalker.push`.
 */
export async function verifyChain(
  db: Queryable,
  keys: Map<string, KeyObject> | ((id: string) => KeyObject | undefined),
  head?: { seq: number; row_hash: Buffer },
): Promise<VerifyResult> {
  const keyFor = typeof keys === "function" ? keys : (id: string) => keys.get(id);
  const walker = new ChainWalker(await loadCheckpoints(db), keyFor);
  outer: for await (const rows of walkRendered(db)) {
    for (const r of rows) {
      let ok = walker.pushRendered(r);
      if (ok === "recheck") {
        const stored = await readRow(db, r.seq);
        ok = stored ? walker.push(stored) : walker.failContent(r.seq);
      }
      if (!ok) break outer;
    }
  }
  return walker.finish(head);
}
