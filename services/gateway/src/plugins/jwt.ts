/**
 * Local verification of access JWTs: EdDSA signatures checked against the public keys
 * the auth service publishes in KV (`ep-auth` → `jwks`), and the user's token version
 * (`tv.<user_id>`, bumped by logout-all, password changes and deletion) compared with
 * the token's `ver` claim — so a revoked token is refused without a round trip. The
 * principal (role, scope) still comes from the store through `ep.v1.auth.verify`.
 */
import { type Logger, Subjects } from "@edgeplane/proto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";

export const JWT_ISSUER = "edgeplane";
export const JWT_AUDIENCE = "edgeplane-api";
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export const looksLikeJwt = (s: string) => JWT_RE.test(s);

export interface JwtVerifier {
  /** The token's subject when signature, issuer, audience, expiry and version check out. */
  verify(token: string): Promise<{ sub: string; ver: number } | undefined>;
  stop(): void;
}

export async function createJwtVerifier(nc: NatsConnection, log: Logger, replicas = 1): Promise<JwtVerifier> {
  let jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  const versions = new Map<string, number>();
  let stopped = false;
  let kv: KV | undefined;

  const apply = (key: string, value: Uint8Array, deleted: boolean) => {
    if (key === "jwks" && !deleted) {
      try {
        jwks = createLocalJWKSet(JSON.parse(new TextDecoder().decode(value)) as JSONWebKeySet);
      } catch (err) {
        log.warn({ err }, "unreadable JWKS in KV");
      }
    } else if (key.startsWith("tv.")) {
      const v = Number(new TextDecoder().decode(value));
      if (!deleted && Number.isInteger(v)) versions.set(key.slice(3), v);
    }
  };

  // Watch the bucket; re-watch if the watcher ends (reconnects, bucket re-created).
  const watch = async () => {
    while (!stopped) {
      try {
        kv ??= await new Kvm(nc).create(Subjects.kv.auth, { history: 1, replicas });
        const w = await kv.watch({ key: ">" });
        for await (const e of w) {
          if (stopped) {
            w.stop();
            break;
          }
          apply(e.key, e.value, e.operation !== "PUT");
        }
      } catch (err) {
        if (!stopped) log.warn({ err }, "auth KV watch failed; retrying");
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void watch();

  return {
    async verify(token) {
      if (!jwks || !looksLikeJwt(token)) return undefined;
      try {
        const { payload } = await jwtVerify(token, jwks, {
          issuer: JWT_ISSUER,
          audience: JWT_AUDIENCE,
          algorithms: ["EdDSA"],
        });
        if (typeof payload.sub !== "string" || typeof payload.ver !== "number") return undefined;
        const current = versions.get(payload.sub);
        if (current !== undefined && payload.ver < current) return undefined;
        return { sub: payload.sub, ver: payload.ver };
      } catch {
        return undefined;
      }
    },
    stop() {
      stopped = true;
    },
  };
}
