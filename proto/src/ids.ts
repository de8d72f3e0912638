/**
 * Typed, prefixed identifiers (`req_…`, `key_…`, `usr_…`), generated in one place.
 * The random part is Crockford base32 of CSPRNG bytes: URL-, subject- and log-safe.
 */
import { randomBytes } from "node:crypto";

export const IdPrefix = {
  Request: "req",
  User: "usr",
  ApiKey: "key",
  Session: "ses",
  Change: "chg",
  Controller: "ctl",
  Peer: "peer",
  Event: "evt",
  RefreshToken: "rtk",
  RefreshFamily: "rtf",
  Challenge: "mfa",
  SigningKey: "sgk",
} as const;
export type IdPrefix = (typeof IdPrefix)[keyof typeof IdPrefix];

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** Crockford base32 (lower case) of the given bytes. */
export function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

// Ids are minted on every request: draw their randomness from a pooled CSPRNG buffer
// instead of one randomBytes() call (and its syscall) per id.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function pooledRandom(n: number): Uint8Array {
  if (n > POOL_SIZE) return randomBytes(n);
  if (offset + n > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}

/** `n` random bytes (CSPRNG, from the pool) as lower-case hex: trace and span ids. */
export function randomHex(n: number): string {
  const bytes = pooledRandom(n);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** A new id: `<prefix>_<random>` with 80 bits of randomness (16 chars). */
export function newId(prefix: IdPrefix, bytes = 10): string {
  return `${prefix}_${base32(pooledRandom(bytes))}`;
}
