/**
 * Identity shapes: users, roles, sessions, bearer tokens, MFA, API keys, and the
 * gateway ↔ auth verification messages. Secrets appear only in the replies that hand
 * them out once (`key`, `access_token`, `refresh_token`, TOTP `secret`).
 */
import { z } from "zod";
import { nameSchema } from "../names.ts";
import { ALL_PERMS, PermAliases, ROLES } from "../perms.ts";
import { ListQuery, listOf, Principal, ResourceScope } from "./common.ts";
import { Password, Username } from "./setup.ts";

export const RoleSchema = z
  .enum(ROLES as [string, ...string[]])
  .describe("Role: owner > admin > operator > viewer.");

const ScopeName = z
  .string()
  .refine((s) => (ALL_PERMS as readonly string[]).includes(s) || s in PermAliases, {
    message: `unknown scope; use a permission (${ALL_PERMS.join(", ")}) or an alias (${Object.keys(PermAliases).join(", ")})`,
  })
  .describe("A permission (`haproxy:read`) or a PatchPanel alias (`read`, `state-write`, …).");

/** Resource scope with strictly named resources (names reach subjects elsewhere). */
export const ResourceScopeInput = z
  .object({
    haproxy_clusters: z
      .array(nameSchema("cluster"))
      .max(100)
      .optional()
      .describe("HAProxy clusters; absent = all."),
    wg_interfaces: z
      .array(nameSchema("interface"))
      .max(100)
      .optional()
      .describe("WireGuard interfaces; absent = all."),
    adapter_controllers: z
      .array(nameSchema("controller"))
      .max(100)
      .optional()
      .describe("Adapter controllers; absent = all."),
  })
  .strict()
  .describe("Limits a principal to named resources; others look like 404 to it.");

/** A query flag: `true`/`false` (and booleans, so a re-validated value passes again). */
const flag = (what: string) =>
  z
    .union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
    .default(false)
    .describe(what);

export const IdParam = z
  .string()
  .regex(/^[a-z]{2,5}_[0-9a-z]{8,32}$/, "not a valid id")
  .describe("A typed id (`usr_…`, `key_…`, `ses_…`).");

// --- users ---

export const User = z
  .object({
    id: z.string().describe("User id (`usr_…`)."),
    username: z.string().describe("Login name."),
    role: RoleSchema,
    resources: ResourceScope.nullable().describe("Resource scope; null = unrestricted."),
    mfa_enabled: z.boolean().describe("Whether TOTP is required at login."),
    created_at: z.string().describe("Creation time (ISO 8601)."),
    updated_at: z.string().describe("Last change (ISO 8601)."),
    deleted_at: z.string().nullable().describe("Soft-deletion time; null while the user is live."),
  })
  .describe("A user, without secrets.");

export const UserCreate = z
  .object({
    username: Username,
    password: Password,
    role: RoleSchema,
    resources: ResourceScopeInput.nullable().optional(),
  })
  .strict()
  .describe("Create a user; the role must be strictly below the caller's.");

export const UserUpdate = z
  .object({
    role: RoleSchema.optional(),
    resources: ResourceScopeInput.nullable().optional(),
  })
  .strict()
  .describe("Change a user's role or resource scope.");

export const UserIdParams = z.object({ id: IdParam });
export const UserListQuery = ListQuery.extend({
  include_deleted: flag("Include soft-deleted users."),
});
export const UserList = listOf(User).describe("A page of users.");

export const ChangePassword = z
  .object({
    current_password: z.string().min(1).max(256).describe("The caller's current password."),
    new_password: Password,
  })
  .strict()
  .describe("Change one's own password.");

export const AdminResetPassword = z
  .object({ new_password: Password })
  .strict()
  .describe("Set another user's password (admin).");

/** PatchPanel/PIC alias shape: the target is named in the body. */
export const AdminResetPasswordAlias = z
  .object({ username: Username, new_password: Password })
  .strict()
  .describe("Set another user's password, named by username (compatibility alias).");

export const PasswordResetRequest = z
  .object({ username: Username })
  .strict()
  .describe("Ask for a password-reset token (delivered as an event, never in the reply).");

export const PasswordResetConfirm = z
  .object({
    token: z.string().min(20).max(128).describe("The single-use reset token."),
    new_password: Password,
  })
  .strict()
  .describe("Consume a password-reset token.");

export const Accepted = z
  .object({
    accepted: z.boolean().describe("Always true: the answer never reveals whether the user exists."),
  })
  .describe("Accepted for processing.");

export const Done = z.object({ ok: z.boolean().describe("True when done.") }).describe("Done.");

// --- sessions, tokens, MFA ---

export const Login = z
  .object({
    username: z.string().min(1).max(64).describe("Login name."),
    password: z.string().min(1).max(256).describe("Password."),
  })
  .strict()
  .describe("Log in with a password.");

export const SessionView = z
  .object({
    id: z.string().describe("Session id (`ses_…`)."),
    created_at: z.string().describe("When the session started (ISO 8601)."),
    expires_at: z.string().describe("Absolute expiry (ISO 8601)."),
    last_seen_at: z.string().describe("Last use, updated at most once a minute (ISO 8601)."),
    source_ip: z.string().nullable().describe("Client IP at login."),
    user_agent: z.string().nullable().describe("User-Agent at login."),
    current: z.boolean().describe("True for the session making this request."),
  })
  .describe("A browser session.");
export const SessionList = z.object({ items: z.array(SessionView).describe("Live sessions.") });
export const SessionIdParams = z.object({ id: IdParam });

