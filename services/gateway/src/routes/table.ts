/**
 * The generic part of the gateway: every route of the proto route table becomes a
 * Fastify route that authenticates, authorises, validates and forwards to its NATS
 * subject, mapping the typed reply (or typed error) back to HTTP. Routes without a
 * subject are answered by local handlers, looked up by route id.
 */

import { Readable } from "node:stream";
import {
  BinaryReply,
  type CallResult,
  callRaw,
  childTraceHeaders,
  EpError,
  Errors,
  type FieldIssue,
  fillSubject,
  inServerSpan,
  issuesToFields,
  type Principal,
  type RouteSpec,
  requestStream,
  subjectToken,
  validationError,
} from "@edgeplane/proto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { Authenticator } from "../plugins/auth.ts";
import type { GatewayMetrics } from "../plugins/metrics.ts";

export type LocalHandler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface TableOptions {
  nc: NatsConnection;
  auth: Authenticator;
  metrics: GatewayMetrics;
  timeoutMs: number;
  /** Timeout of non-idempotent routes. */
  writeTimeoutMs: number;
  /**
   * Build a server span per forwarded request (spans are exported). Otherwise the
   * request forwards the trace context such a span would have, without the span.
   */
  recordSpans: boolean;
  local: Record<string, LocalHandler>;
}

