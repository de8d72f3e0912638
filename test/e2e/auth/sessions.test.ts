/**
 * auth sessions and tokens — cookie sessions with CSRF, access JWTs verified by the
 * gateway, refresh rotation with reuse detection, logout-all, MFA login.
 */
import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthMesh, bearer, client, startAuthMesh } from "./mesh.ts";

let mesh: AuthMesh;
let owner: ReturnType<typeof client>;
const PW = "a long enough password";

beforeAll(async () => {
  mesh = await startAuthMesh({ gateways: 2 });
  owner = client(mesh.url, bearer(mesh.owner.key));
  for (const u of ["sam", "tina", "mfa-user"])
    expect(
      (await owner("POST", "/api/v1/users", { username: u, password: PW, role: "operator" })).status,
    ).toBe(201);
});
afterAll(async () => mesh?.dispose());

async function login(username: string, path = "/api/v1/auth/login") {
  const r = await client(mesh.url)<{ csrf_token: string; session: { id: string } }>("POST", path, {
    username,
    password: PW,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const setCookie = r.headers.get("set-cookie") ?? "";
  expect(setCookie).toMatch(/^ep_session=ses_[0-9a-z]{16}\.[0-9a-z]{32}; Path=\/; HttpOnly; SameSite=Strict/);
  expect(setCookie).not.toContain("Secure"); // plain HTTP here
  return { cookie: setCookie.split(";")[0] as string, csrf: r.body.csrf_token, id: r.body.session.id };
}

describe("auth - sessions and CSRF", () => {
  it("a session cookie authenticates reads; mutations need the session's CSRF token", async () => {
    const s = await login("sam");
    const c = client(mesh.url, { cookie: s.cookie });
    const me = await c<{ principal: { kind: string; session_id: string } }>("GET", "/api/v1/auth/me");
    expect(me.status).toBe(200);
    expect(me.body.principal).toMatchObject({ kind: "session", session_id: s.id });
    const token = await c<{ csrf_token: string }>("GET", "/api/auth/csrf-token");
    expect(token.body.csrf_token).toBe(s.csrf);

    const body = { name: "k", scopes: ["wg:read"], expires_in_days: 1 };
    const without = await c<{ error: { code: string } }>("POST", "/api/v1/api-keys", body);
    expect(without.status).toBe(403);
    expect(without.body.error.code).toBe("csrf_failed");
    const other = await login("tina");
    expect((await c("POST", "/api/v1/api-keys", body, { "x-csrf-token": other.csrf })).status).toBe(403);
    expect((await c("POST", "/api/v1/api-keys", body, { "x-csrf-token": s.csrf })).status).toBe(201);
  });

  it("lists sessions, ends one, logs out (also under /api/auth/logout)", async () => {
    const a = await login("sam");
    const b = await login("sam", "/api/auth/login");
    const ca = client(mesh.url, { cookie: a.cookie, "x-csrf-token": a.csrf });
    const list = await ca<{ items: Array<{ id: string; current: boolean }> }>("GET", "/api/v1/auth/sessions");
    expect(list.body.items.find((i) => i.id === a.id)?.current).toBe(true);
    expect(list.body.items.some((i) => i.id === b.id)).toBe(true);
    expect((await ca("DELETE", `/api/v1/auth/sessions/${b.id}`)).status).toBe(200);
    expect((await client(mesh.url, { cookie: b.cookie })("GET", "/api/v1/auth/me")).status).toBe(401);
    const out = await ca("POST", "/api/auth/logout");
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    expect((await client(mesh.url, { cookie: a.cookie })("GET", "/api/v1/auth/me")).status).toBe(401);
  });

  it("wrong password is 401 and audited; an API key needs no CSRF", async () => {
    expect(
      (await client(mesh.url)("POST", "/api/v1/auth/login", { username: "sam", password: "nope nope nope" }))
        .status,
    ).toBe(401);
    expect(
      (await owner("POST", "/api/v1/api-keys", { name: "k", scopes: ["wg:read"], expires_in_days: 1 }))
        .status,
    ).toBe(201);
  });
});

describe("auth - bearer tokens", () => {
  it("access JWTs work on every gateway; refresh rotates; reuse revokes the family", async () => {
    const anon = client(mesh.url);
    const t = await anon<{ access_token: string; refresh_token: string; expires_in: number }>(
      "POST",
      "/api/v1/auth/token",
      {
        username: "tina",
        password: PW,
      },
    );
    expect(t.status).toBe(200);
    expect(t.body.expires_in).toBe(1800);
    const header = JSON.parse(
      Buffer.from(t.body.access_token.split(".")[0] as string, "base64url").toString(),
    );
    expect(header.alg).toBe("EdDSA");
    for (const g of mesh.gateways) {
      const me = await client(g.url as string, bearer(t.body.access_token))<{
        principal: { kind: string; role: string };
      }>("GET", "/api/v1/auth/me");
      expect(me.status).toBe(200);
      expect(me.body.principal).toMatchObject({ kind: "jwt", role: "operator" });
    }
    // A JWT needs no CSRF token.
    expect(
      (
        await client(mesh.url, bearer(t.body.access_token))("POST", "/api/v1/api-keys", {
          name: "k",
          scopes: ["wg:read"],
          expires_in_days: 1,
        })
      ).status,
    ).toBe(201);

    const r1 = await anon<{ access_token: string; refresh_token: string }>("POST", "/api/v1/auth/refresh", {
      refresh_token: t.body.refresh_token,
    });
    expect(r1.status).toBe(200);
    const r2 = await anon<{ access_token: string; refresh_token: string }>("POST", "/api/v1/auth/refresh", {
      refresh_token: r1.body.refresh_token,
    });
    expect(r2.status).toBe(200);
    // Reusing an already-rotated token revokes the whole family…
    const reuse = await anon("POST", "/api/v1/auth/refresh", { refresh_token: r1.body.refresh_token });
    expect(reuse.status).toBe(401);
    // …including the newest refresh token and the access tokens of the family.
    expect(
      (await anon("POST", "/api/v1/auth/refresh", { refresh_token: r2.body.refresh_token })).status,
    ).toBe(401);
    expect((await client(mesh.url, bearer(r2.body.access_token))("GET", "/api/v1/auth/me")).status).toBe(401);
  });

  it("a forged or tampered JWT is refused", async () => {
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "tina",
      password: PW,
    });
    const [h, p, s] = t.body.access_token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: mesh.owner.id })).toString("base64url")}.${s}`;
    expect((await client(mesh.url, bearer(forged))("GET", "/api/v1/auth/me")).status).toBe(401);
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${p}.`;
    expect((await client(mesh.url, bearer(none))("GET", "/api/v1/auth/me")).status).toBe(401);
  });

  it("logout-all invalidates outstanding JWTs and sessions on every gateway", async () => {
    const t = await client(mesh.url)<{ access_token: string; refresh_token: string }>(
      "POST",
      "/api/v1/auth/token",
      { username: "sam", password: PW },
    );
    const s = await login("sam");
    const jwt2 = client(mesh.gateways[1]?.url as string, bearer(t.body.access_token));
    expect((await jwt2("GET", "/api/v1/auth/me")).status).toBe(200);
    const out = await client(mesh.url, bearer(t.body.access_token))("POST", "/api/v1/auth/logout-all");
    expect(out.status).toBe(200);
    expect((await jwt2("GET", "/api/v1/auth/me")).status).toBe(401);
    expect((await client(mesh.url, bearer(t.body.access_token))("GET", "/api/v1/auth/me")).status).toBe(401);
    expect((await client(mesh.url, { cookie: s.cookie })("GET", "/api/v1/auth/me")).status).toBe(401);
    expect(
      (await client(mesh.url)("POST", "/api/v1/auth/refresh", { refresh_token: t.body.refresh_token }))
        .status,
    ).toBe(401);
    // A fresh login works again.
    const again = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "sam",
      password: PW,
    });
    expect((await client(mesh.url, bearer(again.body.access_token))("GET", "/api/v1/auth/me")).status).toBe(
      200,
    );
  });
});