export const LoginReply = z
  .object({
    mfa_required: z.boolean().describe("True when a TOTP code must follow (`POST /auth/login/mfa`)."),
    challenge: z.string().optional().describe("The MFA challenge to send back with the code."),
    user: User.optional().describe("The logged-in user (absent while MFA is pending)."),
    session: SessionView.optional().describe("The new session (its secret is only in the cookie)."),
    csrf_token: z.string().optional().describe("CSRF token for this session (`X-CSRF-Token`)."),
  })
  .describe("Login result: a session cookie is set unless MFA is pending.");

export const LoginMfa = z
  .object({
    challenge: z.string().min(10).max(128).describe("The challenge from the password step."),
    code: z
      .string()
      .regex(/^\d{6}$/, "six digits")
      .describe("Current TOTP code."),
  })
  .strict()
  .describe("Complete an MFA login.");

export const CsrfToken = z
  .object({ csrf_token: z.string().describe("Send as `X-CSRF-Token` on mutating requests.") })
  .describe("CSRF token bound to the session.");

export const TokenRequest = z
  .object({
    username: z.string().min(1).max(64).describe("Login name."),
    password: z.string().min(1).max(256).describe("Password."),
    code: z
      .string()
      .regex(/^\d{6}$/, "six digits")
      .optional()
      .describe("TOTP code, required for MFA users."),
  })
  .strict()
  .describe("Exchange a password for tokens.");

export const TokenPair = z
  .object({
    access_token: z.string().describe("EdDSA-signed JWT for `Authorization: Bearer`; 30 minutes."),
    token_type: z.literal("Bearer").describe("Always `Bearer`."),
    expires_in: z.number().int().describe("Access token lifetime in seconds."),
    refresh_token: z.string().describe("Single-use refresh token (7 days); reuse revokes its family."),
    refresh_expires_at: z.string().describe("Refresh token expiry (ISO 8601)."),
  })
  .describe("An access token and a refresh token.");

export const RefreshRequest = z
  .object({ refresh_token: z.string().min(10).max(256).describe("The current refresh token.") })
  .strict()
  .describe("Rotate a refresh token.");

export const MfaSetupReply = z
  .object({
    secret: z.string().describe("Base32 TOTP secret (shown once; store it in an authenticator)."),
    otpauth_url: z.string().describe("`otpauth://` URI for QR codes."),
  })
  .describe("A pending TOTP secret, active after `POST /auth/mfa/enable`.");

export const MfaCode = z
  .object({
    code: z
      .string()
      .regex(/^\d{6}$/, "six digits")
      .describe("Current TOTP code."),
  })
  .strict()
  .describe("A TOTP code.");

// --- API keys ---

export const ApiKeyCreate = z
  .object({
    name: z.string().min(1).max(64).describe("Key name."),
    description: z.string().max(500).optional().describe("What the key is for."),
    scopes: z.array(ScopeName).min(1).max(32).describe("Permissions (≤ 32), never beyond the creator's own."),
    expires_in_days: z.number().int().min(1).max(365).describe("Lifetime in days (1–365)."),
    resources: ResourceScopeInput.nullable().optional(),
    rate_limit_rpm: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .optional()
      .describe("Per-key request limit per minute (default: the gateway's)."),
  })
  .strict()
  .describe("Create an API key.");

export const ApiKeyView = z
  .object({
    id: z.string().describe("Key id (`key_…`)."),
    prefix: z.string().describe("Public prefix (`ep_<id>`)."),
    user_id: z.string().describe("Owner of the key."),
    name: z.string().describe("Key name."),
    description: z.string().describe("Description."),
    scopes: z.array(z.string()).describe("Granted permissions."),
    resources: ResourceScope.nullable().describe("Resource scope; null = the owner's."),
    rate_limit_rpm: z.number().int().nullable().describe("Per-key limit per minute."),
    expires_at: z.string().describe("Expiry (ISO 8601)."),
    created_at: z.string().describe("Creation time (ISO 8601)."),
    last_used_at: z.string().nullable().describe("Last successful use (minute precision)."),
    revoked_at: z.string().nullable().describe("Revocation time, if revoked."),
  })
  .describe("An API key, without its secret.");

export const ApiKeyCreatedFull = ApiKeyView.extend({
  key: z.string().describe("The secret key. Shown exactly once."),
}).describe("A new API key, including its secret (only in this response).");

export const ApiKeyListQuery = ListQuery.extend({
  user_id: IdParam.optional().describe("Owner to list (admins only; default: the caller)."),
  include_revoked: flag("Include revoked and expired keys."),
});
export const ApiKeyList = listOf(ApiKeyView).describe("A page of API keys.");
export const ApiKeyIdParams = z.object({ id: IdParam });

// --- gateway ↔ auth ---

export const CredentialVerify = z
  .object({
    api_key: z.string().max(512).optional().describe("An API key."),
    session: z.string().max(256).optional().describe("A session cookie value."),
    csrf_token: z
      .string()
      .max(256)
      .optional()
      .describe("The CSRF token presented with a session (mutations)."),
    access_token: z.string().max(4096).optional().describe("An access JWT (already checked by the gateway)."),
  })
  .describe("Verify one credential (gateway → auth).");

export const CredentialVerified = z
  .object({
    principal: Principal,
    cache_ttl_ms: z.number().int().describe("How long the gateway may cache this verification."),
  })
  .describe("A verified principal.");
