/**
 * OpenTelemetry. A tracer provider is always registered so the gateway's own spans are
 * real; spans are exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT (or the
 * traces-only endpoint) is set. Every forwarded request carries a `traceparent` either
 * way: with an exporter, that of the request's server span; without one, the route table
 * forwards the same context without building the span (`childTraceHeaders`).
 */
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, NoopSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { tracesExported } from "./config.ts";

export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): NodeSDK {
  const exporting = tracesExported(env);
  const sdk = new NodeSDK({
    serviceName,
    // An empty list would make the SDK skip the tracer provider entirely; a no-op
    // processor keeps spans real (and their ids propagated) without exporting them.
    spanProcessors: exporting ? [new BatchSpanProcessor(new OTLPTraceExporter())] : [new NoopSpanProcessor()],
    instrumentations: [],
  });
  sdk.start();
  return sdk;
}
