/**
 * The authorisation matrix's model: the credential types, what each should get on each
 * route (derived from the route's `auth`/`permission`/`scope` and the role's permissions,
 * never listed by hand), and the request sent for a cell. `matrix.test.ts` runs it.
 */
import { ALL_PERMS, type Perm, ROLES, type Role, RolePerms, type RouteSpec } from "@edgeplane/proto";

export const CREDENTIALS = [
  /** Browser session with its `X-CSRF-Token`. */
  "session_csrf",
  /** Browser session, no CSRF token: mutations refused (`csrf_failed`), safe methods pass. */
  "session_no_csrf",
  /** Access JWT from `POST /auth/token`. */
  "jwt",
  /** API key whose scopes are exactly the route's permission (all of the role's on routes without one). */
  "key_with",
  /** API key with every permission but the route's (a minimal key on routes without one). */
  "key_without",
  /** API key past its expiry. */
  "key_expired",
  /** API key revoked with `DELETE /api-keys/{id}`. */
  "key_revoked",
  /** API key with every permission, scoped to other resources than the one requested. */
  "key_scope_foreign",
  /** API key with every permission, scoped to exactly the requested resources. */
  "key_scope_own",
] as const;
export type CredentialType = (typeof CREDENTIALS)[number];

export { ROLES };

/**
 * Routes that need a credential but no permission: what any authenticated principal may
 * do to itself. A new `auth: "principal"` route without a `permission` must be added
 * here on purpose (the guard test fails otherwise).
 */
export const SELF_SERVICE_ROUTES: ReadonlySet<string> = new Set([
  "auth.me",
  "auth.logout",
  "auth.logout_all",
  "auth.csrf_token",
  "auth.sessions_list",
  "auth.sessions_delete",
  "auth.mfa_setup",
  "auth.mfa_enable",
  "auth.mfa_disable",
  "auth.change_password",
]);

/** Routes that need no credential at all; a new public route must be added here on purpose. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  "health.liveness",
  "health.readiness",
  "setup.status",
  "setup.complete",
  "auth.login",
  "auth.login_mfa",
  "auth.token",
  "auth.refresh",
  "auth.password_reset_request",
  "auth.password_reset_confirm",
  // The WebSocket authenticates in its first message (ticket/credential), not on upgrade.
  "events.ws",
  // Single-use peer-config links: the token in the path is the credential.
  "wireguard.links.redeem",
]);

/**
 * Allowed cells whose request, though made harmless where possible, ends the caller's own
 * credentials (logout ends the session; logout-all every session and access token of the
 * user). They run after the rest of the matrix, one at a time, with freshly minted
 * sessions and tokens.
 */
export const SELF_REVOKING_ROUTES: ReadonlySet<string> = new Set(["auth.logout", "auth.logout_all"]);

/** The resource requested on routes with a `scope` (unless the scope names a fixed one). */
export const TARGET = "c1";
export const FOREIGN = "other";

export type Expected =
  | { kind: "pass" }
  | {
      kind: "deny";
      status: 401 | 403 | 404;
      code: "invalid_credentials" | "forbidden" | "csrf_failed" | "not_found";
    };

export const isMutation = (r: RouteSpec) => r.mutation ?? r.method !== "GET";

/**
 * The expected outcome of one cell, in the order the gateway decides: public routes ignore
 * credentials; a dead credential is 401; a cookie-only mutation without CSRF is 403
 * `csrf_failed`; a principal lacking the route's permission is 403; a scoped principal on
 * another resource gets 404 (the permission is checked first); everything else passes.
 */
export function expected(route: RouteSpec, role: Role, cred: CredentialType): Expected {
  if (route.auth === "public") return { kind: "pass" };
  if (cred === "key_expired" || cred === "key_revoked")
    return { kind: "deny", status: 401, code: "invalid_credentials" };
  if (cred === "session_no_csrf" && isMutation(route))
    return { kind: "deny", status: 403, code: "csrf_failed" };
  const p = route.permission;
  if (p) {
    const rolePerms = RolePerms[role] as readonly string[];
    // key_with holds exactly p, key_without everything but p; both are cut to the role.
    const has = cred === "key_without" ? false : rolePerms.includes(p);
    if (!has) return { kind: "deny", status: 403, code: "forbidden" };
  }
  if (route.scope && cred === "key_scope_foreign") return { kind: "deny", status: 404, code: "not_found" };
  return { kind: "pass" };
}

