/**
 * User administration: create, list, get, change role/scope, soft delete, admin password
 * reset. A principal may only grant roles strictly below its own and only manage users
 * strictly below it (or itself); the last live owner can be neither demoted nor removed.
 */
import {
  canGrant,
  Errors,
  newId,
  type Principal,
  type ResourceScope,
  type Role,
  RoleLevel,
  usersCreateRoute,
  usersDeleteRoute,
  usersGetRoute,
  usersListRoute,
  usersResetPasswordAliasRoute,
  usersResetPasswordRoute,
  usersUpdateRoute,
} from "@edgeplane/proto";
import type pg from "pg";
import {
  audit,
  type Deps,
  event,
  invalidate,
  isUniqueViolation,
  publishTokenVersion,
  requirePrincipal,
  tx,
} from "./deps.ts";
import { hashPassword } from "./passwords.ts";
import { USER_COLUMNS, type UserRow, userView } from "./principal.ts";
import { narrowScope } from "./verify.ts";

function mayManage(actor: Principal, target: UserRow): boolean {
  return target.id === actor.user_id || RoleLevel[target.role] < RoleLevel[actor.role as Role];
}

async function lockUser(c: pg.PoolClient, id: string): Promise<UserRow> {
  const r = await c.query<UserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`,
    [id],
  );
  const u = r.rows[0];
  if (!u) throw Errors.NotFound.withMessage("no such user");
  return u;
}

async function assertNotLastOwner(c: pg.PoolClient, target: UserRow): Promise<void> {
  if (target.role !== "owner") return;
  // Lock every live owner row so two concurrent demotions cannot both pass.
  const r = await c.query("SELECT id FROM users WHERE role = 'owner' AND deleted_at IS NULL FOR UPDATE");
  if ((r.rowCount ?? 0) <= 1) throw Errors.LastOwner.create();
}

/** End everything a user holds: sessions, refresh tokens, token version; optionally API keys. */
export async function revokeUserCredentials(
  c: pg.PoolClient,
  userId: string,
  opts: {
    keys: boolean;
    exceptSession?: string | undefined;
    /** Filled with the API keys this call revoked (for their `auth.key.revoked` events). */
    revokedKeys?: Array<{ id: string; name: string }>;
  },
): Promise<number> {
  await c.query(
    "UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2",
    [userId, opts.exceptSession ?? null],
  );
  await c.query("UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", [
    userId,
  ]);
  await c.query("UPDATE refresh_families SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", [
    userId,
  ]);
  if (opts.keys) {
    const k = await c.query<{ id: string; name: string }>(
      "UPDATE api_keys SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL RETURNING id, name",
      [userId],
    );
    opts.revokedKeys?.push(...k.rows);
  }
  const v = await c.query<{ token_version: number }>(
    "UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING token_version",
    [userId],
  );
  return (v.rows[0] as { token_version: number }).token_version;
}

export function registerUsers(d: Deps): void {
  const { svc, db } = d;

  svc.route(usersCreateRoute, async (req, ctx) => {
    const actor = requirePrincipal(ctx);
    const role = req.body.role as Role;
    if (!canGrant(actor.role as Role, role))
      throw Errors.Forbidden.withMessage(`a ${actor.role} can only grant roles below its own, not '${role}'`);
    const resources = narrowScope(
      actor.resources ?? null,
      (req.body.resources as ResourceScope | null) ?? null,
    );
    const hash = await hashPassword(req.body.password);
    let row: UserRow;
    try {
      const r = await db.query<UserRow>(
        `INSERT INTO users (id, username, password_hash, role, resources) VALUES ($1, $2, $3, $4, $5) RETURNING ${USER_COLUMNS}`,
        [newId("usr"), req.body.username, hash, role, resources ? JSON.stringify(resources) : null],
      );
      row = r.rows[0] as UserRow;
    } catch (err) {
      if (isUniqueViolation(err))
        throw Errors.Conflict.withMessage(`username '${req.body.username}' is taken`);
      throw err;
    }
    await audit(d, ctx, {
      action: "user.create",
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: row.id,
      summary: { username: row.username, role, resources },
    });
    return userView(row);
  });

  svc.route(usersListRoute, async (req) => {
    const q = req.query;
    const sortable = new Set(["username", "role", "created_at", "updated_at"]);
    const sort = q.sort && sortable.has(q.sort) ? q.sort : "created_at";
    const order = q.order === "desc" ? "DESC" : "ASC";
    const where = q.include_deleted ? "" : "WHERE deleted_at IS NULL";
    const total = Number(
      (await db.query<{ n: string }>(`SELECT count(*) AS n FROM users ${where}`)).rows[0]?.n ?? 0,
    );
    const r = await db.query<UserRow>(
      `SELECT ${USER_COLUMNS} FROM users ${where} ORDER BY ${sort} ${order}, id LIMIT $1 OFFSET $2`,
      [q.per_page, (q.page - 1) * q.per_page],
    );
    return {
      items: r.rows.map(userView),
      total,
      page: q.page,
      per_page: q.per_page,
      pages: Math.max(1, Math.ceil(total / q.per_page)),
    };
  });

  svc.route(usersGetRoute, async (req) => {
    const r = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [req.params.id]);
    const u = r.rows[0];
    if (!u) throw Errors.NotFound.withMessage("no such user");
    return userView(u);
  });

  svc.route(usersUpdateRoute, async (req, ctx) => {
    const actor = requirePrincipal(ctx);
    const { row, before } = await tx(db, async (c) => {
      const target = await lockUser(c, req.params.id);
      if (!mayManage(actor, target))
        throw Errors.Forbidden.withMessage(
          `a ${actor.role} cannot change a user whose role is '${target.role}'`,
        );
      const role = (req.body.role as Role | undefined) ?? target.role;
      if (role !== target.role) {
        if (!canGrant(actor.role as Role, role))
          throw Errors.Forbidden.withMessage(
            `a ${actor.role} can only grant roles below its own, not '${role}'`,
          );
        await assertNotLastOwner(c, target);
      }
      const resources =
        req.body.resources === undefined
          ? target.resources
          : narrowScope(actor.resources ?? null, (req.body.resources as ResourceScope | null) ?? null);
      const r = await c.query<UserRow>(
        `UPDATE users SET role = $2, resources = $3, updated_at = now() WHERE id = $1 RETURNING ${USER_COLUMNS}`,
        [target.id, role, resources ? JSON.stringify(resources) : null],
      );
      return { row: r.rows[0] as UserRow, before: target };
    });
    invalidate(d, { user_id: row.id });
    await audit(d, ctx, {
      action: "user.update",
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: row.id,
      summary: {
        username: row.username,
        role: { from: before.role, to: row.role },
        resources: row.resources,
      },
    });
    return userView(row);
  });

  svc.route(usersDeleteRoute, async (req, ctx) => {
    const actor = requirePrincipal(ctx);
    const revokedKeys: Array<{ id: string; name: string }> = [];
    const { row, version } = await tx(db, async (c) => {
      const target = await lockUser(c, req.params.id);
      if (!mayManage(actor, target))
        throw Errors.Forbidden.withMessage(
          `a ${actor.role} cannot remove a user whose role is '${target.role}'`,
        );
      await assertNotLastOwner(c, target);
      const version = await revokeUserCredentials(c, target.id, { keys: true, revokedKeys });
      const r = await c.query<UserRow>(
        `UPDATE users SET deleted_at = now(), updated_at = now() WHERE id = $1 RETURNING ${USER_COLUMNS}`,
        [target.id],
      );
      return { row: r.rows[0] as UserRow, version };
    });
    invalidate(d, { user_id: row.id });
    await publishTokenVersion(d, row.id, version);
    await audit(d, ctx, {
      action: "user.delete",
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: row.id,
      summary: { username: row.username },
    });
    for (const k of revokedKeys)
      await event(d, ctx, {
        type: "auth.key.revoked",
        resource: { kind: "api_key", name: k.id },
        data: { key_id: k.id, name: k.name, user_id: row.id, reason: "owner deleted" },
      });
    return userView(row);
  });

  async function resetPassword(
    ctx: Parameters<Parameters<typeof svc.route>[1]>[1],
    find: { id?: string; username?: string },
    password: string,
  ) {
    const actor = requirePrincipal(ctx);
    const hash = await hashPassword(password);
    const { row, version } = await tx(db, async (c) => {
      let id = find.id;
      if (!id) {
        const r = await c.query<{ id: string }>(
          "SELECT id FROM users WHERE username = $1 AND deleted_at IS NULL",
          [find.username],
        );
        id = r.rows[0]?.id;
        if (!id) throw Errors.NotFound.withMessage("no such user");
      }
      const target = await lockUser(c, id);
      if (target.id === actor.user_id || !mayManage(actor, target))
        throw Errors.Forbidden.withMessage(
          target.id === actor.user_id
            ? "use change-password for your own password"
            : `a ${actor.role} cannot reset the password of a '${target.role}'`,
        );
      await c.query("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1", [
        target.id,
        hash,
      ]);
      const version = await revokeUserCredentials(c, target.id, { keys: false });
      return { row: target, version };
    });
    invalidate(d, { user_id: row.id });
    await publishTokenVersion(d, row.id, version);
    await audit(d, ctx, {
      action: "user.reset_password",
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: row.id,
      summary: { username: row.username },
    });
    return { ok: true };
  }

  svc.route(usersResetPasswordRoute, (req, ctx) =>
    resetPassword(ctx, { id: req.params.id }, req.body.new_password),
  );
  svc.route(usersResetPasswordAliasRoute, (req, ctx) =>
    resetPassword(ctx, { username: req.body.username }, req.body.new_password),
  );
}