describe("auth - MFA", () => {
  it("enrols TOTP, then login needs the second step", async () => {
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "mfa-user",
      password: PW,
    });
    const u = client(mesh.url, bearer(t.body.access_token));
    const setup = await u<{ secret: string; otpauth_url: string }>("POST", "/api/v1/auth/mfa/setup");
    expect(setup.status).toBe(201);
    expect(setup.body.otpauth_url).toMatch(/^otpauth:\/\/totp\//);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.body.secret) });
    expect(
      (
        await u("POST", "/api/v1/auth/mfa/enable", {
          code: "000000" === totp.generate() ? "111111" : "000000",
        })
      ).status,
    ).toBe(401);
    expect((await u("POST", "/api/v1/auth/mfa/enable", { code: totp.generate() })).status).toBe(200);

    const anon = client(mesh.url);
    const step1 = await anon<{ mfa_required: boolean; challenge: string }>("POST", "/api/v1/auth/login", {
      username: "mfa-user",
      password: PW,
    });
    expect(step1.status).toBe(200);
    expect(step1.body.mfa_required).toBe(true);
    expect(step1.headers.get("set-cookie")).toBeNull();
    const bad = await anon("POST", "/api/v1/auth/login/mfa", {
      challenge: step1.body.challenge,
      code: totp.generate() === "123456" ? "654321" : "123456",
    });
    expect(bad.status).toBe(401);
    const ok = await anon("POST", "/api/v1/auth/login/mfa", {
      challenge: step1.body.challenge,
      code: totp.generate(),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("set-cookie")).toContain("ep_session=");
    // Single use.
    expect(
      (
        await anon("POST", "/api/v1/auth/login/mfa", {
          challenge: step1.body.challenge,
          code: totp.generate(),
        })
      ).status,
    ).toBe(401);
    // Tokens need the code too.
    expect((await anon("POST", "/api/v1/auth/token", { username: "mfa-user", password: PW })).status).toBe(
      401,
    );
    expect(
      (
        await anon("POST", "/api/v1/auth/token", {
          username: "mfa-user",
          password: PW,
          code: totp.generate(),
        })
      ).status,
    ).toBe(200);
  });
});

