/**
 * The staged-write pipeline: stage (never touches the device) → inspect → apply behind
 * two gates (`force` in the request and `EP_ADAPTER_READ_ONLY=false` in the deployment)
 * → confirm, or roll back when the commit-confirm window closes. Catastrophic operations
 * need role ≥ admin at stage and at apply. Every transition is recorded in the change's
 * history, audited, and published as an event. All coordination between workers goes
 * through the database: conditional status transitions, a partial unique index (one
 * active change per controller) and `FOR UPDATE SKIP LOCKED` in the sweeper.
 */
import {
  type AdapterChangeStatus,
  type AdapterFeatureDef,
  type AuditInput,
  adapterFeature,
  buildAuditEvent,
  EpError,
  Errors,
  type FieldIssue,
  type HandlerContext,
  type Logger,
  type Principal,
  publishAudit,
  publishEvent,
  type Role,
  RoleLevel,
  toEpError,
  validationError,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import type { AdaptersConfig } from "./config.ts";
import { driverFor } from "./drivers/index.ts";
import type { ChangeSpec, Conn, Item } from "./drivers/types.ts";
import type { Sealer } from "./seal.ts";
import {
  type ActorRecord,
  addHistory,
  type ChangeRow,
  type ControllerRow,
  getChange,
  getController,
  isUniqueViolation,
  transition,
} from "./store.ts";

export interface Deps {
  db: pg.Pool;
  sealer: Sealer;
  config: AdaptersConfig;
  js: JetStreamClient;
  log: Logger;
  /** This worker's instance name (recorded as the owner of applies it runs). */
  instance: string;
}

type Ctx = Pick<HandlerContext, "principal" | "requestId" | "sourceIp" | "log">;

const SYSTEM_ACTOR = { actor_type: "system", actor_id: null, actor_name: "adapters" } as const;

/** The device connection of a controller row (credentials unsealed only here). */
export function connOf(deps: Deps, row: ControllerRow, timeoutMs: number, log: Logger): Conn {
  return {
    controllerId: row.id,
    baseUrl: row.base_url,
    credentials: deps.sealer.open(row.credentials_sealed, row.id),
    tls: row.tls,
    timeoutMs,
    log,
  };
}

function actorOf(p: Principal | undefined): ActorRecord {
  if (!p) throw Errors.Unauthenticated.create();
  return { user_id: p.user_id, username: p.username, role: p.role };
}

function needsAdmin(p: Principal | undefined): boolean {
  return !p || RoleLevel[p.role as Role] < RoleLevel.admin;
}

export async function audit(deps: Deps, input: AuditInput, ctx: Ctx | undefined): Promise<void> {
  const ev = buildAuditEvent(
    ctx ? input : { ...input, actor: SYSTEM_ACTOR },
    ctx ?? { principal: undefined, requestId: undefined, sourceIp: undefined },
  );
  await publishAudit(deps.js, ev);
}

const EVENT_TYPES: Partial<Record<AdapterChangeStatus, string>> = {
  staged: "adapters.change.staged",
  applied: "adapters.change.applied",
  pending_confirm: "adapters.change.applied",
  failed: "adapters.change.failed",
  rolled_back: "adapters.change.rolled_back",
  discarded: "adapters.change.discarded",
};

/** Audit (awaited: nothing is lost) then publish the event (logged if it fails) of one transition. */
export async function recordTransition(
  deps: Deps,
  row: ChangeRow,
  from: AdapterChangeStatus | null,
  ctx: Ctx | undefined,
  extra: {
    note?: string;
    reason?: "not_confirmed" | "failed" | "manual";
    result?: "success" | "failure" | "denied";
  } = {},
): Promise<void> {
  await audit(
    deps,
    {
      action: `change.${row.status}`,
      category: "adapters",
      result: extra.result ?? (row.status === "failed" ? "failure" : "success"),
      target_type: "adapter_change",
      target_id: row.id,
      summary: {
        controller_id: row.controller_id,
        feature: row.feature,
        operation: row.operation,
        target_id: row.target_id,
        from,
        to: row.status,
        risk: row.risk,
        ...(row.error ? { error: row.error.code } : {}),
        ...(extra.note ? { note: extra.note } : {}),
      },
    },
    ctx,
  );
  const type = EVENT_TYPES[row.status];
  if (!type) return;
  const summary = `${row.operation} ${row.feature}${row.target_id ? ` ${row.target_id}` : ""}${extra.note ? ` (${extra.note})` : ""}`;
  const data: Record<string, unknown> = {
    change_id: row.id,
    vendor: row.vendor,
    summary: summary.slice(0, 1024),
  };
  if (row.status === "failed") data.error = row.error ?? { code: "adapter_error", message: "failed" };
  if (row.status === "rolled_back") data.reason = extra.reason ?? "not_confirmed";
  try {
    await publishEvent(
      deps.js,
      { type, resource: { kind: "controller", name: row.controller_id }, data } as Parameters<
        typeof publishEvent
      >[1],
      ctx ? { principal: ctx.principal, requestId: ctx.requestId } : { system: `adapters/${deps.instance}` },
    );
  } catch (err) {
    deps.log.warn({ err, change: row.id, type }, "could not publish change event");
  }
}

// --- stage ------------------------------------------------------------------------------

function featureOr422(vendor: ControllerRow["vendor"], feature: string): AdapterFeatureDef {
  const f = adapterFeature(vendor, feature);
  if (!f)
    throw validationError([
      {
        field: "feature",
        message: `the ${vendor} driver has no feature '${feature}'`,
        type: "invalid_value",
      },
    ]);
  return f;
}

/** Keep only the fields a feature's schema knows (drop ids, handles, read-only extras). */
function specOf(f: AdapterFeatureDef, item: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!item) return null;
  if (!f.data)
    return Object.fromEntries(Object.entries(item).filter(([, v]) => typeof v !== "object" || v === null));
  const keys = Object.keys(f.data.shape);
  return Object.fromEntries(Object.entries(item).filter(([k]) => keys.includes(k)));
}

