/**
 * Security headers on every response. helmet computes the standard set (CSP, nosniff,
 * frame DENY, referrer policy, …) once at start-up — its Fastify plugin would rebuild
 * and re-parse them on every request — and we add what it does not cover the way we
 * want: no-store caching, a permissions policy, and HSTS only when the request really
 * came over HTTPS (directly, or per X-Forwarded-Proto from a trusted proxy, which
 * Fastify resolves into `request.protocol`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import helmet from "helmet";

const HSTS = "max-age=31536000; includeSubDomains";

/** Run helmet's middleware once against a recording response and keep what it set. */
export function computeSecurityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  const mw = helmet({
    hsts: false,
    frameguard: { action: "deny" },
    referrerPolicy: { policy: "strict-origin-when-cross-origin" },
    crossOriginEmbedderPolicy: false,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
      },
    },
  });
  let failed: unknown;
  mw({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    failed = err;
  });
  if (failed) throw failed;
  headers["cache-control"] = "no-store";
  headers["permissions-policy"] = "camera=(), microphone=(), geolocation=(), payment=()";
  return Object.freeze(headers) as Record<string, string>;
}

export function securityHeadersPlugin(app: FastifyInstance): void {
  const headers = computeSecurityHeaders();
  app.addHook("onRequest", (req, reply, done) => {
    reply.headers(headers);
    if (req.protocol === "https") reply.header("strict-transport-security", HSTS);
    done();
  });
}
