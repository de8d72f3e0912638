/**
 * auth audit — every mutation lands in the hash-chained table through JetStream; query
 * with filters (also under /api/audit), CSV export streamed, /audit/verify and the
 * offline CLI agree, and a tampered row is reported by both.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../harness/mod.ts";
import { type AuthMesh, bearer, client, startAuthMesh } from "./mesh.ts";

const run = promisify(execFile);
let mesh: AuthMesh;
let owner: ReturnType<typeof client>;

interface Page {
  items: Array<{
    seq: number;
    action: string;
    actor_id: string;
    result: string;
    summary: Record<string, unknown>;
    prev_hash: string;
    row_hash: string;
  }>;
  total: number;
}

beforeAll(async () => {
  mesh = await startAuthMesh({ authEnv: { EP_AUDIT_CHECKPOINT_ROWS: "5" } });
  owner = client(mesh.url, bearer(mesh.owner.key));
  for (let i = 0; i < 6; i++)
    expect(
      (
        await owner("POST", "/api/v1/users", {
          username: `user${i}`,
          password: "a long enough password",
          role: "viewer",
        })
      ).status,
    ).toBe(201);
  await client(mesh.url)("POST", "/api/v1/auth/login", { username: "user1", password: "wrong password!!" });
  await client(mesh.url, bearer("ep_0000000000000000_00000000000000000000000000aaaaaaa"))(
    "GET",
    "/api/v1/auth/me",
  );
  await waitFor(
    async () => ((await owner<Page>("GET", "/api/v1/audit?per_page=1")).body.total >= 9 ? true : undefined),
    {
      timeout: 15_000,
    },
  );
});
afterAll(async () => mesh?.dispose());

describe("audit - query", () => {
  it("has every mutation, in order, chained, without secrets", async () => {
    const r = await owner<Page>("GET", "/api/v1/audit?order=asc&per_page=100");
    expect(r.status).toBe(200);
    const actions = r.body.items.map((i) => i.action);
    expect(actions[0]).toBe("setup.complete");
    expect(actions.filter((a) => a === "user.create")).toHaveLength(6);
    expect(actions).toContain("auth.login_failed");
    expect(actions).toContain("auth.failed"); // the gateway's failed authentication
    for (let i = 1; i < r.body.items.length; i++) {
      expect(r.body.items[i]?.seq).toBe(i + 1);
      expect(r.body.items[i]?.prev_hash).toBe(r.body.items[i - 1]?.row_hash);
    }
    expect(JSON.stringify(r.body)).not.toContain("a long enough password");
    expect(JSON.stringify(r.body)).not.toContain("wrong password!!");
  });

  it("filters by action, result, actor and time; pages; PIC limit/offset alias", async () => {
    const f = await owner<Page>("GET", "/api/v1/audit?action=user.create&result=success");
    expect(f.body.total).toBe(6);
    const byActor = await owner<Page>("GET", `/api/v1/audit?actor=${mesh.owner.username}&action=user.create`);
    expect(byActor.body.total).toBe(6);
    const failed = await owner<Page>("GET", "/api/audit?result=failure&limit=1&offset=0");
    expect(failed.status).toBe(200);
    expect(failed.body.items).toHaveLength(1);
    const future = await owner<Page>(
      "GET",
      `/api/v1/audit?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`,
    );
    expect(future.body.total).toBe(0);
    const bad = await owner<{ error: { details: Array<{ field: string }> } }>(
      "GET",
      "/api/v1/audit?since=yesterday&result=maybe",
    );
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d) => d.field).sort()).toEqual(["result", "since"]);
  });

  it("is refused to roles without audit:read", async () => {
    const t = await client(mesh.url)<{ access_token: string }>("POST", "/api/v1/auth/token", {
      username: "user2",
      password: "a long enough password",
    });
    expect((await client(mesh.url, bearer(t.body.access_token))("GET", "/api/v1/audit")).status).toBe(403);
  });
});

describe("audit - export and verification", () => {
  it("exports CSV, streamed, also under /api/audit/export", async () => {
    for (const path of [
      "/api/v1/audit/export?format=csv",
      "/api/audit/export?format=csv&action=user.create",
    ]) {
      const r = await fetch(`${mesh.url}${path}`, { headers: bearer(mesh.owner.key) });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain("text/csv");
      expect(r.headers.get("content-disposition")).toContain("audit.csv");
      const lines = (await r.text()).trimEnd().split("\r\n");
      expect(lines[0]).toBe(
        "seq,time,actor_type,actor_id,actor_name,action,category,target_type,target_id,result,request_id,source_ip,summary,prev_hash,row_hash",
      );
      if (path.includes("user.create")) expect(lines).toHaveLength(7);
      else expect(lines.length).toBeGreaterThan(9);
    }
  });

  it("verifies through the API and offline with the CLI; both find a tampered row", async () => {
    const ok = await owner<{ ok: boolean; checked: number; checkpoints: number }>(
      "GET",
      "/api/v1/audit/verify",
    );
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    expect(ok.body.checkpoints).toBeGreaterThanOrEqual(1);
    const alias = await owner<{ ok: boolean }>("GET", "/api/audit/verify");
    expect(alias.body.ok).toBe(true);
    const cli = await run(
      process.execPath,
      ["services/auth/src/audit-verify-cli.ts", "--database-url", mesh.db.url, "--json"],
      {
        cwd: new URL("../../../", import.meta.url).pathname,
      },
    );
    // Rows may still be arriving (the writer appends asynchronously): at least as many.
    const offline = JSON.parse(cli.stdout) as { ok: boolean; checked: number };
    expect(offline.ok).toBe(true);
    expect(offline.checked).toBeGreaterThanOrEqual(ok.body.checked);

    const c = new pg.Client({ connectionString: mesh.db.url });
    await c.connect();
    await c.query("UPDATE audit_log SET action = 'user.delete' WHERE seq = 3");
    await c.end();
    const bad = await owner<{ ok: boolean; first_bad_row: number }>("GET", "/api/v1/audit/verify");
    expect(bad.body).toMatchObject({ ok: false, first_bad_row: 3 });
    const cliBad = await run(
      process.execPath,
      ["services/auth/src/audit-verify-cli.ts", "--database-url", mesh.db.url, "--json"],
      {
        cwd: new URL("../../../", import.meta.url).pathname,
      },
    ).catch((e: { code: number; stdout: string }) => e);
    expect((cliBad as { code: number }).code).toBe(1);
    expect(JSON.parse((cliBad as { stdout: string }).stdout)).toMatchObject({ ok: false, first_bad_row: 3 });
  });
});
