/**
 * OpenTelemetry. A tracer provider is always registered so the gateway's spans are real
 * and their context reaches every service in the `traceparent` NATS header; spans are
 * exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): NodeSDK {
  const exporting = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const sdk = new NodeSDK({
    serviceName,
    spanProcessors: exporting ? [new BatchSpanProcessor(new OTLPTraceExporter())] : [],
    instrumentations: [],
  });
  sdk.start();
  return sdk;
}
