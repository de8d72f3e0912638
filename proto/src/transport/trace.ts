/**
 * W3C trace context across NATS: the caller injects `traceparent` into the request
 * headers; the handler's span is a child of it. With no SDK registered these are no-ops.
 */
import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { CallMeta } from "./headers.ts";

const tracer = () => trace.getTracer("edgeplane");

/** The traceparent/tracestate of the active context (for outgoing requests). */
export function currentTraceHeaders(
  ctx: Context = context.active(),
): Pick<CallMeta, "traceparent" | "tracestate"> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const out: Pick<CallMeta, "traceparent" | "tracestate"> = {};
  if (carrier.traceparent) out.traceparent = carrier.traceparent;
  if (carrier.tracestate) out.tracestate = carrier.tracestate;
  return out;
}

/** Run `fn` in a server span that continues the caller's trace. */
export async function inServerSpan<T>(
  name: string,
  meta: CallMeta,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const carrier: Record<string, string> = {};
  if (meta.traceparent) carrier.traceparent = meta.traceparent;
  if (meta.tracestate) carrier.tracestate = meta.tracestate;
  const parent = propagation.extract(context.active(), carrier);
  return tracer().startActiveSpan(name, { kind: SpanKind.SERVER }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Run `fn` in a client span (for outgoing NATS requests). */
export async function inClientSpan<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT }, async (span) => {
    try {
      return await fn(span);
    } finally {
      span.end();
    }
  });
}
