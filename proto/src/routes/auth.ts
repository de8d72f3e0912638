/**
 * Identity routes answered by the auth service: sessions, bearer tokens, MFA, passwords,
 * users and API keys. Compatibility aliases follow PIC's `/api/auth/*`.
 */
import { Errors } from "../errors.ts";
import { Perm } from "../perms.ts";
import {
  Accepted,
  AdminResetPassword,
  AdminResetPasswordAlias,
  ApiKeyCreate,
  ApiKeyCreatedFull,
  ApiKeyIdParams,
  ApiKeyList,
  ApiKeyListQuery,
  ApiKeyView,
  ChangePassword,
  CsrfToken,
  Done,
  Login,
  LoginMfa,
  LoginReply,
  MfaCode,
  MfaSetupReply,
  PasswordResetConfirm,
  PasswordResetRequest,
  RefreshRequest,
  SessionIdParams,
  SessionList,
  TokenPair,
  TokenRequest,
  User,
  UserCreate,
  UserIdParams,
  UserList,
  UserListQuery,
  UserUpdate,
} from "../schemas/auth.ts";
import { Subjects } from "../subjects.ts";
import { defineRoute } from "./route.ts";

const S = Subjects.auth;
const authErrors = [
  Errors.ValidationFailed,
  Errors.InvalidCredentials,
  Errors.AccountLocked,
  Errors.RateLimited,
];

// --- sessions ---

export const loginRoute = defineRoute({
  id: "auth.login",
  method: "POST",
  path: "/api/v1/auth/login",
  aliases: ["/api/auth/login"],
  summary: "Log in (browser session)",
  description:
    "Sets an httpOnly, SameSite=Strict session cookie (Secure over HTTPS). An MFA user gets `mfa_required` and a challenge instead, completed by `POST /auth/login/mfa`. 20 failed logins of one username within 5 minutes lock it for the rest of the window (429, even with the right password).",
  tags: ["auth"],
  auth: "public",
  rateClass: "auth",
  subject: S.login,
  headers: ["user-agent"],
  body: Login,
  reply: LoginReply,
  errors: authErrors,
});

export const loginMfaRoute = defineRoute({
  id: "auth.login_mfa",
  method: "POST",
  path: "/api/v1/auth/login/mfa",
  summary: "Complete an MFA login",
  tags: ["auth"],
  auth: "public",
  rateClass: "auth",
  subject: S.loginMfa,
  headers: ["user-agent"],
  body: LoginMfa,
  reply: LoginReply,
  errors: authErrors,
});

export const logoutRoute = defineRoute({
  id: "auth.logout",
  method: "POST",
  path: "/api/v1/auth/logout",
  aliases: ["/api/auth/logout"],
  summary: "End this session",
  tags: ["auth"],
  auth: "principal",
  subject: S.logout,
  reply: Done,
  errors: [Errors.Unauthenticated, Errors.CsrfFailed],
});

export const logoutAllRoute = defineRoute({
  id: "auth.logout_all",
  method: "POST",
  path: "/api/v1/auth/logout-all",
  summary: "End every session and invalidate every token of the caller",
  description:
    "Revokes all sessions and refresh tokens and bumps the caller's token version, so outstanding access JWTs are refused by every gateway at once.",
  tags: ["auth"],
  auth: "principal",
  subject: S.logoutAll,
  reply: Done,
  errors: [Errors.Unauthenticated, Errors.CsrfFailed],
});

export const csrfTokenRoute = defineRoute({
  id: "auth.csrf_token",
  method: "GET",
  path: "/api/v1/auth/csrf-token",
  aliases: ["/api/auth/csrf-token"],
  summary: "CSRF token of this session",
  description: "Send it as `X-CSRF-Token` on every mutating request authenticated by the session cookie.",
  tags: ["auth"],
  auth: "principal",
  subject: S.csrfToken,
  reply: CsrfToken,
  errors: [Errors.Unauthenticated, Errors.BadRequest],
});

export const sessionsListRoute = defineRoute({
  id: "auth.sessions_list",
  method: "GET",
  path: "/api/v1/auth/sessions",
  summary: "The caller's live sessions",
  tags: ["auth"],
  auth: "principal",
  subject: S.sessionsList,
  reply: SessionList,
  errors: [Errors.Unauthenticated],
});

export const sessionDeleteRoute = defineRoute({
  id: "auth.sessions_delete",
  method: "DELETE",
  path: "/api/v1/auth/sessions/{id}",
  summary: "End one of the caller's sessions",
  tags: ["auth"],
  auth: "principal",
  subject: S.sessionDelete,
  params: SessionIdParams,
  reply: Done,
  errors: [Errors.Unauthenticated, Errors.NotFound, Errors.CsrfFailed],
});

