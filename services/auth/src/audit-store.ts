/**
 * Reading the audit table fast and exactly as hashed: text columns as text (no type
 * parsing), `time` rendered by PostgreSQL in the canonical ISO form, keyset pagination
 * by `seq` (bounded memory), the next page fetched while the current one is hashed.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import type pg from "pg";
import { type ChainRow, ChainWalker, type Checkpoint, type VerifyResult } from "./audit-chain.ts";

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.Client, "query">;

export const TIME_SQL = `to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const ROW_SQL = `SELECT seq, event_id, ${TIME_SQL}, actor_type, actor_id, actor_name, action, category, target_type,
  target_id, result, request_id, source_ip, summary, prev_hash, row_hash FROM audit_log`;

const raw = { getTypeParser: () => (v: string) => v };
const hex = (v: string) => Buffer.from(v.slice(2), "hex");

function toRow(a: (string | null)[]): ChainRow {
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
    prev_hash: hex(a[14] as string),
    row_hash: hex(a[15] as string),
  };
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

/** Re-walk the whole chain. */
export async function verifyChain(
  db: Queryable,
  keys: Map<string, KeyObject> | ((id: string) => KeyObject | undefined),
  head?: { seq: number; row_hash: Buffer },
): Promise<VerifyResult> {
  const keyFor = typeof keys === "function" ? keys : (id: string) => keys.get(id);
  const walker = new ChainWalker(await loadCheckpoints(db), keyFor);
  outer: for await (const rows of walkRows(db)) {
    for (const r of rows) if (!walker.push(r)) break outer;
  }
  return walker.finish(head);
}
