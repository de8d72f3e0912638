/**
 * What most end-to-end meshes stand on: a nats-server with JetStream, a fresh database with
 * every service's schema, a temp dir, the env the auth service needs (it writes the
 * first-run setup token into that dir), and first-run setup through a gateway. The caller
 * spawns auth, gateways and its own services through `spawn`; `dispose()` ends everything
 * in reverse order of start.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { authDatabase, type ServiceDir, type ServiceProcess, spawnService } from "./mesh.ts";
import { type NatsServer, startNats } from "./nats.ts";
import type { TestDatabase } from "./postgres.ts";
import { tmpDir } from "./tmp.ts";
import { waitFor } from "./wait.ts";

/** The owner's password in every mesh's first-run setup. */
export const OWNER_PASSWORD = "correct horse battery staple";

export interface ControlPlane {
  nats: NatsServer;
  db: TestDatabase;
  /** The mesh's temp dir (removed on dispose, after the processes started later). */
  dir: string;
  /** NATS, database and setup-token file: what an auth instance needs. */
  authEnv: Record<string, string>;
  /** Spawn a service; it is stopped on dispose. */
  spawn(
    service: ServiceDir,
    env: Record<string, string>,
    opts?: { instance?: string },
  ): Promise<ServiceProcess>;
  /** Run `fn` on dispose, before whatever was started earlier is ended. */
  defer(fn: () => Promise<unknown>): void;
  /** First-run setup through a gateway: the owner's user id and full-scope API key. */
  completeSetup(gatewayUrl: string): Promise<{ userId: string; apiKey: string }>;
  /** Ends everything, last started first; errors are ignored. */
  dispose(): Promise<void>;
}

export async function startControlPlane(opts: {
  /** Prefix of the temp dir's name (tells whose it is). */
  tmpPrefix: string;
  natsArgs?: string[];
}): Promise<ControlPlane> {
  const disposers: Array<() => Promise<unknown>> = [];
  const defer = (fn: () => Promise<unknown>) => {
    disposers.push(fn);
  };
  const dispose = async () => {
    for (const d of disposers.reverse()) await d().catch(() => undefined);
  };
  try {
    const nats = await startNats({ jetstream: true, ...(opts.natsArgs ? { args: opts.natsArgs } : {}) });
    defer(() => nats.stop());
    const db = await authDatabase();
    defer(() => db[Symbol.asyncDispose]());
    const dir = await tmpDir(opts.tmpPrefix);
    defer(() => dir[Symbol.asyncDispose]());
    const tokenFile = join(dir.path, "setup-token");
    return {
      nats,
      db,
      dir: dir.path,
      authEnv: { EP_NATS_URL: nats.url, DATABASE_URL: db.url, EP_SETUP_TOKEN_FILE: tokenFile },
      async spawn(service, env, spawnOpts = {}) {
        const p = await spawnService(service, env, spawnOpts);
        defer(() => p.stop());
        return p;
      },
      defer,
      async completeSetup(gatewayUrl) {
        // Auth writes the token at start; wait in case a test's auth is still starting.
        const token = await waitFor(
          async () => (await readFile(tokenFile, "utf8").catch(() => "")).trim() || undefined,
        );
        const r = await fetch(`${gatewayUrl}/api/v1/setup/complete`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token, username: "owner", password: OWNER_PASSWORD }),
        });
        if (r.status !== 201) throw new Error(`setup failed: ${r.status} ${await r.text()}`);
        const body = (await r.json()) as { user: { id: string }; api_key: { key: string } };
        return { userId: body.user.id, apiKey: body.api_key.key };
      },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