// --- bearer tokens ---

export const tokenRoute = defineRoute({
  id: "auth.token",
  method: "POST",
  path: "/api/v1/auth/token",
  summary: "Get an access JWT and a refresh token",
  tags: ["auth"],
  auth: "public",
  rateClass: "auth",
  subject: S.token,
  body: TokenRequest,
  reply: TokenPair,
  errors: authErrors,
});

export const refreshRoute = defineRoute({
  id: "auth.refresh",
  method: "POST",
  path: "/api/v1/auth/refresh",
  summary: "Rotate a refresh token",
  description:
    "Presenting an already-rotated refresh token revokes its whole family (every token of that login).",
  tags: ["auth"],
  auth: "public",
  rateClass: "auth",
  subject: S.refresh,
  body: RefreshRequest,
  reply: TokenPair,
  errors: authErrors,
});

// --- MFA ---

export const mfaSetupRoute = defineRoute({
  id: "auth.mfa_setup",
  method: "POST",
  path: "/api/v1/auth/mfa/setup",
  summary: "Start TOTP enrolment",
  tags: ["auth"],
  auth: "principal",
  subject: S.mfaSetup,
  reply: MfaSetupReply,
  status: 201,
  errors: [Errors.Unauthenticated, Errors.Conflict],
});

export const mfaEnableRoute = defineRoute({
  id: "auth.mfa_enable",
  method: "POST",
  path: "/api/v1/auth/mfa/enable",
  summary: "Confirm TOTP enrolment with a code",
  tags: ["auth"],
  auth: "principal",
  subject: S.mfaEnable,
  body: MfaCode,
  reply: Done,
  errors: [Errors.Unauthenticated, Errors.InvalidCredentials, Errors.Conflict],
});

export const mfaDisableRoute = defineRoute({
  id: "auth.mfa_disable",
  method: "POST",
  path: "/api/v1/auth/mfa/disable",
  summary: "Turn TOTP off (needs a current code)",
  tags: ["auth"],
  auth: "principal",
  subject: S.mfaDisable,
  body: MfaCode,
  reply: Done,
  errors: [Errors.Unauthenticated, Errors.InvalidCredentials],
});

// --- passwords ---

export const changePasswordRoute = defineRoute({
  id: "auth.change_password",
  method: "POST",
  path: "/api/v1/auth/change-password",
  aliases: ["/api/auth/change-password"],
  summary: "Change one's own password",
  description: "Ends the caller's other sessions and refresh tokens.",
  tags: ["auth"],
  auth: "principal",
  subject: S.changePassword,
  body: ChangePassword,
  reply: Done,
  errors: [Errors.Unauthenticated, Errors.InvalidCredentials, Errors.ValidationFailed],
});

export const passwordResetRequestRoute = defineRoute({
  id: "auth.password_reset_request",
  method: "POST",
  path: "/api/v1/auth/password-reset/request",
  summary: "Request a password-reset token",
  description:
    "Always 202. If the user exists, a single-use token (30 minutes) is published on `ep.v1.notify.auth.password-reset` for delivery; it is never in the reply.",
  tags: ["auth"],
  auth: "public",
  rateClass: "auth",
  subject: S.resetRequest,
  body: PasswordResetRequest,
  reply: Accepted,
  status: 202,
});

export const passwordResetConfirmRoute = defineRoute({
  id: "auth.password_reset_confirm",
  method: "POST",
  path: "/api/v1/auth/password-reset/confirm",
  summary: "Set a new password with a reset token",
  tags: ["auth"],
  auth: "public",
  rateClass: "auth",
  subject: S.resetConfirm,
  body: PasswordResetConfirm,
  reply: Done,
  errors: [Errors.InvalidCredentials, Errors.ValidationFailed],
});

// --- users ---

export const usersCreateRoute = defineRoute({
  id: "users.create",
  method: "POST",
  path: "/api/v1/users",
  summary: "Create a user",
  description: "The role must be strictly below the caller's.",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersCreate,
  body: UserCreate,
  reply: User,
  status: 201,
  errors: [Errors.Forbidden, Errors.Conflict, Errors.ValidationFailed],
});

export const usersListRoute = defineRoute({
  id: "users.list",
  method: "GET",
  path: "/api/v1/users",
  aliases: ["/api/auth/users"],
  summary: "List users",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersList,
  query: UserListQuery,
  reply: UserList,
  errors: [Errors.Forbidden],
});

