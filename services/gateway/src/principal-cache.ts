/**
 * A short-lived cache of verified credentials, keyed by the SHA-256 of the presented
 * secret (the secret itself is never kept). Concurrent verifications of one credential
 * share one request (single flight). Entries are dropped on revocation notices.
 */
import { createHash } from "node:crypto";
import type { Principal } from "@edgeplane/proto";

interface Entry {
  principal: Principal;
  expires: number;
}

export class PrincipalCache {
  #entries = new Map<string, Entry>();
  #pending = new Map<string, Promise<Principal>>();
  #max: number;
  #maxTtl: number;
  constructor(maxTtlMs: number, maxEntries = 10_000) {
    this.#maxTtl = maxTtlMs;
    this.#max = maxEntries;
  }

  static keyOf(secret: string): string {
    return createHash("sha256").update(secret).digest("base64url");
  }

  get(key: string, now = Date.now()): Principal | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.principal;
  }

  /** Resolve through the cache; `verify` runs at most once at a time per key. */
  async resolve(
    key: string,
    verify: () => Promise<{ principal: Principal; ttlMs: number }>,
  ): Promise<Principal> {
    const hit = this.get(key);
    if (hit) return hit;
    const inflight = this.#pending.get(key);
    if (inflight) return inflight;
    const p = verify()
      .then(({ principal, ttlMs }) => {
        const ttl = Math.min(ttlMs, this.#maxTtl);
        if (ttl > 0) {
          if (this.#entries.size >= this.#max) {
            const oldest = this.#entries.keys().next().value;
            if (oldest !== undefined) this.#entries.delete(oldest);
          }
          this.#entries.set(key, { principal, expires: Date.now() + ttl });
        }
        return principal;
      })
      .finally(() => this.#pending.delete(key));
    this.#pending.set(key, p);
    return p;
  }

  /** Drop entries of a key id or user id; with neither, drop everything. */
  invalidate(filter: { key_id?: string; user_id?: string } = {}): number {
    if (!filter.key_id && !filter.user_id) {
      const n = this.#entries.size;
      this.#entries.clear();
      return n;
    }
    let n = 0;
    for (const [k, e] of this.#entries) {
      if (
        (filter.key_id && e.principal.key_id === filter.key_id) ||
        (filter.user_id && e.principal.user_id === filter.user_id)
      ) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#entries.size;
  }
}