export function diffOf(
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): Array<{ field: string; before: unknown; after: unknown }> {
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  const out = [];
  for (const k of keys) {
    const b = before?.[k] ?? null;
    const a = after?.[k] ?? null;
    if (JSON.stringify(b) !== JSON.stringify(a)) out.push({ field: k, before: b, after: a });
  }
  return out;
}

function validateData(f: AdapterFeatureDef, value: Record<string, unknown>): Record<string, unknown> {
  const schema = f.data;
  if (!schema) throw new Error("feature has no data schema");
  const r = schema.safeParse(value);
  const issues: FieldIssue[] = [];
  if (!r.success)
    for (const i of r.error.issues)
      issues.push({ field: ["data", ...i.path.map(String)].join("."), message: i.message, type: i.code });
  else issues.push(...(f.check?.(r.data as Record<string, unknown>) ?? []));
  if (issues.length > 0 || !r.success) throw validationError(issues);
  return r.data as Record<string, unknown>;
}

export interface StageInput {
  controllerId: string;
  feature: string;
  operation: ChangeRow["operation"];
  body: { id?: string | undefined; data?: Record<string, unknown> | undefined; comment?: string | undefined };
}

export async function stage(
  deps: Deps,
  input: StageInput,
  ctx: Ctx,
  newId: () => string,
): Promise<ChangeRow> {
  const actor = actorOf(ctx.principal);
  const ctl = await getController(deps.db, input.controllerId, ctx.principal);
  const f = featureOr422(ctl.vendor, input.feature);
  const op = input.operation;
  if (!f.operations.includes(op))
    throw validationError([
      {
        field: "operation",
        message: `${ctl.vendor} ${f.name} supports ${f.operations.length ? f.operations.join(", ") : "no operations (read only)"}`,
        type: "invalid_value",
      },
    ]);
  const catastrophic = f.catastrophic.includes(op);
  if (catastrophic && needsAdmin(ctx.principal)) {
    await audit(
      deps,
      {
        action: "change.stage",
        category: "adapters",
        result: "denied",
        target_type: "adapter_controller",
        target_id: ctl.id,
        summary: { feature: f.name, operation: op, reason: "catastrophic_needs_admin", role: actor.role },
      },
      ctx,
    );
    throw Errors.Forbidden.withMessage(
      `${op} on ${f.name} is catastrophic: staging it needs role admin or higher`,
      {
        required_role: "admin",
        role: actor.role,
      },
    );
  }

  // Shape checks, all reported at once.
  const issues: FieldIssue[] = [];
  const needsId = (op === "update" || op === "delete") && f.id !== undefined;
  const needsData = op === "create" || op === "update";
  if (needsId && !input.body.id)
    issues.push({ field: "id", message: `${op} needs the target's id`, type: "invalid_type" });
  if (needsId && input.body.id && f.id && !f.id.safeParse(input.body.id).success)
    issues.push({
      field: "id",
      message: f.id.safeParse(input.body.id).error?.issues[0]?.message ?? "invalid id",
      type: "invalid_format",
    });
  if (!needsId && input.body.id !== undefined)
    issues.push({ field: "id", message: `${op} takes no id`, type: "unrecognized_keys" });
  if (needsData && !input.body.data)
    issues.push({ field: "data", message: `${op} needs data`, type: "invalid_type" });
  if (!needsData && input.body.data !== undefined)
    issues.push({ field: "data", message: `${op} takes no data`, type: "unrecognized_keys" });
  if (needsData && input.body.data && op === "update" && f.data) {
    const unknown = f.data.partial().strict().safeParse(input.body.data);
    if (!unknown.success)
      for (const i of unknown.error.issues)
        issues.push({ field: ["data", ...i.path.map(String)].join("."), message: i.message, type: i.code });
  }
  if (issues.length) throw validationError(issues);
  const dataIn = input.body.data ?? {};
  if (op === "create") validateData(f, dataIn); // before touching the device

  // The device's current state of the target (read only; never a write).
  const driver = driverFor(ctl.vendor);
  let beforeItem: Item | null = null;
  if (needsId) {
    const c = connOf(deps, ctl, deps.config.EP_ADAPTER_READ_TIMEOUT_MS, ctx.log);
    beforeItem = await driver.get(c, f.name, input.body.id as string);
  } else if (op === "delete" && f.readable) {
    const c = connOf(deps, ctl, deps.config.EP_ADAPTER_READ_TIMEOUT_MS, ctx.log);
    beforeItem = (await driver.read(c, f.name))[0] ?? null;
  }
  if (beforeItem && beforeItem.managed === false && op === "update")
    throw validationError([
      {
        field: "id",
        message: "this object has parts the driver does not model; it can only be deleted",
        type: "custom",
      },
    ]);
  const beforeSpec = specOf(f, beforeItem);
  let after: Record<string, unknown> | null = null;
  if (op === "create") after = validateData(f, dataIn);
  else if (op === "update") after = validateData(f, { ...beforeSpec, ...dataIn });
  else if (op === "reboot") after = { action: "reboot" };
  const before = op === "reboot" ? { action: "running" } : beforeSpec;

  const row = (
    await deps.db.query<ChangeRow>(
      `INSERT INTO adapter_changes (id, controller_id, vendor, feature, operation, target_id, payload, before, after, diff,
                                    risk, catastrophic, rollback_kind, status, comment, staged_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'staged', $14, $15) RETURNING *`,
      [
        newId(),
        ctl.id,
        ctl.vendor,
        f.name,
        op,
        needsId ? input.body.id : null,
        JSON.stringify({ operation: op, id: input.body.id ?? null, data: after }),
        before ? JSON.stringify(needsId ? beforeItem : before) : null,
        after ? JSON.stringify(after) : null,
        JSON.stringify(diffOf(before, after)),
        f.risk[op] ?? "medium",
        catastrophic,
        f.rollback,
        input.body.comment ?? null,
        JSON.stringify(actor),
      ],
    )
  ).rows[0] as ChangeRow;
  await addHistory(deps.db, row.id, null, "staged", actor.username);
  await recordTransition(deps, row, null, ctx);
  return row;
}