function sendBinary(reply: FastifyReply, data: unknown): FastifyReply {
  const b = BinaryReply.parse(data);
  if (b.filename) {
    reply.header(
      "content-disposition",
      `attachment; filename="${b.filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
    );
  }
  return reply.type(b.content_type).send(Buffer.from(b.body_base64, "base64"));
}

/**
 * Idempotent reads survive losing the instance that held them. A NATS request that
 * timed out (the instance, or the NATS node under it, died with the request in hand) or
 * found no responder changed nothing the caller can rely on, and for a GET nothing at
 * all: asking again is safe, and the queue group delivers the retry to a live instance.
 * Bounded to {@link READ_RETRIES} extra attempt(s); only GET routes not flagged as
 * mutations, and the credential check (`verify` only reads). Writes are never retried:
 * a timed-out write may have been applied.
 */
const READ_RETRIES = 1;
/**
 * `bus_unavailable` (a service met the bus mid leader election, which takes ~5 s) is
 * retried with backoff while the read is younger than this. A timeout has already spent
 * its time and gets one retry; "no instance answering" was already retried by `call()`.
 */
const UNAVAILABLE_BUDGET_MS = 8_000;

function retryableFailure(err: unknown): boolean {
  return Errors.Timeout.is(err) || Errors.ServiceUnavailable.is(err) || Errors.BusUnavailable.is(err);
}

async function retryRead<T>(idempotent: boolean, attempt: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let retries = 0;
  let delay = 200;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!idempotent || !retryableFailure(err)) throw err;
      if (!Errors.BusUnavailable.is(err)) {
        if (++retries > READ_RETRIES) throw err;
        continue;
      }
      if (Date.now() - started + delay > UNAVAILABLE_BUDGET_MS) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1_000);
    }
  }
}

/** Fastify path syntax from ours: `{name}` → `:name`. */
export const fastifyPath = (p: string) => p.replace(/\{(\w+)\}/g, ":$1");

/** `value` parsed by `schema` (`none` without one); its problems are added to `issues`. */
function part<T>(schema: z.ZodType | undefined, value: unknown, none: T, issues: FieldIssue[]): T {
  if (!schema) return none;
  const r = schema.safeParse(value);
  if (r.success) return r.data as T;
  issues.push(...issuesToFields(r.error));
  return none;
}

/**
 * Validate params, query and body together so one 422 lists every problem. A route
 * without a params (query) schema takes none: `{}`, what an empty object schema would
 * return for any params (query) object, without running one.
 */
function validate(route: RouteSpec, req: FastifyRequest) {
  const issues: FieldIssue[] = [];
  const params = part<Record<string, string>>(route.params, req.params ?? {}, {}, issues);
  const query = part<Record<string, unknown>>(route.query, req.query ?? {}, {}, issues);
  // bodyCheck "service": forwarded as parsed JSON; the service checks it (see RouteSpec).
  const body =
    route.body && route.bodyCheck === "service"
      ? req.body
      : part<unknown>(route.body, req.body, undefined, issues);
  if (issues.length > 0) throw validationError(issues);
  return { params, query, body };
}

export function registerRouteTable(
  app: FastifyInstance,
  routes: readonly RouteSpec[],
  opts: TableOptions,
): void {
  for (const route of routes) {
    const local = route.subject ? undefined : opts.local[route.id];
    if (!route.subject && !local)
      throw new Error(`route ${route.id} has neither a subject nor a local handler`);
    const forwardHeaders = route.headers ?? [];
    const idempotent = route.method === "GET" && route.mutation !== true;
    // Reads fail over fast (and are retried); writes are never retried, so they wait
    // longer — long enough for the audit stream to survive losing its leader.
    const timeoutMs =
      route.timeoutMs ?? (idempotent ? opts.timeoutMs : Math.max(opts.timeoutMs, opts.writeTimeoutMs));
    // A subject without `{param}` tokens is the same for every request.
    const fixedSubject = route.subject?.includes("{") ? undefined : route.subject;
    const authenticate = (req: FastifyRequest) => retryRead(true, () => opts.auth.authenticate(req, route));

    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      let principal: Principal | undefined;
      if (route.auth === "principal") {
        principal = req.principal ?? (await authenticate(req));
        req.principal = principal;
      }
      const input = validate(route, req);
      if (principal) opts.auth.authorise(principal, route, input.params);
      if (local) return local(req, reply);

      const headers: Record<string, string> = {};
      for (const h of forwardHeaders) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const subject = fixedSubject ?? fillSubject(route.subject as string, input.params, subjectToken);
      const end = opts.metrics.natsSeconds.startTimer({ subject: route.subject as string });
      const incoming = {
        traceparent: typeof req.headers.traceparent === "string" ? req.headers.traceparent : undefined,
        tracestate: typeof req.headers.tracestate === "string" ? req.headers.tracestate : undefined,
      };
      if (route.replyType === "stream") {
        // Streamed reply (transport/stream.ts): chunks piped to the socket with backpressure.
        const s = await requestStream(
          opts.nc,
          subject,
          { ...input, headers },
          { principal, requestId: req.id, sourceIp: req.ip, timeoutMs },
        ).catch((err: unknown) => {
          end({ outcome: err instanceof EpError ? err.code : "error" });
          throw err;
        });
        end({ outcome: "ok" });
        reply.raw.once("close", () => s.cancel());
        reply.code(s.meta?.status ?? route.status ?? 200).type(s.opened.content_type);
        if (s.meta?.headers) reply.headers(s.meta.headers);
        if (s.opened.filename)
          reply.header(
            "content-disposition",
            `attachment; filename="${s.opened.filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
          );
        return reply.send(Readable.from(s.chunks, { objectMode: false, highWaterMark: 64 * 1024 }));
      }
      try {
        const forward = (trace: { traceparent?: string | undefined; tracestate?: string | undefined }) =>
          retryRead(idempotent, () =>
            callRaw(
              opts.nc,
              subject,
              { ...input, headers },
              { principal, requestId: req.id, sourceIp: req.ip, timeoutMs, ...trace },
            ),
          );
        // One trace per request: the server span continues the client's trace (if it sent
        // one), and callRaw injects its context into the NATS headers. When spans are not
        // exported, the same context is forwarded without building the span.
        const res: CallResult<unknown> = opts.recordSpans
          ? await inServerSpan(`${route.method} ${route.path}`, incoming, () => forward({}))
          : await forward(childTraceHeaders(incoming));
        end({ outcome: "ok" });
        reply.code(res.meta?.status ?? route.status ?? 200);
        if (res.meta?.headers) reply.headers(res.meta.headers);
        if (route.replyType === "text" && typeof res.data === "string") {
          return reply.type("text/plain; charset=utf-8").send(res.data);
        }
        if (route.replyType === "binary") return sendBinary(reply, res.data);
        return res.data ?? null;
      } catch (err) {
        end({ outcome: err instanceof EpError ? err.code : "error" });
        throw err;
      }
    };

    const paths = [route.path, ...(route.aliases ?? [])];
    for (const path of paths) {
      app.route({
        method: route.method,
        url: fastifyPath(path),
        // Authenticate before the body is read: no parsing work for strangers.
        onRequest:
          route.auth === "principal"
            ? async (req) => {
                req.principal = await authenticate(req);
              }
            : undefined,
        // Authorise after the rate limits (onRequest hooks) and before the body is read: a
        // principal without the permission (or scope) gets 403/404, never a 422 telling it
        // about the input. Scope is checked again on the validated params.
        preParsing:
          route.auth === "principal"
            ? async (req) => {
                if (req.principal)
                  opts.auth.authorise(req.principal, route, req.params as Record<string, string>);
              }
            : undefined,
        handler,
      });
    }
  }
}
