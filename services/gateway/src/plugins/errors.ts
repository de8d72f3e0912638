/**
 * One error envelope for everything: `{"error": {code, message, request_id, details}}`.
 * Fastify's own errors (body too large, bad JSON, bad media type) are mapped to catalogue
 * codes; anything unexpected is a 500 whose detail is logged, never leaked.
 */
import { EpError, Errors, type FieldIssue } from "@edgeplane/proto";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export function sendError(req: FastifyRequest, reply: FastifyReply, err: EpError): FastifyReply {
  const body: { error: { code: string; message: string; request_id: string; details?: unknown } } = {
    error: { code: err.code, message: err.message, request_id: req.id },
  };
  if (err.details !== undefined) body.error.details = err.details;
  return reply.code(err.status).type("application/json; charset=utf-8").send(body);
}

function fromFastify(err: FastifyError, bodyLimit: number): EpError | undefined {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return Errors.PayloadTooLarge.create(undefined, { limit: bodyLimit });
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return Errors.UnsupportedMediaType.withMessage(
        `unsupported content type: ${err.message.split(": ").pop() ?? ""}`,
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return Errors.ValidationFailed.create([
        { field: "body", message: "a JSON body is required", type: "invalid_type" },
      ] satisfies FieldIssue[]);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return Errors.BadRequest.withMessage("content-length does not match the body");
  }
  if (err instanceof SyntaxError || err.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return Errors.BadRequest.withMessage("the body is not valid JSON");
  }
  if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
    return err.statusCode === 429
      ? Errors.RateLimited.create()
      : new EpError("bad_request", err.statusCode, err.message);
  }
  return undefined;
}

export function errorsPlugin(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError | EpError, req, reply) => {
    if (err instanceof EpError) return sendError(req, reply, err);
    const mapped = fromFastify(err, bodyLimit);
    if (mapped) return sendError(req, reply, mapped);
    req.log.error({ err }, "unhandled error");
    return sendError(req, reply, Errors.Internal.create());
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      req,
      reply,
      Errors.RouteNotFound.create(undefined, { method: req.method, path: req.url.split("?")[0] ?? "" }),
    ),
  );
}
