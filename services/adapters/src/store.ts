/**
 * PostgreSQL rows of the adapters service and their API views. Status transitions are
 * conditional updates (`… WHERE status = 'staged' RETURNING`), and at most one change
 * per controller can be `applying` or `pending_confirm` (a partial unique index), so
 * any number of workers can serve the same controller without in-memory coordination.
 */
import type {
  AdapterChangeStatus,
  AdapterChangeView,
  AdapterControllerView,
  AdapterOperation,
  AdapterRisk,
  AdapterTlsSettings,
  AdapterVendor,
  Principal,
} from "@edgeplane/proto";
import { Errors } from "@edgeplane/proto";
import type pg from "pg";

export type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

export interface ControllerRow {
  id: string;
  name: string;
  vendor: AdapterVendor;
  base_url: string;
  credentials_sealed: Buffer;
  credential_fields: string[];
  tls: AdapterTlsSettings;
  site: string | null;
  tags: string[];
  created_at: Date;
  updated_at: Date;
}

export interface ActorRecord {
  user_id: string;
  username: string;
  role: string;
}

export interface ChangeRow {
  id: string;
  controller_id: string;
  vendor: AdapterVendor;
  feature: string;
  operation: AdapterOperation;
  target_id: string | null;
  payload: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  diff: Array<{ field: string; before: unknown; after: unknown }>;
  risk: AdapterRisk;
  catastrophic: boolean;
  rollback_kind: "native" | "snapshot" | "inverse" | "none";
  status: AdapterChangeStatus;
  comment: string | null;
  staged_by: ActorRecord;
  applied_by: ActorRecord | null;
  rollback_sealed: Buffer | null;
  result: Record<string, unknown> | null;
  error: { code: string; message: string } | null;
  applying_since: Date | null;
  applying_owner: string | null;
  confirm_deadline: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface HistoryRow {
  at: Date;
  from_status: AdapterChangeStatus | null;
  to_status: AdapterChangeStatus;
  actor: string;
  note: string | null;
}

export function controllerView(r: ControllerRow): AdapterControllerView {
  return {
    id: r.id,
    name: r.name,
    vendor: r.vendor,
    base_url: r.base_url,
    credentials_set: r.credential_fields.length > 0,
    credential_fields: [...r.credential_fields].sort(),
    tls: {
      verify: r.tls.verify,
      ca_pem_set: Boolean(r.tls.ca_pem),
      host_key_sha256: r.tls.host_key_sha256 ?? null,
    },
    site: r.site,
    tags: r.tags,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export function changeView(r: ChangeRow, history?: HistoryRow[]): AdapterChangeView {
  const v: AdapterChangeView = {
    id: r.id,
    controller_id: r.controller_id,
    vendor: r.vendor,
    feature: r.feature,
    operation: r.operation,
    target_id: r.target_id,
    payload: r.payload,
    before: r.before,
    after: r.after,
    diff: r.diff,
    risk: r.risk,
    catastrophic: r.catastrophic,
    rollback: r.rollback_kind,
    status: r.status,
    comment: r.comment,
    staged_by: r.staged_by as AdapterChangeView["staged_by"],
    applied_by: (r.applied_by as AdapterChangeView["applied_by"]) ?? null,
    confirm_deadline: r.confirm_deadline?.toISOString() ?? null,
    result: r.result,
    error: r.error,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
  if (history)
    v.history = history.map((h) => ({
      at: h.at.toISOString(),
      from: h.from_status,
      to: h.to_status,
      actor: h.actor,
      note: h.note,
    }));
  return v;
}

/** The principal's allowed controllers, or undefined when unrestricted. */
export function scopeOf(p: Principal | undefined): string[] | undefined {
  return p?.resources?.adapter_controllers ?? undefined;
}

export async function getController(
  db: Queryable,
  id: string,
  p: Principal | undefined,
): Promise<ControllerRow> {
  const scope = scopeOf(p);
  if (scope && !scope.includes(id)) throw Errors.NotFound.withMessage("no such controller");
  const r = await db.query<ControllerRow>(
    "SELECT * FROM adapter_controllers WHERE id = $1 AND deleted_at IS NULL",
    [id],
  );
  const row = r.rows[0];
  if (!row) throw Errors.NotFound.withMessage("no such controller");
  return row;
}

export async function getChange(
  db: Queryable,
  id: string,
  p: Principal | undefined,
  lock = false,
): Promise<ChangeRow> {
  const r = await db.query<ChangeRow>(
    `SELECT * FROM adapter_changes WHERE id = $1${lock ? " FOR UPDATE" : ""}`,
    [id],
  );
  const row = r.rows[0];
  const scope = scopeOf(p);
  if (!row || (scope && !scope.includes(row.controller_id)))
    throw Errors.NotFound.withMessage("no such change");
  return row;
}

export async function historyOf(db: Queryable, changeId: string): Promise<HistoryRow[]> {
  const r = await db.query<HistoryRow>(
    "SELECT at, from_status, to_status, actor, note FROM adapter_change_history WHERE change_id = $1 ORDER BY id",
    [changeId],
  );
  return r.rows;
}

export async function addHistory(
  db: Queryable,
  changeId: string,
  from: AdapterChangeStatus | null,
  to: AdapterChangeStatus,
  actor: string,
  note: string | null = null,
): Promise<void> {
  await db.query(
    "INSERT INTO adapter_change_history (change_id, from_status, to_status, actor, note) VALUES ($1, $2, $3, $4, $5)",
    [changeId, from, to, actor, note],
  );
}

/**
 * Move a change from one status to another, only if it is still in `from`. Returns the
 * updated row, or undefined when another request or worker moved it first.
 */
export async function transition(
  db: Queryable,
  id: string,
  from: AdapterChangeStatus,
  to: AdapterChangeStatus,
  set: Record<string, unknown> = {},
): Promise<ChangeRow | undefined> {
  const cols = Object.keys(set);
  const assigns = cols.map((c, i) => `${c} = $${i + 4}`);
  const sql = `UPDATE adapter_changes SET status = $3, updated_at = now()${assigns.length ? `, ${assigns.join(", ")}` : ""}
                WHERE id = $1 AND status = $2 RETURNING *`;
  const r = await db.query<ChangeRow>(sql, [id, from, to, ...cols.map((c) => set[c])]);
  return r.rows[0];
}

/** True for PostgreSQL's unique-violation error. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === "23505" && (constraint === undefined || e.constraint === constraint);
}
