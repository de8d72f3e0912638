/**
 * The mesh the WireGuard end-to-end tests run against: a real nats-server, PostgreSQL,
 * auth and gateway (setup completed, an owner API key in hand), and wg-agents started on
 * demand with their own state dir and device prefix. Everything is disposed in reverse.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type NatsServer, type ServiceProcess, startControlPlane } from "../../harness/mod.ts";

export const SEALING_KEY = randomBytes(32).toString("base64");
export const rand = (n = 2) => randomBytes(n).toString("hex");

export interface WgMesh {
  nats: NatsServer;
  gateway: ServiceProcess;
  apiKey: string;
  dir: string;
  /** Start a wg-agent; `env` overrides the defaults (node name, netns, prefix…). */
  agent(node: string, env?: Record<string, string>): Promise<ServiceProcess>;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; text: string }>;
  dispose(): Promise<void>;
}

export async function startWgMesh(): Promise<WgMesh> {
  const cp = await startControlPlane({ tmpPrefix: "ep-wg-" });
  try {
    const { nats } = cp;
    await cp.spawn("auth", cp.authEnv);
    // Rate limits are the gateway's own tests' business: bursts of 100 creates here.
    const gateway = await cp.spawn("gateway", {
      EP_NATS_URL: nats.url,
      EP_RATE_LIMIT_RPM: "1000000",
      EP_RATE_BURST_RPS: "100000",
      EP_AUTH_RATE_RPM: "100000",
    });
    const { apiKey } = await cp.completeSetup(gateway.url as string);

    const mesh: WgMesh = {
      nats,
      gateway,
      apiKey,
      dir: cp.dir,
      agent: (node, env = {}) =>
        cp.spawn(
          "wg-agent",
          {
            EP_NATS_URL: nats.url,
            EP_NODE_NAME: node,
            EP_WG_STATE_DIR: join(cp.dir, `state-${node}`),
            EP_SEALING_KEY: SEALING_KEY,
            EP_WG_STATS_INTERVAL_MS: "1000",
            ...env,
          },
          { instance: `wg-agent-${node}-${rand()}` },
        ),
      async api(method, path, body) {
        const r = await fetch(`${gateway.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${apiKey}`,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        const text = await r.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        return { status: r.status, body: parsed as never, text };
      },
      dispose: cp.dispose,
    };
    return mesh;
  } catch (err) {
    await cp.dispose();
    throw err;
  }
}

/** Minimal shapes used by the tests. */
export interface Apply {
  revision: number;
  confirmed: string[];
  unconfirmed: Array<{ node: string; reason: string }>;
}
export interface PeerBody {
  id: string;
  name: string;
  public_key: string;
  addresses: string[];
  enabled: boolean;
  expired: boolean;
  private_key?: string;
  config?: string;
  apply: Apply;
}
