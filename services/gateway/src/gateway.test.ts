/**
 * gateway — the HTTP contract, through a real gateway, real NATS, the real auth service
 * (with a real PostgreSQL) and a small test service answering test routes.
 */

import {
  connectNats,
  createLogger,
  createService,
  routes as defaultRoutes,
  defineRoute,
  Errors,
  nameSchema,
  Perm,
  Subjects,
  startService,
} from "@edgeplane/proto";
import { authDatabase, startNats, TEST_PEPPER, waitFor } from "@edgeplane/test";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { generateKey, hashKey } from "../../auth/src/api-keys.ts";
import { authService } from "../../auth/src/service.ts";
import { loadConfig } from "./config.ts";
import { startTracing } from "./otel.ts";
import { type RunningGateway, startGateway } from "./server.ts";

const echoRoute = defineRoute({
  id: "t.echo",
  method: "GET",
  path: "/api/v1/t/{cluster}/echo",
  summary: "test echo",
  tags: ["t"],
  auth: "principal",
  permission: Perm.HaproxyRead,
  scope: { kind: "haproxy_clusters", param: "cluster" },
  subject: "ep.v1.t.{cluster}.echo",
  params: z.object({ cluster: nameSchema("cluster") }),
  query: z.object({ n: z.coerce.number().int().max(10).default(1) }),
  reply: z.object({
    cluster: z.string(),
    n: z.number(),
    user: z.string(),
    traceparent: z.string().optional(),
    request_id: z.string(),
  }),
});
const bodyRoute = defineRoute({
  id: "t.body",
  method: "POST",
  path: "/api/v1/t/body",
  summary: "test body",
  tags: ["t"],
  auth: "public",
  subject: "ep.v1.t.body",
  body: z.object({ name: nameSchema("name"), port: z.number().int().min(1).max(65535) }),
  reply: z.object({ ok: z.boolean() }),
  status: 201,
});
const failRoute = defineRoute({
  id: "t.fail",
  method: "GET",
  path: "/api/v1/t/fail",
  summary: "f",
  tags: ["t"],
  auth: "public",
  subject: "ep.v1.t.fail",
  reply: z.object({}),
});
const crashRoute = defineRoute({
  id: "t.crash",
  method: "GET",
  path: "/api/v1/t/crash",
  summary: "c",
  tags: ["t"],
  auth: "public",
  subject: "ep.v1.t.crash",
  reply: z.object({}),
});
const nobodyRoute = defineRoute({
  id: "t.nobody",
  method: "GET",
  path: "/api/v1/t/nobody",
  summary: "n",
  tags: ["t"],
  auth: "public",
  subject: "ep.v1.t.nobody",
  reply: z.object({}),
});

let gw: RunningGateway;
let cleanup: Array<() => Promise<unknown>> = [];
let ownerKey = "";
let natsUrl = "";
let wgKey = "";
let scopedKey = "";

async function insertKey(
  url: string,
  userId: string,
  scopes: string[],
  resources: unknown = null,
): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const k = generateKey();
  await c.query(
    "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, resources, expires_at) VALUES ($1,$2,'t',$3,$4,$5,$6, now() + interval '1 day')",
    [
      k.id,
      userId,
      k.prefix,
      hashKey(Buffer.from(TEST_PEPPER), k.key),
      scopes,
      resources === null ? null : JSON.stringify(resources),
    ],
  );
  await c.end();
  return k.key;
}

const req = (path: string, init: RequestInit = {}) => fetch(`${gw.url}${path}`, init);

