/**
 * API key format and hashing. A key reads `ep_<id>_<secret><check>`:
 *  - `ep_` marks it as ours (secret scanners can match it);
 *  - `<id>` (16 base32 chars) is public: it finds the row without a scan;
 *  - `<secret>` is 26 base32 chars = 130 bits of CSPRNG output;
 *  - `<check>` is a CRC32 of everything before it (7 base32 chars), so a leaked or
 *    mistyped key is recognised offline without touching the database.
 * At rest we keep HMAC-SHA-256(pepper, key): a database leak alone cannot verify keys,
 * and verification costs one HMAC, not a password hash.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";
import { base32 } from "@edgeplane/proto";

const KEY_RE = /^ep_([0-9a-hjkmnp-tv-z]{16})_([0-9a-hjkmnp-tv-z]{26})([0-9a-hjkmnp-tv-z]{7})$/;

function check(body: string): string {
  const c = crc32(body) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(c);
  return base32(b).padStart(7, "0");
}

export interface NewKey {
  /** Row id: `key_<public id>`. */
  id: string;
  /** Public prefix shown in lists: `ep_<public id>`. */
  prefix: string;
  /** The full secret key, returned once. */
  key: string;
}

export function generateKey(): NewKey {
  const pub = base32(randomBytes(10));
  const secret = base32(randomBytes(17)).slice(0, 26);
  const body = `ep_${pub}_${secret}`;
  return { id: `key_${pub}`, prefix: `ep_${pub}`, key: body + check(body) };
}

/** Parse a presented key; undefined when it is not shaped like ours or its checksum fails. */
export function parseKey(key: string): { id: string; prefix: string } | undefined {
  const m = KEY_RE.exec(key);
  if (!m) return undefined;
  const body = key.slice(0, key.length - 7);
  if (check(body) !== m[3]) return undefined;
  return { id: `key_${m[1]}`, prefix: `ep_${m[1]}` };
}

export function hashKey(pepper: Buffer, key: string): Buffer {
  return createHmac("sha256", pepper).update(key).digest();
}

export function keyMatches(pepper: Buffer, key: string, stored: Buffer): boolean {
  const h = hashKey(pepper, key);
  return h.length === stored.length && timingSafeEqual(h, stored);
}
