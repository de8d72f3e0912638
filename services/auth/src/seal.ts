/**
 * Sealing small secrets at rest (signing keys, TOTP secrets): AES-256-GCM with a key
 * derived from the server pepper by HKDF, one derived key per purpose. A database dump
 * alone cannot open them. Layout: iv (12) ‖ tag (16) ‖ ciphertext.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export type SealPurpose = "signing-key" | "totp" | "csrf";

export function derivedKey(pepper: Buffer, purpose: SealPurpose): Buffer {
  return Buffer.from(hkdfSync("sha256", pepper, "edgeplane-auth", purpose, 32));
}

export function seal(pepper: Buffer, purpose: SealPurpose, plain: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", derivedKey(pepper, purpose), iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]);
}

export function unseal(pepper: Buffer, purpose: SealPurpose, sealed: Buffer): Buffer {
  const d = createDecipheriv("aes-256-gcm", derivedKey(pepper, purpose), sealed.subarray(0, 12));
  d.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([d.update(sealed.subarray(28)), d.final()]);
}