beforeAll(async () => {
  const tracing = startTracing("gateway-test", {});
  cleanup.push(() => tracing.shutdown());
  const nats = await startNats({ jetstream: true });
  cleanup.push(() => nats.stop());
  natsUrl = nats.url;
  const db = await authDatabase();
  cleanup.push(() => db[Symbol.asyncDispose]());
  const env = {
    EP_NATS_URL: nats.url,
    DATABASE_URL: db.url,
    EP_KEY_PEPPER: TEST_PEPPER,
    EP_LOG_LEVEL: "silent",
  };
  const auth = await startService(authService, env, false);
  cleanup.push(() => auth.stop());

  const nc = await connectNats({ servers: nats.url, name: "t" });
  cleanup.push(() => nc.drain());
  const svc = await createService(nc, {
    name: "ep-test",
    version: "0.0.0",
    log: createLogger("t", "silent"),
  });
  svc.route(echoRoute, (r, ctx) => ({
    cluster: r.params.cluster,
    n: r.query.n,
    user: ctx.principal?.username ?? "",
    ...(ctx.meta.traceparent ? { traceparent: ctx.meta.traceparent } : {}),
    request_id: ctx.requestId ?? "",
  }));
  svc.route(bodyRoute, () => ({ ok: true }));
  svc.route(failRoute, () => {
    throw Errors.StaleRevision.create({ current: 7 }, { revision: 7 });
  });
  svc.route(crashRoute, () => {
    throw new Error("secret internal detail");
  });

  gw = await startGateway(
    loadConfig({
      EP_NATS_URL: nats.url,
      EP_HTTP_PORT: "0",
      EP_LOG_LEVEL: "silent",
      EP_TRUST_PROXY: "127.0.0.1",
    }),
    [...defaultRoutes, echoRoute, bodyRoute, failRoute, crashRoute, nobodyRoute],
  );
  cleanup.push(() => gw.stop());

  const status = await (await req("/api/v1/setup/status")).json();
  expect(status).toEqual({ setup_required: true });
  // The token's plaintext only exists in the log and the token file: ask the same code
  // path for one, with a file, as the launcher does.
  const { ensureSetupToken } = await import("../../auth/src/setup.ts");
  const file = `/tmp/ep-gw-test-token-${process.pid}`;
  const p = new pg.Pool({ connectionString: db.url });
  const token = (await ensureSetupToken(p, {
    file,
    fixed: "gateway-test-setup-token-0123456789",
    log: createLogger("t", "silent"),
  })) as string;
  const done = await req("/api/v1/setup/complete", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, username: "owner", password: "correct horse battery" }),
  });
  expect(done.status).toBe(201);
  const body = (await done.json()) as { user: { id: string }; api_key: { key: string } };
  ownerKey = body.api_key.key;
  wgKey = await insertKey(db.url, body.user.id, [Perm.WgRead]);
  scopedKey = await insertKey(db.url, body.user.id, [Perm.HaproxyRead], { haproxy_clusters: ["a"] });
  await p.end();
});

afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  cleanup = [];
});

describe("gateway - errors", () => {
  it("unknown route is 404 with the envelope", async () => {
    const r = await req("/api/v1/nope");
    expect(r.status).toBe(404);
    const b = (await r.json()) as { error: Record<string, unknown> };
    expect(b.error.code).toBe("route_not_found");
    expect(b.error.request_id).toMatch(/^req_/);
    expect(typeof b.error.message).toBe("string");
  });

  it("body over 1 MiB is 413 with the envelope", async () => {
    const r = await req("/api/v1/t/body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(1024 * 1024 + 10), port: 1 }),
    });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });

  it("invalid body is 422 naming every bad field", async () => {
    const r = await req("/api/v1/t/body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Bad Name", port: 70000 }),
    });
    expect(r.status).toBe(422);
    const b = (await r.json()) as {
      error: { code: string; details: Array<{ field: string; message: string; type: string }> };
    };
    expect(b.error.code).toBe("validation_failed");
    const fields = b.error.details.map((d) => d.field).sort();
    expect(fields).toEqual(["name", "port"]);
    expect(b.error.details.find((d) => d.field === "name")?.message).toMatch(/'B' at position 0|start with/);
    for (const d of b.error.details) expect(typeof d.type).toBe("string");
  });

  it("invalid query parameter is 422 naming it", async () => {
    const r = await req("/api/v1/t/a/echo?n=99", { headers: { authorization: `Bearer ${ownerKey}` } });
    expect(r.status).toBe(422);
    const b = (await r.json()) as { error: { details: Array<{ field: string }> } };
    expect(b.error.details.map((d) => d.field)).toEqual(["n"]);
  });

  it("malformed JSON is 400, a valid body reaches the service with the route's status", async () => {
    const bad = await req("/api/v1/t/body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    const ok = await req("/api/v1/t/body", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "web-1", port: 80 }),
    });
    expect(ok.status).toBe(201);
  });

  it("typed service errors keep their status and code; unexpected ones are a generic 500", async () => {
    const f = await req("/api/v1/t/fail");
    expect(f.status).toBe(409);
    const fb = (await f.json()) as { error: { code: string; details: unknown } };
    expect(fb.error.code).toBe("stale_revision");
    expect(fb.error.details).toEqual({ current: 7 });
    const c = await req("/api/v1/t/crash");
    expect(c.status).toBe(500);
    const text = await c.text();
    expect(text).toContain("internal_error");
    expect(text).not.toContain("secret internal detail");
  });

  it("a route nobody serves is 503 service_unavailable", async () => {
    const r = await req("/api/v1/t/nobody");
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("service_unavailable");
  });
});

