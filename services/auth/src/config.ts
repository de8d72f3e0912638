/** Auth service configuration, parsed once from the environment. */
import { BaseEnv, parseEnv } from "@edgeplane/proto";
import { z } from "zod";

export const AuthEnv = BaseEnv.extend({
  DATABASE_URL: z.string().min(1).describe("PostgreSQL DSN."),
  EP_KEY_PEPPER: z
    .string()
    .min(32, "at least 32 characters of secret material")
    .describe("Server-side pepper for API-key HMACs (keep it stable: changing it invalidates every key)."),
  EP_SETUP_TOKEN: z
    .string()
    .min(20, "at least 20 characters")
    .max(256)
    .optional()
    .describe(
      "A first-run setup token supplied by the deployment (e.g. a Kubernetes Secret) instead of a generated one.",
    ),
  EP_SETUP_TOKEN_FILE: z.string().optional().describe("Where to write the one-time setup token (mode 0600)."),
  EP_VERIFY_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5_000)
    .describe("How long gateways may cache a verification."),
  EP_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10).describe("PostgreSQL pool size."),
  EP_SESSION_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(12 * 3600)
    .describe("Absolute lifetime of a browser session in seconds."),
  EP_ACCESS_TTL_S: z.coerce
    .number()
    .int()
    .min(10)
    .max(86_400)
    .default(1800)
    .describe("Access JWT lifetime in seconds (30 min)."),
  EP_REFRESH_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(90 * 86_400)
    .default(7 * 86_400)
    .describe("Refresh token lifetime in seconds (7 days)."),
  EP_LOGIN_MAX_FAILURES: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(20)
    .describe("Failed logins of one username allowed per window before it is locked."),
  EP_LOGIN_WINDOW_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(300)
    .describe("Failed-login window (and lock) in seconds."),
  EP_AUDIT_WRITER: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .describe("Take part in the audit-writer election (one instance appends at a time)."),
  EP_AUDIT_BATCH: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(500)
    .describe("Audit rows per insert batch."),
  EP_AUDIT_CHECKPOINT_ROWS: z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe("Sign a checkpoint at least every this many rows."),
  EP_AUDIT_CHECKPOINT_S: z.coerce
    .number()
    .int()
    .min(1)
    .default(300)
    .describe("Sign a checkpoint at least this often (seconds) while rows arrive."),
});
export type AuthConfig = Readonly<z.infer<typeof AuthEnv>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return parseEnv(AuthEnv, env);
}
