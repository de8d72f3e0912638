/**
 * Sessions, bearer tokens, MFA and passwords.
 *  - login: brute-force lock per username (N failures per window, counted in the store so
 *    every auth instance and gateway agree), constant-ish time for unknown users, then a
 *    session row + cookie, or an MFA challenge;
 *  - tokens: access JWT (EdDSA, 30 min) + refresh token (7 days, single use, rotating in a
 *    family; reuse of a rotated token revokes the whole family);
 *  - logout-all bumps the user's token version (published in KV: gateways refuse older
 *    JWTs locally) and revokes every session and refresh token.
 */
import { randomBytes } from "node:crypto";
import {
  type AuditInput,
  base32,
  changePasswordRoute,
  csrfTokenRoute,
  Errors,
  type HandlerContext,
  loginMfaRoute,
  loginRoute,
  logoutAllRoute,
  logoutRoute,
  mfaDisableRoute,
  mfaEnableRoute,
  mfaSetupRoute,
  newId,
  passwordResetConfirmRoute,
  passwordResetRequestRoute,
  refreshRoute,
  Subjects,
  sessionDeleteRoute,
  sessionsListRoute,
  tokenRoute,
  withMeta,
} from "@edgeplane/proto";
import * as OTPAuth from "otpauth";
import type pg from "pg";
import { audit, type Deps, invalidate, publishTokenVersion, requirePrincipal, tx } from "./deps.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { USER_COLUMNS, type UserRow, userView } from "./principal.ts";
import { seal, unseal } from "./seal.ts";
import {
  csrfTokenFor,
  newSecretToken,
  parseSecretToken,
  SESSION_COOKIE,
  safeEqual,
  sha256,
  signAccessToken,
} from "./tokens.ts";
import { revokeUserCredentials } from "./users.ts";

type Ctx = HandlerContext;
interface AuthUser extends UserRow {
  password_hash: string;
  mfa_secret_sealed: Buffer | null;
}

const MFA_CHALLENGE_TTL_S = 300;
const MFA_MAX_ATTEMPTS = 5;
const RESET_TTL_S = 1800;

export function sessionCookie(token: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;
}
const CLEAR_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;

function totpFor(secretB32: string, label: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: "edgeplane",
    label,
    algorithm: "SHA1",
    digits: 6,
    period: 30,
    secret: OTPAuth.Secret.fromBase32(secretB32),
  });
}

