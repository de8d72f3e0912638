/**
 * Authentication and authorisation for routes of the table. A credential is, in order:
 *  - an API key (`ep_…`) in `Authorization: Bearer …` or `X-API-Key`;
 *  - an access JWT in `Authorization: Bearer …`, first checked locally (signature with the
 *    published keys, expiry, token version) so revoked or forged tokens cost no round trip;
 *  - the `ep_session` cookie; a mutating request carrying only the cookie must also carry
 *    `X-CSRF-Token` (the session's signed double-submit token), checked by the auth service.
 * Each is verified by the auth service over NATS (the role always comes from the store)
 * and cached briefly (keyed by a hash of the credential, plus the CSRF token when one is
 * checked). Failed authentications are audited. Authorisation checks the route's
 * permission (403) and resource scope (a foreign resource looks like 404).
 */

import {
  buildAuditEvent,
  call,
  EpError,
  Errors,
  type Principal,
  publishAudit,
  type RouteSpec,
  Subjects,
  type VerifyReply,
} from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FastifyRequest } from "fastify";
import type { z } from "zod";
import { PrincipalCache } from "../principal-cache.ts";
import type { JwtVerifier } from "./jwt.ts";
import { SESSION_COOKIE } from "./session.ts";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export type Credential =
  | { kind: "api_key"; value: string }
  | { kind: "jwt"; value: string }
  | { kind: "session"; value: string };

/** The presented credential and its kind, if any. Headers win over the cookie. */
export function credentialOf(req: FastifyRequest): Credential | undefined {
  const h = presentedCredential(req);
  if (h)
    return h.startsWith("ep_") || req.headers["x-api-key"]
      ? { kind: "api_key", value: h }
      : { kind: "jwt", value: h };
  const c = (req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[
    SESSION_COOKIE
  ];
  if (c && c.length <= 256) return { kind: "session", value: c };
  return undefined;
}

/** The presented header credential (API key or bearer token), if any. */
export function presentedCredential(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === "string") {
    const m = /^Bearer\s+(\S{1,512})$/i.exec(h.trim());
    if (m) return m[1];
  }
  const k = req.headers["x-api-key"];
  if (typeof k === "string" && k.length > 0 && k.length <= 512) return k.trim();
  return undefined;
}

export interface Authenticator {
  cache: PrincipalCache;
  /** Resolve the principal of a request or throw 401. */
  authenticate(req: FastifyRequest, route: RouteSpec): Promise<Principal>;
  /** Throw 403/404 if the principal may not use this route on these params. */
  authorise(principal: Principal, route: RouteSpec, params: Record<string, string>): void;
}

export function createAuthenticator(opts: {
  nc: NatsConnection;
  js: JetStreamClient;
  cacheTtlMs: number;
  timeoutMs: number;
  jwt?: JwtVerifier;
}): Authenticator {
  const cache = new PrincipalCache(opts.cacheTtlMs);
  // Revocations and role changes are broadcast; every gateway drops what it cached.
  const sub = opts.nc.subscribe(Subjects.bcast.authInvalidate, {
    callback: (_err, msg) => {
      try {
        const f = msg.data.length ? (msg.json() as { key_id?: string; user_id?: string }) : {};
        if (typeof f !== "object" || f === null) throw new Error("bad notice");
        cache.invalidate(f);
      } catch {
        cache.invalidate();
      }
    },
  });
  void sub;

  async function auditFailure(req: FastifyRequest, reason: string): Promise<void> {
    const ev = buildAuditEvent(
      {
        action: "auth.failed",
        category: "auth",
        result: "denied",
        summary: { reason, route: req.routeOptions.url ?? req.url },
      },
      { principal: undefined, requestId: req.id, sourceIp: req.ip },
    );
    await publishAudit(opts.js, ev).catch((err: unknown) =>
      req.log.error({ err }, "could not publish audit event"),
    );
  }

  return {
    cache,
    async authenticate(req, route) {
      const cred = credentialOf(req);
      if (!cred) throw Errors.Unauthenticated.create();
      const payload: Record<string, string> = {};
      let cacheKey = PrincipalCache.keyOf(cred.value);
      if (cred.kind === "api_key") payload.api_key = cred.value;
      else if (cred.kind === "jwt") {
        if (!opts.jwt || !(await opts.jwt.verify(cred.value))) {
          await auditFailure(req, "invalid_access_token");
          throw Errors.InvalidCredentials.create();
        }
        payload.access_token = cred.value;
      } else {
        payload.session = cred.value;
        if (route.mutation ?? route.method !== "GET") {
          const csrf = req.headers["x-csrf-token"];
          if (typeof csrf !== "string" || csrf.length === 0 || csrf.length > 256) {
            await auditFailure(req, "csrf_missing");
            throw Errors.CsrfFailed.create();
          }
          payload.csrf_token = csrf;
          cacheKey = PrincipalCache.keyOf(`${cred.value}\0${csrf}`);
        }
      }
      try {
        return await cache.resolve(cacheKey, async () => {
          const r = await call<z.infer<typeof VerifyReply>>(opts.nc, Subjects.auth.verify, payload, {
            requestId: req.id,
            sourceIp: req.ip,
            timeoutMs: opts.timeoutMs,
          });
          return { principal: r.principal, ttlMs: r.cache_ttl_ms };
        });
      } catch (err) {
        if (err instanceof EpError && err.status === 401) {
          await auditFailure(req, `${cred.kind}:${err.code}`);
          throw Errors.InvalidCredentials.create();
        }
        if (Errors.CsrfFailed.is(err)) {
          await auditFailure(req, "csrf_invalid");
          throw err;
        }
        throw err;
      }
    },
    authorise(principal, route, params) {
      if (route.permission && !principal.permissions.includes(route.permission)) {
        throw Errors.Forbidden.create({ required: route.permission }, { permission: route.permission });
      }
      if (route.scope && principal.resources) {
        const allowed = principal.resources[route.scope.kind];
        const name = route.scope.fixed ?? params[route.scope.param];
        if (allowed && name !== undefined && !allowed.includes(name)) throw Errors.NotFound.create();
      }
    },
  };
}
