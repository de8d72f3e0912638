/**
 * A real mesh for the auth e2e tests: nats-server, a fresh PostgreSQL database, the auth
 * service and N gateways as processes, first-run setup completed (owner + full key).
 * Rate limits are generous unless a test asks otherwise.
 */
import { readFile } from "node:fs/promises";
import {
  authDatabase,
  type NatsServer,
  type ServiceProcess,
  spawnService,
  startNats,
  type TestDatabase,
  tmpDir,
  waitFor,
} from "../../harness/mod.ts";

export interface AuthMesh {
  nats: NatsServer;
  db: TestDatabase;
  auth: ServiceProcess[];
  gateways: ServiceProcess[];
  /** The first gateway's URL. */
  url: string;
  owner: { id: string; username: string; password: string; key: string };
  authEnv: Record<string, string>;
  /** Start one more auth instance. */
  startAuth(extra?: Record<string, string>): Promise<ServiceProcess>;
  dispose(): Promise<void>;
}

export const OWNER_PASSWORD = "correct horse battery staple";

export async function startAuthMesh(
  opts: {
    gateways?: number;
    authEnv?: Record<string, string>;
    gatewayEnv?: Record<string, string>;
    /** Per-gateway overrides, by index. */
    gatewayEnvs?: Array<Record<string, string>>;
  } = {},
): Promise<AuthMesh> {
  const disposers: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
  };
  try {
    const nats = await startNats({ jetstream: true });
    disposers.push(() => nats.stop());
    const db = await authDatabase();
    disposers.push(() => db[Symbol.asyncDispose]());
    const dir = await tmpDir("ep-auth-e2e-");
    disposers.push(() => dir[Symbol.asyncDispose]());
    const tokenFile = `${dir.path}/setup-token`;
    const authEnv = {
      EP_NATS_URL: nats.url,
      DATABASE_URL: db.url,
      EP_SETUP_TOKEN_FILE: tokenFile,
      EP_LOG_LEVEL: "warn",
      ...opts.authEnv,
    };
    const auth: ServiceProcess[] = [];
    const startAuth = async (extra: Record<string, string> = {}) => {
      const a = await spawnService("auth", { ...authEnv, EP_LOG_LEVEL: "info", ...extra });
      auth.push(a);
      disposers.push(() => a.stop());
      return a;
    };
    await startAuth();
    const gateways: ServiceProcess[] = [];
    for (let i = 0; i < (opts.gateways ?? 1); i++) {
      const g = await spawnService("gateway", {
        EP_NATS_URL: nats.url,
        EP_RATE_LIMIT_RPM: "100000",
        EP_RATE_BURST_RPS: "100000",
        EP_AUTH_RATE_RPM: "100000",
        ...opts.gatewayEnv,
        ...opts.gatewayEnvs?.[i],
      });
      gateways.push(g);
      disposers.push(() => g.stop());
    }
    const url = gateways[0]?.url as string;
    const token = await waitFor(
      async () => (await readFile(tokenFile, "utf8").catch(() => "")).trim() || undefined,
    );
    const r = await fetch(`${url}/api/v1/setup/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, username: "owner", password: OWNER_PASSWORD }),
    });
    if (r.status !== 201) throw new Error(`setup failed: ${r.status} ${await r.text()}`);
    const body = (await r.json()) as { user: { id: string }; api_key: { key: string } };
    return {
      nats,
      db,
      auth,
      gateways,
      url,
      owner: { id: body.user.id, username: "owner", password: OWNER_PASSWORD, key: body.api_key.key },
      authEnv,
      startAuth,
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny JSON client for one base URL. */
export function client(base: string, defaults: Record<string, string> = {}) {
  return async <T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> => {
    const h: Record<string, string> = { ...defaults, ...headers };
    if (body !== undefined) h["content-type"] = "application/json";
    const r = await fetch(`${base}${path}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: parsed as T, headers: r.headers };
  };
}

export const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
