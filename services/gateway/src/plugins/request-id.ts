/**
 * Request ids: a client's `X-Request-ID` is kept if it matches the strict pattern (and
 * echoed back exactly), but tagged `ext-` everywhere we log or forward it, so a forged
 * id can never pass for one of ours. Otherwise we generate `req_…`.
 */

import type { IncomingMessage } from "node:http";
import { newId, REQUEST_ID_RE } from "@edgeplane/proto";
import type { FastifyInstance, FastifyRequest } from "fastify";

const CLIENT_ID = Symbol("clientRequestId");

export function genReqId(raw: IncomingMessage): string {
  const given = raw.headers["x-request-id"];
  if (typeof given === "string" && REQUEST_ID_RE.test(given)) {
    (raw as unknown as Record<symbol, string>)[CLIENT_ID] = given;
    return `ext-${given}`;
  }
  return newId("req");
}

/** The id to echo in `X-Request-ID`: the client's own, or ours. */
export function echoedRequestId(req: FastifyRequest): string {
  return (req.raw as unknown as Record<symbol, string | undefined>)[CLIENT_ID] ?? req.id;
}

export function requestIdPlugin(app: FastifyInstance): void {
  // A callback hook: an async one costs a promise per request for a synchronous job.
  app.addHook("onRequest", (req, reply, done) => {
    reply.header("x-request-id", echoedRequestId(req));
    done();
  });
}
