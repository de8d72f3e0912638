/**
 * The mesh the adapters end-to-end tests run against: real nats-server, PostgreSQL
 * (every service's migrations), auth, gateway, and adapters workers started on demand.
 * First-run setup gives the owner key; admin, operator and viewer users with API keys
 * are seeded directly in auth's tables (there is no user-management API to call yet).
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ALL_PERMS, newId } from "@edgeplane/proto";
import pg from "pg";
import { generateKey, hashKey } from "../../../services/auth/src/api-keys.ts";
import {
  authDatabase,
  type ServiceProcess,
  spawnService,
  startNats,
  TEST_PEPPER,
  type TestDatabase,
  tmpDir,
} from "../../harness/mod.ts";

export type RoleName = "owner" | "admin" | "operator" | "viewer";

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface AdaptersMesh {
  url: string;
  natsUrl: string;
  db: TestDatabase;
  sealingKey: string;
  keys: Record<RoleName, string>;
  /** Start an adapters worker (default: read-only deployment, fast sweeper). */
  worker(env?: Record<string, string>, instance?: string): Promise<ServiceProcess>;
  /** Call the gateway as a role. */
  api<T = Record<string, unknown>>(
    role: RoleName,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<ApiResponse<T>>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startAdaptersMesh(): Promise<AdaptersMesh> {
  const disposers: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
  };
  try {
    const nats = await startNats({ jetstream: true });
    disposers.push(() => nats.stop());
    const db = await authDatabase();
    disposers.push(() => db[Symbol.asyncDispose]());
    const dir = await tmpDir("ep-adapters-");
    disposers.push(() => dir[Symbol.asyncDispose]());
    const tokenFile = `${dir.path}/setup-token`;
    const auth = await spawnService("auth", {
      EP_NATS_URL: nats.url,
      DATABASE_URL: db.url,
      EP_SETUP_TOKEN_FILE: tokenFile,
    });
    disposers.push(() => auth.stop());
    const gateway = await spawnService("gateway", { EP_NATS_URL: nats.url });
    disposers.push(() => gateway.stop());
    const url = gateway.url as string;

    const setup = await fetch(`${url}/api/v1/setup/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        token: (await readFile(tokenFile, "utf8")).trim(),
        username: "owner",
        password: "correct horse battery staple",
      }),
    });
    if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
    const owner = ((await setup.json()) as { api_key: { key: string } }).api_key.key;

    const keys: Record<RoleName, string> = { owner, admin: "", operator: "", viewer: "" };
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      for (const role of ["admin", "operator", "viewer"] as const) {
        const userId = newId("usr");
        await client.query("INSERT INTO users (id, username, password_hash, role) VALUES ($1, $2, 'x', $3)", [
          userId,
          `${role}-user`,
          role,
        ]);
        const k = generateKey();
        await client.query(
          `INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, expires_at)
           VALUES ($1, $2, 'test', $3, $4, $5, now() + interval '1 day')`,
          [k.id, userId, k.prefix, hashKey(Buffer.from(TEST_PEPPER), k.key), [...ALL_PERMS]],
        );
        keys[role] = k.key;
      }
    } finally {
      await client.end();
    }

    const sealingKey = randomBytes(32).toString("base64");
    const mesh: AdaptersMesh = {
      url,
      natsUrl: nats.url,
      db,
      sealingKey,
      keys,
      async worker(env = {}, instance) {
        const w = await spawnService(
          "adapters",
          {
            EP_NATS_URL: nats.url,
            DATABASE_URL: db.url,
            EP_SEALING_KEY: sealingKey,
            EP_ADAPTER_SWEEP_MS: "200",
            EP_ADAPTER_READ_TIMEOUT_MS: "3000",
            EP_ADAPTER_WRITE_TIMEOUT_MS: "8000",
            ...env,
          },
          instance ? { instance } : {},
        );
        disposers.push(() => w.stop());
        return w;
      },
      async api<T>(role: RoleName, method: string, path: string, body?: unknown) {
        const headers: Record<string, string> = { authorization: `Bearer ${keys[role]}` };
        if (body !== undefined) headers["content-type"] = "application/json";
        const res = await fetch(`${url}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
      },
      [Symbol.asyncDispose]: dispose,
    };
    return mesh;
  } catch (err) {
    await dispose();
    throw err;
  }
}