export function registerSessions(d: Deps): void {
  const { svc, db, config, pepper } = d;
  const dummyHash = hashPassword(base32(randomBytes(16)));

  async function findUser(c: pg.Pool | pg.PoolClient, username: string): Promise<AuthUser | undefined> {
    const r = await c.query<AuthUser>(
      `SELECT ${USER_COLUMNS}, password_hash, mfa_secret_sealed FROM users WHERE username = $1 AND deleted_at IS NULL`,
      [username],
    );
    return r.rows[0];
  }

  function totpValid(u: AuthUser, code: string): boolean {
    if (!u.mfa_secret_sealed) return false;
    const secret = unseal(pepper, "totp", u.mfa_secret_sealed).toString();
    return totpFor(secret, u.username).validate({ token: code, window: 1 }) !== null;
  }

  /** The signed-in user with the columns MFA needs; one deleted meanwhile is unauthenticated. */
  async function signedInUser(userId: string): Promise<AuthUser> {
    const r = await db.query<AuthUser>(
      `SELECT ${USER_COLUMNS}, password_hash, mfa_secret_sealed FROM users WHERE id = $1`,
      [userId],
    );
    const u = r.rows[0];
    if (!u) throw Errors.Unauthenticated.create();
    return u;
  }

  /**
   * After `revokeUserCredentials` has committed: publish the new token version (gateways
   * refuse older access tokens at once), drop cached verifications, and audit the event.
   */
  async function announceRevocation(
    ctx: Ctx,
    userId: string,
    version: number,
    event: Pick<AuditInput, "action" | "summary" | "actor">,
  ): Promise<void> {
    await publishTokenVersion(d, userId, version);
    invalidate(d, { user_id: userId });
    await audit(d, ctx, {
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: userId,
      ...event,
    });
  }

  /** Password check with the brute-force lock; audits failures. */
  async function checkPassword(ctx: Ctx, username: string, password: string, via: string): Promise<AuthUser> {
    const windowS = config.EP_LOGIN_WINDOW_S;
    const f = await db.query<{ n: string; oldest: Date | null }>(
      `SELECT count(*) AS n, min(at) AS oldest FROM (
         SELECT at FROM login_failures WHERE username = $1 AND at > now() - make_interval(secs => $2)
         ORDER BY at DESC LIMIT $3) recent`,
      [username, windowS, config.EP_LOGIN_MAX_FAILURES],
    );
    const failures = Number(f.rows[0]?.n ?? 0);
    if (failures >= config.EP_LOGIN_MAX_FAILURES) {
      const oldest = f.rows[0]?.oldest?.getTime() ?? Date.now();
      const retry = Math.max(1, Math.ceil((oldest + windowS * 1000 - Date.now()) / 1000));
      await audit(d, ctx, {
        action: "auth.login_locked",
        category: "auth",
        result: "denied",
        target_type: "user",
        target_id: username,
        summary: { username, via },
        actor: { actor_type: "anonymous", actor_id: null, actor_name: username },
      });
      throw Errors.AccountLocked.create({ retry_after_s: retry });
    }
    const u = await findUser(db, username);
    // Unknown users cost one argon2 verification too, so timing does not tell them apart.
    const ok = await verifyPassword(u ? u.password_hash : await dummyHash, password);
    if (!u || !ok) {
      await db.query("INSERT INTO login_failures (username) VALUES ($1)", [username]);
      await audit(d, ctx, {
        action: "auth.login_failed",
        category: "auth",
        result: "failure",
        target_type: "user",
        target_id: u?.id ?? null,
        summary: { username, via, failures: failures + 1 },
        actor: { actor_type: "anonymous", actor_id: null, actor_name: username },
      });
      throw Errors.InvalidCredentials.create();
    }
    await db.query("DELETE FROM login_failures WHERE username = $1", [username]);
    return u;
  }

  async function startSession(ctx: Ctx, u: UserRow, userAgent: string | undefined) {
    const t = newSecretToken("ses");
    const r = await db.query<{ created_at: Date; expires_at: Date; last_seen_at: Date }>(
      `INSERT INTO sessions (id, user_id, secret_hash, expires_at, source_ip, user_agent)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6) RETURNING created_at, expires_at, last_seen_at`,
      [t.id, u.id, t.hash, config.EP_SESSION_TTL_S, ctx.sourceIp ?? null, userAgent?.slice(0, 256) ?? null],
    );
    const s = r.rows[0] as { created_at: Date; expires_at: Date; last_seen_at: Date };
    await audit(d, ctx, {
      action: "auth.login",
      category: "auth",
      result: "success",
      target_type: "session",
      target_id: t.id,
      summary: { username: u.username, mfa: u.mfa_enabled },
      actor: { actor_type: "user", actor_id: u.id, actor_name: u.username },
    });
    return withMeta(
      {
        mfa_required: false,
        user: userView(u),
        session: {
          id: t.id,
          created_at: s.created_at.toISOString(),
          expires_at: s.expires_at.toISOString(),
          last_seen_at: s.last_seen_at.toISOString(),
          source_ip: ctx.sourceIp ?? null,
          user_agent: userAgent ?? null,
          current: true,
        },
        csrf_token: csrfTokenFor(pepper, t.id),
      },
      { headers: { "set-cookie": sessionCookie(t.token, config.EP_SESSION_TTL_S) } },
    );
  }

  async function issueTokens(ctx: Ctx, u: UserRow, familyId?: string) {
    const fam = familyId ?? newId("rtf");
    const t = newSecretToken("rtk");
    const expires = await tx(db, async (c) => {
      if (!familyId) await c.query("INSERT INTO refresh_families (id, user_id) VALUES ($1, $2)", [fam, u.id]);
      const r = await c.query<{ expires_at: Date }>(
        `INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at`,
        [t.id, fam, u.id, t.hash, config.EP_REFRESH_TTL_S],
      );
      return (r.rows[0] as { expires_at: Date }).expires_at;
    });
    const access = await signAccessToken(
      d.jwtKey,
      { sub: u.id, ver: u.token_version, fam },
      config.EP_ACCESS_TTL_S,
    );
    if (!familyId)
      await audit(d, ctx, {
        action: "auth.token",
        category: "auth",
        result: "success",
        target_type: "refresh_family",
        target_id: fam,
        summary: { username: u.username },
        actor: { actor_type: "user", actor_id: u.id, actor_name: u.username },
      });
    return {
      access_token: access,
      token_type: "Bearer" as const,
      expires_in: config.EP_ACCESS_TTL_S,
      refresh_token: t.token,
      refresh_expires_at: expires.toISOString(),
    };
  }

  svc.route(loginRoute, async (req, ctx) => {
    const u = await checkPassword(ctx, req.body.username, req.body.password, "login");
    if (u.mfa_enabled) {
      const ch = newSecretToken("mfa");
      await db.query(
        `INSERT INTO mfa_challenges (id, secret_hash, user_id, purpose, expires_at)
         VALUES ($1, $2, $3, 'session', now() + make_interval(secs => $4))`,
        [ch.id, ch.hash, u.id, MFA_CHALLENGE_TTL_S],
      );
      return { mfa_required: true, challenge: ch.token };
    }
    return startSession(ctx, u, req.headers["user-agent"]);
  });

  svc.route(loginMfaRoute, async (req, ctx) => {
    const parsed = parseSecretToken(req.body.challenge, "mfa");
    if (!parsed) throw Errors.InvalidCredentials.create();
    const u = await tx(db, async (c) => {
      const r = await c.query<{
        secret_hash: Buffer;
        user_id: string;
        expired: boolean;
        used_at: Date | null;
        attempts: number;
      }>(
        `SELECT secret_hash, user_id, expires_at < now() AS expired, used_at, attempts FROM mfa_challenges WHERE id = $1 FOR UPDATE`,
        [parsed.id],
      );
      const ch = r.rows[0];
      if (
        !ch ||
        !safeEqual(ch.secret_hash, parsed.secretHash) ||
        ch.expired ||
        ch.used_at ||
        ch.attempts >= MFA_MAX_ATTEMPTS
      )
        return undefined;
      const ur = await c.query<AuthUser>(
        `SELECT ${USER_COLUMNS}, password_hash, mfa_secret_sealed FROM users WHERE id = $1 AND deleted_at IS NULL`,
        [ch.user_id],
      );
      const user = ur.rows[0];
      if (!user || !totpValid(user, req.body.code)) {
        await c.query("UPDATE mfa_challenges SET attempts = attempts + 1 WHERE id = $1", [parsed.id]);
        return null;
      }
      await c.query("UPDATE mfa_challenges SET used_at = now() WHERE id = $1", [parsed.id]);
      return user;
    });
    if (!u) {
      await audit(d, ctx, {
        action: "auth.mfa_failed",
        category: "auth",
        result: "failure",
        summary: { challenge: parsed.id },
      });
      throw Errors.InvalidCredentials.withMessage("invalid or expired MFA challenge or code");
    }
    return startSession(ctx, u, req.headers["user-agent"]);
  });

  svc.route(logoutRoute, async (_req, ctx) => {
    const p = requirePrincipal(ctx);
    if (p.kind === "session" && p.session_id) {
      await db.query("UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", [
        p.session_id,
      ]);
      invalidate(d, { user_id: p.user_id });
      await audit(d, ctx, {
        action: "auth.logout",
        category: "auth",
        result: "success",
        target_type: "session",
        target_id: p.session_id,
      });
    }
    return withMeta({ ok: true }, { headers: { "set-cookie": CLEAR_COOKIE } });
  });

  svc.route(logoutAllRoute, async (_req, ctx) => {
    const p = requirePrincipal(ctx);
    const version = await tx(db, (c) => revokeUserCredentials(c, p.user_id, { keys: false }));
    await announceRevocation(ctx, p.user_id, version, {
      action: "auth.logout_all",
      summary: { token_version: version },
    });
    return withMeta({ ok: true }, { headers: { "set-cookie": CLEAR_COOKIE } });
  });

  svc.route(csrfTokenRoute, (_req, ctx) => {
    const p = requirePrincipal(ctx);
    if (p.kind !== "session" || !p.session_id)
      throw Errors.BadRequest.withMessage("CSRF tokens belong to browser sessions; this request has none");
    return { csrf_token: csrfTokenFor(pepper, p.session_id) };
  });

  svc.route(sessionsListRoute, async (_req, ctx) => {
    const p = requirePrincipal(ctx);
    const r = await db.query<{
      id: string;
      created_at: Date;
      expires_at: Date;
      last_seen_at: Date;
      source_ip: string | null;
      user_agent: string | null;
    }>(
      `SELECT id, created_at, expires_at, last_seen_at, source_ip, user_agent FROM sessions
        WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at`,
      [p.user_id],
    );
    return {
      items: r.rows.map((s) => ({
        id: s.id,
        created_at: s.created_at.toISOString(),
        expires_at: s.expires_at.toISOString(),
        last_seen_at: s.last_seen_at.toISOString(),
        source_ip: s.source_ip,
        user_agent: s.user_agent,
        current: s.id === p.session_id,
      })),
    };
  });

  svc.route(sessionDeleteRoute, async (req, ctx) => {
    const p = requirePrincipal(ctx);
    const r = await db.query(
      "UPDATE sessions SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
      [req.params.id, p.user_id],
    );
    if (!r.rowCount) throw Errors.NotFound.withMessage("no such session");
    invalidate(d, { user_id: p.user_id });
    await audit(d, ctx, {
      action: "auth.session_revoke",
      category: "auth",
      result: "success",
      target_type: "session",
      target_id: req.params.id,
    });
    return { ok: true };
  });

  svc.route(tokenRoute, async (req, ctx) => {
    const u = await checkPassword(ctx, req.body.username, req.body.password, "token");
    if (u.mfa_enabled && (!req.body.code || !totpValid(u, req.body.code))) {
      await audit(d, ctx, {
        action: "auth.mfa_failed",
        category: "auth",
        result: "failure",
        target_type: "user",
        target_id: u.id,
        summary: { via: "token" },
      });
      throw Errors.InvalidCredentials.withMessage("a valid TOTP code is required for this user", {
        mfa_required: true,
      });
    }
    return issueTokens(ctx, u);
  });

  svc.route(refreshRoute, async (req, ctx) => {
    const parsed = parseSecretToken(req.body.refresh_token, "rtk");
    if (!parsed) throw Errors.InvalidCredentials.create();
    const outcome = await tx(db, async (c) => {
      const r = await c.query<{
        family_id: string;
        user_id: string;
        token_hash: Buffer;
        expired: boolean;
        rotated_at: Date | null;
        revoked_at: Date | null;
        family_revoked: Date | null;
      }>(
        `SELECT t.family_id, t.user_id, t.token_hash, t.expires_at < now() AS expired, t.rotated_at, t.revoked_at,
                f.revoked_at AS family_revoked
           FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.id = $1 FOR UPDATE OF t`,
        [parsed.id],
      );
      const t = r.rows[0];
      if (!t || !safeEqual(t.token_hash, parsed.secretHash)) return { kind: "invalid" as const };
      if (t.revoked_at || t.family_revoked) return { kind: "invalid" as const };
      if (t.rotated_at) {
        await c.query("UPDATE refresh_families SET revoked_at = now() WHERE id = $1", [t.family_id]);
        await c.query(
          "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
          [t.family_id],
        );
        return { kind: "reuse" as const, family: t.family_id, user: t.user_id };
      }
      if (t.expired) return { kind: "invalid" as const };
      await c.query("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", [parsed.id]);
      const u = await c.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL`,
        [t.user_id],
      );
      if (!u.rows[0]) return { kind: "invalid" as const };
      return { kind: "ok" as const, family: t.family_id, user: u.rows[0] };
    });
    if (outcome.kind === "reuse") {
      invalidate(d, { user_id: outcome.user });
      await audit(d, ctx, {
        action: "auth.refresh_reuse",
        category: "auth",
        result: "denied",
        target_type: "refresh_family",
        target_id: outcome.family,
        summary: { revoked_family: outcome.family },
        actor: { actor_type: "user", actor_id: outcome.user, actor_name: null },
      });
      throw Errors.InvalidCredentials.withMessage(
        "refresh token reuse: every token of this login has been revoked",
      );
    }
    if (outcome.kind === "invalid") throw Errors.InvalidCredentials.create();
    return issueTokens(ctx, outcome.user, outcome.family);
  });

  // --- MFA enrolment ---

  svc.route(mfaSetupRoute, async (_req, ctx) => {
    const p = requirePrincipal(ctx);
    const u = await signedInUser(p.user_id);
    if (u.mfa_enabled) throw Errors.Conflict.withMessage("MFA is already enabled; disable it first");
    const secret = new OTPAuth.Secret({ size: 20 }).base32;
    await db.query("UPDATE users SET mfa_secret_sealed = $2, updated_at = now() WHERE id = $1", [
      p.user_id,
      seal(pepper, "totp", Buffer.from(secret)),
    ]);
    await audit(d, ctx, {
      action: "auth.mfa_setup",
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: p.user_id,
    });
    return { secret, otpauth_url: totpFor(secret, u.username).toString() };
  });

  async function mfaToggle(ctx: Ctx, code: string, enable: boolean) {
    const p = requirePrincipal(ctx);
    const u = await signedInUser(p.user_id);
    if (enable && u.mfa_enabled) throw Errors.Conflict.withMessage("MFA is already enabled");
    if (!u.mfa_secret_sealed) throw Errors.Conflict.withMessage("start with POST /auth/mfa/setup");
    if (!totpValid(u, code)) {
      await audit(d, ctx, {
        action: "auth.mfa_failed",
        category: "auth",
        result: "failure",
        target_type: "user",
        target_id: u.id,
      });
      throw Errors.InvalidCredentials.withMessage("invalid TOTP code");
    }
    await db.query(
      enable
        ? "UPDATE users SET mfa_enabled = true, updated_at = now() WHERE id = $1"
        : "UPDATE users SET mfa_enabled = false, mfa_secret_sealed = NULL, updated_at = now() WHERE id = $1",
      [u.id],
    );
    await audit(d, ctx, {
      action: enable ? "auth.mfa_enable" : "auth.mfa_disable",
      category: "auth",
      result: "success",
      target_type: "user",
      target_id: u.id,
    });
    return { ok: true };
  }
  svc.route(mfaEnableRoute, (req, ctx) => mfaToggle(ctx, req.body.code, true));
  svc.route(mfaDisableRoute, (req, ctx) => mfaToggle(ctx, req.body.code, false));

  // --- passwords ---

  svc.route(changePasswordRoute, async (req, ctx) => {
    const p = requirePrincipal(ctx);
    const r = await db.query<{ password_hash: string }>(
      "SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL",
      [p.user_id],
    );
    const stored = r.rows[0]?.password_hash;
    if (!stored || !(await verifyPassword(stored, req.body.current_password))) {
      await audit(d, ctx, {
        action: "auth.change_password",
        category: "auth",
        result: "failure",
        target_type: "user",
        target_id: p.user_id,
        summary: { reason: "wrong current password" },
      });
      throw Errors.InvalidCredentials.withMessage("the current password is wrong");
    }
    const hash = await hashPassword(req.body.new_password);
    const version = await tx(db, async (c) => {
      await c.query("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1", [
        p.user_id,
        hash,
      ]);
      return revokeUserCredentials(c, p.user_id, { keys: false, exceptSession: p.session_id });
    });
    await announceRevocation(ctx, p.user_id, version, { action: "auth.change_password" });
    return { ok: true };
  });

  svc.route(passwordResetRequestRoute, async (req, ctx) => {
    const u = await findUser(db, req.body.username);
    if (u) {
      const token = base32(randomBytes(20));
      const r = await db.query<{ expires_at: Date }>(
        `INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         RETURNING expires_at`,
        [sha256(token), u.id, RESET_TTL_S],
      );
      d.nc.publish(
        Subjects.notify.passwordReset,
        JSON.stringify({
          user_id: u.id,
          username: u.username,
          token,
          expires_at: (r.rows[0] as { expires_at: Date }).expires_at.toISOString(),
        }),
      );
    }
    await audit(d, ctx, {
      action: "auth.password_reset_request",
      category: "auth",
      result: u ? "success" : "failure",
      target_type: "user",
      target_id: u?.id ?? null,
      summary: { username: req.body.username },
      actor: { actor_type: "anonymous", actor_id: null, actor_name: req.body.username },
    });
    return { accepted: true };
  });

  svc.route(passwordResetConfirmRoute, async (req, ctx) => {
    const hash = await hashPassword(req.body.new_password);
    const result = await tx(db, async (c) => {
      const r = await c.query<{ user_id: string }>(
        `UPDATE password_resets SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id`,
        [sha256(req.body.token)],
      );
      const userId = r.rows[0]?.user_id;
      if (!userId) return undefined;
      const u = await c.query(
        "UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1 AND deleted_at IS NULL",
        [userId, hash],
      );
      if (!u.rowCount) return undefined;
      return { userId, version: await revokeUserCredentials(c, userId, { keys: false }) };
    });
    if (!result) {
      await audit(d, ctx, {
        action: "auth.password_reset",
        category: "auth",
        result: "failure",
        summary: { reason: "invalid token" },
      });
      throw Errors.InvalidCredentials.withMessage("the reset token is invalid, used or expired");
    }
    await announceRevocation(ctx, result.userId, result.version, {
      action: "auth.password_reset",
      actor: { actor_type: "user", actor_id: result.userId, actor_name: null },
    });
    return { ok: true };
  });
}
