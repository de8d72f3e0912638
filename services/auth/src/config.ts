/** Auth service configuration, parsed once from the environment. */
import { BaseEnv, parseEnv } from "@edgeplane/proto";
import { z } from "zod";

export const AuthEnv = BaseEnv.extend({
  DATABASE_URL: z.string().min(1).describe("PostgreSQL DSN."),
  EP_KEY_PEPPER: z
    .string()
    .min(32, "at least 32 characters of secret material")
    .describe("Server-side pepper for API-key HMACs (keep it stable: changing it invalidates every key)."),
  EP_SETUP_TOKEN_FILE: z.string().optional().describe("Where to write the one-time setup token (mode 0600)."),
  EP_VERIFY_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5_000)
    .describe("How long gateways may cache a verification."),
  EP_DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10).describe("PostgreSQL pool size."),
});
export type AuthConfig = Readonly<z.infer<typeof AuthEnv>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return parseEnv(AuthEnv, env);
}
