/**
 * Authentication and authorisation for routes of the table. A credential is an API key
 * in `Authorization: Bearer …` or `X-API-Key`; it is verified by the auth service over
 * NATS and cached briefly. Failed authentications are audited. Authorisation checks the
 * route's permission (403) and resource scope (a foreign resource looks like 404).
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

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The presented credential, if any. */
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
}): Authenticator {
  const cache = new PrincipalCache(opts.cacheTtlMs);
  // Revocations and role changes are broadcast; every gateway drops what it cached.
  const sub = opts.nc.subscribe(Subjects.bcast.authInvalidate, {
    callback: (_err, msg) => {
      try {
        const f = msg.data.length ? (msg.json() as { key_id?: string; user_id?: string }) : {};
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
    async authenticate(req) {
      const secret = presentedCredential(req);
      if (!secret) throw Errors.Unauthenticated.create();
      try {
        return await cache.resolve(PrincipalCache.keyOf(secret), async () => {
          const r = await call<z.infer<typeof VerifyReply>>(
            opts.nc,
            Subjects.auth.verify,
            { api_key: secret },
            {
              requestId: req.id,
              sourceIp: req.ip,
              timeoutMs: opts.timeoutMs,
            },
          );
          return { principal: r.principal, ttlMs: r.cache_ttl_ms };
        });
      } catch (err) {
        if (err instanceof EpError && err.status === 401) {
          await auditFailure(req, err.code);
          throw Errors.InvalidCredentials.create();
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
        const name = params[route.scope.param];
        if (allowed && name !== undefined && !allowed.includes(name)) throw Errors.NotFound.create();
      }
    },
  };
}