/**
 * The scopes of the API keys a matrix user holds. Every key is created while the user is
 * an admin (all permissions) and the user is then moved to its role, so the keys of an
 * operator or viewer also hold permissions their role no longer grants: the gateway must
 * cut them to the role (the role is read from the store at every verification).
 */
export function keyScopes(route: RouteSpec, cred: CredentialType): { name: string; scopes: Perm[] } {
  const p = route.permission;
  if (cred === "key_with")
    return p ? { name: `only:${p}`, scopes: [p] } : { name: "all", scopes: [...ALL_PERMS] };
  if (cred === "key_without") {
    if (!p) return { name: `only:${MINIMAL_PERM}`, scopes: [MINIMAL_PERM] };
    return { name: `all-but:${p}`, scopes: ALL_PERMS.filter((x) => x !== p) };
  }
  return { name: cred, scopes: [...ALL_PERMS] };
}
const MINIMAL_PERM: Perm = "mesh:read";

/** Every key a matrix user needs, by name (see {@link keyScopes}). */
export function keySet(): Map<string, { scopes: Perm[]; resources?: Record<string, string[]> }> {
  const out = new Map<string, { scopes: Perm[]; resources?: Record<string, string[]> }>();
  out.set("all", { scopes: [...ALL_PERMS] });
  for (const p of ALL_PERMS) {
    out.set(`only:${p}`, { scopes: [p] });
    out.set(`all-but:${p}`, { scopes: ALL_PERMS.filter((x) => x !== p) });
  }
  out.set("key_expired", { scopes: [...ALL_PERMS] });
  out.set("key_revoked", { scopes: [...ALL_PERMS] });
  const scoped = (names: string[]) => ({
    haproxy_clusters: names,
    wg_interfaces: names,
    adapter_controllers: names,
  });
  out.set("key_scope_foreign", { scopes: [...ALL_PERMS], resources: scoped([FOREIGN]) });
  // "default" is the fixed cluster of the PatchPanel aliases (`/api/state`, …).
  out.set("key_scope_own", {
    scopes: [...ALL_PERMS],
    resources: { ...scoped([TARGET]), haproxy_clusters: [TARGET, "default"] },
  });
  return out;
}

/** A harmless value for a path parameter that is not the scoped resource. */
const FILLER = "mtx_0000000000000000";

/** The concrete path of a cell: the scoped resource is the target, other params fillers. */
export function concretePath(route: RouteSpec, template: string): string {
  return template.replace(/\{(\w+)\}/g, (_m, k: string) =>
    encodeURIComponent(route.scope && k === route.scope.param ? TARGET : FILLER),
  );
}

/**
 * The body of a cell's request: one the route's own schema rejects (first of: none, null,
 * [], "", 0), so an allowed mutation stops at validation (422) after authorisation and
 * changes nothing. `undefined` = send no body.
 */
export function rejectedBody(route: RouteSpec): { body?: string; contentType?: string } {
  if (!route.body) return {};
  const text = route.bodyType === "text";
  const candidates: unknown[] = [undefined, null, [], "", 0];
  for (const c of candidates) {
    if (route.body.safeParse(c).success) continue;
    if (c === undefined) return {};
    return text
      ? { body: String(c), contentType: "text/plain" }
      : { body: JSON.stringify(c), contentType: "application/json" };
  }
  throw new Error(`route ${route.id}: its body schema accepts every harmless candidate`);
}

/** `{id, method, path}` for every path (canonical and aliases) of every route. */
export function routePaths(table: readonly RouteSpec[]): Array<{ route: RouteSpec; template: string }> {
  return table.flatMap((route) =>
    [route.path, ...(route.aliases ?? [])].map((template) => ({ route, template })),
  );
}
