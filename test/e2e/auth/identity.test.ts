/**
 * auth identity — users, roles, API keys and resource scope through two real gateways,
 * the real auth service, NATS and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../harness/mod.ts";
import { type Frame, subscribed, wsUrl } from "../events/helpers.ts";
import { type AuthMesh, bearer, client, startAuthMesh } from "./mesh.ts";

let mesh: AuthMesh;
let owner: ReturnType<typeof client>;
const PW = "a long enough password";

beforeAll(async () => {
  mesh = await startAuthMesh({ gateways: 2 });
  owner = client(mesh.url, bearer(mesh.owner.key));
});
afterAll(async () => mesh?.dispose());

async function keyFor(
  as: ReturnType<typeof client>,
  body: Record<string, unknown>,
): Promise<{ id: string; key: string; scopes: string[] }> {
  const r = await as<{ id: string; key: string; scopes: string[] }>("POST", "/api/v1/api-keys", {
    name: "k",
    expires_in_days: 1,
    ...body,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

describe("auth - users", () => {
  it("creates users below the caller's role and refuses equal or higher", async () => {
    const admin = await owner("POST", "/api/v1/users", { username: "alice", password: PW, role: "admin" });
    expect(admin.status).toBe(201);
    expect(admin.body).toMatchObject({ username: "alice", role: "admin", deleted_at: null });
    expect(JSON.stringify(admin.body)).not.toContain(PW);
    const dupe = await owner("POST", "/api/v1/users", { username: "alice", password: PW, role: "viewer" });
    expect(dupe.status).toBe(409);
    const ownerAgain = await owner("POST", "/api/v1/users", {
      username: "owner2",
      password: PW,
      role: "owner",
    });
    expect(ownerAgain.status).toBe(403);

    const aliceKey = await keyFor(owner, { scopes: ["users:admin"] });
    void aliceKey;
    // alice (admin) logs in via token and cannot create an admin
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "alice",
      password: PW,
    });
    expect(t.status).toBe(200);
    const alice = client(mesh.url, bearer(t.body.access_token));
    expect(
      (await alice("POST", "/api/v1/users", { username: "bob", password: PW, role: "admin" })).status,
    ).toBe(403);
    expect(
      (await alice("POST", "/api/v1/users", { username: "bob", password: PW, role: "operator" })).status,
    ).toBe(201);
  });

  it("validates the body with field names", async () => {
    const r = await owner<{ error: { details: Array<{ field: string }> } }>("POST", "/api/v1/users", {
      username: "X",
      password: "short",
      role: "king",
    });
    expect(r.status).toBe(422);
    expect(r.body.error.details.map((d) => d.field).sort()).toEqual(["password", "role", "username"]);
  });

  it("lists (also under /api/auth/users), gets, updates and soft-deletes", async () => {
    const c = await owner<{ id: string }>("POST", "/api/v1/users", {
      username: "carol",
      password: PW,
      role: "viewer",
    });
    const list = await owner<{ items: Array<{ username: string }>; total: number }>("GET", "/api/auth/users");
    expect(list.status).toBe(200);
    expect(list.body.items.map((u) => u.username)).toContain("carol");
    const up = await owner("PATCH", `/api/v1/users/${c.body.id}`, {
      role: "operator",
      resources: { haproxy_clusters: ["edge"] },
    });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ role: "operator", resources: { haproxy_clusters: ["edge"] } });
    const del = await owner("DELETE", `/api/v1/users/${c.body.id}`);
    expect(del.status).toBe(200);
    expect(del.body.deleted_at).toBeTruthy();
    const after = await owner<{ items: Array<{ username: string }> }>("GET", "/api/v1/users");
    expect(after.body.items.map((u) => u.username)).not.toContain("carol");
    expect((await owner("GET", "/api/v1/users/usr_0000000000000000")).status).toBe(404);
  });

  it("never removes or demotes the last owner", async () => {
    expect((await owner("DELETE", `/api/v1/users/${mesh.owner.id}`)).status).toBe(409);
    const r = await owner<{ error: { code: string } }>("PATCH", `/api/v1/users/${mesh.owner.id}`, {
      role: "admin",
    });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("last_owner");
  });

  it("admin reset of another user's password, also by username under /api/auth/admin/reset-password", async () => {
    await owner("POST", "/api/v1/users", { username: "dave", password: PW, role: "viewer" });
    const r = await owner("POST", "/api/auth/admin/reset-password", {
      username: "dave",
      new_password: "another long password",
    });
    expect(r.status).toBe(200);
    const anon = client(mesh.url);
    expect((await anon("POST", "/api/v1/auth/token", { username: "dave", password: PW })).status).toBe(401);
    expect(
      (await anon("POST", "/api/v1/auth/token", { username: "dave", password: "another long password" }))
        .status,
    ).toBe(200);
  });
});

describe("auth - API keys", () => {
  it("returns the secret once, lists without it, accepts PatchPanel alias scopes", async () => {
    const k = await keyFor(owner, { scopes: ["read", "wg:read"], description: "ci" });
    expect(k.key).toMatch(/^ep_[0-9a-z]{16}_[0-9a-z]{33}$/);
    expect(k.scopes.sort()).toEqual(["haproxy:read", "stats:read", "wg:read"]);
    const list = await owner<{ items: Array<Record<string, unknown>> }>("GET", "/api/v1/api-keys");
    const listed = list.body.items.find((i) => i.id === k.id);
    expect(listed).toBeTruthy();
    expect(JSON.stringify(list.body)).not.toContain(k.key);
    const me = await client(mesh.url, bearer(k.key))<{ principal: { kind: string; permissions: string[] } }>(
      "GET",
      "/api/v1/auth/me",
    );
    expect(me.status).toBe(200);
    expect(me.body.principal.kind).toBe("api_key");
  });

  it("refuses scopes beyond the creator's permissions, more than 32 scopes, bad expiry", async () => {
    const op = await owner("POST", "/api/v1/users", { username: "oscar", password: PW, role: "operator" });
    expect(op.status).toBe(201);
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "oscar",
      password: PW,
    });
    const oscar = client(mesh.url, bearer(t.body.access_token));
    const r = await oscar<{ error: { code: string } }>("POST", "/api/v1/api-keys", {
      name: "x",
      scopes: ["audit:read"],
      expires_in_days: 1,
    });
    expect(r.status).toBe(403);
    const bad = await oscar<{ error: { details: Array<{ field: string }> } }>("POST", "/api/v1/api-keys", {
      name: "x",
      scopes: Array.from({ length: 33 }, () => "read"),
      expires_in_days: 366,
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d) => d.field).sort()).toEqual(["expires_in_days", "scopes"]);
    const nope = await oscar("POST", "/api/v1/api-keys", {
      name: "x",
      scopes: ["nonsense"],
      expires_in_days: 1,
    });
    expect(nope.status).toBe(422);
  });

  it("caps active keys at 50 per user", async () => {
    await owner("POST", "/api/v1/users", { username: "erin", password: PW, role: "operator" });
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "erin",
      password: PW,
    });
    const erin = client(mesh.url, bearer(t.body.access_token));
    const made = await Promise.all(
      Array.from({ length: 52 }, () =>
        erin("POST", "/api/v1/api-keys", { name: "k", scopes: ["wg:read"], expires_in_days: 1 }),
      ),
    );
    const statuses = made.map((m) => m.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(2);
  });

  it("a revoked key is refused by a second gateway within 1 s", async () => {
    const k = await keyFor(owner, { scopes: ["mesh:read"] });
    const second = client(mesh.gateways[1]?.url as string, bearer(k.key));
    expect((await second("GET", "/api/v1/auth/me")).status).toBe(200); // now cached there
    const t0 = Date.now();
    expect((await owner("DELETE", `/api/v1/api-keys/${k.id}`)).status).toBe(200);
    let status = 200;
    while (Date.now() - t0 < 1000) {
      status = (await second("GET", "/api/v1/auth/me")).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("another user's key cannot be revoked by a non-admin (404)", async () => {
    const k = await keyFor(owner, { scopes: ["wg:read"] });
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "oscar",
      password: PW,
    });
    const oscar = client(mesh.url, bearer(t.body.access_token));
    expect((await oscar("DELETE", `/api/v1/api-keys/${k.id}`)).status).toBe(404);
  });

  it("a scoped key's resource scope can never exceed its creator's", async () => {
    const u = await owner<{ id: string }>("POST", "/api/v1/users", {
      username: "scoped",
      password: PW,
      role: "operator",
      resources: { haproxy_clusters: ["a"] },
    });
    expect(u.status).toBe(201);
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "scoped",
      password: PW,
    });
    const s = client(mesh.url, bearer(t.body.access_token));
    const k = await s<{ resources: unknown; key: string }>("POST", "/api/v1/api-keys", {
      name: "k",
      scopes: ["haproxy:read"],
      expires_in_days: 1,
      resources: { haproxy_clusters: ["a", "b"] },
    });
    expect(k.status).toBe(201);
    expect(k.body.resources).toEqual({ haproxy_clusters: ["a"] });
    const me = await client(mesh.url, bearer(k.body.key))<{ principal: { resources: unknown } }>(
      "GET",
      "/api/v1/auth/me",
    );
    expect(me.body.principal.resources).toEqual({ haproxy_clusters: ["a"] });
  });

  it("creating and revoking keys are events on the other gateway's WebSocket (never the secret), once", async () => {
    const ws = await subscribed(wsUrl(mesh.gateways[1] as never), mesh.owner.key, [
      "auth.key.*",
      "audit.appended",
    ]);
    const ev = (type: string, pred: (d: Record<string, unknown>) => boolean) => (f: Frame) =>
      f.type === "event" && f.event?.type === type && pred(f.event.data);
    try {
      const k = await keyFor(owner, { scopes: ["wg:read"] });
      const created = await ws.next(ev("auth.key.created", (d) => d.key_id === k.id));
      expect(created.event).toMatchObject({
        resource: { kind: "api_key", name: k.id },
        actor: { type: "api_key", name: "owner" },
        data: { name: "k", prefix: k.key.slice(0, 19), user_id: mesh.owner.id, scopes: ["wg:read"] },
      });
      expect(JSON.stringify(ws.frames)).not.toContain(k.key);
      // The audit writer appends the create and says so (one event per appended batch).
      await ws.next(ev("audit.appended", (d) => d.action === "api_key.create" && d.target_id === k.id));

      expect((await owner("DELETE", `/api/v1/api-keys/${k.id}`)).status).toBe(200);
      await ws.next(ev("auth.key.revoked", (d) => d.key_id === k.id && d.user_id === mesh.owner.id));
      // Revoking again is audited but is no second event: once the batch holding the audit
      // row of the second revoke is announced, every event published before it was delivered.
      expect((await owner("DELETE", `/api/v1/api-keys/${k.id}`)).status).toBe(200);
      const rows = await waitFor(async () => {
        const a = await owner<{ items: Array<{ seq: number }> }>(
          "GET",
          `/api/v1/audit?action=api_key.revoke&target_id=${k.id}`,
        );
        return a.body.items.length === 2 ? a.body.items : undefined;
      });
      const last = Math.max(...rows.map((x) => x.seq));
      await ws.next(ev("audit.appended", (d) => (d.seq as number) >= last));
      expect(ws.events().filter(ev("auth.key.revoked", (d) => d.key_id === k.id))).toHaveLength(1);

      // Deleting a user revokes their keys: one event per key.
      const u = await owner<{ id: string }>("POST", "/api/v1/users", {
        username: "gone",
        password: PW,
        role: "operator",
      });
      const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
        username: "gone",
        password: PW,
      });
      const theirs = await keyFor(client(mesh.url, bearer(t.body.access_token)), { scopes: ["wg:read"] });
      expect((await owner("DELETE", `/api/v1/users/${u.body.id}`)).status).toBe(200);
      const r = await ws.next(ev("auth.key.revoked", (d) => d.key_id === theirs.id));
      expect(r.event?.data).toMatchObject({ user_id: u.body.id, reason: "owner deleted" });
    } finally {
      await ws.close();
    }
  });
});
