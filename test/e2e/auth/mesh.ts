/**
 * A real mesh for the auth e2e tests: nats-server, a fresh PostgreSQL database, the auth
 * service and N gateways as processes, first-run setup completed (owner + full key).
 * Rate limits are generous unless a test asks otherwise.
 */
import {
  type NatsServer,
  OWNER_PASSWORD,
  type ServiceProcess,
  startControlPlane,
  type TestDatabase,
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

export { OWNER_PASSWORD };

export async function startAuthMesh(
  opts: {
    gateways?: number;
    authEnv?: Record<string, string>;
    gatewayEnv?: Record<string, string>;
    /** Per-gateway overrides, by index. */
    gatewayEnvs?: Array<Record<string, string>>;
  } = {},
): Promise<AuthMesh> {
  const cp = await startControlPlane({ tmpPrefix: "ep-auth-e2e-" });
  try {
    const { nats, db } = cp;
    const authEnv = { ...cp.authEnv, EP_LOG_LEVEL: "warn", ...opts.authEnv };
    const auth: ServiceProcess[] = [];
    const startAuth = async (extra: Record<string, string> = {}) => {
      const a = await cp.spawn("auth", { ...authEnv, EP_LOG_LEVEL: "info", ...extra });
      auth.push(a);
      return a;
    };
    await startAuth();
    const gateways: ServiceProcess[] = [];
    for (let i = 0; i < (opts.gateways ?? 1); i++) {
      const g = await cp.spawn("gateway", {
        EP_NATS_URL: nats.url,
        EP_RATE_LIMIT_RPM: "100000",
        EP_RATE_BURST_RPS: "100000",
        EP_AUTH_RATE_RPM: "100000",
        ...opts.gatewayEnv,
        ...opts.gatewayEnvs?.[i],
      });
      gateways.push(g);
    }
    const url = gateways[0]?.url as string;
    const owner = await cp.completeSetup(url);
    return {
      nats,
      db,
      auth,
      gateways,
      url,
      owner: { id: owner.userId, username: "owner", password: OWNER_PASSWORD, key: owner.apiKey },
      authEnv,
      startAuth,
      dispose: cp.dispose,
    };
  } catch (err) {
    await cp.dispose();
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
