/**
 * API-key verification for gateways: shape + checksum first (no database work for
 * garbage), then one indexed lookup and one HMAC compared in constant time. The role is
 * read from the store on every verification; a key never grants more than its user's
 * role does today.
 */
import { Errors, type Principal, type ResourceScope, type Role, RolePerms } from "@edgeplane/proto";
import type pg from "pg";
import { keyMatches, parseKey } from "./api-keys.ts";

interface KeyRow {
  id: string;
  user_id: string;
  username: string;
  role: Role;
  secret_hash: Buffer;
  scopes: string[];
  resources: ResourceScope | null;
  rate_limit_rpm: number | null;
  expires_at: Date;
}

export async function verifyApiKey(
  db: pg.Pool,
  pepper: Buffer,
  key: string,
  maxTtlMs: number,
): Promise<{ principal: Principal; cache_ttl_ms: number }> {
  const parsed = parseKey(key);
  if (!parsed) throw Errors.InvalidCredentials.create();
  const r = await db.query<KeyRow>(
    `SELECT k.id, k.user_id, u.username, u.role, k.secret_hash, k.scopes, k.resources, k.rate_limit_rpm, k.expires_at
       FROM api_keys k JOIN users u ON u.id = k.user_id
      WHERE k.id = $1 AND k.revoked_at IS NULL AND u.deleted_at IS NULL`,
    [parsed.id],
  );
  const row = r.rows[0];
  if (!row || !keyMatches(pepper, key, row.secret_hash)) throw Errors.InvalidCredentials.create();
  const now = Date.now();
  if (row.expires_at.getTime() <= now) throw Errors.InvalidCredentials.withMessage("the API key has expired");
  const allowed = new Set<string>(RolePerms[row.role]);
  const permissions = row.scopes.filter((s) => allowed.has(s)).sort() as Principal["permissions"];
  const principal: Principal = {
    kind: "api_key",
    user_id: row.user_id,
    username: row.username,
    role: row.role,
    key_id: row.id,
    permissions,
    resources: row.resources,
  };
  if (row.rate_limit_rpm) principal.rate_limit_rpm = row.rate_limit_rpm;
  // Lazily record use; never on the hot path's critical section.
  void db
    .query(
      "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
      [row.id],
    )
    .catch(() => undefined);
  return { principal, cache_ttl_ms: Math.max(0, Math.min(maxTtlMs, row.expires_at.getTime() - now)) };
}
