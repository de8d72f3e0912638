/**
 * The mesh the adapters end-to-end tests run against: real nats-server, PostgreSQL
 * (every service's migrations), auth, gateway, and adapters workers started on demand.
 * First-run setup gives the owner key; admin, operator and viewer users with API keys
 * are seeded directly in auth's tables (there is no user-management API to call yet).
 */
import { randomBytes } from "node:crypto";
import { ALL_PERMS, newId } from "@edgeplane/proto";
import pg from "pg";
import { generateKey, hashKey } from "../../../services/auth/src/api-keys.ts";
import { type ServiceProcess, startControlPlane, TEST_PEPPER, type TestDatabase } from "../../harness/mod.ts";

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
  const cp = await startControlPlane({ tmpPrefix: "ep-adapters-" });
  try {
    const { nats, db } = cp;
    await cp.spawn("auth", cp.authEnv);
    const gateway = await cp.spawn("gateway", { EP_NATS_URL: nats.url });
    const url = gateway.url as string;
    const owner = (await cp.completeSetup(url)).apiKey;

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
      worker: (env = {}, instance) =>
        cp.spawn(
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
        ),
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
      [Symbol.asyncDispose]: cp.dispose,
    };
    return mesh;
  } catch (err) {
    await cp.dispose();
    throw err;
  }
}
