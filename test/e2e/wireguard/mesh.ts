/**
 * The mesh the WireGuard end-to-end tests run against: a real nats-server, PostgreSQL,
 * auth and gateway (setup completed, an owner API key in hand), and wg-agents started on
 * demand with their own state dir and device prefix. Everything is disposed in reverse.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  authDatabase,
  type NatsServer,
  type ServiceProcess,
  spawnService,
  startNats,
  tmpDir,
} from "../../harness/mod.ts";

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
  const disposers: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
  };
  try {
    const nats = await startNats({ jetstream: true });
    disposers.push(() => nats.stop());
    const db = await authDatabase();
    disposers.push(() => db[Symbol.asyncDispose]());
    const tmp = await tmpDir("ep-wg-");
    disposers.push(() => tmp[Symbol.asyncDispose]());
    const tokenFile = join(tmp.path, "setup-token");
    const auth = await spawnService("auth", {
      EP_NATS_URL: nats.url,
      DATABASE_URL: db.url,
      EP_SETUP_TOKEN_FILE: tokenFile,
    });
    disposers.push(() => auth.stop());
    // Rate limits are the gateway's own tests' business: bursts of 100 creates here.
    const gateway = await spawnService("gateway", {
      EP_NATS_URL: nats.url,
      EP_RATE_LIMIT_RPM: "1000000",
      EP_RATE_BURST_RPS: "100000",
      EP_AUTH_RATE_RPM: "100000",
    });
    disposers.push(() => gateway.stop());
    const token = (await readFile(tokenFile, "utf8")).trim();
    const setup = await fetch(`${gateway.url}/api/v1/setup/complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, username: "owner", password: "correct horse battery staple" }),
    });
    if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
    const apiKey = ((await setup.json()) as { api_key: { key: string } }).api_key.key;

    const mesh: WgMesh = {
      nats,
      gateway,
      apiKey,
      dir: tmp.path,
      async agent(node, env = {}) {
        const p = await spawnService(
          "wg-agent",
          {
            EP_NATS_URL: nats.url,
            EP_NODE_NAME: node,
            EP_WG_STATE_DIR: join(tmp.path, `state-${node}`),
            EP_SEALING_KEY: SEALING_KEY,
            EP_WG_STATS_INTERVAL_MS: "1000",
            ...env,
          },
          { instance: `wg-agent-${node}-${rand()}` },
        );
        disposers.push(() => p.stop());
        return p;
      },
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
      dispose,
    };
    return mesh;
  } catch (err) {
    await dispose();
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
