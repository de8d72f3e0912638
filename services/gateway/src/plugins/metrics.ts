/**
 * Prometheus metrics: HTTP requests by route template and status, and NATS round trips
 * by subject template (both bounded cardinality). `/metrics` needs the bearer token when
 * `EP_METRICS_TOKEN` is set.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export interface GatewayMetrics {
  registry: Registry;
  natsSeconds: Histogram<"subject" | "outcome">;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "ep_gateway_" });
  const natsSeconds = new Histogram({
    name: "ep_gateway_nats_request_duration_seconds",
    help: "NATS request/reply round trip from the gateway, by subject template.",
    labelNames: ["subject", "outcome"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { registry, natsSeconds };
}

function tokenMatches(given: string | undefined, want: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(`Bearer ${want}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function metricsPlugin(app: FastifyInstance, m: GatewayMetrics, token: string | undefined): void {
  const requests = new Counter({
    name: "ep_gateway_http_requests_total",
    help: "HTTP requests answered, by method, route template and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [m.registry],
  });
  const seconds = new Histogram({
    name: "ep_gateway_http_request_duration_seconds",
    help: "HTTP request latency, by method, route template and status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [m.registry],
  });
  app.addHook("onResponse", (req, reply, done) => {
    const labels = {
      method: req.method,
      route: req.routeOptions.url ?? "unmatched",
      status: String(reply.statusCode),
    };
    requests.inc(labels);
    seconds.observe(labels, reply.elapsedTime / 1000);
    done();
  });
  app.get("/metrics", async (req, reply) => {
    if (token && !tokenMatches(req.headers.authorization, token)) {
      return reply
        .code(401)
        .send({ error: { code: "unauthenticated", message: "metrics token required", request_id: req.id } });
    }
    reply.type(m.registry.contentType);
    return m.registry.metrics();
  });
}
