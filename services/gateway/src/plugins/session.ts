/**
 * Browser sessions at the edge: cookies are parsed by @fastify/cookie; the session cookie
 * the auth service sets gets `Secure` when the request came over HTTPS (directly or via
 * a trusted proxy), which only the gateway can know.
 */
import cookie from "@fastify/cookie";
import type { FastifyInstance } from "fastify";

export const SESSION_COOKIE = "ep_session";

export async function sessionPlugin(app: FastifyInstance): Promise<void> {
  await app.register(cookie, { hook: "onRequest" });
  // A callback hook: it runs for every response, and an async one costs a promise each.
  app.addHook("onSend", (req, reply, payload, done) => {
    const sc = req.protocol === "https" ? reply.getHeader("set-cookie") : undefined;
    if (sc !== undefined) {
      const list = (Array.isArray(sc) ? sc : [String(sc)]).map((c) =>
        c.startsWith(`${SESSION_COOKIE}=`) && !/;\s*Secure/i.test(c) ? `${c}; Secure` : c,
      );
      reply.header("set-cookie", list);
    }
    done(null, payload);
  });
}
