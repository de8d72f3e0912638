/** First-run setup and API-key verification shapes. */
import { z } from "zod";
import { ROLES } from "../perms.ts";
import { Principal } from "./common.ts";

export const Username = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{2,63}$/,
    "3–64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit",
  )
  .describe("Login name: 3–64 characters of a-z, 0-9, '.', '_', '-'.");
export const Password = z
  .string()
  .min(12, "at least 12 characters")
  .max(256, "at most 256 characters")
  .describe("Password: 12–256 characters.");

export const SetupStatus = z
  .object({ setup_required: z.boolean().describe("True until the first owner has been created.") })
  .describe("Whether first-run setup is still open.");

export const SetupComplete = z
  .object({
    token: z.string().min(1).max(256).describe("The one-time setup token printed at first start."),
    username: Username,
    password: Password,
  })
  .describe("Create the first owner with the one-time setup token.");

export const UserView = z
  .object({
    id: z.string().describe("User id (`usr_…`)."),
    username: z.string().describe("Login name."),
    role: z.enum(ROLES as [string, ...string[]]).describe("Role."),
    created_at: z.string().describe("Creation time (ISO 8601)."),
  })
  .describe("A user, without secrets.");

export const ApiKeyCreated = z
  .object({
    id: z.string().describe("Key id (`key_…`)."),
    key: z.string().describe("The secret key. Shown exactly once: store it in a vault."),
    prefix: z.string().describe("Public, non-secret prefix that identifies the key in lists and logs."),
    name: z.string().describe("Key name."),
    scopes: z.array(z.string()).describe("Permissions granted to the key."),
    expires_at: z.string().describe("Expiry (ISO 8601)."),
    created_at: z.string().describe("Creation time (ISO 8601)."),
  })
  .describe("A newly created API key, including its secret.");

export const SetupCompleted = z
  .object({ user: UserView, api_key: ApiKeyCreated })
  .describe("The first owner and a full-scope API key.");

export const VerifyRequest = z
  .object({ api_key: z.string().max(512).describe("The presented API key.") })
  .describe("Verify a credential (gateway → auth).");
export const VerifyReply = z
  .object({
    principal: Principal,
    cache_ttl_ms: z.number().int().describe("How long the gateway may cache this verification."),
  })
  .describe("A verified principal.");

export const Me = z
  .object({ user: UserView, principal: Principal })
  .describe("The caller: its user and the principal the gateway verified.");
