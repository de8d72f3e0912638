/**
 * The authorisation matrix: every path (canonical and alias) of every route in the proto
 * route table × every role × every credential type (matrix.ts: session with and without
 * CSRF, JWT, API key with and without the route's permission, expired key, revoked key,
 * key scoped to another resource, key scoped to this one), against one real mesh (nats,
 * PostgreSQL, auth, gateway). The table is read at run time, so a new route is in the
 * matrix the moment it is in the table, and the expectation of each cell is derived from
 * the route's `auth`/`permission`/`scope`, the role's permissions (`RolePerms`) and the
 * credential — never listed by hand.
 *
 * What is asserted is authorisation only:
 *  - a denied cell gets exactly its status and code: 401 `invalid_credentials` (dead
 *    credential), 403 `csrf_failed` (cookie-only mutation), 403 `forbidden` (permission),
 *    404 `not_found` (a scoped key on another resource);
 *  - an allowed cell gets anything that can only come after authorisation: not 401, 403 or
 *    429, not a 404 on a scoped route (the services behind scoped routes do not run here,
 *    so a 404 could only be the gateway's scope check), and no 5xx except the 503 of the
 *    route's own service not running here (haproxy, wireguard, adapters: "no instance of
 *    haproxy is answering" — the gateway only asks it after authorising). A 503 naming
 *    auth would mean the credential was never checked, so it fails the cell.
 *
 * Requests are made harmless so that allowed cells change nothing: the gateway authorises
 * before it reads the body (403/404 never wait on validation), then validates, so every
 * body is one the route's own schema rejects (→ 422 after authorisation), and path
 * parameters other than the scoped resource are well-formed ids of nothing (→ 404 from
 * the service). What cannot be made harmless is listed: logout and logout-all end the
 * caller's own credentials, so they run last, one cell at a time, each with a freshly
 * minted session or token; MFA setup only stores a pending secret.
 *
 * Keys of the operator and viewer are created while they are admins, then the users are
 * moved to their roles: such keys still name permissions the role lost, and must get
 * exactly the role's (the role is read from the store at every verification).
 */
import {
  ALL_PERMS,
  meRoute,
  type Perm,
  ROLES,
  type Role,
  RolePerms,
  type RouteSpec,
  routes,
} from "@edgeplane/proto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CREDENTIALS,
  type CredentialType,
  concretePath,
  type Expected,
  expected,
  keyScopes,
  keySet,
  PUBLIC_ROUTES,
  rejectedBody,
  routePaths,
  SELF_REVOKING_ROUTES,
  SELF_SERVICE_ROUTES,
} from "./matrix.ts";
import { type AuthMesh, bearer, client, OWNER_PASSWORD, startAuthMesh } from "./mesh.ts";

const PW = "a long enough password";

describe("authorisation matrix - guard rails of the route table", () => {
  it("every route that needs a credential but no permission is a listed self-service route", () => {
    const unlisted = routes
      .filter((r) => r.auth === "principal" && !r.permission && !SELF_SERVICE_ROUTES.has(r.id))
      .map((r) => `${r.id} (${r.method} ${r.path})`);
    expect(
      unlisted,
      "give these routes a permission, or add them to SELF_SERVICE_ROUTES in test/e2e/auth/matrix.ts if any principal may use them on itself",
    ).toEqual([]);
    // The list holds no stale or misfiled entries either.
    for (const id of SELF_SERVICE_ROUTES) {
      const r = routes.find((x) => x.id === id);
      expect(r, `${id} is listed as self-service but is not in the table`).toBeDefined();
      expect(r?.auth, id).toBe("principal");
      expect(r?.permission, id).toBeUndefined();
    }
  });

  it("every public route is listed as public", () => {
    const unlisted = routes.filter((r) => r.auth === "public" && !PUBLIC_ROUTES.has(r.id)).map((r) => r.id);
    expect(unlisted, "add deliberate public routes to PUBLIC_ROUTES in test/e2e/auth/matrix.ts").toEqual([]);
  });

  it("every route can be called harmlessly and has a derived expectation for every cell", () => {
    for (const r of routes) {
      expect(() => rejectedBody(r), r.id).not.toThrow();
      if (r.scope)
        expect(r.path.includes(`{${r.scope.param}}`) || r.scope.fixed !== undefined, r.id).toBe(true);
      for (const role of ROLES) for (const c of CREDENTIALS) expect(expected(r, role, c)).toBeDefined();
    }
    // A few cells spelled out, so the derivation itself is checked.
    const byId = (id: string) => routes.find((r) => r.id === id) as RouteSpec;
    expect(expected(byId("users.list"), "operator", "jwt")).toMatchObject({ status: 403, code: "forbidden" });
    expect(expected(byId("users.list"), "admin", "key_without")).toMatchObject({ status: 403 });
    expect(expected(byId("users.create"), "owner", "session_no_csrf")).toMatchObject({ code: "csrf_failed" });
    expect(expected(byId("users.list"), "owner", "session_no_csrf")).toEqual({ kind: "pass" });
    expect(expected(byId("auth.me"), "viewer", "key_without")).toEqual({ kind: "pass" });
    expect(expected(byId("auth.me"), "viewer", "key_revoked")).toMatchObject({ status: 401 });
    expect(expected(byId("auth.login"), "viewer", "key_expired")).toEqual({ kind: "pass" });
  });
});

