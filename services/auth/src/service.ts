/**
 * The auth service's endpoints: setup, credential verification, and `me`. Mutations
 * publish their audit event to JetStream before replying.
 */
import {
  buildAuditEvent,
  CredentialVerify,
  Errors,
  meRoute,
  publishAudit,
  publishEvent,
  type RunServiceOptions,
  ServiceName,
  Subjects,
  servicePool,
  setupCompleteRoute,
  setupStatusRoute,
} from "@edgeplane/proto";
import { Kvm } from "@nats-io/kv";
import { registerAuditRoutes } from "./audit-routes.ts";
import { type AuditWriter, startAuditWriter } from "./audit-writer.ts";
import { AuthEnv } from "./config.ts";
import type { Deps } from "./deps.ts";
import { registerKeys } from "./keys.ts";
import { registerSessions } from "./sessions.ts";
import { completeSetup, ensureSetupToken, setupRequired } from "./setup.ts";
import { activeSigningKey, publicJwks } from "./signing.ts";
import { registerUsers } from "./users.ts";
import { jwtKeyResolver, verifyCredential } from "./verify.ts";

export const VERSION = "0.1.0";

const database = servicePool();
let writer: AuditWriter | undefined;

/** The running audit writer of this process (tests and diagnostics). */
export function auditWriter(): AuditWriter | undefined {
  return writer;
}

export const authService: RunServiceOptions<typeof AuthEnv> = {
  name: ServiceName.Auth,
  version: VERSION,
  description: "Identity and audit",
  env: AuthEnv,
  healthy: database.healthy,
  async setup(rt) {
    const { config, svc, js, log } = rt;
    const db = await database.open(rt);
    const pepper = Buffer.from(config.EP_KEY_PEPPER);
    await ensureSetupToken(db, { file: config.EP_SETUP_TOKEN_FILE, fixed: config.EP_SETUP_TOKEN, log });

    svc.route(setupStatusRoute, async () => ({ setup_required: await setupRequired(db) }));

    svc.route(setupCompleteRoute, async (req, ctx) => {
      try {
        const result = await completeSetup(db, pepper, req.body);
        await publishAudit(
          js,
          buildAuditEvent(
            {
              action: "setup.complete",
              category: "auth",
              result: "success",
              target_type: "user",
              target_id: result.user.id,
              summary: { username: result.user.username, role: "owner", api_key_id: result.api_key.id },
              actor: { actor_type: "user", actor_id: result.user.id, actor_name: result.user.username },
            },
            ctx,
          ),
        );
        const k = result.api_key;
        await publishEvent(js, {
          type: "auth.key.created",
          resource: { kind: "api_key", name: k.id },
          actor: { type: "user", id: result.user.id, name: result.user.username },
          data: {
            key_id: k.id,
            name: k.name,
            prefix: k.prefix,
            user_id: result.user.id,
            scopes: k.scopes,
            expires_at: k.expires_at,
          },
        }).catch((err: unknown) => log.warn({ err }, "could not publish auth.key.created"));
        if (config.EP_SETUP_TOKEN_FILE)
          await import("node:fs/promises").then((fs) =>
            fs.rm(config.EP_SETUP_TOKEN_FILE as string, { force: true }),
          );
        return result;
      } catch (err) {
        if (Errors.InvalidSetupToken.is(err)) {
          await publishAudit(
            js,
            buildAuditEvent(
              {
                action: "setup.complete",
                category: "auth",
                result: "denied",
                summary: { reason: "invalid_setup_token" },
              },
              ctx,
            ),
          );
        }
        throw err;
      }
    });

    // Keys, KV: JWT public keys and token versions for gateways, the audit chain head.
    const kv = await new Kvm(rt.nc).create(Subjects.kv.auth, {
      history: 1,
      replicas: config.EP_STREAM_REPLICAS,
    });
    const jwtKey = await activeSigningKey(db, pepper, "jwt");
    const auditKey = await activeSigningKey(db, pepper, "audit");
    await kv.put("jwks", JSON.stringify(await publicJwks(db, "jwt")));
    const jwtKeyFor = jwtKeyResolver(db);
    const deps: Deps = { db, nc: rt.nc, js, kv, svc, log, config, pepper, jwtKey, jwtKeyFor };

    svc.endpoint("verify", { subject: Subjects.auth.verify }, CredentialVerify, (req) =>
      verifyCredential(db, pepper, jwtKeyFor, req, config.EP_VERIFY_CACHE_TTL_MS),
    );
    registerUsers(deps);
    registerKeys(deps);
    registerSessions(deps);
    registerAuditRoutes(deps);

    if (config.EP_AUDIT_WRITER) {
      const w = startAuditWriter({
        databaseUrl: config.DATABASE_URL,
        js,
        kv,
        log: log.child({ part: "audit-writer" }),
        key: auditKey,
        batch: config.EP_AUDIT_BATCH,
        checkpointRows: config.EP_AUDIT_CHECKPOINT_ROWS,
        checkpointS: config.EP_AUDIT_CHECKPOINT_S,
      });
      writer = w;
      rt.onStop(() => w.stop());
    }

    svc.route(meRoute, async (_req, ctx) => {
      const p = ctx.principal;
      if (!p) throw Errors.Unauthenticated.create();
      const r = await db.query<{ id: string; username: string; role: string; created_at: Date }>(
        "SELECT id, username, role, created_at FROM users WHERE id = $1 AND deleted_at IS NULL",
        [p.user_id],
      );
      const u = r.rows[0];
      if (!u) throw Errors.Unauthenticated.create();
      return {
        user: { id: u.id, username: u.username, role: u.role, created_at: u.created_at.toISOString() },
        principal: p,
      };
    });
  },
};
