/**
 * The auth service's endpoints: setup, credential verification, and `me`. Mutations
 * publish their audit event to JetStream before replying.
 */
import {
  buildAuditEvent,
  Errors,
  meRoute,
  publishAudit,
  type RunServiceOptions,
  ServiceName,
  Subjects,
  setupCompleteRoute,
  setupStatusRoute,
  VerifyRequest,
} from "@edgeplane/proto";
import pg from "pg";
import { AuthEnv } from "./config.ts";
import { completeSetup, ensureSetupToken, setupRequired } from "./setup.ts";
import { verifyApiKey } from "./verify.ts";

export const VERSION = "0.1.0";

let pool: pg.Pool | undefined;

export const authService: RunServiceOptions<typeof AuthEnv> = {
  name: ServiceName.Auth,
  version: VERSION,
  description: "Identity and audit",
  env: AuthEnv,
  healthy: async () => {
    await pool?.query("SELECT 1");
    return pool !== undefined;
  },
  async setup(rt) {
    const { config, svc, js, log } = rt;
    const db = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.EP_DB_POOL_MAX });
    pool = db;
    db.on("error", (err) => log.error({ err }, "idle database client failed"));
    rt.onStop(() => db.end());
    const pepper = Buffer.from(config.EP_KEY_PEPPER);
    await ensureSetupToken(db, config.EP_SETUP_TOKEN_FILE, log);

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

    svc.endpoint("verify", { subject: Subjects.auth.verify }, VerifyRequest, (req) =>
      verifyApiKey(db, pepper, req.api_key, config.EP_VERIFY_CACHE_TTL_MS),
    );

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