// --- apply ------------------------------------------------------------------------------

function specFor(row: ChangeRow): ChangeSpec {
  return {
    id: row.id,
    feature: row.feature,
    operation: row.operation,
    targetId: row.target_id,
    data: row.after,
    before: row.before as Item | null,
  };
}

function errorInfo(err: unknown): { code: string; message: string } {
  const e = toEpError(err);
  return { code: e.code, message: e.message };
}

export async function apply(
  deps: Deps,
  changeId: string,
  body: { force: boolean; confirm_within?: number | undefined },
  ctx: Ctx,
): Promise<ChangeRow> {
  const actor = actorOf(ctx.principal);
  const ch = await getChange(deps.db, changeId, ctx.principal);
  const denied = async (reason: string, extra: Record<string, unknown> = {}) =>
    audit(
      deps,
      {
        action: "change.apply",
        category: "adapters",
        result: "denied",
        target_type: "adapter_change",
        target_id: ch.id,
        summary: { controller_id: ch.controller_id, reason, ...extra },
      },
      ctx,
    );
  if (ch.catastrophic && needsAdmin(ctx.principal)) {
    await denied("catastrophic_needs_admin", { role: actor.role });
    throw Errors.Forbidden.withMessage(
      `${ch.operation} on ${ch.feature} is catastrophic: applying it needs role admin or higher`,
      { required_role: "admin", role: actor.role },
    );
  }
  const missing: string[] = [];
  const reasons: string[] = [];
  if (body.force !== true) {
    missing.push("force");
    reasons.push('the request must carry {"force": true}');
  }
  if (deps.config.EP_ADAPTER_READ_ONLY) {
    missing.push("EP_ADAPTER_READ_ONLY");
    reasons.push("the deployment is read-only (EP_ADAPTER_READ_ONLY=true): changes stay staged");
  }
  if (missing.length) {
    await denied("gate_closed", { missing_gates: missing });
    throw Errors.AdapterApplyGated.withMessage(`apply refused: ${reasons.join("; and ")}`, {
      missing_gates: missing,
    });
  }
  const f = adapterFeature(ch.vendor, ch.feature);
  if (body.confirm_within !== undefined) {
    if (!f || f.rollback === "none")
      throw validationError([
        {
          field: "confirm_within",
          message: `${ch.operation} on ${ch.feature} cannot be rolled back`,
          type: "custom",
        },
      ]);
    if (f.maxConfirmWithin !== undefined && body.confirm_within > f.maxConfirmWithin)
      throw validationError([
        {
          field: "confirm_within",
          message: `the ${ch.vendor} rollback timer allows at most ${f.maxConfirmWithin} s`,
          type: "too_big",
        },
      ]);
  }

  // staged → applying: exactly one request, on one worker, wins.
  let row: ChangeRow | undefined;
  try {
    row = await transition(deps.db, ch.id, "staged", "applying", {
      applying_since: new Date(),
      applying_owner: deps.instance,
      applied_by: JSON.stringify(actor),
    });
  } catch (err) {
    if (isUniqueViolation(err, "adapter_changes_one_active")) {
      const busy = await deps.db.query<{ id: string; status: string }>(
        "SELECT id, status FROM adapter_changes WHERE controller_id = $1 AND status IN ('applying', 'pending_confirm')",
        [ch.controller_id],
      );
      throw Errors.Conflict.withMessage("another change is being applied to this controller", {
        active_change: busy.rows[0]?.id,
        active_status: busy.rows[0]?.status,
      });
    }
    throw err;
  }
  if (!row) {
    const now = await getChange(deps.db, ch.id, ctx.principal);
    throw Errors.Conflict.withMessage(`the change is ${now.status}, not staged`, { status: now.status });
  }
  await addHistory(deps.db, row.id, "staged", "applying", actor.username);
  await recordTransition(deps, row, "staged", ctx);

  const ctl = await getController(deps.db, row.controller_id, undefined);
  const c = connOf(deps, ctl, deps.config.EP_ADAPTER_WRITE_TIMEOUT_MS, ctx.log);
  const driver = driverFor(ctl.vendor);
  const spec = specFor(row);
  try {
    // The device must still be as it was when the change was staged.
    if (spec.targetId && (row.operation === "update" || row.operation === "delete") && f?.id) {
      const now = await driver.get(c, row.feature, spec.targetId);
      const before = diffOf(specOf(f, row.before), specOf(f, now));
      if (before.length)
        throw Errors.Conflict.withMessage("the device changed since the change was staged; stage it again", {
          changed: before.map((d) => d.field),
        });
    }
    const out = await driver.apply(c, spec, { confirmWithin: body.confirm_within });
    const sealed = deps.sealer.seal(out.rollback ?? null, row.id);
    const cw = body.confirm_within;
    const next = await transition(deps.db, row.id, "applying", cw ? "pending_confirm" : "applied", {
      result: JSON.stringify(out.result),
      rollback_sealed: sealed,
      confirm_deadline: cw ? new Date(Date.now() + cw * 1000) : null,
      target_id: row.target_id ?? (typeof out.result.id === "string" ? out.result.id : null),
    });
    if (!next) {
      ctx.log.error({ change: row.id }, "change left applying while the device applied it");
      throw Errors.Conflict.withMessage("the change timed out while applying; check the device");
    }
    const note = cw ? `confirm within ${cw} s` : null;
    await addHistory(deps.db, row.id, "applying", next.status, actor.username, note);
    await recordTransition(deps, next, "applying", ctx, note ? { note } : {});
    return next;
  } catch (err) {
    const info = errorInfo(err);
    if (!(err instanceof EpError)) ctx.log.error({ err, change: row.id }, "apply failed");
    const failed = await transition(deps.db, row.id, "applying", "failed", { error: JSON.stringify(info) });
    if (failed) {
      await addHistory(deps.db, row.id, "applying", "failed", actor.username, info.code);
      await recordTransition(deps, failed, "applying", ctx);
    }
    throw err;
  }
}

