/**
 * API-key administration. The secret is returned once; scopes are expanded from aliases
 * and must be within the creator's permissions; the resource scope is never wider than
 * the creator's; at most 50 active keys per user. Revocation is broadcast so every
 * gateway drops its cached verification at once.
 */
import {
  Errors,
  expandScopes,
  keysCreateRoute,
  keysDeleteRoute,
  keysListRoute,
  Perm,
  type ResourceScope,
} from "@edgeplane/proto";
import { generateKey, hashKey } from "./api-keys.ts";
import { audit, type Deps, event, invalidate, requirePrincipal, tx } from "./deps.ts";
import { narrowScope } from "./verify.ts";

export const MAX_ACTIVE_KEYS = 50;

interface KeyRow {
  id: string;
  prefix: string;
  user_id: string;
  name: string;
  description: string;
  scopes: string[];
  resources: ResourceScope | null;
  rate_limit_rpm: number | null;
  expires_at: Date;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}
const KEY_COLUMNS =
  "id, prefix, user_id, name, description, scopes, resources, rate_limit_rpm, expires_at, created_at, last_used_at, revoked_at";

const iso = (d: Date | null) => (d ? d.toISOString() : null);
function keyView(k: KeyRow) {
  return {
    id: k.id,
    prefix: k.prefix,
    user_id: k.user_id,
    name: k.name,
    description: k.description,
    scopes: k.scopes,
    resources: k.resources,
    rate_limit_rpm: k.rate_limit_rpm,
    expires_at: k.expires_at.toISOString(),
    created_at: k.created_at.toISOString(),
    last_used_at: iso(k.last_used_at),
    revoked_at: iso(k.revoked_at),
  };
}

export function registerKeys(d: Deps): void {
  const { svc, db, pepper } = d;

  svc.route(keysCreateRoute, async (req, ctx) => {
    const actor = requirePrincipal(ctx);
    const { perms } = expandScopes(req.body.scopes);
    const beyond = perms.filter((p) => !actor.permissions.includes(p));
    if (beyond.length > 0)
      throw Errors.Forbidden.withMessage(`scopes beyond your own permissions: ${beyond.join(", ")}`, {
        scopes: beyond,
      });
    const resources = narrowScope(
      actor.resources ?? null,
      (req.body.resources as ResourceScope | null) ?? null,
    );
    const key = generateKey();
    const row = await tx(db, async (c) => {
      // Serialise key creation per user so the count cannot be raced past the cap.
      await c.query("SELECT id FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", [actor.user_id]);
      const n = await c.query<{ n: string }>(
        "SELECT count(*) AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()",
        [actor.user_id],
      );
      if (Number(n.rows[0]?.n ?? 0) >= MAX_ACTIVE_KEYS)
        throw Errors.TooManyKeys.create({ max: MAX_ACTIVE_KEYS }, { max: MAX_ACTIVE_KEYS });
      const r = await c.query<KeyRow>(
        `INSERT INTO api_keys (id, user_id, name, description, prefix, secret_hash, scopes, resources, rate_limit_rpm, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(days => $10)) RETURNING ${KEY_COLUMNS}`,
        [
          key.id,
          actor.user_id,
          req.body.name,
          req.body.description ?? "",
          key.prefix,
          hashKey(pepper, key.key),
          perms,
          resources ? JSON.stringify(resources) : null,
          req.body.rate_limit_rpm ?? null,
          req.body.expires_in_days,
        ],
      );
      return r.rows[0] as KeyRow;
    });
    await audit(d, ctx, {
      action: "api_key.create",
      category: "auth",
      result: "success",
      target_type: "api_key",
      target_id: row.id,
      summary: {
        name: row.name,
        scopes: row.scopes,
        resources,
        expires_at: row.expires_at.toISOString(),
        rate_limit_rpm: row.rate_limit_rpm,
      },
    });
    // The event names the key, never its secret.
    await event(d, ctx, {
      type: "auth.key.created",
      resource: { kind: "api_key", name: row.id },
      data: {
        key_id: row.id,
        name: row.name,
        prefix: row.prefix,
        user_id: row.user_id,
        scopes: row.scopes,
        expires_at: row.expires_at.toISOString(),
      },
    });
    return { ...keyView(row), key: key.key };
  });

  svc.route(keysListRoute, async (req, ctx) => {
    const actor = requirePrincipal(ctx);
    const q = req.query;
    const userId = q.user_id ?? actor.user_id;
    if (userId !== actor.user_id && !actor.permissions.includes(Perm.UsersAdmin))
      throw Errors.Forbidden.create({ required: Perm.UsersAdmin }, { permission: Perm.UsersAdmin });
    const where = q.include_revoked
      ? "user_id = $1"
      : "user_id = $1 AND revoked_at IS NULL AND expires_at > now()";
    const total = Number(
      (await db.query<{ n: string }>(`SELECT count(*) AS n FROM api_keys WHERE ${where}`, [userId])).rows[0]
        ?.n ?? 0,
    );
    const sortable = new Set(["name", "created_at", "expires_at", "last_used_at"]);
    const sort = q.sort && sortable.has(q.sort) ? q.sort : "created_at";
    const r = await db.query<KeyRow>(
      `SELECT ${KEY_COLUMNS} FROM api_keys WHERE ${where} ORDER BY ${sort} ${q.order === "desc" ? "DESC" : "ASC"}, id
       LIMIT $2 OFFSET $3`,
      [userId, q.per_page, (q.page - 1) * q.per_page],
    );
    return {
      items: r.rows.map(keyView),
      total,
      page: q.page,
      per_page: q.per_page,
      pages: Math.max(1, Math.ceil(total / q.per_page)),
    };
  });

  svc.route(keysDeleteRoute, async (req, ctx) => {
    const actor = requirePrincipal(ctx);
    const admin = actor.permissions.includes(Perm.UsersAdmin);
    // `fresh`: revoked by this statement (now() is the statement's transaction time), not before.
    const r = await db.query<KeyRow & { fresh: boolean }>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
        WHERE id = $1 AND (user_id = $2 OR $3) RETURNING ${KEY_COLUMNS}, revoked_at = now() AS fresh`,
      [req.params.id, actor.user_id, admin],
    );
    const row = r.rows[0];
    // Someone else's key looks like no key at all.
    if (!row) throw Errors.NotFound.withMessage("no such API key");
    invalidate(d, { key_id: row.id });
    await audit(d, ctx, {
      action: "api_key.revoke",
      category: "auth",
      result: "success",
      target_type: "api_key",
      target_id: row.id,
      summary: { name: row.name, owner: row.user_id },
    });
    if (row.fresh)
      await event(d, ctx, {
        type: "auth.key.revoked",
        resource: { kind: "api_key", name: row.id },
        data: { key_id: row.id, name: row.name, user_id: row.user_id, reason: "revoked through the API" },
      });
    return keyView(row);
  });
}