interface MatrixUser {
  role: Role;
  username: string;
  password: string;
  id: string;
  /** Key secrets by key-set name (matrix.ts keySet). */
  keys: Map<string, string>;
  session: { cookie: string; csrf: string };
  jwt: string;
}

interface Cell {
  route: RouteSpec;
  template: string;
  role: Role;
  cred: CredentialType;
}

describe("authorisation matrix", () => {
  let mesh: AuthMesh;
  const users = new Map<Role, MatrixUser>();

  async function login(username: string, password: string): Promise<{ cookie: string; csrf: string }> {
    const r = await client(mesh.url)<{ csrf_token: string }>("POST", "/api/v1/auth/login", {
      username,
      password,
    });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
    return { cookie, csrf: r.body.csrf_token };
  }
  async function token(username: string, password: string): Promise<string> {
    const r = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username,
      password,
    });
    if (r.status !== 200) throw new Error(`token ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.access_token;
  }

  /** Create every key of the key set for a user (who must hold every permission now). */
  async function createKeys(jwt: string): Promise<{ keys: Map<string, string>; ids: Map<string, string> }> {
    const c = client(mesh.url, bearer(jwt));
    const keys = new Map<string, string>();
    const ids = new Map<string, string>();
    const entries = [...keySet()];
    await pool(entries, 4, async ([name, spec]) => {
      const r = await c<{ id: string; key: string }>("POST", "/api/v1/api-keys", {
        name: name.slice(0, 60),
        scopes: spec.scopes,
        expires_in_days: 1,
        ...(spec.resources ? { resources: spec.resources } : {}),
      });
      if (r.status !== 201) throw new Error(`key ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      keys.set(name, r.body.key);
      ids.set(name, r.body.id);
    });
    return { keys, ids };
  }

  beforeAll(async () => {
    mesh = await startAuthMesh();
    const owner = client(mesh.url, bearer(mesh.owner.key));
    const db = new pg.Pool({ connectionString: mesh.db.url, max: 2 });
    try {
      const accounts: Array<{ role: Role; username: string; password: string; id: string }> = [
        { role: "owner", username: mesh.owner.username, password: OWNER_PASSWORD, id: mesh.owner.id },
      ];
      // Everyone starts as an admin (every permission) to create its keys; see the header.
      for (const role of ROLES.filter((r) => r !== "owner")) {
        const username = `matrix-${role}`;
        const r = await owner<{ id: string }>("POST", "/api/v1/users", {
          username,
          password: PW,
          role: "admin",
        });
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        accounts.push({ role, username, password: PW, id: r.body.id });
      }
      await Promise.all(
        accounts.map(async (a) => {
          const jwt = await token(a.username, a.password);
          const { keys, ids } = await createKeys(jwt);
          const me = client(mesh.url, bearer(jwt));
          await db.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [
            ids.get("key_expired"),
          ]);
          expect((await me("DELETE", `/api/v1/api-keys/${ids.get("key_revoked")}`)).status).toBe(200);
          if (a.role !== "admin" && a.role !== "owner") {
            const d = await owner("PATCH", `/api/v1/users/${a.id}`, { role: a.role });
            expect(d.status, JSON.stringify(d.body)).toBe(200);
          }
          users.set(a.role, { ...a, keys, session: await login(a.username, a.password), jwt });
        }),
      );
    } finally {
      await db.end();
    }
    // Every live credential is what it claims to be before the matrix starts.
    for (const u of users.values()) {
      for (const cred of ["session_csrf", "jwt", "key_scope_own"] as const) {
        const r = await client(mesh.url, headersOf(u, cred))<{
          principal: { role: string; permissions: Perm[] };
        }>("GET", "/api/v1/auth/me");
        expect(r.status, `${u.role} ${cred}`).toBe(200);
        expect(r.body.principal.role).toBe(u.role);
        expect([...r.body.principal.permissions].sort()).toEqual([...RolePerms[u.role]].sort());
      }
    }
  }, 120_000);
  afterAll(async () => mesh?.dispose());

  function headersOf(u: MatrixUser, cred: CredentialType, route?: RouteSpec): Record<string, string> {
    switch (cred) {
      case "session_csrf":
        return { cookie: u.session.cookie, "x-csrf-token": u.session.csrf };
      case "session_no_csrf":
        return { cookie: u.session.cookie };
      case "jwt":
        return bearer(u.jwt);
      default: {
        const name = route ? keyScopes(route, cred).name : cred;
        const key = u.keys.get(name);
        if (!key) throw new Error(`no key ${name} for ${u.role}`);
        return bearer(key);
      }
    }
  }

  /** One cell: undefined when it matches, else a line for the report. */
  async function runCell(cell: Cell, u: MatrixUser): Promise<string | undefined> {
    const { route, template, role, cred } = cell;
    const path = concretePath(route, template);
    const { body, contentType } = rejectedBody(route);
    const headers = headersOf(u, cred, route);
    if (contentType) headers["content-type"] = contentType;
    const want = expected(route, role, cred);
    let status: number;
    let code: string | undefined;
    let message: string | undefined;
    try {
      const r = await fetch(`${mesh.url}${path}`, {
        method: route.method,
        headers,
        body,
        signal: AbortSignal.timeout(20_000),
      });
      status = r.status;
      // A success says all there is to say in its status; its body may never end (SSE, log
      // tails, exports), so it is dropped. Errors are small JSON envelopes: read their code.
      if (status < 400) await r.body?.cancel();
      else {
        const text = await r.text();
        try {
          const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
          code = e?.code;
          message = e?.message;
        } catch {
          /* not a JSON error */
        }
      }
    } catch (err) {
      return `${route.method} ${path} [${route.id}] ${role}/${cred}: request failed: ${String(err)}`;
    }
    const problem = judge(route, want, status, code, message);
    return problem
      ? `${route.method} ${path} [${route.id}] ${role}/${cred}: ${problem} (got ${status} ${code ?? ""} ${message ?? ""})`
      : undefined;
  }

  it("every route × role × credential gets exactly the expected status", async () => {
    const started = Date.now();
    const all: Cell[] = [];
    for (const { route, template } of routePaths(routes))
      for (const role of ROLES) for (const cred of CREDENTIALS) all.push({ route, template, role, cred });
    const paths = new Set(all.map((c) => `${c.route.method} ${c.template}`)).size;
    expect(all.length).toBe(paths * ROLES.length * CREDENTIALS.length);

    const problems: string[] = [];
    const later = all.filter((c) => SELF_REVOKING_ROUTES.has(c.route.id));
    const now = all.filter((c) => !SELF_REVOKING_ROUTES.has(c.route.id));
    await pool(now, 128, async (c) => {
      const p = await runCell(c, users.get(c.role) as MatrixUser);
      if (p) problems.push(p);
    });

    // Nothing above ended a credential: each still authenticates as before.
    for (const u of users.values())
      for (const cred of CREDENTIALS.filter((c) => c !== "key_expired" && c !== "key_revoked")) {
        const r = await client(mesh.url, headersOf(u, cred, meRoute))("GET", "/api/v1/auth/me");
        if (r.status !== 200)
          problems.push(`${u.role}/${cred} stopped working during the matrix: ${r.status}`);
      }

    // Self-revoking routes last, one cell at a time, sessions and tokens minted per cell.
    for (const c of later) {
      const base = users.get(c.role) as MatrixUser;
      const u = { ...base };
      if (c.cred === "session_csrf" || c.cred === "session_no_csrf")
        u.session = await login(base.username, base.password);
      if (c.cred === "jwt") u.jwt = await token(base.username, base.password);
      const p = await runCell(c, u);
      if (p) problems.push(p);
    }

    const denied = all.filter((c) => expected(c.route, c.role, c.cred).kind === "deny").length;
    console.log(
      `authorisation matrix: ${routes.length} routes, ${paths} paths, ${all.length} cells (${denied} denied) in ${Date.now() - started} ms`,
    );
    expect(problems.sort()).toEqual([]);
  }, 240_000);

  it("keys cannot be created beyond the creator's permissions, so the matrix's keys came from admins", async () => {
    // Fresh tokens: the matrix ended with logout-all.
    const op = users.get("operator") as MatrixUser;
    const c = client(mesh.url, bearer(await token(op.username, op.password)));
    const beyond = ALL_PERMS.filter((p) => !RolePerms.operator.includes(p));
    expect(beyond.length).toBeGreaterThan(0);
    for (const p of beyond) {
      const r = await c<{ error: { code: string } }>("POST", "/api/v1/api-keys", {
        name: "beyond",
        scopes: [p],
        expires_in_days: 1,
      });
      expect(r.status, p).toBe(403);
    }
    const viewer = users.get("viewer") as MatrixUser;
    const v = await client(mesh.url, bearer(await token(viewer.username, viewer.password)))(
      "POST",
      "/api/v1/api-keys",
      {
        name: "viewer",
        scopes: ["wg:read"],
        expires_in_days: 1,
      },
    );
    expect(v.status).toBe(403); // viewers hold no keys:manage
  });
});

/** Why an observed status does not match the expectation, or undefined if it does. */
function judge(
  route: RouteSpec,
  want: Expected,
  status: number,
  code: string | undefined,
  message: string | undefined,
): string | undefined {
  if (want.kind === "deny") {
    return status === want.status && code === want.code ? undefined : `expected ${want.status} ${want.code}`;
  }
  if (status === 401 || status === 403 || status === 429) return "expected to pass authorisation";
  if (status === 404 && route.scope) return "expected to pass the scope check";
  if (status >= 500) {
    const own = route.subject?.split(".")[2];
    const ownService503 =
      status === 503 &&
      code === "service_unavailable" &&
      own !== undefined &&
      own !== "auth" &&
      message === `no instance of ${own} is answering`;
    if (!ownService503) return "expected a reply from after authorisation, not a server error";
  }
  return undefined;
}

/** Run `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
