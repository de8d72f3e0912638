/**
 * Controllers: registration with sealed credentials (never returned), the per-vendor
 * checks the route schema cannot express (which credentials, which URL scheme, an
 * explicit TLS/host-key decision), listing, and the vendor catalogue as JSON.
 */
import {
  ADAPTER_VENDORS,
  type AdapterControllerCreate,
  type AdapterControllerUpdate,
  type AdapterCredentials,
  type AdapterTlsSettings,
  type AdapterVendor,
  Errors,
  type FieldIssue,
  type HandlerContext,
  newId,
  type Principal,
  validationError,
} from "@edgeplane/proto";
import { z } from "zod";
import { audit, type Deps } from "./pipeline.ts";
import {
  addHistory,
  type ChangeRow,
  type ControllerRow,
  getController,
  isUniqueViolation,
  scopeOf,
} from "./store.ts";

type Ctx = Pick<HandlerContext, "principal" | "requestId" | "sourceIp" | "log">;

/** What the vendor needs that the generic schema cannot say. */
export function vendorIssues(
  vendor: AdapterVendor,
  baseUrl: string,
  creds: AdapterCredentials,
  tls: AdapterTlsSettings,
): FieldIssue[] {
  const def = ADAPTER_VENDORS[vendor];
  const out: FieldIssue[] = [];
  const scheme = new URL(baseUrl).protocol;
  if (vendor === "linux" && scheme !== "ssh:")
    out.push({ field: "base_url", message: "the linux driver needs ssh://host[:port]", type: "custom" });
  if (vendor !== "linux" && scheme === "ssh:")
    out.push({
      field: "base_url",
      message: `the ${vendor} driver needs http(s)://host[:port]`,
      type: "custom",
    });
  for (const k of def.credentials)
    if (!creds[k])
      out.push({
        field: `credentials.${k}`,
        message: `the ${vendor} driver needs ${k}`,
        type: "invalid_type",
      });
  for (const group of def.credentialsOneOf ?? [])
    if (!group.some((k) => creds[k as keyof AdapterCredentials]))
      out.push({
        field: "credentials",
        message: `one of ${group.join(", ")} is needed`,
        type: "invalid_type",
      });
  if (vendor === "linux" && tls.verify && !tls.host_key_sha256)
    out.push({
      field: "tls.host_key_sha256",
      message: "verify=true needs the host key fingerprint to pin (or an explicit verify=false)",
      type: "invalid_type",
    });
  if (vendor !== "linux" && tls.host_key_sha256)
    out.push({ field: "tls.host_key_sha256", message: "only SSH drivers pin host keys", type: "custom" });
  return out;
}

function credentialFields(c: AdapterCredentials): string[] {
  return Object.entries(c)
    .filter(([, v]) => typeof v === "string" && v.length > 0)
    .map(([k]) => k)
    .sort();
}

