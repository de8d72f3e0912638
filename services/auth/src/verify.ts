/**
 * API-key verification for gateways: shape + checksum first (no database work for
 * garbage), then one indexed lookup and one HMAC compared in constant time. The role is
 * read from the store on every verification; a key never grants more than its user's
 * role does today.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { Errors, type Principal, type ResourceScope, type Role, RolePerms } from "@edgeplane/proto";
import type pg from "pg";
import { keyMatches, parseKey } from "./api-keys.ts";
import { USER_COLUMNS, type UserRow, userPrincipal } from "./principal.ts";
import { csrfMatches, parseSecretToken, safeEqual, verifyAccessToken } from "./tokens.ts";

interface KeyRow {
  id: string;
  user_id: string;
  username: string;
  role: Role;
  secret_hash: Buffer;
  scopes: string[];
  resources: ResourceScope | null;
  user_resources: ResourceScope | null;
  rate_limit_rpm: number | null;
  expires_at: Date;
}

/** The intersection of two resource scopes (null = unrestricted). */
export function narrowScope(a: ResourceScope | null, b: ResourceScope | null): ResourceScope | null {
  if (!a) return b;
  if (!b) return a;
  const out: ResourceScope = {};
  for (const k of ["haproxy_clusters", "wg_interfaces", "adapter_controllers"] as const) {
    const x = a[k];
    const y = b[k];
    if (x && y) out[k] = x.filter((n) => y.includes(n));
    else if (x || y) out[k] = (x ?? y) as string[];
  }
  return out;
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
    `SELECT k.id, k.user_id, u.username, u.role, k.secret_hash, k.scopes, k.resources, u.resources AS user_resources, k.rate_limit_rpm, k.expires_at
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
    resources: narrowScope(row.user_resources, row.resources),
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

// --- sessions and access tokens (issue 3) ---

export interface CredentialInput {
  api_key?: string | undefined;
  session?: string | undefined;
  csrf_token?: string | undefined;
  access_token?: string | undefined;
}

/** Public JWT keys by kid, loaded from the store on first sight of a kid. */
export function jwtKeyResolver(db: pg.Pool): (kid: string | undefined) => Promise<KeyObject | undefined> {
  const known = new Map<string, KeyObject>();
  return async (kid) => {
    if (!kid) return undefined;
    const hit = known.get(kid);
    if (hit) return hit;
    const r = await db.query<{ public_jwk: Record<string, string> }>(
      "SELECT public_jwk FROM signing_keys WHERE id = $1 AND purpose = 'jwt'",
      [kid],
    );
    const jwk = r.rows[0]?.public_jwk;
    if (!jwk) return undefined;
    const k = createPublicKey({ key: jwk as never, format: "jwk" });
    known.set(kid, k);
    return k;
  };
}

export async function verifySession(
  db: pg.Pool,
  pepper: Buffer,
  cookie: string,
  csrf: string | undefined,
  maxTtlMs: number,
): Promise<{ principal: Principal; cache_ttl_ms: number }> {
  const parsed = parseSecretToken(cookie, "ses");
  if (!parsed) throw Errors.InvalidCredentials.create();
  const r = await db.query<UserRow & { secret_hash: Buffer; expires_at: Date; session_id: string }>(
    `SELECT s.id AS session_id, s.secret_hash, s.expires_at, ${USER_COLUMNS.split(", ")
      .map((c) => `u.${c}`)
      .join(", ")}
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = $1 AND s.revoked_at IS NULL AND u.deleted_at IS NULL`,
    [parsed.id],
  );
  const row = r.rows[0];
  if (!row || !safeEqual(row.secret_hash, parsed.secretHash)) throw Errors.InvalidCredentials.create();
  const now = Date.now();
  if (row.expires_at.getTime() <= now) throw Errors.InvalidCredentials.withMessage("the session has expired");
  if (csrf !== undefined && !csrfMatches(pepper, row.session_id, csrf)) throw Errors.CsrfFailed.create();
  void db
    .query(
      "UPDATE sessions SET last_seen_at = now() WHERE id = $1 AND last_seen_at < now() - interval '1 minute'",
      [row.session_id],
    )
    .catch(() => undefined);
  return {
    principal: userPrincipal(row, "session", { session_id: row.session_id }),
    cache_ttl_ms: Math.max(0, Math.min(maxTtlMs, row.expires_at.getTime() - now)),
  };
}

export async function verifyJwt(
  db: pg.Pool,
  keyFor: (kid: string | undefined) => Promise<KeyObject | undefined>,
  token: string,
  maxTtlMs: number,
): Promise<{ principal: Principal; cache_ttl_ms: number }> {
  const claims = await verifyAccessToken(token, keyFor);
  if (!claims) throw Errors.InvalidCredentials.create();
  const r = await db.query<UserRow & { family_revoked: Date | null }>(
    `SELECT ${USER_COLUMNS.split(", ")
      .map((c) => `u.${c}`)
      .join(", ")}, f.revoked_at AS family_revoked
       FROM users u LEFT JOIN refresh_families f ON f.id = $2
      WHERE u.id = $1 AND u.deleted_at IS NULL`,
    [claims.sub, claims.fam],
  );
  const u = r.rows[0];
  if (!u || u.token_version !== claims.ver || u.family_revoked)
    throw Errors.InvalidCredentials.withMessage("the access token has been revoked");
  const expMs = (claims.exp ?? 0) * 1000;
  return {
    principal: userPrincipal(u, "jwt"),
    cache_ttl_ms: Math.max(0, Math.min(maxTtlMs, expMs - Date.now())),
  };
}

/** One entry point for gateways: exactly one credential per request. */
export async function verifyCredential(
  db: pg.Pool,
  pepper: Buffer,
  keyFor: (kid: string | undefined) => Promise<KeyObject | undefined>,
  input: CredentialInput,
  maxTtlMs: number,
): Promise<{ principal: Principal; cache_ttl_ms: number }> {
  if (input.api_key) return verifyApiKey(db, pepper, input.api_key, maxTtlMs);
  if (input.access_token) return verifyJwt(db, keyFor, input.access_token, maxTtlMs);
  if (input.session) return verifySession(db, pepper, input.session, input.csrf_token, maxTtlMs);
  throw Errors.Unauthenticated.create();
}
