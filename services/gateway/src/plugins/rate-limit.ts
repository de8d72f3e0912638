/**
 * Rate limits (per gateway instance: counters live in this process, via
 * @fastify/rate-limit's store; N gateways allow up to N× the limit in total):
 *  - general: per principal (API key, else user) per minute, default 600, overridden by
 *    the key's `rate_limit_rpm`; per client IP for public routes;
 *  - burst: the same key per second;
 *  - auth endpoints (`rateClass: "auth"`): per client IP per minute (default 5).
 * Every limited response carries `RateLimit-Limit/Remaining/Reset` (draft IETF names);
 * a refusal is a 429 envelope with `Retry-After`. Failed logins per username are counted
 * by the auth service (shared by every instance) and answered 429 + `Retry-After` too.
 * The hooks run after authentication, so the principal is known.
 */
import { EpError, Errors, type RouteSpec } from "@edgeplane/proto";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import { fastifyPath } from "../routes/table.ts";

export interface RateLimitConfig {
  /** Requests per minute per principal (default for keys without their own limit). */
  perMinute: number;
  /** Requests per second per principal / IP. */
  burstPerSecond: number;
  /** Requests per minute per client IP on auth endpoints. */
  authPerMinute: number;
}

type Check = (req: FastifyRequest) => Promise<
  | { isAllowed: true; key: string }
  | {
      isAllowed: false;
      key: string;
      max: number;
      remaining: number;
      ttlInSeconds: number;
      isExceeded: boolean;
    }
>;

const keyOf = (req: FastifyRequest) => {
  const p = req.principal;
  if (p) return `p:${p.key_id ?? p.user_id}`;
  return `ip:${req.ip}`;
};

export async function rateLimitPlugin(
  app: FastifyInstance,
  routes: readonly RouteSpec[],
  cfg: RateLimitConfig,
): Promise<void> {
  await app.register(rateLimit, { global: false });
  const general: Check = app.createRateLimit({
    timeWindow: 60_000,
    max: (req) => req.principal?.rate_limit_rpm ?? cfg.perMinute,
    keyGenerator: keyOf,
  }) as Check;
  const burst: Check = app.createRateLimit({
    timeWindow: 1000,
    max: cfg.burstPerSecond,
    keyGenerator: keyOf,
  }) as Check;
  const authIp: Check = app.createRateLimit({
    timeWindow: 60_000,
    max: cfg.authPerMinute,
    keyGenerator: (req) => `auth:${req.ip}`,
  }) as Check;

  const refuse = (reply: FastifyReply, ttl: number) => {
    reply.header("retry-after", String(Math.max(1, ttl)));
    throw Errors.RateLimited.create({ retry_after_s: Math.max(1, ttl) });
  };
  const hookFor = (route: RouteSpec): onRequestHookHandler => {
    const primary = route.rateClass === "auth" ? authIp : general;
    return async (req, reply) => {
      const b = await burst(req);
      const r = await primary(req);
      if (!r.isAllowed) {
        reply.header("ratelimit-limit", String(r.max));
        reply.header("ratelimit-remaining", String(r.remaining));
        reply.header("ratelimit-reset", String(r.ttlInSeconds));
        if (r.isExceeded) refuse(reply, r.ttlInSeconds);
      }
      if (!b.isAllowed && b.isExceeded) refuse(reply, b.ttlInSeconds);
    };
  };

  const byRoute = new Map<string, RouteSpec>();
  for (const r of routes) {
    if (r.rateClass === "none") continue;
    for (const p of [r.path, ...(r.aliases ?? [])]) byRoute.set(`${r.method} ${fastifyPath(p)}`, r);
  }
  app.addHook("onRoute", (opts) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    const route = methods.map((m) => byRoute.get(`${m} ${opts.url}`)).find(Boolean);
    if (!route) return;
    const hook = hookFor(route);
    const existing = opts.onRequest;
    opts.onRequest =
      existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
  });

  // 429s from services (the per-username login lock) carry their wait in details.
  app.addHook("onError", async (_req, reply, err) => {
    if (err instanceof EpError && err.status === 429 && !reply.hasHeader("retry-after")) {
      const s = (err.details as { retry_after_s?: unknown } | undefined)?.retry_after_s;
      reply.header("retry-after", String(typeof s === "number" && s > 0 ? Math.ceil(s) : 60));
    }
  });
}
