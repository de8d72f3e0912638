/**
 * setup — the first-run flow through real processes (gateway, auth), real NATS and a
 * real PostgreSQL: it works once and only once, and its key authenticates.
 */
import { readFile, stat } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authDatabase, type ServiceProcess, spawnService, startNats, tmpDir } from "../harness/mod.ts";

let gateway: ServiceProcess;
const disposers: Array<() => Promise<unknown>> = [];
let tokenFile = "";

beforeAll(async () => {
  const nats = await startNats({ jetstream: true });
  disposers.push(() => nats.stop());
  const db = await authDatabase();
  disposers.push(() => db[Symbol.asyncDispose]());
  const dir = await tmpDir("ep-setup-");
  disposers.push(() => dir[Symbol.asyncDispose]());
  tokenFile = `${dir.path}/setup-token`;
  const auth = await spawnService("auth", {
    EP_NATS_URL: nats.url,
    DATABASE_URL: db.url,
    EP_SETUP_TOKEN_FILE: tokenFile,
  });
  disposers.push(() => auth.stop());
  gateway = await spawnService("gateway", { EP_NATS_URL: nats.url });
  disposers.push(() => gateway.stop());
});

afterAll(async () => {
  for (const d of disposers.reverse()) await d().catch(() => undefined);
});

const post = (path: string, body: unknown) =>
  fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("setup - first run", () => {
  it("writes the token file with mode 0600 while setup is open", async () => {
    expect(((await stat(tokenFile)).mode & 0o777).toString(8)).toBe("600");
    const r = await fetch(`${gateway.url}/api/v1/setup/status`);
    expect(await r.json()).toEqual({ setup_required: true });
  });

  it("refuses a wrong token and keeps setup open", async () => {
    const r = await post("/api/v1/setup/complete", {
      token: "wrong",
      username: "owner",
      password: "a very long password",
    });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("invalid_setup_token");
  });

  it("validates the body with field names", async () => {
    const r = await post("/api/v1/setup/complete", { token: "x", username: "A", password: "short" });
    expect(r.status).toBe(422);
    const b = (await r.json()) as { error: { details: Array<{ field: string }> } };
    expect(b.error.details.map((d) => d.field).sort()).toEqual(["password", "username"]);
  });

  it("completes exactly once under concurrent attempts, then is inert", async () => {
    const token = (await readFile(tokenFile, "utf8")).trim();
    const attempts = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        post("/api/v1/setup/complete", {
          token,
          username: `owner${i}`,
          password: "correct horse battery staple",
        }),
      ),
    );
    const statuses = attempts.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    const winner = attempts.find((r) => r.status === 201) as Response;
    const body = (await winner.json()) as {
      user: { username: string; role: string };
      api_key: { key: string; scopes: string[] };
    };
    expect(body.user.role).toBe("owner");
    expect(body.api_key.key).toMatch(/^ep_[0-9a-z]{16}_[0-9a-z]{33}$/);

    const again = await post("/api/v1/setup/complete", {
      token,
      username: "late",
      password: "correct horse battery staple",
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("setup_completed");
    expect(await (await fetch(`${gateway.url}/api/v1/setup/status`)).json()).toEqual({
      setup_required: false,
    });
    await expect(stat(tokenFile)).rejects.toThrow();

    const me = await fetch(`${gateway.url}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${body.api_key.key}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { username: string } }).user.username).toBe(body.user.username);
    const mesh = await fetch(`${gateway.url}/api/v1/health`, { headers: { "x-api-key": body.api_key.key } });
    expect(mesh.status).toBe(200);
    const names = ((await mesh.json()) as { services: Array<{ name: string }> }).services.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["ep-auth", "ep-gateway"]));
  });
});