export const usersGetRoute = defineRoute({
  id: "users.get",
  method: "GET",
  path: "/api/v1/users/{id}",
  summary: "Get a user",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersGet,
  params: UserIdParams,
  reply: User,
  errors: [Errors.Forbidden, Errors.NotFound],
});

export const usersUpdateRoute = defineRoute({
  id: "users.update",
  method: "PATCH",
  path: "/api/v1/users/{id}",
  summary: "Change a user's role or resource scope",
  description:
    "Only users below the caller's role can be changed, and only to roles below it. The last owner cannot be demoted.",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersUpdate,
  params: UserIdParams,
  body: UserUpdate,
  reply: User,
  errors: [Errors.Forbidden, Errors.NotFound, Errors.LastOwner],
});

export const usersDeleteRoute = defineRoute({
  id: "users.delete",
  method: "DELETE",
  path: "/api/v1/users/{id}",
  summary: "Soft-delete a user",
  description: "Revokes the user's sessions, refresh tokens and API keys. The last owner cannot be removed.",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersDelete,
  params: UserIdParams,
  reply: User,
  errors: [Errors.Forbidden, Errors.NotFound, Errors.LastOwner],
});

export const usersResetPasswordRoute = defineRoute({
  id: "users.reset_password",
  method: "POST",
  path: "/api/v1/users/{id}/reset-password",
  summary: "Set another user's password",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersResetPassword,
  params: UserIdParams,
  body: AdminResetPassword,
  reply: Done,
  errors: [Errors.Forbidden, Errors.NotFound],
});

export const usersResetPasswordAliasRoute = defineRoute({
  id: "users.reset_password_by_name",
  method: "POST",
  path: "/api/auth/admin/reset-password",
  summary: "Set another user's password, by username (compatibility)",
  tags: ["users"],
  auth: "principal",
  permission: Perm.UsersAdmin,
  subject: S.usersResetPasswordByName,
  body: AdminResetPasswordAlias,
  reply: Done,
  errors: [Errors.Forbidden, Errors.NotFound],
});

// --- API keys ---

export const keysCreateRoute = defineRoute({
  id: "api_keys.create",
  method: "POST",
  path: "/api/v1/api-keys",
  summary: "Create an API key",
  description:
    "Returns the secret exactly once. Scopes never exceed the caller's permissions; a scoped caller's key is scoped at least as narrowly. At most 50 active keys per user.",
  tags: ["api-keys"],
  auth: "principal",
  permission: Perm.KeysManage,
  subject: S.keysCreate,
  body: ApiKeyCreate,
  reply: ApiKeyCreatedFull,
  status: 201,
  errors: [Errors.Forbidden, Errors.TooManyKeys, Errors.ValidationFailed],
});

export const keysListRoute = defineRoute({
  id: "api_keys.list",
  method: "GET",
  path: "/api/v1/api-keys",
  summary: "List API keys",
  description: "The caller's keys; admins may list another user's with `user_id`.",
  tags: ["api-keys"],
  auth: "principal",
  permission: Perm.KeysManage,
  subject: S.keysList,
  query: ApiKeyListQuery,
  reply: ApiKeyList,
  errors: [Errors.Forbidden],
});

export const keysDeleteRoute = defineRoute({
  id: "api_keys.delete",
  method: "DELETE",
  path: "/api/v1/api-keys/{id}",
  summary: "Revoke an API key",
  description: "Every gateway drops its cached verification of the key within a second.",
  tags: ["api-keys"],
  auth: "principal",
  permission: Perm.KeysManage,
  subject: S.keysDelete,
  params: ApiKeyIdParams,
  reply: ApiKeyView,
  errors: [Errors.Forbidden, Errors.NotFound],
});

export const authRoutes = [
  loginRoute,
  loginMfaRoute,
  logoutRoute,
  logoutAllRoute,
  csrfTokenRoute,
  sessionsListRoute,
  sessionDeleteRoute,
  tokenRoute,
  refreshRoute,
  mfaSetupRoute,
  mfaEnableRoute,
  mfaDisableRoute,
  changePasswordRoute,
  passwordResetRequestRoute,
  passwordResetConfirmRoute,
  usersCreateRoute,
  usersListRoute,
  usersGetRoute,
  usersUpdateRoute,
  usersDeleteRoute,
  usersResetPasswordRoute,
  usersResetPasswordAliasRoute,
  keysCreateRoute,
  keysListRoute,
  keysDeleteRoute,
] as const;
