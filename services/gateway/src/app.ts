/**
 * Assembles the gateway: Fastify with request ids, security headers, the error envelope,
 * metrics, docs, and the route table. Pure construction — `main.ts` owns the process.
 */

import { hostname } from "node:os";
import type { Logger, RouteSpec } from "@edgeplane/proto";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { type GatewayConfig, tracesExported, trustProxyOption } from "./config.ts";
import { createLogStreams } from "./logs/sse.ts";
import { type Authenticator, createAuthenticator } from "./plugins/auth.ts";
import { docsPlugin } from "./plugins/docs.ts";
import { errorsPlugin } from "./plugins/errors.ts";
import { createJwtVerifier } from "./plugins/jwt.ts";
import { lazyChildLogger } from "./plugins/lazy-logger.ts";
import { createMetrics, metricsPlugin } from "./plugins/metrics.ts";
import { rateLimitPlugin } from "./plugins/rate-limit.ts";
import { genReqId, requestIdPlugin } from "./plugins/request-id.ts";
import { securityHeadersPlugin } from "./plugins/security-headers.ts";
import { sessionPlugin } from "./plugins/session.ts";
import { createHealth } from "./routes/health.ts";
import { registerRouteTable } from "./routes/table.ts";
import { createEventStream } from "./ws/mod.ts";

export interface GatewayDeps {
  config: GatewayConfig;
  nc: NatsConnection;
  js: JetStreamClient;
  routes: readonly RouteSpec[];
  log: Logger;
  version: string;
}

export interface Gateway {
  app: FastifyInstance;
  auth: Authenticator;
}

export async function buildGateway(deps: GatewayDeps): Promise<Gateway> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "req" }),
    bodyLimit: config.EP_BODY_LIMIT,
    genReqId,
    childLoggerFactory: lazyChildLogger,
    trustProxy: trustProxyOption(config.EP_TRUST_PROXY),
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    return503OnClosing: true,
  });
  requestIdPlugin(app);
  securityHeadersPlugin(app);
  errorsPlugin(app, config.EP_BODY_LIMIT);
  const metrics = createMetrics();
  metricsPlugin(app, metrics, config.EP_METRICS_TOKEN);
  await docsPlugin(app, deps.routes, deps.version);

  // Auth (issue 3): cookies, local JWT checks, rate limits (hooks added to table routes).
  await sessionPlugin(app);
  const jwt = await createJwtVerifier(deps.nc, deps.log, config.EP_STREAM_REPLICAS);
  app.addHook("onClose", async () => jwt.stop());
  await rateLimitPlugin(app, deps.routes, {
    perMinute: config.EP_RATE_LIMIT_RPM,
    burstPerSecond: config.EP_RATE_BURST_RPS,
    authPerMinute: config.EP_AUTH_RATE_RPM,
  });
  const auth = createAuthenticator({
    nc: deps.nc,
    js: deps.js,
    cacheTtlMs: config.EP_AUTH_CACHE_TTL_MS,
    timeoutMs: config.EP_REQUEST_TIMEOUT_MS,
    jwt,
  });
  const events = await createEventStream(app, {
    config,
    nc: deps.nc,
    js: deps.js,
    auth,
    log: deps.log,
    instance: config.EP_SERVICE_INSTANCE ?? `${hostname()}-${process.pid}`,
  });
  const health = createHealth(deps.nc);
  // Issue 7: live haproxy logs as SSE (gateway-local, reads the log subject directly).
  const logStreams = createLogStreams(app, { nc: deps.nc, log: deps.log });
  registerRouteTable(app, deps.routes, {
    nc: deps.nc,
    auth,
    metrics,
    timeoutMs: config.EP_REQUEST_TIMEOUT_MS,
    writeTimeoutMs: config.EP_WRITE_TIMEOUT_MS,
    recordSpans: tracesExported(config),
    local: {
      "health.liveness": async () => health.liveness(),
      "health.readiness": async (_req, reply) => {
        const r = await health.readiness();
        return reply.code(r.status === "ready" ? 200 : 503).send(r);
      },
      "health.mesh": async () => health.mesh(),
      ...events.handlers,
      ...logStreams.handlers,
    },
  });
  return { app, auth };
}
