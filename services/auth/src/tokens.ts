/**
 * Session cookies, CSRF tokens, access JWTs and refresh tokens: formats and checks.
 *  - session cookie `ep_session=<ses_id>.<secret>`: the row keeps SHA-256(secret);
 *  - CSRF token = base64url(HMAC-SHA-256(k_csrf, session id)), k_csrf derived from the pepper:
 *    a signed double-submit token bound to the session, never stored;
 *  - access JWT: EdDSA (Ed25519) via jose, claims `sub`, `ver` (the user's token version),
 *    `fam` (refresh family), `sid`/`jti`, 30 minutes;
 *  - refresh token `<rtk_id>.<secret>`: the row keeps SHA-256(secret); single use.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { base32, newId } from "@edgeplane/proto";
import { type JWTPayload, jwtVerify, SignJWT } from "jose";
import { derivedKey } from "./seal.ts";
import type { SigningKey } from "./signing.ts";

export const SESSION_COOKIE = "ep_session";
export const JWT_ISSUER = "edgeplane";
export const JWT_AUDIENCE = "edgeplane-api";

export const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest();

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A new `<id>.<secret>` pair (160-bit secret) and the hash to store. */
export function newSecretToken(prefix: "ses" | "rtk" | "mfa"): { id: string; token: string; hash: Buffer } {
  const id = newId(prefix);
  const secret = base32(randomBytes(20));
  return { id, token: `${id}.${secret}`, hash: sha256(secret) };
}

export function parseSecretToken(
  token: string,
  prefix: "ses" | "rtk" | "mfa",
): { id: string; secretHash: Buffer } | undefined {
  const m = new RegExp(`^(${prefix}_[0-9a-z]{16})\\.([0-9a-z]{32})$`).exec(token);
  if (!m) return undefined;
  return { id: m[1] as string, secretHash: sha256(m[2] as string) };
}

export function csrfTokenFor(pepper: Buffer, sessionId: string): string {
  return createHmac("sha256", derivedKey(pepper, "csrf")).update(sessionId).digest("base64url");
}

export function csrfMatches(pepper: Buffer, sessionId: string, presented: string): boolean {
  return safeEqual(Buffer.from(csrfTokenFor(pepper, sessionId)), Buffer.from(presented));
}

export interface AccessClaims extends JWTPayload {
  sub: string;
  ver: number;
  fam: string;
}

export async function signAccessToken(
  key: SigningKey,
  claims: { sub: string; ver: number; fam: string },
  ttlS: number,
): Promise<string> {
  return new SignJWT({ ver: claims.ver, fam: claims.fam })
    .setProtectedHeader({ alg: "EdDSA", kid: key.id, typ: "JWT" })
    .setSubject(claims.sub)
    .setIssuer(JWT_ISSUER)
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt()
    .setJti(newId("ses"))
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlS)
    .sign(key.privateKey);
}

export async function verifyAccessToken(
  token: string,
  keyFor: (kid: string | undefined) => Promise<import("node:crypto").KeyObject | undefined>,
): Promise<AccessClaims | undefined> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const k = await keyFor(header.kid);
        if (!k) throw new Error("unknown key");
        return k;
      },
      { issuer: JWT_ISSUER, audience: JWT_AUDIENCE, algorithms: ["EdDSA"] },
    );
    if (typeof payload.sub !== "string" || typeof payload.ver !== "number" || typeof payload.fam !== "string")
      return undefined;
    return payload as AccessClaims;
  } catch {
    return undefined;
  }
}