describe("auth - passwords", () => {
  it("change own password (also /api/auth/change-password) ends other sessions", async () => {
    const a = await login("tina");
    const b = await login("tina");
    const ca = client(mesh.url, { cookie: a.cookie, "x-csrf-token": a.csrf });
    expect(
      (
        await ca("POST", "/api/auth/change-password", {
          current_password: "wrong",
          new_password: "a newer long password",
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await ca("POST", "/api/auth/change-password", {
          current_password: PW,
          new_password: "a newer long password",
        })
      ).status,
    ).toBe(200);
    expect((await ca("GET", "/api/v1/auth/me")).status).toBe(200);
    expect((await client(mesh.url, { cookie: b.cookie })("GET", "/api/v1/auth/me")).status).toBe(401);
  });

  it("password reset: token delivered as an event, single use", async () => {
    const { connectNats, Subjects } = await import("@edgeplane/proto");
    const nc = await connectNats({ servers: mesh.nats.url, name: "mailer" });
    const sub = nc.subscribe(Subjects.notify.passwordReset, { max: 1 });
    const anon = client(mesh.url);
    const r = await anon("POST", "/api/v1/auth/password-reset/request", { username: "sam" });
    expect(r.status).toBe(202);
    expect(JSON.stringify(r.body)).not.toMatch(/token/);
    expect(
      (await anon("POST", "/api/v1/auth/password-reset/request", { username: "nobody-here" })).status,
    ).toBe(202);
    let token = "";
    for await (const m of sub) token = (m.json() as { token: string }).token;
    await nc.drain();
    expect(
      (
        await anon("POST", "/api/v1/auth/password-reset/confirm", {
          token,
          new_password: "reset long password",
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await anon("POST", "/api/v1/auth/password-reset/confirm", {
          token,
          new_password: "reset long password2",
        })
      ).status,
    ).toBe(401);
    expect(
      (await anon("POST", "/api/v1/auth/token", { username: "sam", password: "reset long password" })).status,
    ).toBe(200);
  });
});