// --- confirm, discard ------------------------------------------------------------------

export async function confirm(deps: Deps, changeId: string, ctx: Ctx): Promise<ChangeRow> {
  const actor = actorOf(ctx.principal);
  const client = await deps.db.connect();
  let outcome: { row: ChangeRow; from: AdapterChangeStatus; error?: EpError } | undefined;
  try {
    await client.query("BEGIN");
    const ch = await getChange(client, changeId, ctx.principal, true);
    if (ch.status !== "pending_confirm")
      throw Errors.Conflict.withMessage(`the change is ${ch.status}, not pending_confirm`, {
        status: ch.status,
      });
    if (!ch.confirm_deadline || ch.confirm_deadline.getTime() <= Date.now())
      throw Errors.Conflict.withMessage("the confirm window has closed; the change is being rolled back", {
        status: ch.status,
      });
    const ctl = await getController(client, ch.controller_id, undefined);
    const c = connOf(deps, ctl, deps.config.EP_ADAPTER_WRITE_TIMEOUT_MS, ctx.log);
    const token = ch.rollback_sealed ? deps.sealer.open(ch.rollback_sealed, ch.id) : null;
    try {
      await driverFor(ctl.vendor).confirm(c, specFor(ch), token);
    } catch (err) {
      if (!Errors.Conflict.is(err)) throw err;
      // The device's own timer already rolled it back.
      const rb = (await transition(client, ch.id, "pending_confirm", "rolled_back", {
        error: JSON.stringify({
          code: "not_confirmed",
          message: "the device rolled the change back before the confirm",
        }),
        confirm_deadline: null,
      })) as ChangeRow;
      await addHistory(client, ch.id, "pending_confirm", "rolled_back", "system", "device timer");
      await client.query("COMMIT");
      outcome = { row: rb, from: "pending_confirm", error: err };
    }
    if (!outcome) {
      const row = (await transition(client, ch.id, "pending_confirm", "applied", {
        confirm_deadline: null,
      })) as ChangeRow;
      await addHistory(client, ch.id, "pending_confirm", "applied", actor.username, "confirmed");
      await client.query("COMMIT");
      outcome = { row, from: "pending_confirm" };
    }
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  if (outcome.error) {
    await recordTransition(deps, outcome.row, outcome.from, undefined, {
      reason: "not_confirmed",
      note: "device timer",
    });
    throw outcome.error;
  }
  await recordTransition(deps, outcome.row, outcome.from, ctx, { note: "confirmed" });
  return outcome.row;
}

export async function discard(deps: Deps, changeId: string, ctx: Ctx): Promise<ChangeRow> {
  const actor = actorOf(ctx.principal);
  const ch = await getChange(deps.db, changeId, ctx.principal);
  const row = await transition(deps.db, ch.id, "staged", "discarded");
  if (!row) {
    const now = await getChange(deps.db, ch.id, ctx.principal);
    throw Errors.Conflict.withMessage(`the change is ${now.status}; only staged changes can be discarded`, {
      status: now.status,
    });
  }
  await addHistory(deps.db, row.id, "staged", "discarded", actor.username);
  await recordTransition(deps, row, "staged", ctx);
  return row;
}

// --- the sweeper --------------------------------------------------------------------------

/**
 * One sweep: roll back every change whose commit-confirm window has closed, and fail
 * every change stuck in `applying` (its worker died). Any worker may run it at any time;
 * row locks with SKIP LOCKED keep two sweepers (or a sweeper and a confirm) apart.
 */
export async function sweep(deps: Deps): Promise<{ rolledBack: number; failed: number }> {
  let rolledBack = 0;
  let failed = 0;
  const tried: string[] = [];
  for (let i = 0; i < 20; i++) {
    const client = await deps.db.connect();
    let done: { row: ChangeRow; reason: string } | undefined;
    try {
      await client.query("BEGIN");
      const r = await client.query<ChangeRow>(
        `SELECT * FROM adapter_changes
          WHERE status = 'pending_confirm' AND confirm_deadline <= now() AND NOT (id = ANY($1))
          ORDER BY confirm_deadline LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [tried],
      );
      const ch = r.rows[0];
      if (!ch) {
        await client.query("COMMIT");
        break;
      }
      tried.push(ch.id);
      const ctl = await getController(client, ch.controller_id, undefined);
      const log = deps.log.child({ change: ch.id });
      try {
        const token = ch.rollback_sealed ? deps.sealer.open(ch.rollback_sealed, ch.id) : null;
        await driverFor(ctl.vendor).rollback(
          connOf(deps, ctl, deps.config.EP_ADAPTER_WRITE_TIMEOUT_MS, log),
          specFor(ch),
          token,
        );
        const row = (await transition(client, ch.id, "pending_confirm", "rolled_back", {
          error: JSON.stringify({ code: "not_confirmed", message: "not confirmed in time: rolled back" }),
          confirm_deadline: null,
        })) as ChangeRow;
        await addHistory(client, ch.id, "pending_confirm", "rolled_back", "system", "not confirmed in time");
        done = { row, reason: "not_confirmed" };
      } catch (err) {
        const info = errorInfo(err);
        log.warn({ err: info }, "rollback failed");
        const overdue =
          (ch.confirm_deadline?.getTime() ?? 0) + deps.config.EP_ADAPTER_APPLY_TIMEOUT_S * 1000 < Date.now();
        if (overdue) {
          const row = (await transition(client, ch.id, "pending_confirm", "failed", {
            error: JSON.stringify({ code: info.code, message: `rollback failed: ${info.message}` }),
            confirm_deadline: null,
          })) as ChangeRow;
          await addHistory(
            client,
            ch.id,
            "pending_confirm",
            "failed",
            "system",
            `rollback failed: ${info.code}`,
          );
          done = { row, reason: "failed" };
        }
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      deps.log.error({ err }, "sweep failed");
      break;
    } finally {
      client.release();
    }
    if (done) {
      if (done.row.status === "rolled_back") rolledBack++;
      else failed++;
      await recordTransition(deps, done.row, "pending_confirm", undefined, { reason: "not_confirmed" }).catch(
        (err) => deps.log.error({ err }, "could not record a sweep transition"),
      );
    }
  }

  const stuck = await deps.db.query<ChangeRow>(
    `UPDATE adapter_changes SET status = 'failed', updated_at = now(),
            error = jsonb_build_object('code', 'apply_timeout', 'message', 'the worker applying this change stopped answering')
      WHERE status = 'applying' AND applying_since < now() - make_interval(secs => $1)
      RETURNING *`,
    [deps.config.EP_ADAPTER_APPLY_TIMEOUT_S],
  );
  for (const row of stuck.rows) {
    failed++;
    await addHistory(deps.db, row.id, "applying", "failed", "system", "apply timeout");
    await recordTransition(deps, row, "applying", undefined).catch((err) =>
      deps.log.error({ err }, "could not record a sweep transition"),
    );
  }
  return { rolledBack, failed };
}
