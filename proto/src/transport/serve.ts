/**
 * The service side: an `EpService` registers endpoints with `@nats-io/services` (so
 * every instance is discoverable and reports per-endpoint stats), decodes and validates
 * requests, runs handlers inside a span continuing the caller's trace, and always
 * replies — with data, or with an error as data. `stop()` drains: no new requests are
 * taken, in-flight handlers finish and reply, then it resolves.
 */

import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { EpError, Errors, toEpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { subjectToken } from "../names.ts";
import type { RouteReply, RouteRequest, RouteSpec } from "../routes/route.ts";
import { subjectPattern } from "../routes/route.ts";
import type { Principal } from "../schemas/common.ts";
import { parseOrThrow } from "../validation.ts";
import { type CallMeta, decodeMeta } from "./headers.ts";
import { KeepaliveTicker, keepaliveRequested } from "./keepalive.ts";
import { inServerSpan } from "./trace.ts";
import { busUnavailable, isTransientBusError } from "./transient.ts";
import { decodeJson, encodeJson, isWithMeta, type WireReply, type WithMeta } from "./wire.ts";

export interface HandlerContext {
  /** The principal the gateway verified, if any. */
  principal: Principal | undefined;
  requestId: string | undefined;
  sourceIp: string | undefined;
  /** The subject the request arrived on. */
  subject: string;
  meta: CallMeta;
  log: Logger;
  /** `performance.now()` when the request message arrived (before decoding and parsing). */
  receivedAt?: number;
}

export type Handler<Req, Rep> = (
  req: Req,
  ctx: HandlerContext,
) => Promise<Rep | WithMeta<Rep>> | Rep | WithMeta<Rep>;

export interface EpServiceConfig {
  name: string;
  version: string;
  description?: string;
  /** Instance metadata shown by discovery (host, node…). */
  metadata?: Record<string, string>;
  /** Default queue group (default `q`); instances in one group share the load. */
  queue?: string;
  log: Logger;
}

export interface EndpointOptions {
  subject: string;
  /** Queue group for this endpoint; `""` = no queue (every instance gets every message). */
  queue?: string;
}

interface Tally {
  requests: number;
  errors: number;
  totalMs: number;
}

export interface EpService {
  readonly id: string;
  readonly name: string;
  endpoint<S extends z.ZodType, Rep>(
    name: string,
    opts: EndpointOptions,
    schema: S,
    handler: Handler<z.infer<S>, Rep>,
  ): void;
  route<R extends RouteSpec>(
    route: R,
    handler: Handler<RouteRequest<R>, RouteReply<R>>,
    opts?: { fixed?: Record<string, string>; queue?: string },
  ): void;
  /** Requests currently being handled. */
  inflight(): number;
  /** Stop taking requests, wait for in-flight ones to reply (up to `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * A handler's context. The request's child logger (pino with redaction: not free) is
 * built on first use: most requests never log. A class, so the lazy `log` is a
 * prototype getter rather than an accessor defined on every request's object.
 */
class RequestContext implements HandlerContext {
  readonly principal: Principal | undefined;
  readonly requestId: string | undefined;
  readonly sourceIp: string | undefined;
  readonly subject: string;
  readonly meta: CallMeta;
  readonly receivedAt: number;
  readonly #root: Logger;
  #log: Logger | undefined;

  constructor(meta: CallMeta, subject: string, root: Logger, receivedAt: number) {
    this.receivedAt = receivedAt;
    this.principal = meta.principal;
    this.requestId = meta.requestId;
    this.sourceIp = meta.sourceIp;
    this.subject = subject;
    this.meta = meta;
    this.#root = root;
  }

  get log(): Logger {
    this.#log ??= this.requestId ? this.#root.child({ req: this.requestId }) : this.#root;
    return this.#log;
  }
}

/**
 * @nats-io/services (a prerelease) pins its own nats-core; the connection is the same
 * object at run time, only the declared types differ.
 */
export function svcmConnection(nc: NatsConnection): ConstructorParameters<typeof Svcm>[0] {
  return nc as unknown as ConstructorParameters<typeof Svcm>[0];
}

export async function createService(nc: NatsConnection, cfg: EpServiceConfig): Promise<EpService> {
  const tallies = new Map<string, Tally>();
  const svc: Service = await new Svcm(svcmConnection(nc)).add({
    name: cfg.name,
    version: cfg.version,
    description: cfg.description ?? "",
    metadata: cfg.metadata ?? {},
    queue: cfg.queue ?? "q",
    // The library times only the synchronous part of a handler; ours are async, so we
    // report our own measurements in each endpoint's `data`.
    statsHandler: async (ep) => {
      const t = tallies.get((ep as unknown as { name: string }).name);
      return t
        ? { requests: t.requests, errors: t.errors, total_ms: Math.round(t.totalMs * 1000) / 1000 }
        : {};
    },
  });
  const log = cfg.log;
  let active = 0;
  let idle: (() => void) | undefined;
  const keepalives = new KeepaliveTicker();

  async function handle(
    msg: ServiceMsg,
    epName: string,
    spanName: string,
    schema: z.ZodType,
    handler: Handler<unknown, unknown>,
  ) {
    const t0 = performance.now();
    const tally = tallies.get(epName) as Tally;
    tally.requests++;
    active++;
    const meta = decodeMeta(msg.headers as unknown as MsgHdrs | undefined);
    const ctx = new RequestContext(meta, msg.subject, log, t0);
    const every = keepaliveRequested(msg.headers as unknown as MsgHdrs | undefined);
    const stopKeepalive =
      every === null
        ? undefined
        : keepalives.track(every, (d, o) =>
            // @nats-io/services pins its own nats-core: the same MsgHdrs under another type.
            msg.respond(d, o as unknown as Parameters<ServiceMsg["respond"]>[1]),
          );
    let reply: WireReply;
    try {
      const out = await inServerSpan(spanName, meta, async () => {
        let raw: unknown;
        try {
          raw = decodeJson(msg.data);
        } catch {
          throw Errors.BadRequest.withMessage("request payload is not JSON");
        }
        const req = parseOrThrow(schema, raw ?? {});
        return handler(req, ctx);
      });
      reply = isWithMeta(out) ? { ok: true, data: out.data, meta: out.meta } : { ok: true, data: out };
    } catch (err) {
      tally.errors++;
      if (!(err instanceof EpError) && isTransientBusError(err)) {
        ctx.log.warn({ err, endpoint: epName }, "bus unavailable; answered 503");
        reply = { ok: false, error: busUnavailable(err).toWire() };
      } else {
        if (!(err instanceof EpError)) ctx.log.error({ err, endpoint: epName }, "handler failed");
        reply = { ok: false, error: toEpError(err).toWire() };
      }
    }
    stopKeepalive?.();
    tally.totalMs += performance.now() - t0;
    queueReply(msg, encodeJson(reply), ctx);
  }

  // Replies finished during one event-loop turn are sent together so nats.js writes them
  // in one syscall (it flushes once per microtask checkpoint otherwise). A request counts
  // as in flight until its reply is handed to the connection, so drain waits for it.
  let replies: Array<{ msg: ServiceMsg; data: Uint8Array; ctx: RequestContext }> = [];
  let replyScheduled = false;
  function queueReply(msg: ServiceMsg, data: Uint8Array, ctx: RequestContext) {
    replies.push({ msg, data, ctx });
    if (replyScheduled) return;
    replyScheduled = true;
    setImmediate(() => {
      replyScheduled = false;
      const batch = replies;
      replies = [];
      for (const r of batch) {
        try {
          r.msg.respond(r.data);
        } catch (err) {
          r.ctx.log.warn({ err }, "could not send reply");
        }
      }
      active -= batch.length;
      if (active === 0 && idle) idle();
    });
  }

  function endpoint(
    name: string,
    opts: EndpointOptions,
    schema: z.ZodType,
    handler: Handler<unknown, unknown>,
  ) {
    tallies.set(name, { requests: 0, errors: 0, totalMs: 0 });
    const spanName = `${cfg.name} ${name}`;
    const epOpts: { subject: string; queue?: string; handler: (err: Error | null, msg: ServiceMsg) => void } =
      {
        subject: opts.subject,
        handler: (err, msg) => {
          if (err) {
            log.error({ err, endpoint: name }, "endpoint subscription failed");
            return;
          }
          // During drain, messages already buffered are still delivered here: answer them.
          void handle(msg, name, spanName, schema, handler);
        },
      };
    if (opts.queue !== undefined) epOpts.queue = opts.queue;
    svc.addEndpoint(name, epOpts);
  }

  return {
    id: svc.info().id,
    name: cfg.name,
    endpoint: endpoint as EpService["endpoint"],
    route(route, handler, opts = {}) {
      if (!route.subject) throw new Error(`route ${route.id} has no subject: it is answered by the gateway`);
      // A body the gateway left unchecked (`bodyCheck: "service"`) is parsed here, once,
      // with the field names the gateway's 422 would have used.
      const bodySchema = route.bodyCheck === "service" ? undefined : route.body;
      const schema = z.object({
        params: route.params ?? z.object({}),
        query: route.query ?? z.object({}),
        body: bodySchema ?? z.unknown().optional(),
        headers: z.record(z.string(), z.string()).default({}),
      });
      const checked = route.bodyCheck === "service" ? route.body : undefined;
      const routeHandler: typeof handler = checked
        ? (req, ctx) =>
            handler(
              {
                ...(req as object),
                body: parseOrThrow(checked, (req as { body?: unknown }).body),
              } as typeof req,
              ctx,
            )
        : handler;
      const subject = subjectPattern(route.subject, opts.fixed, subjectToken);
      const epOpts: EndpointOptions = { subject };
      if (opts.queue !== undefined) epOpts.queue = opts.queue;
      endpoint(route.id.replaceAll(".", "_"), epOpts, schema, routeHandler as Handler<unknown, unknown>);
    },
    inflight: () => active,
    async stop(timeoutMs = 10_000) {
      await svc.stop();
      if (active > 0) {
        await Promise.race([
          new Promise<void>((r) => {
            idle = r;
          }),
          new Promise<void>((r) => setTimeout(r, timeoutMs).unref()),
        ]);
      }
    },
  };
}
