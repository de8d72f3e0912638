/**
 * Sealing stored private keys: AES-256-GCM under `EP_SEALING_KEY` (32 bytes, base64),
 * with the interface and peer id as additional data so a blob cannot be moved to another
 * peer. Format: `v1.<base64(iv[12] | tag[16] | ciphertext)>`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export interface Sealer {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
}

export function createSealer(keyBase64: string): Sealer {
  const key = Buffer.from(keyBase64, "base64");
  if (key.length !== 32) throw new Error("EP_SEALING_KEY must be 32 bytes, base64");
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, iv);
      c.setAAD(Buffer.from(context));
      const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
      return `v1.${Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64")}`;
    },
    open(sealed, context) {
      if (!sealed.startsWith("v1.")) throw new Error("unknown sealed format");
      const raw = Buffer.from(sealed.slice(3), "base64");
      const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(context));
      d.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
    },
  };
}
