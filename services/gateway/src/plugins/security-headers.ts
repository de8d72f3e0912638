/**
 * Security headers on every response: helmet for the standard set, plus what it does not
 * cover the way we want: no-store caching, a permissions policy, and HSTS only when the
 * request really came over HTTPS (directly, or per X-Forwarded-Proto from a trusted proxy,
 * which Fastify resolves into `request.protocol`).
 */
import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";

export async function securityHeadersPlugin(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
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
  app.addHook("onSend", async (req, reply) => {
    reply.header("cache-control", "no-store");
    reply.header("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()");
    if (req.protocol === "https")
      reply.header("strict-transport-security", "max-age=31536000; includeSubDomains");
  });
}
