/**
 * OpenTelemetry. A tracer provider is always registered so the gateway's spans are real
 * and their context reaches every service in the `traceparent` NATS header; spans are
 * exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, NoopSpanProcessor } from "@opentelemetry/sdk-trace-base";

export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): NodeSDK {
  const exporting = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
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