export async function createController(
  deps: Deps,
  body: AdapterControllerCreate,
  ctx: Ctx,
): Promise<ControllerRow> {
  const issues = vendorIssues(body.vendor, body.base_url, body.credentials, body.tls);
  if (issues.length) throw validationError(issues);
  const id = newId("ctl");
  try {
    const r = await deps.db.query<ControllerRow>(
      `INSERT INTO adapter_controllers (id, name, vendor, base_url, credentials_sealed, credential_fields, tls, site, tags, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [
        id,
        body.name,
        body.vendor,
        body.base_url,
        deps.sealer.seal(body.credentials, id),
        credentialFields(body.credentials),
        JSON.stringify(body.tls),
        body.site ?? null,
        body.tags ?? [],
        ctx.principal?.user_id ?? null,
      ],
    );
    const row = r.rows[0] as ControllerRow;
    await audit(
      deps,
      {
        action: "controller.create",
        category: "adapters",
        result: "success",
        target_type: "adapter_controller",
        target_id: id,
        summary: {
          name: body.name,
          vendor: body.vendor,
          base_url: body.base_url,
          credential_fields: row.credential_fields,
          tls_verify: body.tls.verify,
        },
      },
      ctx,
    );
    return row;
  } catch (err) {
    if (isUniqueViolation(err))
      throw Errors.Conflict.withMessage(`a controller named ${body.name} exists`, { field: "name" });
    throw err;
  }
}

export async function updateController(
  deps: Deps,
  id: string,
  body: AdapterControllerUpdate,
  ctx: Ctx,
): Promise<ControllerRow> {
  const cur = await getController(deps.db, id, ctx.principal);
  const creds = body.credentials ?? deps.sealer.open<AdapterCredentials>(cur.credentials_sealed, cur.id);
  const tls = body.tls ?? cur.tls;
  const baseUrl = body.base_url ?? cur.base_url;
  const issues = vendorIssues(cur.vendor, baseUrl, creds, tls);
  if (issues.length) throw validationError(issues);
  try {
    const r = await deps.db.query<ControllerRow>(
      `UPDATE adapter_controllers SET name = $2, base_url = $3, credentials_sealed = $4, credential_fields = $5,
              tls = $6, site = $7, tags = $8, updated_at = now()
        WHERE id = $1 AND deleted_at IS NULL RETURNING *`,
      [
        id,
        body.name ?? cur.name,
        baseUrl,
        body.credentials ? deps.sealer.seal(body.credentials, id) : cur.credentials_sealed,
        body.credentials ? credentialFields(body.credentials) : cur.credential_fields,
        JSON.stringify(tls),
        body.site === undefined ? cur.site : body.site,
        body.tags ?? cur.tags,
      ],
    );
    const row = r.rows[0];
    if (!row) throw Errors.NotFound.withMessage("no such controller");
    await audit(
      deps,
      {
        action: "controller.update",
        category: "adapters",
        result: "success",
        target_type: "adapter_controller",
        target_id: id,
        summary: { fields: Object.keys(body).sort(), credentials_replaced: body.credentials !== undefined },
      },
      ctx,
    );
    return row;
  } catch (err) {
    if (isUniqueViolation(err))
      throw Errors.Conflict.withMessage("a controller with that name exists", { field: "name" });
    throw err;
  }
}

/** Soft delete; staged changes are discarded; refused while a change is active. */
export async function deleteController(deps: Deps, id: string, ctx: Ctx): Promise<ChangeRow[]> {
  await getController(deps.db, id, ctx.principal);
  const client = await deps.db.connect();
  let discarded: ChangeRow[] = [];
  try {
    await client.query("BEGIN");
    await client.query("SELECT id FROM adapter_controllers WHERE id = $1 FOR UPDATE", [id]);
    const active = await client.query(
      "SELECT id, status FROM adapter_changes WHERE controller_id = $1 AND status IN ('applying', 'pending_confirm')",
      [id],
    );
    if (active.rowCount)
      throw Errors.Conflict.withMessage("a change is being applied to this controller", {
        active_change: active.rows[0]?.id,
      });
    discarded = (
      await client.query<ChangeRow>(
        "UPDATE adapter_changes SET status = 'discarded', updated_at = now() WHERE controller_id = $1 AND status = 'staged' RETURNING *",
        [id],
      )
    ).rows;
    for (const ch of discarded)
      await addHistory(
        client,
        ch.id,
        "staged",
        "discarded",
        ctx.principal?.username ?? "system",
        "controller deleted",
      );
    await client.query(
      "UPDATE adapter_controllers SET deleted_at = now(), updated_at = now() WHERE id = $1",
      [id],
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  await audit(
    deps,
    {
      action: "controller.delete",
      category: "adapters",
      result: "success",
      target_type: "adapter_controller",
      target_id: id,
      summary: { discarded_changes: discarded.map((c) => c.id) },
    },
    ctx,
  );
  return discarded;
}

export async function listControllers(
  deps: Deps,
  q: {
    page: number;
    per_page: number;
    vendor?: string | undefined;
    site?: string | undefined;
    tag?: string | undefined;
  },
  p: Principal | undefined,
): Promise<{ rows: ControllerRow[]; total: number }> {
  const where = ["deleted_at IS NULL"];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace("?", `$${args.length}`));
  };
  if (q.vendor) add("vendor = ?", q.vendor);
  if (q.site) add("site = ?", q.site);
  if (q.tag) add("? = ANY(tags)", q.tag);
  const scope = scopeOf(p);
  if (scope) add("id = ANY(?)", scope);
  const w = where.join(" AND ");
  const total = Number(
    (await deps.db.query<{ n: string }>(`SELECT count(*) AS n FROM adapter_controllers WHERE ${w}`, args))
      .rows[0]?.n ?? 0,
  );
  const rows = (
    await deps.db.query<ControllerRow>(
      `SELECT * FROM adapter_controllers WHERE ${w} ORDER BY name LIMIT ${q.per_page} OFFSET ${(q.page - 1) * q.per_page}`,
      args,
    )
  ).rows;
  return { rows, total };
}

/** The catalogue as the API shows it (payload schemas as JSON Schema). */
export function vendorList() {
  return {
    items: Object.values(ADAPTER_VENDORS).map((v) => ({
      vendor: v.vendor,
      title: v.title,
      transport: v.transport,
      credentials: [...v.credentials, ...(v.credentialsOneOf ?? []).map((g) => g.join("|"))],
      features: v.features.map((f) => ({
        name: f.name,
        description: f.description,
        readable: f.readable,
        operations: [...f.operations],
        catastrophic: [...f.catastrophic],
        rollback: f.rollback,
        data_schema: f.data
          ? (z.toJSONSchema(f.data, { io: "input", unrepresentable: "any" }) as Record<string, unknown>)
          : null,
      })),
    })),
  };
}