describe("gateway - request ids and headers", () => {
  it("echoes a valid X-Request-ID and tags it ext- inside", async () => {
    const r = await req("/api/v1/t/a/echo", {
      headers: { authorization: `Bearer ${ownerKey}`, "x-request-id": "ci-run_42" },
    });
    expect(r.headers.get("x-request-id")).toBe("ci-run_42");
    expect(((await r.json()) as { request_id: string }).request_id).toBe("ext-ci-run_42");
  });

  it("replaces an invalid X-Request-ID with a generated one", async () => {
    const r = await req("/nope", { headers: { "x-request-id": "bad id;rm -rf" } });
    const id = r.headers.get("x-request-id");
    expect(id).toMatch(/^req_[0-9a-z]{16}$/);
    expect(((await r.json()) as { error: { request_id: string } }).error.request_id).toBe(id);
  });

  it("sets security headers on every response, HSTS only over HTTPS", async () => {
    for (const path of ["/health", "/nope", "/api/v1/openapi.json"]) {
      const r = await req(path);
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("x-frame-options")).toBe("DENY");
      expect(r.headers.get("referrer-policy")).toBe("strict-origin-when-cross-origin");
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(r.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(r.headers.get("permissions-policy")).toContain("camera=()");
      expect(r.headers.get("strict-transport-security")).toBeNull();
    }
    const https = await req("/health", { headers: { "x-forwarded-proto": "https" } });
    expect(https.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
  });

  it("serves a trailing-slash path like the path itself, without a redirect", async () => {
    const a = await req("/api/v1/setup/status/", { redirect: "manual" });
    expect(a.status).toBe(200);
    expect(await a.json()).toEqual({ setup_required: false });
  });

  it("continues the caller's trace through NATS to the service", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const r = await req("/api/v1/t/a/echo", {
      headers: { authorization: `Bearer ${ownerKey}`, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    const b = (await r.json()) as { traceparent?: string };
    expect(b.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(b.traceparent).not.toContain("00f067aa0ba902b7");
  });
});

describe("gateway - authentication and authorisation", () => {
  it("no credential → 401 with the envelope", async () => {
    const r = await req("/api/v1/auth/me");
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("unauthenticated");
  });

  it("a wrong key → 401 invalid_credentials, by either header", async () => {
    const forged = `${ownerKey.slice(0, -8)}aaaaaaaa`;
    for (const headers of [{ authorization: `Bearer ${forged}` }, { "x-api-key": "ep_nothing" }] as Record<
      string,
      string
    >[]) {
      const r = await req("/api/v1/auth/me", { headers });
      expect(r.status).toBe(401);
      const b = (await r.json()) as { error: { code: string; request_id: string } };
      expect(b.error.code).toBe("invalid_credentials");
    }
  });

  it("the setup key authenticates by Bearer and X-API-Key", async () => {
    for (const headers of [{ authorization: `Bearer ${ownerKey}` }, { "x-api-key": ownerKey }] as Record<
      string,
      string
    >[]) {
      const r = await req("/api/v1/auth/me", { headers });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { user: { username: string } }).user.username).toBe("owner");
    }
  });

  it("a key without the route's permission → 403 naming it", async () => {
    const r = await req("/api/v1/t/a/echo", { headers: { authorization: `Bearer ${wgKey}` } });
    expect(r.status).toBe(403);
    const b = (await r.json()) as { error: { code: string; message: string } };
    expect(b.error.code).toBe("forbidden");
    expect(b.error.message).toContain(Perm.HaproxyRead);
    const health = await req("/api/v1/health", { headers: { authorization: `Bearer ${wgKey}` } });
    expect(health.status).toBe(403);
  });

  it("a key scoped to cluster a sees cluster b as 404", async () => {
    const a = await req("/api/v1/t/a/echo", { headers: { authorization: `Bearer ${scopedKey}` } });
    expect(a.status).toBe(200);
    const b = await req("/api/v1/t/b/echo", { headers: { authorization: `Bearer ${scopedKey}` } });
    expect(b.status).toBe(404);
  });

  it("cached verifications are dropped on an invalidation notice", async () => {
    await req("/api/v1/auth/me", { headers: { authorization: `Bearer ${ownerKey}` } });
    await req("/api/v1/t/a/echo", { headers: { authorization: `Bearer ${scopedKey}` } });
    const before = gw.auth.cache.size;
    expect(before).toBeGreaterThanOrEqual(2);
    const me = (await (
      await req("/api/v1/auth/me", { headers: { authorization: `Bearer ${scopedKey}` } })
    ).json()) as {
      principal: { key_id: string };
    };
    const nc = await connectNats({ servers: natsUrl, name: "invalidator" });
    nc.publish(Subjects.bcast.authInvalidate, JSON.stringify({ key_id: me.principal.key_id }));
    await nc.flush();
    await waitFor(() => gw.auth.cache.size === before - 1, { timeout: 2000 });
    await nc.close();
  });
});
