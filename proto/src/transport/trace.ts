/**
 * W3C trace context across NATS: the caller injects `traceparent` into the request
 * headers; the handler's span is a child of it. With no SDK registered these are no-ops.
 */
import {
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { randomHex } from "../ids.ts";
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

// W3C trace context, as @opentelemetry/core's propagator reads it: version ff is invalid,
// version 00 has exactly four fields, all-zero trace and span ids are invalid.
const TRACEPARENT = /^\s?((?!ff)[\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * The trace context to forward for a span that is not recorded anywhere: a new span id in
 * the caller's trace (or in a new trace when the caller sent none, or an invalid one),
 * sampled as the caller said (a new trace is sampled). It is what the SDK's default
 * sampler (parent-based, always on) would propagate for a server span, without building
 * the span — for a process whose spans are not exported, where that span is pure cost.
 */
export function childTraceHeaders(
  incoming: Pick<CallMeta, "traceparent" | "tracestate">,
): Pick<CallMeta, "traceparent" | "tracestate"> {
  const m = incoming.traceparent ? TRACEPARENT.exec(incoming.traceparent) : null;
  const valid = m !== null && !(m[1] === "00" && m[5]) && m[2] !== ZERO_TRACE && m[3] !== ZERO_SPAN;
  if (!valid) return { traceparent: `00-${randomHex(16)}-${randomHex(8)}-01` };
  const sampled = (Number.parseInt(m[4] as string, 16) & 1) === 1;
  const out: Pick<CallMeta, "traceparent" | "tracestate"> = {
    traceparent: `00-${m[2]}-${randomHex(8)}-${sampled ? "01" : "00"}`,
  };
  if (incoming.tracestate) out.tracestate = incoming.tracestate;
  return out;
}

// What the API falls back to while no SDK has registered a tracer provider.
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * No SDK registered: no tracer provider and no propagator, so a span would be a no-op
 * and its context would reach nothing. Checked per call: an SDK may start later.
 */
function tracingOff(): boolean {
  const p = trace.getTracerProvider();
  const delegate = p instanceof ProxyTracerProvider ? p.getDelegate() : p;
  return delegate === NOOP_PROVIDER && propagation.fields().length === 0;
}

/** Run `fn` in a server span that continues the caller's trace. */
export async function inServerSpan<T>(
  name: string,
  meta: CallMeta,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (tracingOff()) return fn(NO_SPAN);
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
