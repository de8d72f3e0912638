/** Gateway configuration, parsed once from the environment. */
import { BaseEnv, parseEnv } from "@edgeplane/proto";
import { z } from "zod";
import { WsEnv } from "./ws/config.ts";

export const GatewayEnv = BaseEnv.extend(WsEnv.shape).extend({
  EP_HTTP_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8080)
    .describe("HTTP listen port (0 = ephemeral)."),
  EP_HTTP_HOST: z.string().default("127.0.0.1").describe("HTTP listen address."),
  EP_TRUST_PROXY: z
    .string()
    .default("")
    .describe(
      "Proxies whose X-Forwarded-* headers are trusted: comma-separated addresses/CIDRs, `true`, or empty.",
    ),
  EP_METRICS_TOKEN: z.string().min(16).optional().describe("Bearer token required by /metrics when set."),
  EP_REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(300_000)
    .default(10_000)
    .describe("NATS request timeout."),
  EP_WRITE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(300_000)
    .default(15_000)
    .describe(
      "NATS request timeout of mutations: they may wait out a stream leader election to store their audit event.",
    ),
  EP_AUTH_CACHE_TTL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5_000)
    .describe("Upper bound on how long a verified credential is cached."),
  EP_RATE_LIMIT_RPM: z.coerce
    .number()
    .int()
    .min(1)
    .default(600)
    .describe("Requests per minute per principal (per gateway instance); a key's own limit wins."),
  EP_RATE_BURST_RPS: z.coerce
    .number()
    .int()
    .min(1)
    .default(50)
    .describe("Requests per second per principal or client IP (per gateway instance)."),
  EP_AUTH_RATE_RPM: z.coerce
    .number()
    .int()
    .min(1)
    .default(5)
    .describe("Requests per minute per client IP on auth endpoints (login, token, refresh, resets)."),
  EP_BODY_LIMIT: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024)
    .describe("Body cap in bytes."),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .optional()
    .describe("OTLP endpoint: when set (or the traces-only one), the gateway's spans are exported."),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional().describe("OTLP endpoint for traces only."),
});
export type GatewayConfig = Readonly<z.infer<typeof GatewayEnv>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return parseEnv(GatewayEnv, env);
}

/**
 * Whether spans are exported (an OTLP endpoint is configured). Without an exporter the
 * gateway forwards the trace context without building spans nobody will see.
 */
export function tracesExported(env: {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string | undefined;
}): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** Fastify's `trustProxy` from our setting. */
export function trustProxyOption(v: string): boolean | string[] {
  if (v === "" || v === "false") return false;
  if (v === "true") return true;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}
