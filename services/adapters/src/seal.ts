/**
 * Sealing secrets at rest with AES-256-GCM. A sealed blob is
 * `version (1) ‖ nonce (12) ‖ tag (16) ‖ ciphertext`; the owning row's id is the
 * additional authenticated data, so a blob copied into another row does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = 1;

export interface Sealer {
  seal(plain: unknown, aad: string): Buffer;
  open<T = unknown>(sealed: Buffer, aad: string): T;
}

export function createSealer(keyBase64: string): Sealer {
  const key = Buffer.from(keyBase64, "base64");
  if (key.length !== 32) throw new Error("sealing key must be 32 bytes");
  return {
    seal(plain, aad) {
      const nonce = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", key, nonce);
      c.setAAD(Buffer.from(aad));
      const body = Buffer.concat([c.update(JSON.stringify(plain), "utf8"), c.final()]);
      return Buffer.concat([Buffer.from([VERSION]), nonce, c.getAuthTag(), body]);
    },
    open<T>(sealed: Buffer, aad: string): T {
      if (sealed.length < 29 || sealed[0] !== VERSION) throw new Error("unknown sealed format");
      const d = createDecipheriv("aes-256-gcm", key, sealed.subarray(1, 13));
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(sealed.subarray(13, 29));
      const plain = Buffer.concat([d.update(sealed.subarray(29)), d.final()]);
      return JSON.parse(plain.toString("utf8")) as T;
    },
  };
}
