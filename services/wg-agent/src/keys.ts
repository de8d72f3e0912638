/**
 * WireGuard key material: X25519 key pairs and preshared keys, base64 as `wg` prints
 * them. Private keys live only in memory, the node's state dir (0600) or a sealed blob;
 * never in a log line.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

const b64 = (b64url: string) => Buffer.from(b64url, "base64url").toString("base64");

/** A fresh key pair (X25519; WireGuard clamps the scalar itself, as `wg genkey` output is). */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const d = privateKey.export({ format: "jwk" }).d as string;
  const x = publicKey.export({ format: "jwk" }).x as string;
  return { privateKey: b64(d), publicKey: b64(x) };
}

/** The public key of a base64 private key (same as `wg pubkey`). */
export function publicKeyOf(privateKey: string): string {
  const d = Buffer.from(privateKey, "base64");
  if (d.length !== 32) throw new Error("a WireGuard private key is 32 bytes");
  const key = createPrivateKey({
    key: { kty: "OKP", crv: "X25519", d: d.toString("base64url"), x: "" },
    format: "jwk",
  });
  return b64(createPublicKey(key).export({ format: "jwk" }).x as string);
}

export const generatePresharedKey = (): string => randomBytes(32).toString("base64");
