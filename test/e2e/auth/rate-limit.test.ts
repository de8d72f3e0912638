/**
 * auth rate limits — per-IP limit on auth endpoints, per-principal limits (gateway
 * default and a key's own), burst per second, `RateLimit-*` headers on every response,
 * 429 + `Retry-After`; and the brute-force lock: the 21st failed login of a username in
 * 5 minutes is refused even with the right password.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthMesh, bearer, client, startAuthMesh } from "./mesh.ts";

let mesh: AuthMesh;
let limited: string;
const PW = "a long enough password";

beforeAll(async () => {
  mesh = await startAuthMesh({
    gateways: 2,
    gatewayEnvs: [{}, { EP_AUTH_RATE_RPM: "5", EP_RATE_LIMIT_RPM: "30", EP_RATE_BURST_RPS: "1000" }],
  });
  limited = mesh.gateways[1]?.url as string;
  const owner = client(mesh.url, bearer(mesh.owner.key));
  expect(
    (await owner("POST", "/api/v1/users", { username: "victim", password: PW, role: "viewer" })).status,
  ).toBe(201);
});
afterAll(async () => mesh?.dispose());

describe("rate limits - gateway", () => {
  it("auth endpoints: 5 per minute per client IP, then 429 with Retry-After", async () => {
    const anon = client(limited);
    const statuses: number[] = [];
    let last = await anon("GET", "/api/v1/setup/status");
    for (let i = 0; i < 7; i++) {
      last = await anon("POST", "/api/v1/auth/login", {
        username: "nobody-at-all",
        password: "whatever it is",
      });
      statuses.push(last.status);
      expect(last.headers.get("ratelimit-limit")).toBe("5");
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((last.body as { error: { code: string } }).error.code).toBe("rate_limited");
  });

  it("per principal: the gateway default, and a key's own rate_limit_rpm", async () => {
    const owner = client(mesh.url, bearer(mesh.owner.key));
    const k = await owner<{ key: string }>("POST", "/api/v1/api-keys", {
      name: "slow",
      scopes: ["mesh:read"],
      expires_in_days: 1,
      rate_limit_rpm: 3,
    });
    const slow = client(limited, bearer(k.body.key));
    const s = [];
    for (let i = 0; i < 4; i++) s.push((await slow("GET", "/api/v1/auth/me")).status);
    expect(s).toEqual([200, 200, 200, 429]);

    const fast = client(limited, bearer(mesh.owner.key));
    const r = await fast("GET", "/api/v1/auth/me");
    expect(r.headers.get("ratelimit-limit")).toBe("30");
    expect(Number(r.headers.get("ratelimit-remaining"))).toBe(29);
    expect(r.headers.get("ratelimit-reset")).toBeTruthy();
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) status = (await fast("GET", "/api/v1/auth/me")).status;
    expect(status).toBe(429);
    // Limits are per gateway instance: the other gateway still answers.
    expect((await client(mesh.url, bearer(mesh.owner.key))("GET", "/api/v1/auth/me")).status).toBe(200);
  });
});

describe("rate limits - brute force", () => {
  it("the 21st failed login in 5 minutes is refused even with the right password", async () => {
    const anon = client(mesh.url);
    for (let i = 0; i < 20; i++) {
      const r = await anon("POST", "/api/v1/auth/login", {
        username: "victim",
        password: `wrong password ${i}`,
      });
      expect(r.status).toBe(401);
    }
    const right = await anon<{ error: { code: string } }>("POST", "/api/v1/auth/login", {
      username: "victim",
      password: PW,
    });
    expect(right.status).toBe(429);
    expect(right.body.error.code).toBe("account_locked");
    const wait = Number(right.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(200);
    expect(wait).toBeLessThanOrEqual(300);
    // Tokens too: the count lives in the auth service's store, shared by every gateway.
    const token = await anon<{ error: { code: string } }>("POST", "/api/v1/auth/token", {
      username: "victim",
      password: PW,
    });
    expect(token.status).toBe(429);
    expect(token.body.error.code).toBe("account_locked");
  });
});
